"""A flow run's live log tail as server-sent events, written once for the web UI (rendered
rows, ui/logs.py) and the API (JSON lines, `/api/flow_runs/{id}/logs/stream`).

The server looks every LIVE_POLL seconds (one indexed query for the lines after the last one
sent) and sends each new line as an event whose id is the line's, so a reconnecting client
resumes with `Last-Event-ID`; the stream ends, with an `end` event, once the run is final and
nothing new came, and after LIVE_MAX seconds in any case (an EventSource reconnects).
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Protocol

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from pydantic import AfterValidator, Field

from transom.core.states import FINAL_TYPES
from transom.exceptions import NotFound, UserInputError
from transom.fields import INT32
from transom.schemas import FlowRunRead, LogLine, Page
from transom.services.backend import Backend

__all__ = ["LIVE_HEARTBEAT", "LIVE_MAX", "LIVE_POLL", "LOG_ID", "LineData", "LogId", "check_log_id",
           "resume_from", "tail"]

LIVE_POLL = 0.5
"""Seconds between the live tail's looks for new lines."""
LIVE_HEARTBEAT = 15.0
"""Seconds of silence after which the tail sends a comment (proxies close idle streams)."""
LIVE_MAX = 3600.0
"""Seconds a live tail stream lasts at most; the browser's EventSource reconnects from where it
was (Last-Event-ID)."""
_PAGE = 500


class LineData(Protocol):
    """An event's data for one line: the line, and the names of the run's task runs (looked up
    only when `names` is asked for)."""

    def __call__(self, line: LogLine, names: dict[uuid.UUID, str], /) -> str: ...


_DIGITS = (r"([0-9]{1,9}|1[0-9]{9}|20[0-9]{8}|21[0-3][0-9]{7}|214[0-6][0-9]{6}|2147[0-3][0-9]{5}"
           r"|21474[0-7][0-9]{4}|214748[0-2][0-9]{3}|2147483[0-5][0-9]{2}|21474836[0-3][0-9]"
           r"|214748364[0-7])")
LOG_ID = f"^{_DIGITS}?$"
"""A Last-Event-ID header: a log line's id, 0 to 2**31 - 1, or empty (none), as a pattern (a
header's schema in the OpenAPI has no minimum or maximum)."""
_LOG_ID = re.compile(LOG_ID)


def check_log_id(value: str) -> str:
    """`value` if it is a log line's id or empty (ValueError, in one sentence, if not)."""
    if not _LOG_ID.match(value):
        raise ValueError(f"Last-Event-ID must be the id of a log line (0 to {INT32}), not "
                         f"{value[:40]!r}")
    return value


LogId = Annotated[str, Field(max_length=10, json_schema_extra={"pattern": LOG_ID}),
                  AfterValidator(check_log_id)]
"""A log line's id in a header (Last-Event-ID), refused in one sentence if it is not one."""


def resume_from(after_id: int, last_event_id: str | None) -> int:
    """Where a tail starts: after `after_id`, or after the Last-Event-ID a reconnecting client
    sends, whichever is later (UserInputError for an id that is not a log line's)."""
    if not last_event_id:
        return after_id
    try:
        check_log_id(last_event_id.strip())
    except ValueError as exc:
        raise UserInputError(str(exc)) from None
    return max(after_id, int(last_event_id))


async def tail(api: Backend, run_id: uuid.UUID, after_id: int, request: Request,
               data: LineData, *, names: bool = False,
               end: Callable[[FlowRunRead], str] = lambda run: "the run is over",
               ) -> AsyncIterator[str]:
    """The events of a run's lines after `after_id`, each `data(line, names)`, until the run
    is final and all was sent (then `end(run)`), the client goes away, or LIVE_MAX passes (a run
deleted meanwhile ends it with a `gone` event)."""
    loop = asyncio.get_running_loop()
    started = quiet_since = loop.time()
    task_names: dict[uuid.UUID, str] = {}
    yield f"retry: 2000\n: tail of flow run {run_id} from line {after_id}\n\n"
    while loop.time() - started < LIVE_MAX:
        try:
            run, page = await run_in_threadpool(_look, api, run_id, after_id)
        except NotFound as exc:  # deleted while followed
            yield f"event: gone\ndata: {exc}\n\n"
            return
        if names and any(line.task_run_id and line.task_run_id not in task_names
                         for line in page.items):
            task_names = {t.id: t.name
                          for t in await run_in_threadpool(api.flow_run_task_runs, run_id)}
        for line in page.items:
            text = data(line, task_names).replace("\r\n", "\n").replace("\r", "\n")
            yield f"id: {line.id}\nevent: line\ndata: {text.replace(chr(10), chr(10) + 'data: ')}\n\n"
            after_id = line.id
        now = loop.time()
        if page.items:
            quiet_since = now
        elif run.state_type in FINAL_TYPES:
            yield f"event: end\ndata: {end(run)}\n\n"
            return
        elif now - quiet_since > LIVE_HEARTBEAT:
            yield ": still here\n\n"
            quiet_since = now
        if await request.is_disconnected():
            return
        if len(page.items) < page.limit:
            await asyncio.sleep(LIVE_POLL)


def _look(api: Backend, run_id: uuid.UUID, after_id: int) -> tuple[FlowRunRead, Page[LogLine]]:
    run = api.read_flow_run(run_id)  # first: a line written after this look is in the next one
    return run, api.flow_run_logs(run_id, limit=_PAGE, after_id=after_id)
