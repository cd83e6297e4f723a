"""A child subreaper (Linux): orphaned descendants stay ours, so a stop of our tree finds them.

A process whose parent exits is handed to init, out of reach of the tree walks in
`platform.processes` (a shell task's `setsid cmd &` leaves its session and its parent at once).
On Linux, prctl(PR_SET_CHILD_SUBREAPER) makes this process their new parent instead, so the
worker's stop of a run's process, `stop_process_tree` and `psutil.children(recursive=True)`
still reach them. macOS has no subreaper (a descendant that calls setsid and loses its parent
escapes there); Windows needs none: every process a run starts is in the run's Job Object.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

__all__ = ["PR_SET_CHILD_SUBREAPER", "become_subreaper", "subreaper_supported"]

PR_SET_CHILD_SUBREAPER = 36  # linux/prctl.h, since Linux 3.4


def subreaper_supported(platform: str = sys.platform) -> bool:
    """Whether `platform` can make a process the reaper of its orphaned descendants."""
    return platform.startswith("linux")


def become_subreaper(platform: str = sys.platform) -> bool:
    """Make this process the reaper of its orphaned descendants; False where it cannot be."""
    if not subreaper_supported(platform):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return int(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False
