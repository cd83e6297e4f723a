"""Run loggers: `get_run_logger()` inside flows and tasks, print capture, and the log handlers.

Every record logged through a run logger carries the run ids; `RecorderHandler` turns it into a
`LogRecorded` event, so the line is stored with its run. Console output goes to stderr. Secret
values this process has loaded (`redact_secret`, called by `transom.blocks`) are replaced by
`**********` in both before a line leaves the process.
"""

from __future__ import annotations

import builtins
import io
import logging
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

from transom.core.context import (
    FlowRunContext,
    TaskRunContext,
    current_flow_run,
    current_task_run,
    get_runtime,
)
from transom.core.hooks import FlowRun, TaskRun
from transom.core.recorder import LogRecorded

__all__ = [
    "REDACTED",
    "RecorderHandler",
    "RunLogger",
    "configure_logging",
    "disable_run_logger",
    "enable_print_capture",
    "flow_run_logger",
    "get_run_logger",
    "redact_secret",
    "redacted",
    "task_run_logger",
]

FLOW_LOGGER = "transom.flow_runs"
TASK_LOGGER = "transom.task_runs"


class RunLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """A logger bound to one flow run or task run."""

    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        extra = kwargs.get("extra")
        kwargs["extra"] = self.extra if not extra else {**(self.extra or {}), **extra}
        return msg, kwargs


def flow_run_logger(run: FlowRunContext | FlowRun, flow: object = None) -> RunLogger:
    """The logger of a flow run: its context, or the `flow_run` a hook is given (a hook runs
    outside the run's context, where get_run_logger() has no run to log to)."""
    run_id = run.flow_run_id if isinstance(run, FlowRunContext) else run.id
    return RunLogger(logging.getLogger(FLOW_LOGGER), {
        "flow_run_id": run_id, "task_run_id": None, "run_label": f"Flow run {run.name!r}",
    })


def task_run_logger(run: TaskRunContext | TaskRun, task: object = None,
                    flow_run: object = None, flow: object = None) -> RunLogger:
    """The logger of a task run: its context, or the `task_run` a hook is given."""
    run_id = run.task_run_id if isinstance(run, TaskRunContext) else run.id
    return RunLogger(logging.getLogger(TASK_LOGGER), {
        "flow_run_id": run.flow_run_id, "task_run_id": run_id,
        "run_label": f"Task run {run.name!r}",
    })


def get_run_logger() -> RunLogger:
    """The logger of the task run or flow run this code runs in; its lines are recorded with it."""
    task_ctx = current_task_run()
    if task_ctx is not None:
        return task_run_logger(task_ctx)
    flow_ctx = current_flow_run()
    if flow_ctx is not None:
        return flow_run_logger(flow_ctx)
    if logging.getLogger(TASK_LOGGER).disabled:  # inside disable_run_logger(): a silent one
        return RunLogger(_SILENT, {"flow_run_id": None, "task_run_id": None, "run_label": None})
    from transom.exceptions import MissingContextError

    raise MissingContextError("get_run_logger() was called outside a flow or task run; "
                       "use logging.getLogger(__name__) there instead")


# Not in logging's registry (a logging.config call elsewhere could enable a registered one).
_SILENT = logging.Logger("transom.silent")
_SILENT.disabled = True
_SILENT.propagate = False


@contextmanager
def disable_run_logger() -> Iterator[None]:
    """Run loggers say nothing inside, and `get_run_logger()` outside a run gives a silent
    logger instead of raising: to call a task's function (`my_task.fn(...)`) in a unit test."""
    loggers = [logging.getLogger(FLOW_LOGGER), logging.getLogger(TASK_LOGGER)]
    before = [one.disabled for one in loggers]
    for one in loggers:
        one.disabled = True
    try:
        yield
    finally:
        for one, was in zip(loggers, before, strict=True):
            one.disabled = was


# -- secrets kept out of logs ------------------------------------------------------------------
REDACTED = "**********"
MIN_REDACTED = 4  # a shorter value ("1", "yes") would blank out ordinary words
_secrets: tuple[str, ...] = ()  # longest first; replaced whole, so readers need no lock
_secrets_lock = threading.Lock()


def redact_secret(value: str) -> None:
    """Redact `value` from every run log line this process records or prints from now on."""
    global _secrets
    if len(value) < MIN_REDACTED or value in _secrets:
        return
    with _secrets_lock:
        _secrets = tuple(sorted({*_secrets, value}, key=len, reverse=True))


def redacted(text: str) -> str:
    """`text` with each secret value this process loaded replaced by `**********`."""
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


class RecorderHandler(logging.Handler):
    """Sends records that carry run ids to the runtime's recorder."""

    def emit(self, record: logging.LogRecord) -> None:
        flow_run_id = getattr(record, "flow_run_id", None)
        task_run_id = getattr(record, "task_run_id", None)
        if flow_run_id is None and task_run_id is None:
            return
        try:
            message = record.getMessage()
            if record.exc_info:
                message += "\n" + logging.Formatter().formatException(record.exc_info)
            get_runtime().recorder.record(LogRecorded(
                flow_run_id=flow_run_id,
                task_run_id=task_run_id,
                level=record.levelno,
                logger=record.name,
                message=redacted(message),
                timestamp=datetime.fromtimestamp(record.created, timezone.utc),
            ))
        except Exception:
            self.handleError(record)


class ConsoleFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created).strftime("%H:%M:%S.%f")[:-3]
        label = getattr(record, "run_label", None)
        head = f"{when} | {record.levelname:<7} | "
        body = record.getMessage() if label is None else f"{label} - {record.getMessage()}"
        text = head + body
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return redacted(text)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to the *current* sys.stderr, so redirected or captured stderr gets the lines."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


_configured = False
_config_lock = threading.Lock()


def configure_logging(level: int | str = logging.INFO, *, console: bool = True) -> None:
    """Attach the recorder and console handlers to the `transom` logger, once per process."""
    global _configured
    if _configured:  # the hot path: every run calls this
        return
    with _config_lock:
        if _configured:
            return
        root = logging.getLogger("transom")
        root.setLevel(level)
        root.addHandler(RecorderHandler())
        if console:
            handler = _StderrHandler()
            handler.setFormatter(ConsoleFormatter())
            root.addHandler(handler)
        root.propagate = False
        _configured = True


# -- print capture -----------------------------------------------------------------------------
_original_print = builtins.print
_print_patched = False


def _capturing_print(*args: Any, **kwargs: Any) -> None:
    task_ctx = current_task_run()
    flow_ctx = current_flow_run() if task_ctx is None else None
    capture = (task_ctx.log_prints if task_ctx is not None
               else flow_ctx.log_prints if flow_ctx is not None else False)
    target = kwargs.get("file")
    if not capture or (target is not None and target not in (sys.stdout, sys.stderr)):
        _original_print(*args, **kwargs)
        return
    buffer = io.StringIO()
    _original_print(*args, **{**kwargs, "file": buffer})
    logger = (task_run_logger(task_ctx) if task_ctx is not None
              else flow_run_logger(flow_ctx))  # type: ignore[arg-type]
    logger.info(buffer.getvalue().rstrip("\n"))


def enable_print_capture() -> None:
    """Route print() to the run logger in runs that ask for it (`log_prints=True`)."""
    global _print_patched
    if not _print_patched:
        builtins.print = _capturing_print
        _print_patched = True
