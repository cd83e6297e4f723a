"""Work pools, deployments, runs of deployments, worker polls and cancel over HTTP, through the
real client, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest
from tests.server.conftest import LiveServer

from transom.client import TransomClient
from transom.exceptions import NotFound, UserInputError
from transom.schemas import (
    DeploymentCreate,
    DeploymentRunCreate,
    DeploymentUpdate,
    ScheduleIn,
    StateIn,
    WorkerPoll,
    WorkPoolCreate,
    WorkPoolUpdate,
)


@pytest.fixture
def client(start_server: Callable[..., LiveServer]) -> Iterator[TransomClient]:
    server = start_server(server_services=False)
    with TransomClient(server.url, retries=0) as client:
        yield client


def _deployment(**extra: object) -> DeploymentCreate:
    values: dict[str, object] = {"flow_name": "etl", "name": "nightly",
                                 "entrypoint": "flows/etl.py:etl", "path": "/srv",
                                 "work_pool": "main"}
    values.update(extra)
    return DeploymentCreate.model_validate(values)


def test_pools_deployments_and_runs_round_trip(client: TransomClient) -> None:
    pool = client.create_work_pool(WorkPoolCreate(name="main", concurrency_limit=4))
    assert pool.concurrency_limit == 4 and not pool.paused
    with pytest.raises(UserInputError, match="already exists"):
        client.create_work_pool(WorkPoolCreate(name="main"))
    deployment = client.upsert_deployment(_deployment(
        schedules=[ScheduleIn(cron="0 9 * * *", timezone="Europe/Paris")], parameters={"n": 1}))
    assert deployment.full_name == "etl/nightly" and deployment.work_pool_name == "main"
    assert deployment.schedules[0].describe() == "cron 0 9 * * * (Europe/Paris)"
    assert client.read_deployment("etl/nightly").id == deployment.id
    assert client.read_deployment(deployment.id).name == "nightly"
    assert [d.full_name for d in client.list_deployments(work_pool="main")] == ["etl/nightly"]
    run = client.create_deployment_run("etl/nightly", DeploymentRunCreate(parameters={"n": 2}))
    assert run.state_name == "Scheduled" and run.parameters == {"n": 2}
    assert run.deployment_id == deployment.id and run.work_pool_id == pool.id
    assert client.read_work_pool("main").scheduled_runs >= 1
    paused = client.update_deployment("etl/nightly", DeploymentUpdate(paused=True))
    assert paused.paused
    assert client.update_work_pool("main", WorkPoolUpdate(paused=True)).paused
    with pytest.raises(UserInputError, match="used by the deployments etl/nightly"):
        client.delete_work_pool("main")
    assert client.delete_deployment("etl/nightly").id == deployment.id
    with pytest.raises(NotFound, match="no deployment named 'etl/nightly'"):
        client.read_deployment("etl/nightly")
    client.delete_work_pool("main")
    assert client.list_work_pools() == []


def test_bad_schedules_and_names_are_refused_with_the_reason(client: TransomClient) -> None:
    client.create_work_pool(WorkPoolCreate(name="main"))
    body = _deployment().model_dump(mode="json")
    for schedule, fragment in (
        ({"cron": "0 25 * * *"}, "cron: invalid cron expression '0 25 * * *'"),
        ({"cron": "0 9 * * *", "timezone": "Europe/Pariss"},
         "timezone: unknown timezone 'Europe/Pariss'"),
    ):
        with pytest.raises(UserInputError, match=re.escape(f"schedules.0.{fragment}")):
            client.request("POST", "/deployments", json={**body, "schedules": [schedule]})
    with pytest.raises(NotFound, match="no work pool named 'missing'"):
        client.upsert_deployment(_deployment(work_pool="missing"))


def test_a_worker_claims_runs_and_hears_of_a_cancel(client: TransomClient) -> None:
    client.create_work_pool(WorkPoolCreate(name="main"))
    client.upsert_deployment(_deployment())
    first = client.create_deployment_run("nightly", DeploymentRunCreate())
    second = client.create_deployment_run("nightly", DeploymentRunCreate())
    poll = WorkerPoll(name="w1", instance=uuid.uuid4(), work_pool="main", limit=1)
    claimed = client.poll_worker(poll)
    assert [r.id for r in claimed.runs] == [first.id]
    assert claimed.runs[0].entrypoint == "flows/etl.py:etl"
    client.set_flow_run_state(first.id, StateIn(type="RUNNING"))  # type: ignore[arg-type]
    cancelled = client.cancel_flow_run(first.id)
    assert cancelled.name == "Cancelling"
    again = client.poll_worker(poll.model_copy(update={"running": [first.id], "limit": 0}))
    assert again.cancel == [first.id] and again.runs == []
    # A run nobody holds is cancelled at once.
    assert client.cancel_flow_run(second.id).name == "Cancelled"
    (worker,) = client.list_workers()
    assert worker.name == "w1" and worker.online and worker.active_runs == 1
    with pytest.raises(UserInputError, match="a worker named 'w1' is already running"):
        client.poll_worker(poll.model_copy(update={"instance": uuid.uuid4()}))
    with pytest.raises(NotFound, match="no work pool named 'other'"):
        client.poll_worker(poll.model_copy(update={"work_pool": "other"}))


def test_the_scheduler_runs_in_the_server(start_server: Callable[..., LiveServer]) -> None:
    server = start_server(server_scheduler_interval=0.2, server_scheduler_window=30,
                          server_services_interval=0.2)
    with TransomClient(server.url, retries=0) as client:
        client.create_work_pool(WorkPoolCreate(name="main"))
        client.upsert_deployment(_deployment(schedules=[ScheduleIn(interval=10)]))
        page = client.list_flow_runs(state="SCHEDULED")
    assert 3 <= page.total <= 4  # the times of the next 30 s, made at once and not again
    with httpx.Client(base_url=server.url) as http:
        assert http.get("/deployments/etl/nightly").json()["name"] == "nightly"


def test_the_server_marks_late_runs_and_they_stay_claimable(
        start_server: Callable[..., LiveServer]) -> None:
    import time
    from datetime import timedelta

    from transom.core.states import now_utc

    server = start_server(server_late_after=0.5, server_services_interval=0.1)
    with TransomClient(server.url, retries=0) as client:
        client.create_work_pool(WorkPoolCreate(name="main"))
        client.upsert_deployment(_deployment())
        run = client.create_deployment_run("nightly", DeploymentRunCreate(
            scheduled_time=now_utc() - timedelta(seconds=1)))
        deadline = time.monotonic() + 10
        while client.read_flow_run(run.id).state_name != "Late":
            assert time.monotonic() < deadline, "the run was not marked Late"
            time.sleep(0.05)
        late = client.flow_run_states(run.id)[-1]
        assert late.type.value == "SCHEDULED" and "not started 0.5s after" in (late.message or "")
        poll = WorkerPoll(name="w", instance=uuid.uuid4(), work_pool="main", limit=1)
        assert [r.id for r in client.poll_worker(poll).runs] == [run.id]
