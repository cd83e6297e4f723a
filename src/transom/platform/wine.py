"""Wine detection: is this Windows really Windows, or Windows CPython running under Wine?

Transom's Windows test lane runs the suite with a real Windows CPython under Wine on Linux. Wine
is faithful enough for paths, cmd.exe, creation flags and Job Objects, but a few things are not
there (its powershell.exe is a stub that prints nothing and exits 0; CTRL_BREAK_EVENT; psutil
process names). Code that must tell the two apart asks here, and never guesses from paths or
environment variables: only Wine's ntdll exports `wine_get_version`.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["WINE_BUILTIN_MARKER", "is_wine_builtin", "running_under_wine", "wine_version"]

WINE_BUILTIN_MARKER = b"Wine builtin DLL"
"""What Wine writes into the DOS stub of its own programs and DLLs (cmd.exe, powershell.exe...)."""

_MARKER_OFFSET = 0x40  # right after the 64-byte DOS header, where a real PE has its DOS stub


def _load_ntdll() -> Any:
    return ctypes.WinDLL("ntdll")  # type: ignore[attr-defined,unused-ignore]


def wine_version(platform: str = sys.platform,
                 load_ntdll: Callable[[], Any] = _load_ntdll) -> str | None:
    """Wine's version ("8.0") when this Windows process runs under Wine, else None.

    `load_ntdll` returns the loaded ntdll (a ctypes library); it is a parameter so the decision
    can be tested with a fake off Windows. Not on Windows: None, without touching ctypes.
    """
    if platform != "win32":
        return None
    try:
        ntdll = load_ntdll()
        get_version = ntdll.wine_get_version
    except (OSError, AttributeError):  # no ntdll (not Windows after all) or Microsoft's ntdll
        return None
    get_version.restype = ctypes.c_char_p
    get_version.argtypes = []
    raw = get_version()
    return raw.decode("ascii", "replace") if isinstance(raw, bytes) else ""


def running_under_wine(platform: str = sys.platform,
                       load_ntdll: Callable[[], Any] = _load_ntdll) -> bool:
    """True when this is Windows CPython under Wine; False on real Windows and on other OSes."""
    return wine_version(platform, load_ntdll) is not None


def is_wine_builtin(path: str | Path) -> bool:
    """True when the program or DLL at `path` is one of Wine's own reimplementations.

    Wine's powershell.exe is such a stub (it runs nothing), so a PowerShell found on PATH under
    Wine is only real when this is False. A missing or unreadable file is not a builtin.
    """
    try:
        with open(path, "rb") as file:
            head = file.read(_MARKER_OFFSET + len(WINE_BUILTIN_MARKER))
    except OSError:
        return False
    return head[:2] == b"MZ" and head[_MARKER_OFFSET:] == WINE_BUILTIN_MARKER
