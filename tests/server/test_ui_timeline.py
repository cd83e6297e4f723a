"""A flow run's timeline of task runs: the server lays the runs out in rows (one per task) and
lanes (runs that overlap), and serves it as compact JSON for the page's canvas."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import httpx
from tests.server.conftest import LiveServer
from tests.support.seed import T0, flow_run

from transom.core.states import StateType
from transom.schemas import TaskRunRead
from transom.server.ui.timeline import layout


def _task(key: str, start: float | None, end: float | None,
          state: StateType = StateType.COMPLETED, name: str = "") -> TaskRunRead:
    def at(seconds: float | None) -> datetime | None:
        return None if seconds is None else T0 + timedelta(seconds=seconds)

    return TaskRunRead(id=uuid.uuid4(), name=name or f"{key}-{start}", task_key=key,
                       dynamic_key=0, state_type=state, state_name=state.value.title(),
                       start_time=at(start), end_time=at(end), tags=[], run_count=1,
                       created=T0, updated=T0)


def test_runs_that_overlap_get_lanes_of_their_task_s_row() -> None:
    now = T0 + timedelta(seconds=100)
    data = layout([
        _task("extract", 0, 10), _task("load", 5, 7), _task("extract", 2, 4),
        _task("extract", 11, 12),  # after the first ended: its lane again
        _task("extract", 3, 20),   # all lanes busy at 3 s: a third lane
        _task("load", 8, None, StateType.RUNNING),  # still running: up to now
        _task("load", None, None, StateType.PENDING),  # not started: not drawn
    ], now=now)
    assert data["start"] == T0.isoformat()
    assert data["rows"] == [["extract", 0, 3], ["load", 3, 1]]
    lanes = {run[4]: (run[0], run[1], run[2]) for run in data["runs"]}  # type: ignore[attr-defined]
    assert lanes["extract-0"] == (0, 0, 10_000)
    assert lanes["extract-2"] == (1, 2_000, 4_000)
    assert lanes["extract-3"] == (2, 3_000, 20_000)  # lanes 0 and 1 are busy at 3 s
    assert lanes["extract-11"] == (1, 11_000, 12_000)  # the lane free soonest
    assert lanes["load-5"] == (3, 5_000, 7_000) and lanes["load-8"] == (3, 8_000, 100_000)
    assert "load-None" not in lanes and data["end"] == 100_000
    states = data["states"]
    assert states[data["runs"][-1][3]] == "RUNNING"  # type: ignore[index]


def test_no_started_task_run_is_an_empty_timeline() -> None:
    assert layout([_task("a", None, None, StateType.PENDING)])["runs"] == []


def test_the_timeline_of_a_big_run_is_served_gzipped_and_an_unknown_run_is_a_404(
        start_server: Callable[..., LiveServer]) -> None:
    server = start_server(server_services=False)
    run_id, events = flow_run("etl", "big", created=T0, tasks=2000)
    server.server.config.app.state.backend.send_events(events)
    with httpx.Client(base_url=server.url.removesuffix("/api"), timeout=10) as web:
        raw = web.get(f"/runs/{run_id}/timeline.json", headers={"Accept-Encoding": "gzip"})
        assert raw.headers["content-encoding"] == "gzip"
        data = raw.json()
        assert len(data["runs"]) == 2000 and data["rows"][0][0] == "etl.step"
        assert raw.num_bytes_downloaded < 60_000, raw.num_bytes_downloaded  # gzipped: ~25 B a run
        assert datetime.fromisoformat(data["start"]) == T0 + timedelta(seconds=1)
        page = web.get(f"/runs/{run_id}").text
        assert f'data-src="/runs/{run_id}/timeline.json"' in page
        missing = web.get(f"/runs/{uuid.uuid4()}/timeline.json")
        assert missing.status_code == 404 and "no flow run" in missing.json()["detail"]
    assert datetime.now(timezone.utc) > T0
