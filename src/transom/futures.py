"""`transom.futures`: what `.submit()` and `.map()` hand back, and waiting on several at once.

`PrefectFuture` and `PrefectFutureList` are Prefect's names for the same classes, so
annotations in a renamed file hold.
"""

from __future__ import annotations

from transom.core.runners import (
    DoneAndNotDone,
    PrefectFuture,
    PrefectFutureList,
    TaskFuture,
    TaskFutureList,
    as_completed,
    wait,
)

__all__ = [
    "DoneAndNotDone",
    "PrefectFuture",
    "PrefectFutureList",
    "TaskFuture",
    "TaskFutureList",
    "as_completed",
    "wait",
]
