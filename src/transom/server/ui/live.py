"""The runs list, live: while the page is open its EventSource follows `/runs/live` (with the
page's own filters, run_filters.py, and cursor) and gets the list part again, rendered here,
each time it changes: a new run, a state that moved on. The server looks every LIST_POLL
seconds with the page's own query (keyset: one index range scan, as fast at 100,000 runs as at 100) and sends
nothing while nothing changed; the browser does no polling. Each `page` event's id is its
digest: a page that closed its stream (a hidden tab) opens it again with that as `seen`, and an
EventSource reconnecting by itself sends it as Last-Event-ID, so neither gets an unchanged list.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response, StreamingResponse

from transom.exceptions import UserInputError
from transom.server.routes import Api
from transom.server.ui.pages import runs_context, runs_part
from transom.server.ui.run_filters import FilterText, RunsFilter
from transom.services.backend import Backend

__all__ = ["LIST_POLL", "router"]

LIST_POLL = 1.0
"""Seconds between the server's looks at a live list."""
LIVE_MAX = 3600.0
"""Seconds a stream lasts at most; the EventSource connects again by itself."""
HEARTBEAT = 15.0
_DIGEST = re.compile("[0-9a-f]{16}")

router = APIRouter(include_in_schema=False)


@router.get("/runs/live")
async def runs_live(
    request: Request, api: Api,
    state: Annotated[str | None, Query(max_length=20)] = None,
    flow: FilterText = None, deployment: FilterText = None, pool: FilterText = None,
    tag: FilterText = None, since: FilterText = None, until: FilterText = None,
    prefix: FilterText = None,
    after: Annotated[str | None, Query(max_length=64)] = None,
    before: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    seen: Annotated[str | None, Query(max_length=16, pattern="^[0-9a-f]*$")] = None,
    last_event_id: Annotated[str | None, Header(max_length=64)] = None,
) -> Response:
    """`page` events, each the list part of /runs with these filters, as it is now; none while
    it stays what the page shows (`seen`: the digest the page was rendered with, or the id of
    the last event a reconnecting EventSource got)."""
    if last_event_id:
        if not _DIGEST.fullmatch(last_event_id.strip()):
            return Response("Last-Event-ID is not a digest this stream sent.\n", status_code=400,
                            media_type="text/plain; charset=utf-8")
        seen = last_event_id.strip()
    try:
        wanted = RunsFilter.read(state=state, flow=flow, deployment=deployment, pool=pool,
                                 tag=tag, since=since, until=until, prefix=prefix)
        query: dict[str, Any] = {"wanted": wanted, "after": after, "before": before,
                                 "limit": limit}
        await run_in_threadpool(runs_context, api, **query)
    except UserInputError as exc:
        return Response(str(exc) + "\n", status_code=400, media_type="text/plain; charset=utf-8")
    return StreamingResponse(_follow(api, query, seen, request), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


def _look(api: Backend, query: dict[str, Any], root: str) -> tuple[str, str]:
    return runs_part(runs_context(api, **query), root)


async def _follow(api: Backend, query: dict[str, Any], seen: str | None,
                  request: Request) -> AsyncIterator[str]:
    loop = asyncio.get_running_loop()
    started = quiet_since = loop.time()
    yield "retry: 3000\n: the runs list, live\n\n"
    while loop.time() - started < LIVE_MAX:
        digest, html = await run_in_threadpool(_look, api, query,
                                               request.scope.get("root_path", ""))
        now = loop.time()
        if digest != seen:
            seen, quiet_since = digest, now
            yield f"id: {digest}\nevent: page\ndata: " + html.replace("\n", "\ndata: ") + "\n\n"
        elif now - quiet_since > HEARTBEAT:
            quiet_since = now
            yield ": still here\n\n"
        if await request.is_disconnected():
            return
        await asyncio.sleep(LIST_POLL)
