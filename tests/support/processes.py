"""Process checks the tests share: is a pid gone (a zombie counts as gone)."""

from __future__ import annotations

import sys
import time

import psutil

__all__ = ["gone"]


def gone(pid: int, within: float = 10.0) -> bool:
    """True once `pid` has exited (a zombie awaiting its reaper counts as gone)."""
    deadline = time.monotonic() + within
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _alive(pid: int) -> bool:
    if sys.platform == "win32":
        return bool(psutil.pid_exists(pid))  # OpenProcess + GetExitCodeProcess == STILL_ACTIVE
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False
