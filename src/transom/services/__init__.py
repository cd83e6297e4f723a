"""The service layer: every operation on Transom's objects, written once (one module per noun).

`open_backend(settings)` gives the embedded database or the server of `TRANSOM_API_URL`, both
behind the one `Backend` protocol. The embedded side (and SQLAlchemy) loads only when used.
"""

from __future__ import annotations

import importlib as _importlib
from typing import TYPE_CHECKING, Any

from transom.services.backend import Backend, BackendSink, open_backend

if TYPE_CHECKING:
    from transom.services.context import Context
    from transom.services.embedded import EmbeddedBackend

_LAZY = {"Context": "transom.services.context", "EmbeddedBackend": "transom.services.embedded"}

__all__ = ["Backend", "BackendSink", "Context", "EmbeddedBackend", "open_backend"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'transom.services' has no attribute {name!r}")
    return getattr(_importlib.import_module(module), name)
