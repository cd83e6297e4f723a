"""What a worker and the run processes it starts agree on: where the claimed run is handed over,
and the exit codes of `python -m transom.worker.execute`."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

__all__ = ["EXIT_COMPLETED", "EXIT_NOT_COMPLETED", "EXIT_NOT_STARTED", "EXIT_STOPPED_BEFORE_START",
           "RUN_ENV", "RUN_FILE_ENV", "claimed_run_json"]

RUN_FILE_ENV = "TRANSOM__RUN_FILE"
"""A file (readable by its owner only) holding the claimed run as ClaimedRun JSON: a file, not the
environment, since a run's parameters can be far larger than an environment variable may be
(about 128 kB on Linux, 32 kB on Windows). TRANSOM__ names are not settings."""

RUN_ENV = "TRANSOM__RUN"
"""The claimed run as JSON in the environment itself (what workers before the file did)."""

_claimed: str | None = None


def claimed_run_json(environ: Mapping[str, str] = os.environ) -> str | None:
    """The claimed run's JSON, read once (the worker removes its file when the run ends)."""
    global _claimed
    if _claimed is None:
        path = environ.get(RUN_FILE_ENV)
        if path:
            _claimed = Path(path).read_text(encoding="utf-8")
        else:
            _claimed = environ.get(RUN_ENV)
    return _claimed

EXIT_COMPLETED = 0
EXIT_NOT_COMPLETED = 1  # recorded as Failed, Crashed or Cancelled by the engine
EXIT_NOT_STARTED = 3  # the entrypoint or parameters are wrong; the last stderr line says why
EXIT_STOPPED_BEFORE_START = 4  # cancelled (or the worker went away) before the flow started
