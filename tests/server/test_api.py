"""The REST API as a client sees it: status codes, bodies, and readable errors."""

from __future__ import annotations

import base64
import sqlite3
import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from transom.core import states as st
from transom.core.recorder import FlowRunCreated, LogRecorded, StateChanged, TaskRunCreated
from transom.schemas import EventBatch, event_to_wire


def _create(api: httpx.Client, flow: str = "etl", **body: Any) -> dict[str, Any]:
    response = api.post("/flow_runs", json={"flow_name": flow, **body})
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_health_version_openapi_and_docs(api: httpx.Client) -> None:
    assert api.get("/health").json()["status"] == "ok"
    assert api.get("/version").json()["api"] == "1"
    spec = api.get("/openapi.json").json()
    assert "/api/flow_runs" in spec["paths"] and "/api/events" in spec["paths"]
    docs = httpx.get(str(api.base_url).removesuffix("/api/") + "/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


def test_create_read_and_list_flow_runs(api: httpx.Client) -> None:
    first = _create(api, parameters={"days": 3}, tags=["nightly"])
    assert first["state_name"] == "Pending" and first["parameters"] == {"days": 3}
    _create(api, "report")
    _create(api, "report", state={"type": "SCHEDULED"})
    assert api.get(f"/flow_runs/{first['id']}").json()["flow_name"] == "etl"
    assert api.get(f"/flow_runs/{first['id'][:8]}").json()["id"] == first["id"]
    page = api.get("/flow_runs", params={"flow": "report", "limit": 1}).json()
    assert page["total"] == 2 and len(page["items"]) == 1
    scheduled = api.get("/flow_runs", params={"state": "SCHEDULED"}).json()
    assert [r["flow_name"] for r in scheduled["items"]] == ["report"]
    later = (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat()
    assert api.get("/flow_runs", params={"since": later}).json()["total"] == 0
    assert [f["name"] for f in api.get("/flows").json()] == ["etl", "report"]


@pytest.mark.parametrize("first_state", [
    None,
    {"type": "SCHEDULED", "scheduled_time": "2030-01-02T03:04:05.123456+00:00"},
    {"type": "RUNNING", "message": "started elsewhere"},
    {"type": "COMPLETED", "name": "Done", "message": "nul \u0000 and \u00e9t\u00e9"},
])
def test_a_created_run_answers_as_it_reads_back(api: httpx.Client,
                                                first_state: dict[str, Any] | None) -> None:
    # The creation's answer is built from what was written, not read back: it must be exactly
    # what a later read returns, whatever the first state and whichever the database.
    parent = _create(api, "parent")
    body: dict[str, Any] = {"flow_name": "child", "name": "kid", "parameters": {"n": [1, "x"]},
                            "tags": ["a", "b"], "parent_flow_run_id": parent["id"]}
    if first_state is not None:
        body["state"] = first_state
    created = api.post("/flow_runs", json=body)
    assert created.status_code == 201, created.text
    assert created.json() == api.get(f"/flow_runs/{created.json()['id']}").json()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_creation_waits_for_another_writer_without_stalling_the_server(
        api: httpx.Client, tmp_path: Path) -> None:
    # Creations are written in the event loop when the lock is free; when a flow recording
    # into the same file holds it, the creation waits in a thread and the server answers others.
    _create(api)  # the server has its tables and writer
    holder = sqlite3.connect(tmp_path / "transom.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    answer: list[httpx.Response] = []
    creating = threading.Thread(target=lambda: answer.append(
        api.post("/flow_runs", json={"flow_name": "late"})))
    try:
        creating.start()
        for _ in range(5):  # meanwhile the server answers, reads included
            assert api.get("/health").json()["status"] == "ok"
            assert api.get("/flow_runs").json()["total"] == 1
        assert not answer  # the creation is still waiting for the lock
    finally:
        holder.execute("COMMIT")
        holder.close()
        creating.join(30)
    assert answer[0].status_code == 201, answer[0].text
    assert api.get("/flow_runs", params={"flow": "late"}).json()["total"] == 1


def test_runs_created_through_the_api_belong_to_their_own_flow(api: httpx.Client) -> None:
    # The server remembers flow ids between creations; each run must still land on its flow,
    # also when a flow is first seen in a request that fails.
    assert api.post("/flow_runs", json={"flow_name": "fresh", "state": {"type": "BOGUS"}}
                    ).status_code == 422
    runs = [_create(api, name) for name in ("a", "b", "a", "fresh", "b", "fresh")]
    flows = {f["name"]: f["id"] for f in api.get("/flows").json()}
    assert {r["flow_name"] for r in runs} == {"a", "b", "fresh"}
    for run in runs:
        assert run["flow_id"] == flows[run["flow_name"]]
        assert api.get(f"/flow_runs/{run['id']}").json()["flow_id"] == run["flow_id"]


def test_state_changes_follow_the_transition_table(api: httpx.Client) -> None:
    run = _create(api)
    running = api.post(f"/flow_runs/{run['id']}/set_state", json={"type": "RUNNING"})
    assert running.status_code == 201 and running.json()["name"] == "Running"
    done = api.post(f"/flow_runs/{run['id']}/set_state",
                    json={"type": "COMPLETED", "message": "all good"})
    assert done.status_code == 201
    again = api.post(f"/flow_runs/{run['id']}/set_state", json={"type": "RUNNING"})
    assert again.status_code == 409
    assert again.json()["detail"] == "cannot move a COMPLETED run to RUNNING; allowed next: SCHEDULED"
    forced = api.post(f"/flow_runs/{run['id']}/set_state", json={"type": "RUNNING", "force": True})
    assert forced.status_code == 201
    history = api.get(f"/flow_runs/{run['id']}/states").json()
    assert [s["name"] for s in history] == ["Pending", "Running", "Completed", "Running"]
    assert api.get(f"/flow_runs/{run['id']}").json()["run_count"] == 2


def test_cancel(api: httpx.Client) -> None:
    pending = _create(api)
    assert api.post(f"/flow_runs/{pending['id']}/cancel", json={}).json()["name"] == "Cancelled"
    running = _create(api, state={"type": "RUNNING"})
    response = api.post(f"/flow_runs/{running['id']}/cancel", json={"message": "operator"})
    # No worker holds it (its process, if on this machine, is stopped): it ends at once.
    assert response.json()["name"] == "Cancelled" and response.json()["message"] == "operator"
    assert api.post(f"/flow_runs/{running['id']}/cancel", json={}).status_code == 409
    assert api.post(f"/flow_runs/{pending['id']}/cancel", json={}).status_code == 409


def test_events_batch_records_runs_tasks_states_and_logs(api: httpx.Client) -> None:
    flow_id, task_id = uuid.uuid4(), uuid.uuid4()
    events = [
        FlowRunCreated(flow_id, "batched", "batch-run", {"x": 1}),
        StateChanged(flow_id, False, st.Running(), 1),
        TaskRunCreated(task_id, flow_id, "m.step", "step-0"),
        StateChanged(task_id, True, st.Running(), 1),
        StateChanged(task_id, True, st.Completed(), 1),
        LogRecorded(flow_id, task_id, 20, "transom.task_runs", "λ done"),
        StateChanged(flow_id, False, st.Completed(), 1),
    ]
    body = EventBatch(events=[event_to_wire(e) for e in events]).model_dump(mode="json")
    assert api.post("/events", json=body).json() == {"written": 7}
    run = api.get(f"/flow_runs/{flow_id}").json()
    assert run["state_name"] == "Completed" and run["task_run_count"] == 1
    (task,) = api.get(f"/flow_runs/{flow_id}/task_runs").json()
    assert task["name"] == "step-0" and task["state_name"] == "Completed"
    assert [s["name"] for s in api.get(f"/task_runs/{task_id}/states").json()] == [
        "Running", "Completed"]
    assert api.get(f"/flow_runs/{flow_id}/logs").json()["items"][0]["message"] == "λ done"


def test_a_resent_batch_stores_no_state_or_log_line_twice(
        start_server: Callable[..., Any]) -> None:
    # A server killed between writing a batch and answering: the client's resend of it (marked
    # `resent`) adds only what is new. Through the recorder's sink, whose first answer is lost.
    from transom.client import TransomClient
    from transom.services import BackendSink

    server = start_server()

    class AnswerLost(httpx.BaseTransport):  # an I/O seam: the request arrives, its answer not
        def __init__(self) -> None:
            self.real, self.lost, self.bodies = httpx.HTTPTransport(), 0, []

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            response = self.real.handle_request(request)
            response.read()
            self.bodies.append(request.content)
            if self.lost == 0:
                self.lost += 1
                raise httpx.ReadError("connection reset", request=request)
            return response

    flow_id, task_id = uuid.uuid4(), uuid.uuid4()
    first = [FlowRunCreated(flow_id, "f", "r"), StateChanged(flow_id, False, st.Running()),
             TaskRunCreated(task_id, flow_id, "m.t", "t-0"), StateChanged(task_id, True, st.Running()),
             LogRecorded(flow_id, None, 20, "transom", "once", st.now_utc())]
    transport = AnswerLost()
    sink = BackendSink(TransomClient(server.url, retries=0, transport=transport))
    with pytest.raises(Exception, match="cannot reach"):
        sink.write(first)
    later = [StateChanged(task_id, True, st.Completed()), StateChanged(flow_id, False, st.Completed())]
    sink.write(first + later)  # as the recorder sends them: the failed events, then new ones
    sink.write([LogRecorded(flow_id, None, 20, "transom", "after", st.now_utc())])
    sink.close()
    assert [b'"resent":true' in body for body in transport.bodies] == [False, True, False]
    with httpx.Client(base_url=server.url) as api:
        assert [s["name"] for s in api.get(f"/flow_runs/{flow_id}/states").json()] == [
            "Running", "Completed"]
        assert [s["name"] for s in api.get(f"/task_runs/{task_id}/states").json()] == [
            "Running", "Completed"]
        logs = api.get(f"/flow_runs/{flow_id}/logs").json()["items"]
        assert [line["message"] for line in logs] == ["once", "after"]
        assert api.get(f"/flow_runs/{flow_id}").json()["state_name"] == "Completed"


def test_logs_write_in_batches_and_read_in_pages(api: httpx.Client) -> None:
    run = _create(api)
    lines = [{"flow_run_id": run["id"], "level": 20, "message": f"line {i}"} for i in range(25)]
    assert api.post("/logs", json=lines).json() == {"written": 25}
    page = api.get(f"/flow_runs/{run['id']}/logs", params={"limit": 10, "offset": 20}).json()
    assert page["total"] == 25 and [line["message"] for line in page["items"]] == [
        f"line {i}" for i in range(20, 25)]


def test_task_run_states_through_the_api(api: httpx.Client) -> None:
    flow_id, task_id = uuid.uuid4(), uuid.uuid4()
    events = [FlowRunCreated(flow_id, "f", "r"), TaskRunCreated(task_id, flow_id, "m.t", "t-0"),
              StateChanged(task_id, True, st.Pending())]
    api.post("/events", json=EventBatch(events=[event_to_wire(e) for e in events]).model_dump(mode="json"))
    assert api.post(f"/task_runs/{task_id}/set_state", json={"type": "RUNNING"}).status_code == 201
    assert api.post(f"/task_runs/{task_id}/set_state", json={"type": "PENDING"}).status_code == 409
    assert api.get(f"/task_runs/{task_id}").json()["state_name"] == "Running"


def test_malformed_requests_get_readable_4xx_never_500(api: httpx.Client) -> None:
    cases = [
        (api.post("/flow_runs", json={}), 422, "flow_name: Field required"),
        (api.post("/flow_runs", content=b"{not json", headers={"content-type": "application/json"}), 422, "JSON"),
        (api.post("/flow_runs", json={"flow_name": "x", "state": {"type": "DONE"}}), 422, "state.type"),
        (api.get("/flow_runs", params={"state": "nope"}), 422, "state"),
        (api.get("/flow_runs", params={"limit": 0}), 422, "limit"),
        (api.get("/flow_runs/zzz"), 400, "is not a run id"),
        (api.get(f"/flow_runs/{uuid.uuid4()}"), 404, "no flow run has"),
        (api.post(f"/flow_runs/{uuid.uuid4()}/set_state", json={"type": "RUNNING"}), 404, "no flow run has"),
        (api.post("/flow_runs/not-a-uuid/set_state", json={"type": "RUNNING"}), 422, "run_id"),
        (api.get(f"/task_runs/{uuid.uuid4()}"), 404, "no task run has"),
        (api.post("/logs", json=[{"level": "loud", "message": 1}]), 422, "level"),
        (api.post("/events", json={"events": [{"kind": "mystery"}]}), 422, "events"),
    ]
    for response, code, fragment in cases:
        assert response.status_code == code, (response.request.url, response.text)
        assert fragment in response.json()["detail"], response.text


def test_auth_string_protects_every_api_route(start_server: Callable[..., Any]) -> None:
    server = start_server(server_api_auth_string="ada:s3cret")
    assert httpx.get(f"{server.url}/health").status_code == 401
    wrong = base64.b64encode(b"ada:nope").decode()
    assert httpx.get(f"{server.url}/health", headers={"Authorization": f"Basic {wrong}"}).status_code == 401
    assert httpx.get(f"{server.url}/flow_runs", auth=("ada", "s3cret")).status_code == 200
    assert "TRANSOM_API" in httpx.get(f"{server.url}/flow_runs").json()["detail"]


def test_api_key_protects_every_api_route(start_server: Callable[..., Any]) -> None:
    server = start_server(server_api_key="k-123")
    assert httpx.get(f"{server.url}/flow_runs").status_code == 401
    assert httpx.get(f"{server.url}/flow_runs", headers={"X-API-Key": "k-123"}).status_code == 200
    assert httpx.get(f"{server.url}/flow_runs", headers={"Authorization": "Bearer k-123"}).status_code == 200
    assert httpx.get(f"{server.url}/flow_runs", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_the_server_goes_on_after_db_reset_under_it(start_server: Callable[..., Any],
                                                    database_url: str, tmp_path: Path) -> None:
    # `transom db reset --yes` from another process while the server runs: the flow ids the
    # server knew are gone with their rows, and its next runs of those flows must still start.
    import subprocess
    import sys

    from tests.cli.conftest import clean_environ

    from transom.client import TransomClient
    from transom.schemas import FlowRunCreate

    server = start_server()
    client = TransomClient(server.url, retries=0)
    client.create_flow_run(FlowRunCreate(flow_name="etl"))
    client.create_flow_run(FlowRunCreate(flow_name="report"))
    env = {**clean_environ(tmp_path / "cli home"), "TRANSOM_DATABASE_URL": database_url}
    done = subprocess.run([sys.executable, "-m", "transom", "db", "reset", "--yes"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    run = client.create_flow_run(FlowRunCreate(flow_name="etl"))
    assert client.read_flow_run(run.id).flow_name == "etl"
    batch = FlowRunCreated(uuid.uuid4(), "report", "batched", process=None)
    client.send_events([batch])
    assert client.read_flow_run(batch.id).name == "batched"


def test_a_batch_with_several_heartbeats_is_written(api: httpx.Client) -> None:
    # Found by schemathesis (tests/server/test_fuzz_api.py): two heartbeats in one batch were a
    # 500 on PostgreSQL (an expanding IN in an executemany).
    run_id, instance = str(uuid.uuid4()), str(uuid.uuid4())
    process = {"instance": instance, "pid": 4321, "hostname": "box"}
    now = datetime.now(timezone.utc)
    events = [{"kind": "flow_run", "id": run_id, "flow_name": "f", "name": "r",
               "created": now.isoformat(), "process": process},
              {"kind": "state", "run_id": run_id, "is_task": False,
               "state": {"type": "RUNNING", "timestamp": now.isoformat()}}]
    for seconds in (1, 2, 3):
        events.append({"kind": "heartbeat", "process": process,
                       "timestamp": (now + timedelta(seconds=seconds)).isoformat()})
    answer = api.post("/events", json={"events": events})
    assert answer.status_code == 201, answer.text
    assert api.get(f"/flow_runs/{run_id}").json()["state_type"] == "RUNNING"
