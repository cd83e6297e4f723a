"""Workers: poll a work pool, claim due runs atomically, run each in a child process.

`Worker` is imported on first use: the run processes a worker starts
(`python -m transom.worker.execute`) import this package first and should not pay for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from transom.worker.worker import Worker, default_worker_name

__all__ = ["Worker", "default_worker_name"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from transom.worker import worker

        return getattr(worker, name)
    raise AttributeError(f"module 'transom.worker' has no attribute {name!r}")
