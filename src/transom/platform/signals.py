"""Stop requests as an exception in the main thread: termination signals and a worker's cancel.

While a `TerminationGuard` is entered in the main thread, SIGTERM (and SIGBREAK, Ctrl+Break, on
Windows) raise RunInterrupted there, so the engine can record the run Crashed or Cancelled before
the process exits; `TerminationGuard.interrupt` does the same from any thread, with a reason.
How the main thread is reached differs by OS, so everything here takes the platform ("win32",
"linux", ...) and the Windows branch runs on Linux in tests.
"""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType
from typing import Any, ClassVar

from transom.exceptions import RunInterrupted

__all__ = ["TerminationGuard", "interrupt_signal", "termination_signals"]


def termination_signals(platform: str = sys.platform) -> list[signal.Signals]:
    """The signals that ask a process to stop on `platform`, those this Python knows."""
    names = ("SIGTERM", "SIGBREAK") if platform == "win32" else ("SIGTERM",)
    return [getattr(signal, name) for name in names if hasattr(signal, name)]


def interrupt_signal(platform: str = sys.platform) -> signal.Signals:
    """The signal `TerminationGuard.interrupt` sends: SIGTERM at the main thread on POSIX. On
    Windows SIGINT, raised in the calling thread: its C handler is the only one that also wakes a
    time.sleep() of the main thread (interrupt_main runs the handler only once that sleep ends)."""
    return signal.SIGINT if platform == "win32" else signal.SIGTERM


class TerminationGuard:
    """While entered in the main thread: termination signals raise RunInterrupted there.

    Elsewhere (another thread, or `active` false) entering it changes nothing. `current` is the
    guard of this process's top-level run, the one `interrupt` is called on.
    """

    current: ClassVar[TerminationGuard | None] = None

    def __init__(self, active: bool = True, platform: str = sys.platform) -> None:
        self.platform = platform
        self.active = active and threading.current_thread() is threading.main_thread()
        self.previous: dict[int, Any] = {}
        self.reason: tuple[str, bool] | None = None  # (message, cancelled), set by interrupt()

    def __enter__(self) -> TerminationGuard:
        if not self.active:
            return self
        TerminationGuard.current = self
        for signum in termination_signals(self.platform):
            self._install(signum, self._on_termination)
        if interrupt_signal(self.platform) == signal.SIGINT:
            # SIGINT means the interrupt's reason when one is set, Ctrl+C otherwise.
            self._install(signal.SIGINT, self._on_sigint)
        return self

    def __exit__(self, *exc: object) -> None:
        if TerminationGuard.current is self:
            TerminationGuard.current = None
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)
        self.previous.clear()

    def interrupt(self, message: str, *, cancelled: bool) -> None:
        """From any thread: raise RunInterrupted(message, cancelled=...) in the main thread now."""
        self.reason = (message, cancelled)
        signum = interrupt_signal(self.platform)
        main = threading.main_thread().ident
        if signum == signal.SIGINT or main is None:
            signal.raise_signal(signum)
        else:
            # Aimed at the main thread, so a sleep or a wait there is interrupted at once.
            signal.pthread_kill(main, signum)

    def _install(self, signum: int, handler: Any) -> None:
        try:
            self.previous[signum] = signal.signal(signum, handler)
        except (ValueError, OSError):
            pass  # not settable here (an embedding host owns it): leave it as it is

    def _on_termination(self, signum: int, frame: FrameType | None) -> None:
        if self.reason is not None:
            raise RunInterrupted(self.reason[0], cancelled=self.reason[1])
        raise RunInterrupted(f"stopped by signal {signal.Signals(signum).name}", cancelled=False)

    def _on_sigint(self, signum: int, frame: FrameType | None) -> None:
        if self.reason is not None:
            raise RunInterrupted(self.reason[0], cancelled=self.reason[1])
        previous = self.previous.get(signal.SIGINT)
        if callable(previous):
            previous(signum, frame)
        elif previous != signal.SIG_IGN:
            raise KeyboardInterrupt
