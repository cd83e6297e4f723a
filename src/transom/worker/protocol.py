"""What a worker and the run processes it starts agree on: the environment variable that carries
the run, and the exit codes of `python -m transom.worker.execute`."""

from __future__ import annotations

__all__ = ["EXIT_COMPLETED", "EXIT_NOT_COMPLETED", "EXIT_NOT_STARTED", "EXIT_STOPPED_BEFORE_START",
           "RUN_ENV"]

RUN_ENV = "TRANSOM__RUN"
"""The claimed run, as ClaimedRun JSON (TRANSOM__ names are not settings)."""

EXIT_COMPLETED = 0
EXIT_NOT_COMPLETED = 1  # recorded as Failed, Crashed or Cancelled by the engine
EXIT_NOT_STARTED = 3  # the entrypoint or parameters are wrong; the last stderr line says why
EXIT_STOPPED_BEFORE_START = 4  # cancelled (or the worker went away) before the flow started
