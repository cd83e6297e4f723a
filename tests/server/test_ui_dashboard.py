"""The dashboard at `/` over HTTP, from a real server on SQLite and PostgreSQL: counts by state
for its window, the runs that ended per bucket (one GROUP BY), recent failures with their error,
late runs, and the pools and workers that need a look."""

from __future__ import annotations

import dataclasses
import html
import itertools
import json
import re
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import httpx
from tests.server.conftest import LiveServer
from tests.support.seed import flow_run, seed

from transom.core import states as st
from transom.core.recorder import StateChanged
from transom.schemas import DeploymentCreate, DeploymentRunCreate, WorkerPoll, WorkPoolCreate
from transom.services.embedded import EmbeddedBackend
from transom.store import workers


def _origin(server: LiveServer) -> str:
    return server.url.removesuffix("/api")


def _chart(page: str) -> dict[str, object]:
    match = re.search(r'data-chart="([^"]*)"', page)
    assert match, "no chart data"
    data: dict[str, object] = json.loads(html.unescape(match.group(1)))
    return data


def _crashed(backend: EmbeddedBackend, created: datetime) -> uuid.UUID:
    run_id, events = flow_run("etl", "crashed-one", created=created)
    last = events[-1]
    assert isinstance(last, StateChanged)
    crashed = dataclasses.replace(st.Crashed(message="the process was killed\nby the OOM killer"),
                                  timestamp=last.state.timestamp)
    backend.send_events([*events[:-1], dataclasses.replace(last, state=crashed)])
    return run_id


def test_the_dashboard_counts_buckets_and_lists_failures_for_its_window(
        start_server: Callable[..., LiveServer]) -> None:
    server = start_server(server_services=False)
    backend: EmbeddedBackend = server.server.config.app.state.backend
    now = datetime.now(timezone.utc)
    seed(backend, 30, start=now - timedelta(hours=5))  # a minute apart; 4 failed (i % 7 == 3)
    crashed = _crashed(backend, now - timedelta(hours=2))
    seed(backend, 3, flow="weekly", start=now - timedelta(days=3))  # outside 24 h, inside 7 d
    with httpx.Client(base_url=_origin(server), timeout=10) as web:
        page = web.get("/")
        assert page.status_code == 200
        assert "<title>Dashboard · last 24 hours · Transom</title>" in page.text
        counts = page.text.split('id="counts"')[1].split("</ul>")[0]
        assert re.findall(r"s-(\w+)\">\w+</span> <strong>(\d+)</strong>", counts) == [
            ("COMPLETED", "26"), ("FAILED", "4"), ("CRASHED", "1")]
        chart = _chart(page.text)
        x, series = chart["x"], chart["series"]
        assert isinstance(x, list) and isinstance(series, dict)
        assert len(x) in (24, 25) and all(b - a == 3600 for a, b in itertools.pairwise(x))
        assert x[-1] <= now.timestamp() < x[-1] + 3600
        assert {k: sum(v) for k, v in series.items()} == {"COMPLETED": 26, "FAILED": 4,
                                                          "CRASHED": 1}
        # The runs of 5 hours ago ended in the bucket of their end, none elsewhere.
        ended_at = (now - timedelta(hours=5) + timedelta(seconds=3)).timestamp()
        slot = next(i for i, start in enumerate(x) if start <= ended_at < start + 3600)
        assert series["COMPLETED"][slot] + series["FAILED"][slot] > 0
        assert sum(series["COMPLETED"][:slot]) == 0
        failures = page.text.split('id="failures"')[1].split("</table>")[0]
        assert failures.count("<tr>") == 6  # the head, 4 failed and 1 crashed
        assert f'href="/runs/{crashed}"' in failures
        assert "ValueError: the input file is empty" in failures
        assert "the process was killed<" in failures  # the first line only
        week = web.get("/", params={"window": "7d"})
        assert "<title>Dashboard · last 7 days · Transom</title>" in week.text
        chart = _chart(week.text)
        x, series = chart["x"], chart["series"]
        assert isinstance(x, list) and isinstance(series, dict)
        assert all(b - a == 6 * 3600 for a, b in itertools.pairwise(x))
        assert sum(series["COMPLETED"]) == 26 + 3
        month = _chart(web.get("/", params={"window": "30d"}).text)["x"]
        assert isinstance(month, list) and len(month) in (30, 31)
        bad = web.get("/", params={"window": "1y"})
        assert bad.status_code == 400 and bad.headers["content-type"].startswith("text/html")
        assert "the window &#39;1y&#39; is not one the dashboard shows: use 24h, 7d, 30d" in bad.text


def test_the_dashboard_shows_late_runs_and_pools_and_workers_in_trouble(
        start_server: Callable[..., LiveServer]) -> None:
    server = start_server(server_services=False)
    backend: EmbeddedBackend = server.server.config.app.state.backend
    now = datetime.now(timezone.utc)
    backend.create_work_pool(WorkPoolCreate(name="main"))
    backend.create_work_pool(WorkPoolCreate(name="frozen", paused=True))
    backend.create_work_pool(WorkPoolCreate(name="quiet"))
    backend.upsert_deployment(DeploymentCreate(flow_name="etl", name="nightly",
                                               entrypoint="flows/etl.py:etl", work_pool="main"))
    late = backend.create_deployment_run("etl/nightly", DeploymentRunCreate(
        scheduled_time=now - timedelta(minutes=10)))
    assert backend.mark_late_runs() == 1
    # A worker of `quiet` that polled 10 minutes ago and never said it stops.
    with backend.ctx.db.write() as conn:
        workers.poll(conn, WorkerPoll(name="silent-1", instance=uuid.uuid4(), work_pool="quiet"),
                     now=now - timedelta(minutes=10))
    with httpx.Client(base_url=_origin(server), timeout=10) as web:
        page = web.get("/").text
        assert f'href="/runs/{late.id}"' in page.split('id="late"')[1].split("</table>")[0]
        trouble = page.split('id="trouble"')[1].split("</ul>")[0]
        assert "frozen</a>: paused" in trouble
        assert "main</a>: 1 run waits and no worker is online" in trouble
        assert "<strong>silent-1</strong> of" in trouble and "quiet</a>: last heartbeat" in trouble
        assert "quiet</a>:" not in trouble.replace("quiet</a>: last heartbeat", "")
