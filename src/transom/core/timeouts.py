"""Timeouts that hold on every OS: no SIGALRM, so they work on Windows and off the main thread.

A sync call with a timeout runs in a helper thread; the caller stops waiting when time is up and
raises the timeout error at once. The abandoned thread is asked to stop by raising `CallAbandoned`
inside it (PyThreadState_SetAsyncExc), which takes effect at its next Python instruction; it is a
BaseException so that user code's `except Exception` does not swallow it.
"""

from __future__ import annotations

import asyncio
import contextvars
import ctypes
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

__all__ = ["CallAbandoned", "call_async_with_timeout", "call_with_timeout"]

T = TypeVar("T")


class CallAbandoned(BaseException):
    """Raised inside a timed-out call's thread to stop it; its outcome is already decided."""


def _raise_in_thread(thread: threading.Thread, exc_type: type[BaseException]) -> None:
    ident = thread.ident
    if ident is None or not thread.is_alive():
        return
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident), ctypes.py_object(exc_type))


class _Outcome:
    __slots__ = ("error", "value")

    def __init__(self) -> None:
        self.value: Any = None
        self.error: BaseException | None = None


def call_with_timeout(fn: Callable[[], T], timeout: float | None,
                      make_error: Callable[[], BaseException]) -> T:
    """Call `fn()`; if it takes longer than `timeout` seconds raise `make_error()` instead."""
    if timeout is None:
        return fn()
    outcome = _Outcome()
    context = contextvars.copy_context()

    def target() -> None:
        try:
            outcome.value = context.run(fn)
        except BaseException as exc:  # handed to the caller, who decides
            outcome.error = exc

    thread = threading.Thread(target=target, name="transom-timed-call", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        error = make_error()
        _raise_in_thread(thread, CallAbandoned)
        raise error
    if outcome.error is not None:
        raise outcome.error
    value: T = outcome.value
    return value


async def call_async_with_timeout(make_call: Callable[[], Awaitable[T]], timeout: float | None,
                                  make_error: Callable[[], BaseException]) -> T:
    """Await `make_call()`; cancel it and raise `make_error()` after `timeout` seconds."""
    if timeout is None:
        return await make_call()
    try:
        return await asyncio.wait_for(make_call(), timeout)
    except asyncio.TimeoutError:
        raise make_error() from None
