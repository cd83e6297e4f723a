"""UTF-8 console output whatever the code page, so no output ever fails with a 'charmap' error.

`setup_utf8_console()` runs first thing in the CLI: it switches stdout/stderr to UTF-8 with
undecodable characters replaced, and on a real Windows console sets the output code page to 65001
(restored at exit, since the console is shared with the shell) and turns on ANSI colour
processing. It returns a `ConsoleReport` of what it did, which `transom doctor` shows
(`last_report()` gives the one of the current process).
"""

from __future__ import annotations

import atexit
import io
import sys
from dataclasses import dataclass, field
from typing import Any, Protocol, TextIO

__all__ = ["ConsoleReport", "StreamReport", "WindowsConsoleApi", "last_report", "setup_utf8_console"]

UTF8_CODE_PAGE = 65001
_STD_OUTPUT_HANDLE = -11
_STD_ERROR_HANDLE = -12
_ENABLE_VIRTUAL_TERMINAL_PROCESSING = 0x0004
_last: list[ConsoleReport] = []


@dataclass(frozen=True)
class StreamReport:
    """What happened to one stream: its encoding before and after, or why it was left alone."""

    name: str
    encoding_before: str | None
    encoding_after: str | None
    errors_after: str | None
    reconfigured: bool
    note: str = ""


@dataclass(frozen=True)
class ConsoleReport:
    """What `setup_utf8_console` did, for `transom doctor` and for tests."""

    platform: str
    streams: tuple[StreamReport, ...]
    code_page_before: int | None = None
    code_page_set: bool = False
    vt_enabled: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)

    def lines(self) -> list[str]:
        """Human-readable summary, one fact per line."""
        out = []
        for s in self.streams:
            if s.reconfigured:
                out.append(f"{s.name}: {s.encoding_before} -> {s.encoding_after} (errors={s.errors_after})")
            else:
                out.append(f"{s.name}: left as {s.encoding_before} ({s.note})")
        if self.code_page_before is not None:
            state = "set to 65001" if self.code_page_set else "unchanged"
            out.append(f"console output code page: {self.code_page_before}, {state}")
        if self.vt_enabled:
            out.append("ANSI colours enabled on: " + ", ".join(self.vt_enabled))
        out.extend(self.notes)
        return out


class WindowsConsoleApi(Protocol):
    """The few kernel32 calls used here; the seam tests replace with a fake."""

    def get_output_code_page(self) -> int: ...
    def set_output_code_page(self, code_page: int) -> bool: ...
    def enable_virtual_terminal(self, std_handle: int) -> bool: ...


class _Kernel32Console:  # pragma: no cover - real Windows only
    def __init__(self) -> None:
        import ctypes
        from ctypes import wintypes

        self._ctypes = ctypes
        self._k32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
        # Handles are pointer-sized: without restype ctypes would truncate them to a C int.
        self._k32.GetStdHandle.restype = wintypes.HANDLE
        self._k32.GetStdHandle.argtypes = [wintypes.DWORD]
        self._k32.GetConsoleMode.argtypes = [wintypes.HANDLE, ctypes.POINTER(wintypes.DWORD)]
        self._k32.SetConsoleMode.argtypes = [wintypes.HANDLE, wintypes.DWORD]
        self._k32.SetConsoleOutputCP.argtypes = [wintypes.UINT]

    def get_output_code_page(self) -> int:
        return int(self._k32.GetConsoleOutputCP())

    def set_output_code_page(self, code_page: int) -> bool:
        return bool(self._k32.SetConsoleOutputCP(code_page))

    def enable_virtual_terminal(self, std_handle: int) -> bool:
        from ctypes import wintypes

        handle = self._k32.GetStdHandle(std_handle)
        mode = wintypes.DWORD()
        if not handle or not self._k32.GetConsoleMode(handle, self._ctypes.byref(mode)):
            return False  # redirected to a file or pipe: nothing to enable
        if mode.value & _ENABLE_VIRTUAL_TERMINAL_PROCESSING:
            return True
        return bool(self._k32.SetConsoleMode(handle, mode.value | _ENABLE_VIRTUAL_TERMINAL_PROCESSING))


def last_report() -> ConsoleReport | None:
    """What the latest `setup_utf8_console()` of this process did; None if it never ran."""
    return _last[-1] if _last else None


def setup_utf8_console(
    stream_out: TextIO | None = None,
    stream_err: TextIO | None = None,
    platform: str = sys.platform,
    *,
    windows_api: WindowsConsoleApi | None = None,
    restore_at_exit: bool = True,
) -> ConsoleReport:
    """Make stdout/stderr UTF-8 (errors replaced) and, on a Windows console, the code page 65001.

    Streams default to the current `sys.stdout`/`sys.stderr`. The Windows calls run only when
    `platform` is "win32" and either this really is Windows or a `windows_api` is given.
    """
    out = sys.stdout if stream_out is None else stream_out
    err = sys.stderr if stream_err is None else stream_err
    streams = (_reconfigure("stdout", out), _reconfigure("stderr", err))
    if platform != "win32":
        report = ConsoleReport(platform=platform, streams=streams)
    elif windows_api is None and sys.platform != "win32":
        report = ConsoleReport(platform=platform, streams=streams,
                               notes=("Windows console calls skipped: not running on Windows",))
    else:
        api = windows_api if windows_api is not None else _Kernel32Console()
        report = _setup_windows_console(platform, streams, api, restore_at_exit)
    _last[:] = [report]
    return report


def _setup_windows_console(platform: str, streams: tuple[StreamReport, ...],
                           api: WindowsConsoleApi, restore_at_exit: bool) -> ConsoleReport:
    notes: list[str] = []
    before = api.get_output_code_page()
    code_page_set = False
    if before == 0:
        # No console at all (a service, pythonw, or a detached process): nothing to configure.
        return ConsoleReport(platform=platform, streams=streams, code_page_before=None,
                             notes=("no console attached: code page and colours left alone",))
    if before != UTF8_CODE_PAGE:
        code_page_set = api.set_output_code_page(UTF8_CODE_PAGE)
        if code_page_set and restore_at_exit:
            # The console belongs to the user's shell too: give it back its code page on exit.
            atexit.register(api.set_output_code_page, before)
        if not code_page_set:
            notes.append("SetConsoleOutputCP(65001) failed; output is still UTF-8 encoded")
    vt = tuple(name for name, handle in (("stdout", _STD_OUTPUT_HANDLE), ("stderr", _STD_ERROR_HANDLE))
               if api.enable_virtual_terminal(handle))
    return ConsoleReport(platform=platform, streams=streams, code_page_before=before,
                         code_page_set=code_page_set, vt_enabled=vt, notes=tuple(notes))


def _reconfigure(name: str, stream: Any) -> StreamReport:
    encoding = getattr(stream, "encoding", None)
    if stream is None:
        return StreamReport(name, None, None, None, False, "no stream (pythonw or a service)")
    if not isinstance(stream, io.TextIOWrapper):
        return StreamReport(name, encoding, encoding, getattr(stream, "errors", None), False,
                            f"not reconfigurable ({type(stream).__name__})")
    try:
        stream.reconfigure(encoding="utf-8", errors="replace")
    except (ValueError, OSError, io.UnsupportedOperation) as exc:
        return StreamReport(name, encoding, stream.encoding, stream.errors, False,
                            f"reconfigure failed: {exc}")
    return StreamReport(name, encoding, stream.encoding, stream.errors, True)
