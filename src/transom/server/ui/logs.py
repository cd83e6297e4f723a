"""A run's logs in the web UI: messages shown with their ANSI colours and clickable links, a
download (all, or as filtered), "jump to the first error", and a live tail over server-sent
events that a plain `EventSource` in transom.js follows (no polling from the browser).

The live tail (server/tail.py, shared with the API's JSON stream) sends each new line as a
table row already rendered and escaped here; it ends, with an `end` event, once the run is final
and nothing new came.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterator
from datetime import timezone
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.concurrency import iterate_in_threadpool, run_in_threadpool
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from markupsafe import Markup, escape

from transom.exceptions import NotFound, UserInputError
from transom.schemas import LogLine
from transom.server.root_path import rooted
from transom.server.routes import Api
from transom.server.tail import LIVE_POLL, LineData, resume_from, tail

__all__ = ["LIVE_POLL", "LogFilter", "log_row", "message_html", "plain_message", "router"]

router = APIRouter(include_in_schema=False)

_SGR = re.compile(r"\x1b\[([0-9;]*)m")
_OTHER_ESCAPES = re.compile(r"\x1b(?:\[[0-9;?]*[A-Za-ln-z]|\][^\x07]*\x07|[()][A-Z0-9])")
_URL = re.compile(r"https?://[^\s<>\"'`]+")
_URL_TAIL = ".,;:!?)]}'\""


# -- what a message looks like --------------------------------------------------------------------
def plain_message(text: str) -> str:
    """The message without its terminal escape sequences (a download, a search)."""
    return _OTHER_ESCAPES.sub("", _SGR.sub("", text))


def _sgr_classes(codes: str, current: dict[str, str]) -> None:
    """Apply one SGR sequence's codes (`1;31`) to the current style: fg, bg, bold."""
    for code in (codes or "0").split(";"):
        if not code.isdigit():
            continue
        n = int(code)
        if n == 0:
            current.clear()
        elif n == 1:
            current["b"] = "a-b"
        elif n == 22:
            current.pop("b", None)
        elif 30 <= n <= 37 or 90 <= n <= 97:
            current["fg"] = f"a-f{n - 30 if n < 90 else n - 82}"
        elif n == 39:
            current.pop("fg", None)
        elif 40 <= n <= 47 or 100 <= n <= 107:
            current["bg"] = f"a-g{n - 40 if n < 100 else n - 92}"
        elif n == 49:
            current.pop("bg", None)


def _linked(text: str) -> Markup:
    """`text` escaped, with each http(s) URL in it made a link."""
    if "http" not in text:  # most lines: no pattern search, one escape
        return escape(text)
    out = Markup()
    last = 0
    for match in _URL.finditer(text):
        url = match.group().rstrip(_URL_TAIL)
        start, end = match.start(), match.start() + len(url)
        out += escape(text[last:start])
        out += Markup('<a href="{0}" rel="noopener noreferrer nofollow" target="_blank">{0}</a>'
                      ).format(url)
        last = end
    return out + escape(text[last:])


def message_html(text: str) -> Markup:
    """A log message for the page: escaped, its ANSI colours (SGR: 16 colours, bold) as spans,
    other escape sequences dropped, links clickable."""
    if "\x1b" not in text:
        return _linked(text)
    text = _OTHER_ESCAPES.sub("", text)
    out = Markup()
    style: dict[str, str] = {}
    last = 0
    for match in _SGR.finditer(text):
        out += _styled(text[last:match.start()], style)
        _sgr_classes(match.group(1), style)
        last = match.end()
    return out + _styled(text[last:], style)


def _styled(text: str, style: dict[str, str]) -> Markup:
    if not text:
        return Markup()
    if not style:
        return _linked(text)
    return Markup('<span class="{}">{}</span>').format(" ".join(sorted(style.values())),
                                                       _linked(text))


def log_row(line: LogLine, task_names: dict[uuid.UUID, str]) -> Markup:
    """One log line as the row of the run page's log table (the live tail sends these). Built
    by concatenation of escaped parts (a page holds 200 of them; `Markup.format` was most of
    its rendering time)."""
    utc = line.timestamp.astimezone(timezone.utc)
    where = task_names.get(line.task_run_id, "") if line.task_run_id else ""
    return Markup(
        f'<tr id="log-{int(line.id)}" class="lvl-{int(line.level)}"><td><time datetime="'
        f'{utc.isoformat()}">{utc.strftime("%Y-%m-%d %H:%M:%S")} UTC</time></td>'
        f'<td>{escape(logging.getLevelName(line.level))}</td>'
        f'<td class="wide mono">{escape(line.logger)}</td><td class="wide">{escape(where)}</td>'
        f'<td class="msg">{message_html(line.message)}</td></tr>')


# -- which lines -------------------------------------------------------------------------------
class LogFilter:
    """The run page's log filters, from its query string: `log_level`, `log_key` (a task: the
    lines of all its runs), `log_task` (one task run, as its page links) and `log_q`."""

    def __init__(self, level: str | None, task: str | None, text: str | None,
                 key: str | None = None) -> None:
        self.level_name = (level or "").upper() or None
        numeric = logging.getLevelName(self.level_name) if self.level_name else None
        self.min_level: int | None = numeric if isinstance(numeric, int) else None
        if self.level_name and self.min_level is None:
            raise UserInputError(f"log_level must be DEBUG, INFO, WARNING, ERROR or CRITICAL, "
                                 f"not {level!r}")
        try:
            self.task_run_id = uuid.UUID(task) if task else None
        except ValueError:
            raise UserInputError(f"log_task must be a task run id, not {task!r}") from None
        self.text = text.strip() if text and text.strip() else None
        self.task_key = key or None

    @property
    def active(self) -> bool:
        return bool(self.min_level or self.task_run_id or self.task_key or self.text)

    def query(self) -> dict[str, str]:
        """The filters as query parameters (for links that keep them)."""
        params = {"log_level": self.level_name, "log_key": self.task_key,
                  "log_task": self.task_run_id and str(self.task_run_id), "log_q": self.text}
        return {k: v for k, v in params.items() if v}

    def backend_args(self) -> dict[str, object]:
        return {"min_level": self.min_level, "task_run_id": self.task_run_id, "text": self.text,
                "task_key": self.task_key}


LogLevelQuery = Annotated[str | None, Query(max_length=10)]
LogTaskQuery = Annotated[str | None, Query(max_length=40)]
LogKeyQuery = Annotated[str | None, Query(max_length=512, pattern=r"^[^\x00]*$")]
LogTextQuery = Annotated[str | None, Query(max_length=200, pattern=r"^[^\x00]*$")]


def _text_error(message: str, status: int) -> Response:
    return Response(message + "\n", status_code=status, media_type="text/plain; charset=utf-8")


# -- routes ----------------------------------------------------------------------------------
@router.get("/runs/{run_id}/logs.txt")
def download(run_id: str, api: Api, log_level: LogLevelQuery = None,
             log_task: LogTaskQuery = None, log_q: LogTextQuery = None,
             log_key: LogKeyQuery = None) -> Response:
    """The run's log lines as a text file: all of them, or those the filters let through."""
    try:
        run = api.read_flow_run(run_id)
        wanted = LogFilter(log_level, log_task, log_q, log_key)
        first = api.flow_run_logs(run.id, limit=1000, **wanted.backend_args())  # type: ignore[arg-type]
    except NotFound as exc:
        return _text_error(str(exc), 404)
    except UserInputError as exc:
        return _text_error(str(exc), 400)
    names = {t.id: t.name for t in api.task_run_rows(run.id)}

    def lines() -> Iterator[bytes]:
        page, offset = first, 0
        while page.items:
            chunk = []
            for line in page.items:
                when = line.timestamp.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
                task = f" [{names.get(line.task_run_id, line.task_run_id)}]" if line.task_run_id else ""
                chunk.append(f"{when[:-3]} UTC {logging.getLevelName(line.level):<8} "
                             f"{line.logger}{task}: {plain_message(line.message)}\n")
            yield "".join(chunk).encode()
            offset += len(page.items)
            if offset >= page.total:
                return
            page = api.flow_run_logs(run.id, limit=1000, offset=offset,
                                     **wanted.backend_args())  # type: ignore[arg-type]

    filename = f"{run.name}{'-filtered' if wanted.active else ''}.log"
    return StreamingResponse(
        iterate_in_threadpool(lines()), media_type="text/plain; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"',
                 "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"})


@router.get("/runs/{run_id}/logs/first-error")
def first_error(run_id: str, api: Api) -> Response:
    """To the page of the run's logs that holds its first ERROR line (or above)."""
    try:
        run = api.read_flow_run(run_id)
    except (NotFound, UserInputError) as exc:
        return _text_error(str(exc), 404)
    offset = api.flow_run_log_offset(run.id, min_level=logging.ERROR)
    if offset is None:
        return RedirectResponse(f"/runs/{run.id}?no_errors=1#logs-title", status_code=303)
    line = api.flow_run_logs(run.id, limit=1, offset=offset).items[0]
    return RedirectResponse(f"/runs/{run.id}?logs_from={offset}#log-{line.id}", status_code=303)


@router.get("/runs/{run_id}/logs/live")
async def live(
    run_id: str, request: Request, api: Api,
    after_id: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,  # a log id (32 bits)
    last_event_id: Annotated[str | None, Header(max_length=20)] = None,
) -> Response:
    """The run's new log lines as server-sent events (`line`: a rendered row; `end`: the run is
    final and all is sent), from the line after `after_id` (or the Last-Event-ID of a
    reconnecting EventSource)."""
    try:
        after_id = resume_from(after_id, last_event_id)
    except UserInputError as exc:
        return _text_error(str(exc), 400)
    try:
        run = await run_in_threadpool(api.read_flow_run, run_id)
    except (NotFound, UserInputError) as exc:
        return _text_error(str(exc), 404)
    return StreamingResponse(
        tail(api, run.id, after_id, request, _rows(request.scope.get("root_path", "")),
             names=True), media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


def _rows(root: str) -> LineData:
    """A line as the page's table row, its links under the server's root path."""
    return lambda line, names: rooted(str(log_row(line, names)), root)
