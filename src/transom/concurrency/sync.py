"""`transom.concurrency.sync`: `concurrency(...)` and `rate_limit(...)` for plain code.

Slots are taken from every named limit at once or not at all, across processes and machines
(the database decides). A name with no limit limits nothing (a warning says so), or raises
ConcurrencySlotAcquisitionError with `strict=True`, as Prefect's.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from transom.concurrency._common import checked, report_missing, say
from transom.exceptions import (
    AcquireConcurrencySlotTimeoutError,
    ConcurrencySlotAcquisitionError,
    NotFound,
)
from transom.services.slots import limiter

__all__ = ["AcquireConcurrencySlotTimeoutError", "ConcurrencySlotAcquisitionError",
           "concurrency", "rate_limit"]


@contextmanager
def concurrency(names: str | list[str], occupy: int = 1, timeout_seconds: float | None = None,
                *, strict: bool = False) -> Iterator[None]:
    """Hold `occupy` slots of each named limit inside the block (waiting for them first; an
    AcquireConcurrencySlotTimeoutError after `timeout_seconds`); given back however it ends."""
    listed = checked(names, occupy, timeout_seconds)
    slots = limiter()
    wait = slots.acquisition(listed, occupy, timeout=timeout_seconds, strict=strict, say=say())
    try:
        while (delay := wait.attempt()) is not None:
            time.sleep(delay)
    except NotFound as exc:
        raise ConcurrencySlotAcquisitionError(str(exc)) from None
    report_missing(wait.missing)
    try:
        yield
    finally:
        slots.release(wait.lease_id)


def rate_limit(names: str | list[str], occupy: int = 1, timeout_seconds: float | None = None,
               *, strict: bool = False) -> None:
    """Wait until `occupy` slots of each named limit are free and take them for good: they come
    back by the limits' slot decay (a limit without one is refused in one sentence)."""
    listed = checked(names, occupy, timeout_seconds)
    wait = limiter().acquisition(listed, occupy, mode="rate_limit", timeout=timeout_seconds,
                                 strict=strict, say=say())
    try:
        while (delay := wait.attempt()) is not None:
            time.sleep(delay)
    except NotFound as exc:
        raise ConcurrencySlotAcquisitionError(str(exc)) from None
    report_missing(wait.missing)
