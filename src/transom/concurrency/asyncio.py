"""`transom.concurrency.asyncio`: `concurrency(...)` as an async context manager and
`rate_limit(...)` as a coroutine; the event loop goes on while they wait (see `.sync`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from transom.concurrency._common import checked, report_missing, say
from transom.exceptions import (
    AcquireConcurrencySlotTimeoutError,
    ConcurrencySlotAcquisitionError,
    NotFound,
)
from transom.services.slots import Acquisition, limiter

__all__ = ["AcquireConcurrencySlotTimeoutError", "ConcurrencySlotAcquisitionError",
           "concurrency", "rate_limit"]


async def _wait(wait: Acquisition) -> None:
    try:
        while (delay := await asyncio.to_thread(wait.attempt)) is not None:
            await asyncio.sleep(delay)
    except NotFound as exc:
        raise ConcurrencySlotAcquisitionError(str(exc)) from None
    except BaseException:  # cancelled: slots granted meanwhile are given back
        if wait.lease_id is not None:
            wait.limiter.release(wait.lease_id)
        raise
    report_missing(wait.missing)


@asynccontextmanager
async def concurrency(names: str | list[str], occupy: int = 1,
                      timeout_seconds: float | None = None, *,
                      strict: bool = False) -> AsyncIterator[None]:
    """Hold `occupy` slots of each named limit inside the `async with` block."""
    listed = checked(names, occupy, timeout_seconds)
    slots = limiter()
    wait = slots.acquisition(listed, occupy, timeout=timeout_seconds, strict=strict, say=say())
    await _wait(wait)
    try:
        yield
    finally:
        await asyncio.to_thread(slots.release, wait.lease_id)


async def rate_limit(names: str | list[str], occupy: int = 1,
                     timeout_seconds: float | None = None, *, strict: bool = False) -> None:
    """Wait for and take `occupy` slots of each named limit; they come back by slot decay."""
    listed = checked(names, occupy, timeout_seconds)
    await _wait(limiter().acquisition(listed, occupy, mode="rate_limit",
                                      timeout=timeout_seconds, strict=strict, say=say()))
