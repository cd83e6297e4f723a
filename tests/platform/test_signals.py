"""Stop requests as RunInterrupted in the main thread: real signals, both OS branches, on Linux.

The Windows branch (SIGINT raised in the calling thread, the guard's SIGINT handler) uses only
calls that exist on Linux too, so it runs here with `platform="win32"`.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from transom.exceptions import RunInterrupted
from transom.platform.signals import TerminationGuard, interrupt_signal, termination_signals

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="Linux exercises both branches")


@pytest.fixture(autouse=True)
def _restores_handlers() -> Iterator[None]:
    """Every test leaves SIGTERM and SIGINT as it found them, and no guard current."""
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    yield
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before
    assert TerminationGuard.current is None


def test_the_signals_of_each_platform() -> None:
    assert termination_signals("linux") == [signal.SIGTERM]
    assert termination_signals("darwin") == [signal.SIGTERM]
    # SIGBREAK (Ctrl+Break) where this Python has it, i.e. on Windows; SIGTERM everywhere.
    assert termination_signals("win32") == [signal.SIGTERM]
    assert interrupt_signal("linux") == signal.SIGTERM
    assert interrupt_signal("win32") == signal.SIGINT


def test_linux_sigterm_becomes_a_crash_interrupt_and_ctrl_c_is_left_alone() -> None:
    sigint_before = signal.getsignal(signal.SIGINT)
    with pytest.raises(RunInterrupted, match="stopped by signal SIGTERM") as caught:
        with TerminationGuard(platform="linux") as guard:
            assert TerminationGuard.current is guard
            assert signal.getsignal(signal.SIGINT) is sigint_before
            signal.raise_signal(signal.SIGTERM)
            time.sleep(5)  # not reached: the handler raises at once
    assert caught.value.cancelled is False


def test_linux_interrupt_from_another_thread_wakes_a_sleeping_main_thread() -> None:
    with TerminationGuard(platform="linux") as guard:
        threading.Timer(0.2, guard.interrupt, ("cancelled by ada",),
                        {"cancelled": True}).start()
        started = time.monotonic()
        with pytest.raises(RunInterrupted, match="cancelled by ada") as caught:
            time.sleep(30)
    assert time.monotonic() - started < 10
    assert caught.value.cancelled is True


def test_windows_interrupt_comes_through_sigint_with_its_reason() -> None:
    with TerminationGuard(platform="win32") as guard:
        assert signal.getsignal(signal.SIGINT) == guard._on_sigint
        with pytest.raises(RunInterrupted, match="the worker went away") as caught:
            guard.interrupt("the worker went away", cancelled=False)
            time.sleep(5)  # not reached
    assert caught.value.cancelled is False


def test_windows_sigint_without_a_reason_is_still_ctrl_c() -> None:
    with TerminationGuard(platform="win32"), pytest.raises(KeyboardInterrupt):
        signal.raise_signal(signal.SIGINT)
        time.sleep(5)  # not reached


def test_windows_sigint_ignored_before_stays_ignored() -> None:
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with TerminationGuard(platform="win32"):
            signal.raise_signal(signal.SIGINT)
            time.sleep(0.05)  # the handler has run by now, and did nothing
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)


def test_off_the_main_thread_or_inactive_a_guard_changes_nothing() -> None:
    seen: list[object] = []

    def in_thread() -> None:
        with TerminationGuard(platform="linux") as guard:
            seen.append((guard.active, TerminationGuard.current, signal.getsignal(signal.SIGTERM)))

    thread = threading.Thread(target=in_thread)
    thread.start()
    thread.join(10)
    assert seen == [(False, None, signal.getsignal(signal.SIGTERM))]
    with TerminationGuard(active=False, platform="win32") as guard:
        assert TerminationGuard.current is None and not guard.active
