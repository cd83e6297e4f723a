"""Actions on many runs at once from the runs list (cancel, delete, mark, run again), and
deleting a flow run through the API and the CLI."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from tests.server.conftest import LiveServer
from tests.support.seed import T0, flow_run

from transom.client.http import TransomClient
from transom.core import states as st
from transom.core.recorder import FlowRunCreated, LogRecorded, StateChanged
from transom.exceptions import NotAllowedFor, NotFound


def _running(backend: object, name: str) -> uuid.UUID:
    run_id = uuid.uuid4()
    backend.send_events([  # type: ignore[attr-defined]
        FlowRunCreated(run_id, "etl", name, {}, created=T0, process=None),
        StateChanged(run_id, False, st.Running(), 1),
        LogRecorded(run_id, None, 20, "transom.flow_runs", "working", T0)])
    return run_id


def _notice(answer: httpx.Response) -> str:
    assert answer.status_code == 303, answer.text
    return parse_qs(urlsplit(answer.headers["location"]).query)["notice"][0]


def test_bulk_actions_do_what_the_api_does_and_say_what_they_could_not(
        start_server: Callable[..., LiveServer]) -> None:
    server = start_server(server_services=False)
    backend = server.server.config.app.state.backend
    a, b = _running(backend, "a"), _running(backend, "b")
    done_id, events = flow_run("etl", "done", created=T0)
    backend.send_events(events)
    origin = server.url.removesuffix("/api")
    with httpx.Client(base_url=origin, timeout=10, headers={"Origin": origin}) as web:
        page = web.get("/runs").text
        assert 'form="bulk"' in page and f'value="{a}"' in page
        post = lambda action, *ids: web.post(  # noqa: E731
            "/runs/bulk", data={"action": action, "run": [str(i) for i in ids],
                                "back": "/runs?flow=etl"})
        cancelled = post("cancel", a, done_id)
        assert _notice(cancelled).startswith("1 run cancelled. 1 not: ")
        assert "already ended" in _notice(cancelled)
        assert cancelled.headers["location"].startswith("/runs?flow=etl&notice=")
        assert backend.read_flow_run(a).state_name == "Cancelled"
        shown = web.get(cancelled.headers["location"]).text
        assert 'id="notice"' in shown and "1 run cancelled" in shown
        assert _notice(post("failed", b)) == "1 run marked Failed."
        assert backend.read_flow_run(b).state_name == "Failed"
        again = _notice(post("rerun", b))
        assert again.startswith("0 runs started again. 1 not: ") and "deployment" in again
        assert _notice(post("delete", a, b, done_id)) == "3 runs deleted."
        assert backend.list_flow_runs().total == 0
        assert _notice(post("", a)).startswith("Choose what to do")
        assert _notice(post("cancel")).startswith("Select the runs first")
        assert web.post("/runs/bulk", data={"action": "cancel", "run": "nope"}).status_code == 400
        forged = web.post("/runs/bulk", data={"action": "delete", "run": str(a)},
                          headers={"Origin": "https://attacker.example"})
        assert forged.status_code == 403
        assert web.post("/runs/bulk", json={"action": "delete"}).status_code == 400
        escaped = web.get("/runs", params={"notice": "<script>x</script>"}).text
        assert "&lt;script&gt;x&lt;/script&gt;" in escaped


def test_a_flow_run_is_deleted_through_the_api_unless_it_runs(
        start_server: Callable[..., LiveServer]) -> None:
    server = start_server(server_services=False)
    backend = server.server.config.app.state.backend
    running = _running(backend, "busy")
    done_id, events = flow_run("etl", "old", created=T0, tasks=3, logs=5)
    backend.send_events(events)
    with TransomClient(server.url) as client:
        with pytest.raises(NotAllowedFor, match="cancel it first"):
            client.delete_flow_run(running)
        gone = client.delete_flow_run(str(done_id)[:8])
        assert gone.name == "old"
        with pytest.raises(NotFound):
            client.read_flow_run(done_id)
        with backend.ctx.db.read() as conn:
            left = {t: conn.exec_driver_sql(f"SELECT count(*) FROM {t}").scalar()
                    for t in ("task_runs", "logs")}
        assert left == {"task_runs": 0, "logs": 1}  # the running run's line stays
        assert client.read_flow_run(running).state_name == "Running"
