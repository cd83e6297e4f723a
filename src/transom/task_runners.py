"""`transom.task_runners`: threads (the default) or processes for submitted tasks.

`ConcurrentTaskRunner` is the name Prefect 2 gave the thread pool; it is the same class and
warns (DeprecationWarning) where it is used, so old files keep running while they are updated.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

from transom.core.runners import ProcessPoolTaskRunner, TaskRunner, ThreadPoolTaskRunner

if TYPE_CHECKING:
    ConcurrentTaskRunner = ThreadPoolTaskRunner

__all__ = ["ConcurrentTaskRunner", "ProcessPoolTaskRunner", "TaskRunner", "ThreadPoolTaskRunner"]


def __getattr__(name: str) -> Any:
    if name == "ConcurrentTaskRunner":
        warnings.warn("ConcurrentTaskRunner is deprecated; use ThreadPoolTaskRunner, the same "
                      "class under its current name", DeprecationWarning, stacklevel=2)
        return ThreadPoolTaskRunner
    raise AttributeError(f"module 'transom.task_runners' has no attribute {name!r}")
