"""`get_client()`: async by default, sync with `sync_client=True`; the same calls against the
embedded database (no TRANSOM_API_URL) and against a live server."""

from __future__ import annotations

import asyncio
import inspect
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

import transom
from tests.server.conftest import LiveServer
from transom import flow, task
from transom.client.orchestration import (
    OrchestrationClient,
    PrefectClient,
    SyncOrchestrationClient,
    get_client,
)
from transom.core.context import reset_runtime
from transom.exceptions import InvalidTransition, NotFound, UserInputError
from transom.settings import Settings
from transom.states import Cancelled, Running, Scheduled
from transom.testing.utilities import transom_test_harness


@task
def add(a: int, b: int) -> int:
    return a + b


@flow(name="client-probe")
def probe(n: int = 1) -> int:
    return add(n, 1) + add(n, 2)


@dataclass
class Recorded:
    where: str
    run_id: Any
    deployment: Any


@pytest.fixture(params=["embedded", "server"])
def recorded(request: pytest.FixtureRequest) -> Iterator[Recorded]:
    """A finished run of `probe` and a deployment of it, in a harness home's database: read
    directly (no TRANSOM_API_URL) or through a live server on it."""
    with transom_test_harness() as home:
        server = None
        if request.param == "server":
            server = LiveServer(Settings.load({}, home=home, server_services=False))
            server.start()
            os.environ["TRANSOM_API_URL"] = server.url
            reset_runtime()  # runs now report to the server
        try:
            state = probe(3, return_state=True)
            assert state.result() == 9
            deployment = probe.to_deployment("nightly", parameters={"n": 2}).apply()
            yield Recorded(request.param, state.run_id, deployment)
        finally:
            if server is not None:
                reset_runtime()  # anything still buffered goes to the server before it stops
                server.stop()


def test_get_client_is_async_by_default_and_sync_on_request() -> None:
    assert transom.get_client is get_client
    client = get_client()
    assert isinstance(client, OrchestrationClient) and PrefectClient is OrchestrationClient
    for name in ("read_flow_run", "read_flow_runs", "read_deployment_by_name", "read_task_runs",
                 "create_flow_run_from_deployment", "set_flow_run_state"):
        assert inspect.iscoroutinefunction(getattr(client, name)), name
        assert not inspect.iscoroutinefunction(getattr(SyncOrchestrationClient, name)), name
    assert isinstance(get_client(sync_client=True), SyncOrchestrationClient)


def test_async_with_get_client_reads_the_recorded_run(recorded: Recorded) -> None:
    async def main() -> tuple[Any, ...]:
        async with get_client() as client:
            runs = await client.read_flow_runs(limit=10)
            run = await client.read_flow_run(recorded.run_id)
            task_runs = await client.read_task_runs(flow_run_id=recorded.run_id)
            where = client.api_url
        return runs, run, task_runs, where

    runs, run, task_runs, where = asyncio.run(main())
    assert recorded.run_id in [r.id for r in runs]
    assert run.flow_name == "client-probe" and run.state_name == "Completed"
    assert run.parameters == {"n": 3}
    assert sorted(t.name for t in task_runs) == ["add-0", "add-1"]
    assert all(t.state_name == "Completed" for t in task_runs)
    assert where.startswith("http://127.0.0.1") == (recorded.where == "server")


def _calls(kind: str) -> Iterator[Callable[..., Any]]:
    """Call a client method by name: the sync client's directly, the async one's in a loop."""
    if kind == "sync":
        with get_client(sync_client=True) as client:
            yield lambda name, *a, **k: getattr(client, name)(*a, **k)
        return
    loop = asyncio.new_event_loop()
    client = get_client()
    loop.run_until_complete(client.__aenter__())
    try:
        yield lambda name, *a, **k: loop.run_until_complete(getattr(client, name)(*a, **k))
    finally:
        loop.run_until_complete(client.__aexit__(None, None, None))
        loop.close()


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_deployment_runs_and_states_through_the_client(recorded: Recorded, kind: str) -> None:
    for call in _calls(kind):
        deployment = call("read_deployment_by_name", "client-probe/nightly")
        assert deployment.id == recorded.deployment.id
        assert call("read_deployment", deployment.id).full_name == "client-probe/nightly"

        run = call("create_flow_run_from_deployment", deployment.id, parameters={"n": 5})
        assert run.state_name == "Scheduled" and run.parameters == {"n": 5}
        assert run.deployment_id == deployment.id
        later = datetime.now(timezone.utc) + timedelta(hours=1)
        planned = call("create_flow_run_from_deployment", "client-probe/nightly",
                       state=Scheduled(scheduled_time=later), tags=["planned"])
        assert planned.expected_start_time is not None and "planned" in planned.tags
        assert abs((planned.expected_start_time - later).total_seconds()) < 1

        record = call("set_flow_run_state", run.id, Cancelled(message="not today"))
        assert record.type.value == "CANCELLED" and record.message == "not today"
        assert call("read_flow_run", run.id).state_name == "Cancelled"
        states = [s.name for s in call("read_flow_run_states", run.id)]
        assert states[-1] == "Cancelled"

        with pytest.raises(InvalidTransition, match="cannot move"):
            call("set_flow_run_state", recorded.run_id, Running())
        call("set_flow_run_state", recorded.run_id, Running(), force=True)
        assert call("read_flow_run", recorded.run_id).state_name == "Running"


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_errors_are_the_same_classes_on_both_backends(recorded: Recorded, kind: str) -> None:
    for call in _calls(kind):
        with pytest.raises(NotFound):
            call("read_deployment_by_name", "client-probe/missing")
        with pytest.raises(UserInputError, match="flow-name/deployment-name"):
            call("read_deployment_by_name", "nightly")
        with pytest.raises(UserInputError, match="not a flow run id"):
            call("read_task_runs", flow_run_id="not-a-uuid")
        with pytest.raises(UserInputError, match="starts Scheduled"):
            call("create_flow_run_from_deployment", recorded.deployment.id, state=Running())
        assert call("api_healthcheck") is None


def test_the_async_client_keeps_the_event_loop_free(recorded: Recorded) -> None:
    async def main() -> int:
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        ticker = asyncio.ensure_future(tick())
        async with get_client() as client:
            for _ in range(5):
                await client.read_flow_runs(limit=50)
        ticker.cancel()
        return ticks

    assert asyncio.run(main()) > 5  # the loop ran other work while the calls were out


def test_without_a_harness_it_uses_the_settings_it_is_given(tmp_path: Path) -> None:
    settings = Settings.load({}, home=tmp_path / "home")
    with get_client(sync_client=True, settings=settings) as client:
        assert client.read_flow_runs() == []
        # The embedded database's URL (a Windows path in it is %-encoded).
        assert unquote(client.api_url).endswith(str(tmp_path / "home" / "transom.db"))


@pytest.mark.parametrize("where", ["embedded", "server"])
def test_a_run_reads_itself_and_its_task_runs_through_the_client(where: str) -> None:
    """A Prefect flow may read its own run while it runs (Prefect creates runs before they
    start); Transom records in batches, so the client writes what is pending first."""
    from transom.runtime import flow_run

    @flow(name="reads-itself")
    def reads_itself() -> tuple[str, str, int]:
        add(1, 2)
        with get_client(sync_client=True) as client:
            run = client.read_flow_run(flow_run.id)
            tasks = client.read_task_runs(flow_run_id=flow_run.id)
        return run.name, str(run.state_name), len(tasks)

    @flow(name="reads-itself-async")
    async def reads_itself_async() -> tuple[str, str]:
        async with get_client() as client:
            run = await client.read_flow_run(flow_run.id)
        return run.name, str(run.state_name)

    with transom_test_harness() as home:
        server = None
        if where == "server":
            server = LiveServer(Settings.load({}, home=home, server_services=False))
            server.start()
            os.environ["TRANSOM_API_URL"] = server.url
            reset_runtime()
        try:
            state = reads_itself(return_state=True)
            _, seen_state, tasks = state.result()
            assert seen_state == "Running" and tasks == 1
            async_state = asyncio.run(reads_itself_async(return_state=True))
            assert async_state.result()[1] == "Running"
        finally:
            if server is not None:
                reset_runtime()
                server.stop()
