"""`transom.logging`: the run logger of the current flow or task run, and Transom's loggers.

(Inside the package, `import logging` still names the standard library: imports are absolute.)
"""

from __future__ import annotations

import logging

from transom.core.logs import RunLogger, disable_run_logger, get_run_logger

__all__ = ["RunLogger", "disable_run_logger", "get_logger", "get_run_logger"]


def get_logger(name: str | None = None) -> logging.Logger:
    """The `transom` logger, or its child `transom.<name>` (not tied to a run)."""
    return logging.getLogger("transom" if not name else f"transom.{name}")
