"""How code below `services/` opens the backend its caller configured.

`client.orchestration.get_client()` works over `services.open_backend(settings)` (the server of
TRANSOM_API_URL, else the embedded database), which it cannot import: `client/` sits below
`services/`, and `services` imports the client. `import transom` registers `open_backend` here
(as it registers the runtime factory in `core.context`); this module imports nothing, so doing
that costs `import transom` nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from transom.services.backend import Backend
    from transom.settings import Settings

__all__ = ["open_backend", "set_backend_opener"]

_opener: Callable[[Settings | None], Backend] | None = None


def set_backend_opener(opener: Callable[[Settings | None], Backend]) -> None:
    global _opener
    _opener = opener


def open_backend(settings: Settings | None = None) -> Backend:
    """The registered opener's backend for `settings` (default: loaded from the environment)."""
    if _opener is None:
        raise RuntimeError("no Transom backend opener configured; import transom first")
    return _opener(settings)
