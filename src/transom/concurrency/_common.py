"""What the sync and async forms share: the arguments checked, and where wait lines go."""

from __future__ import annotations

import logging
from collections.abc import Callable

from transom.core.context import current_flow_run, current_task_run
from transom.core.logs import get_run_logger

__all__ = ["checked", "report_missing", "say"]

logger = logging.getLogger("transom.concurrency")


def checked(names: str | list[str], occupy: int, timeout_seconds: float | None) -> list[str]:
    """The names as a list; ValueError, in one sentence, for arguments no limit could take."""
    listed = [names] if isinstance(names, str) else list(names)
    if not all(isinstance(n, str) and n for n in listed):
        raise ValueError(f"concurrency limit names must be non-empty strings, not {names!r}")
    if isinstance(occupy, bool) or not isinstance(occupy, int) or occupy < 1:
        raise ValueError(f"occupy must be a whole number of slots, at least 1 (got {occupy!r})")
    if timeout_seconds is not None and not timeout_seconds >= 0:
        raise ValueError(f"timeout_seconds must be None or at least 0 (got {timeout_seconds!r})")
    return listed


def say() -> Callable[[str], None]:
    """Where the lines of a wait go: the current run's log, else the `transom.concurrency`
    logger."""
    if current_task_run() is not None or current_flow_run() is not None:
        run_logger = get_run_logger()
        return lambda message: run_logger.info("%s", message)
    return lambda message: logger.info("%s", message)


def report_missing(missing: list[str]) -> None:
    for name in missing:
        logger.warning("there is no concurrency limit named %r, so it limits nothing (make it "
                       "with `transom concurrency-limit create %s --limit N`)", name, name)
