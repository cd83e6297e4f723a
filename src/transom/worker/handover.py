"""Where a worker hands each claimed run to the process it starts (worker.protocol's
RUN_FILE_ENV): a file, readable by this user only, in a folder of the worker's own in the
temporary directory, `transom-worker-<pid>-<start time>-<random>`.

A worker removes a run's file when the run is settled and its folder when it stops. A worker
that was killed (`kill -9`, a power cut) cannot: its runs' processes stop themselves once it is
gone, and the next worker this user starts on the machine removes the folders of workers whose
process is no longer there. The start time in the name tells a dead worker from a process that
was later given its process id.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

import psutil

from transom.schemas import ClaimedRun

__all__ = ["PREFIX", "HandOver", "sweep"]

PREFIX = "transom-worker-"
_SLACK = 3  # seconds
_NAME = re.compile(re.escape(PREFIX) + r"(\d+)-(\d+)-")


def _alive(pid: int, started: int) -> bool:
    """Whether the process `pid` that started at `started` (whole seconds since the epoch) is
    still there (one we may not look at counts as there; a zombie, ended and not yet waited
    for by its parent, does not)."""
    try:
        process = psutil.Process(pid)
        # Within a few seconds: the start time is computed from the boot time, which moves
        # by a second or so when the clock is adjusted; a process id given again that soon
        # does not happen.
        return abs(int(process.create_time()) - started) <= _SLACK \
            and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
    except (psutil.AccessDenied, OSError):
        return True


def _mine(path: Path) -> bool:
    getuid = getattr(os, "getuid", None)
    if getuid is None:  # Windows: the temporary directory is the user's own
        return True
    try:
        return bool(path.stat().st_uid == getuid())
    except OSError:
        return False


def sweep(root: Path | None = None) -> list[Path]:
    """Remove, from `root` (the temporary directory), the hand-over folders of this user's
    workers that are gone; the folders removed."""
    root = Path(root or tempfile.gettempdir())
    removed: list[Path] = []
    try:
        entries = list(root.iterdir())
    except OSError:
        return removed
    for entry in entries:
        match = _NAME.match(entry.name)
        if match is None or not entry.is_dir() or entry.is_symlink() or not _mine(entry):
            continue
        if _alive(int(match.group(1)), int(match.group(2))):
            continue
        shutil.rmtree(entry, ignore_errors=True)
        if not entry.exists():
            removed.append(entry)
    return removed


class HandOver:
    """One worker's hand-over folder: made on first use (after a sweep of dead workers'),
    a file per claimed run, removed as a whole by `close`."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root or tempfile.gettempdir())
        self.folder: Path | None = None

    def write(self, run: ClaimedRun) -> str:
        """The claimed run in a new file of the folder (mkstemp makes it 0600); its path."""
        if self.folder is None or not self.folder.is_dir():
            sweep(self.root)
            me = psutil.Process()
            self.folder = Path(tempfile.mkdtemp(  # 0700
                prefix=f"{PREFIX}{me.pid}-{int(me.create_time())}-", dir=self.root))
        handle, path = tempfile.mkstemp(prefix="run-", suffix=".json", dir=self.folder)
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(run.model_dump_json())
        return path

    def close(self) -> None:
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None
