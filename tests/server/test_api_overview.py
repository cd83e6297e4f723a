"""The overviews the web UI shows, through the public API, from a real server on SQLite and
PostgreSQL: counts by state for a window, the runs that ended per bucket, a run's timeline and
its log lines as server-sent events (resumed with Last-Event-ID), each with its bad input; and
the same through the client."""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta

import httpx
import pytest
from tests.server.conftest import LiveServer
from tests.support.seed import T0, flow_run

from transom.client.http import TransomClient
from transom.core import states as st
from transom.core.recorder import FlowRunCreated, LogRecorded, StateChanged
from transom.core.states import StateType
from transom.exceptions import NotFound, UserInputError
from transom.schemas import FlowRunCounts, FlowRunHistory, FlowRunTimeline, LogLine
from transom.services.embedded import EmbeddedBackend

HOUR = timedelta(hours=1)


def _backend(server: LiveServer) -> EmbeddedBackend:
    backend: EmbeddedBackend = server.server.config.app.state.backend
    return backend


def _when(delta: timedelta) -> str:
    return (T0 + delta).isoformat()


@pytest.fixture
def server(start_server: Callable[..., LiveServer]) -> LiveServer:
    return start_server(server_services=False)


@pytest.fixture
def web(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield client


def _seed_window(server: LiveServer) -> None:
    """Runs created at T0 + 0, 1, 2 h (Completed) and T0 + 2.5 h (Failed), each ending 3 s
    after it was created; one at T0 + 30 h (outside the window)."""
    events = []
    for hours, failed in ((0, False), (1, False), (2, False), (2.5, True), (30, False)):
        _, more = flow_run("etl", f"at-{hours}", created=T0 + hours * HOUR, failed=failed)
        events += more
    _backend(server).send_events(events)


def test_counts_by_state_for_a_window(server: LiveServer, web: httpx.Client) -> None:
    _seed_window(server)
    day = {"since": _when(-HOUR), "until": _when(24 * HOUR)}
    answer = web.get("/flow_runs/counts", params=day)
    assert answer.status_code == 200
    counts = FlowRunCounts.model_validate(answer.json())
    assert counts.total == 4 and set(counts.counts) == set(StateType)  # every type, 0 or more
    assert counts.counts[StateType.COMPLETED] == 3 and counts.counts[StateType.FAILED] == 1
    assert counts.counts[StateType.RUNNING] == 0
    # By its span back from `until`: the runs created in the last 90 minutes before 2.5 h.
    recent = web.get("/flow_runs/counts", params={"until": _when(2.5 * HOUR),
                                                  "span": 5400}).json()
    assert recent["total"] == 3 and recent["since"].startswith("2026-01-05T10:00:00")
    # A time without a zone is UTC.
    naive = web.get("/flow_runs/counts", params={"since": "2026-01-05T08:00:00",
                                                 "until": "2026-01-06T09:00:00"}).json()
    assert naive["total"] == 4 and naive["since"] == "2026-01-05T08:00:00Z"
    # With no window at all: the last 24 hours (nothing: the runs are of January 2026).
    assert web.get("/flow_runs/counts").json()["total"] == 0
    # The client asks the same.
    with TransomClient(server.url) as client:
        assert client.flow_run_counts(since=T0 - HOUR, until=T0 + 24 * HOUR) == counts
        with pytest.raises(UserInputError, match="not both"):
            client.flow_run_counts(since=T0, span=HOUR)


def test_the_runs_that_ended_per_bucket(server: LiveServer, web: httpx.Client) -> None:
    _seed_window(server)
    window = {"since": _when(timedelta(0)), "until": _when(3 * HOUR), "bucket": 3600}
    answer = web.get("/flow_runs/history", params=window)
    assert answer.status_code == 200
    history = FlowRunHistory.model_validate(answer.json())
    assert history.bucket_seconds == 3600
    assert [b.start for b in history.buckets] == [T0 + i * HOUR for i in range(4)]
    assert all(b.end - b.start == HOUR for b in history.buckets)
    assert set(history.buckets[0].counts) == {StateType.COMPLETED, StateType.FAILED,
                                              StateType.CRASHED, StateType.CANCELLED}
    completed = [b.counts[StateType.COMPLETED] for b in history.buckets]
    failed = [b.counts[StateType.FAILED] for b in history.buckets]
    assert completed == [1, 1, 1, 0] and failed == [0, 0, 1, 0]
    # Buckets not aligned with the window: aligned to the epoch, both ends partial.
    odd = web.get("/flow_runs/history", params={"since": _when(30 * timedelta(minutes=1)),
                                                "until": _when(150 * timedelta(minutes=1)),
                                                "bucket": 7200}).json()
    assert [b["start"] for b in odd["buckets"]] == ["2026-01-05T08:00:00Z",
                                                    "2026-01-05T10:00:00Z"]
    assert [b["counts"]["COMPLETED"] for b in odd["buckets"]] == [0, 2]  # 10:00:03, 11:00:03
    with TransomClient(server.url) as client:
        assert client.flow_run_history(bucket=HOUR, since=T0, until=T0 + 3 * HOUR) == history


def test_a_window_or_bucket_the_api_cannot_answer_is_one_sentence(web: httpx.Client) -> None:
    def refused(path: str, status: int, **params: object) -> str:
        answer = web.get(path, params=params)  # type: ignore[arg-type]
        assert answer.status_code == status, answer.text
        body = answer.json()
        assert isinstance(body["detail"], str) and "\n" not in body["detail"]
        if status == 422:
            assert isinstance(body["errors"], list) and body["errors"]  # ValidationErrorBody
        detail: str = body["detail"]
        return detail

    for path in ("/flow_runs/counts", "/flow_runs/history"):
        assert "after it ends" in refused(path, 400, since=_when(HOUR), until=_when(timedelta(0)))
        assert "not both" in refused(path, 400, since=_when(timedelta(0)), span=60)
        refused(path, 422, since="yesterday")
        assert "is a number" in refused(path, 422, until="1767600000")
        assert "year 1 is out of range" in refused(path, 422, since="0001-06-01T00:00:00Z")
        refused(path, 422, span=0)
        refused(path, 422, span=10**11)
        refused(path, 422, span="a day")
    # A span reaching before the calendar's start is all of it, never an overflow.
    early = web.get("/flow_runs/counts", params={"until": "0002-01-01T00:00:00Z",
                                                 "span": 10**10})
    assert early.status_code == 200 and early.json()["total"] == 0
    assert web.get("/flow_runs/history", params={"until": "9998-12-31T23:59:59Z",
                                                 "span": 86400, "bucket": 366 * 86400}
                   ).status_code == 200
    too_many = refused("/flow_runs/history", 400, since=_when(timedelta(0)),
                       until=_when(24 * HOUR), bucket=60)
    assert too_many == ("a window of 86400 s in buckets of 60 s is 1441 buckets, more than "
                        "1000: choose larger buckets or a shorter window")
    refused("/flow_runs/history", 422, bucket=0)
    refused("/flow_runs/history", 422, bucket=366 * 86400 + 1)
    refused("/flow_runs/history", 422, bucket=2**63)


def test_a_run_s_timeline_is_the_page_s(server: LiveServer, web: httpx.Client) -> None:
    run_id, events = flow_run("etl", "mapped", created=T0, tasks=300)
    _backend(server).send_events(events)
    answer = web.get(f"/flow_runs/{run_id}/timeline", headers={"Accept-Encoding": "gzip"})
    assert answer.status_code == 200 and answer.headers["content-encoding"] == "gzip"
    timeline = FlowRunTimeline.model_validate(answer.json())
    assert timeline.start == T0 + timedelta(seconds=1)
    assert len(timeline.runs) == 300 and timeline.rows[0][0] == "etl.step"
    assert all(timeline.states[run[3]] is StateType.COMPLETED for run in timeline.runs)
    # The very layout the run's page draws.
    page = httpx.get(server.url.removesuffix("/api") + f"/runs/{run_id}/timeline.json")
    assert page.json() == answer.json()
    with TransomClient(server.url) as client:
        assert client.flow_run_timeline(run_id) == answer.json()
        with pytest.raises(NotFound):
            client.flow_run_timeline(uuid.uuid4())
    missing = web.get(f"/flow_runs/{uuid.uuid4()}/timeline")
    assert missing.status_code == 404 and missing.json()["error"] == "NotFound"
    assert web.get("/flow_runs/not-a-run/timeline").status_code == 422
    # A run without task runs: an empty timeline.
    bare, events = flow_run("etl", "bare", created=T0)
    _backend(server).send_events(events)
    empty = web.get(f"/flow_runs/{bare}/timeline").json()
    assert empty["start"] is None and empty["runs"] == [] and empty["rows"] == []


def _events(response: httpx.Response, limit: float = 20) -> Iterator[tuple[str, str, str]]:
    """(event, id, data) of a server-sent event stream, until it ends."""
    started = time.monotonic()
    event, ident, data = "", "", []
    for raw in response.iter_lines():
        assert time.monotonic() - started < limit, "the stream did not end"
        if raw.startswith("event: "):
            event = raw[7:]
        elif raw.startswith("id: "):
            ident = raw[4:]
        elif raw.startswith("data: "):
            data.append(raw[6:])
        elif not raw and data:
            yield event, ident, "\n".join(data)
            event, ident, data = "", "", []


def test_a_run_s_log_lines_stream_live_and_resume_after_the_last_event_id(
        server: LiveServer, web: httpx.Client) -> None:
    backend = _backend(server)
    run_id = uuid.uuid4()
    backend.send_events([FlowRunCreated(run_id, "etl", "live", {}, created=T0, process=None),
                         StateChanged(run_id, False, st.Running(), 1),
                         LogRecorded(run_id, None, 20, "transom.flow_runs", "one", T0),
                         LogRecorded(run_id, None, 20, "transom.flow_runs", "two\nlines", T0)])

    def later() -> None:
        time.sleep(0.8)
        backend.send_events([LogRecorded(run_id, None, 40, "transom.flow_runs", "three", T0)])
        time.sleep(0.3)
        backend.send_events([StateChanged(run_id, False, st.Completed(), 1)])

    writer = threading.Thread(target=later)
    writer.start()
    try:
        with web.stream("GET", f"/flow_runs/{run_id}/logs/stream") as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            got = list(_events(stream))
    finally:
        writer.join()
    assert [kind for kind, _, _ in got] == ["line", "line", "line", "end"]
    lines = [LogLine.model_validate_json(data) for kind, _, data in got if kind == "line"]
    assert [line.message for line in lines] == ["one", "two\nlines", "three"]
    assert [ident for kind, ident, _ in got if kind == "line"] == [str(x.id) for x in lines]
    assert json.loads(got[-1][2])["state_type"] == "COMPLETED"
    # A reconnecting client says the last line it had: it gets the rest, and the end at once
    # (the run is over).
    started = time.monotonic()
    with web.stream("GET", f"/flow_runs/{run_id}/logs/stream",
                    headers={"Last-Event-ID": str(lines[0].id)}) as stream:
        resumed = list(_events(stream))
    assert time.monotonic() - started < 3
    assert [data for kind, _, data in resumed if kind == "line"] == \
        [x.model_dump_json() for x in lines[1:]] and resumed[-1][0] == "end"
    # after_id does the same; the later of the two wins.
    with web.stream("GET", f"/flow_runs/{run_id}/logs/stream",
                    params={"after_id": lines[1].id},
                    headers={"Last-Event-ID": str(lines[0].id)}) as stream:
        assert [kind for kind, _, _ in _events(stream)] == ["line", "end"]
    # The client follows it the same way, and stops at the end.
    with TransomClient(server.url) as client:
        assert [x.message for x in client.follow_flow_run_logs(run_id)] == \
            ["one", "two\nlines", "three"]
        assert list(client.follow_flow_run_logs(run_id, after_id=lines[2].id)) == []
        with pytest.raises(NotFound):
            list(client.follow_flow_run_logs(uuid.uuid4()))


def test_the_log_stream_of_an_unknown_run_or_a_bad_resume_is_refused_at_once(
        server: LiveServer, web: httpx.Client) -> None:
    run_id, events = flow_run("etl", "done", created=T0, logs=3)
    _backend(server).send_events(events)
    started = time.monotonic()
    missing = web.get(f"/flow_runs/{uuid.uuid4()}/logs/stream")
    assert missing.status_code == 404 and missing.json()["error"] == "NotFound"
    for bad in ("abc", "-1", "2147483648", "1.5", "null", "1" * 21):
        answer = web.get(f"/flow_runs/{run_id}/logs/stream", headers={"Last-Event-ID": bad})
        assert answer.status_code == 422 and answer.json()["errors"]
        assert answer.json()["detail"] == "header.last-event-id: " + (
            "String should have at most 10 characters" if len(bad) > 10 else
            f"Last-Event-ID must be the id of a log line (0 to 2147483647), not {bad!r}")
    assert web.get(f"/flow_runs/{run_id}/logs/stream",
                   headers={"Last-Event-ID": "2147483647"}).text.count("event: line") == 0
    assert web.get(f"/flow_runs/{run_id}/logs/stream",  # empty: none, as if not sent
                   headers={"Last-Event-ID": ""}).text.count("event: line") == 3
    assert web.get(f"/flow_runs/{run_id}/logs/stream", params={"after_id": -1}).status_code == 422
    assert web.get(f"/flow_runs/{run_id}/logs/stream",
                   params={"after_id": 2**31}).status_code == 422
    # A finished run's stream: its lines and the end, without waiting.
    answer = web.get(f"/flow_runs/{run_id}/logs/stream")
    assert answer.status_code == 200 and answer.text.count("event: line") == 3
    assert answer.text.rstrip().splitlines()[-2] == "event: end"
    # The page's live tail is the same tail: resumed after the Last-Event-ID, a bad one a 400.
    first = re.search(r"^id: (\d+)$", answer.text, re.M)
    assert first
    page = server.url.removesuffix("/api") + f"/runs/{run_id}/logs/live"
    rows = httpx.get(page, headers={"Last-Event-ID": first.group(1)}, timeout=10)
    assert rows.text.count("event: line") == 2 and '<tr id="log-' in rows.text
    assert rows.text.rstrip().splitlines()[-2] == "event: end"
    bad = httpx.get(page, headers={"Last-Event-ID": "abc"}, timeout=10)
    assert bad.status_code == 400 and bad.text.startswith("Last-Event-ID must be")
    assert time.monotonic() - started < 8


def test_the_openapi_documents_the_overviews(web: httpx.Client) -> None:
    spec = web.get("/openapi.json").json()
    paths = spec["paths"]
    counts = paths["/api/flow_runs/counts"]["get"]
    assert counts["responses"]["200"]["content"]["application/json"]["schema"]["$ref"] \
        .endswith("/FlowRunCounts")
    assert {"400", "404", "422"} <= set(counts["responses"])
    assert paths["/api/flow_runs/history"]["get"]["responses"]["200"]["content"][
        "application/json"]["schema"]["$ref"].endswith("/FlowRunHistory")
    assert paths["/api/flow_runs/{run_id}/timeline"]["get"]["responses"]["200"]["content"][
        "application/json"]["schema"]["$ref"].endswith("/FlowRunTimeline")
    stream = paths["/api/flow_runs/{run_id}/logs/stream"]["get"]
    assert list(stream["responses"]["200"]["content"]) == ["text/event-stream"]
    assert {"400", "404", "422"} <= set(stream["responses"])
    names = {p["name"] for p in stream["parameters"]}
    assert {"run_id", "after_id", "last-event-id"} <= names
