"""The dashboard at `/`: counts by state for a window (24 h / 7 d / 30 d, in the URL), the runs
that ended per time bucket (drawn by uPlot; the numbers are in the page for a page without
JavaScript), recent failures, late runs, pools and workers in trouble."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import NamedTuple

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from transom.core.states import StateType
from transom.server.routes import Api
from transom.server.ui.render import error_page, render

__all__ = ["WINDOWS", "Window", "router"]

router = APIRouter(include_in_schema=False)


class Window(NamedTuple):
    label: str
    span: timedelta
    bucket: timedelta  # one bar of the chart


WINDOWS = {
    "24h": Window("24 hours", timedelta(hours=24), timedelta(hours=1)),
    "7d": Window("7 days", timedelta(days=7), timedelta(hours=6)),
    "30d": Window("30 days", timedelta(days=30), timedelta(days=1)),
}
"""The dashboard's windows, by their name in the URL (`/?window=7d`)."""


@router.get("/")
def dashboard(request: Request, api: Api,
              window: str | None = Query(None, max_length=10)) -> Response:
    name = window or "24h"
    chosen = WINDOWS.get(name)
    if chosen is None:
        return error_page(request, 400, "No such window",
                          f"the window {name!r} is not one the dashboard shows: use "
                          f"{', '.join(WINDOWS)}")
    data = api.dashboard(chosen.span, chosen.bucket)
    chart = json.dumps({
        "x": [int(b.timestamp()) for b in data.buckets],
        "series": {kind.value: data.ended[kind] for kind in data.ended},
    }, separators=(",", ":"))
    total = sum(data.counts.values())
    ended = {kind: sum(values) for kind, values in data.ended.items()}
    return render(request, "dashboard.html", data=data, window=name, windows=WINDOWS,
                  chosen=chosen, chart=chart, total=total, ended=ended,
                  shown_types=[t for t in StateType], nav="dashboard")
