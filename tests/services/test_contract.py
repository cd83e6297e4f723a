"""One contract, every backend: the same calls give the same results and raise the same
exception classes (exactly: not a base class) embedded on SQLite and PostgreSQL and through the
HTTP client against a live server."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from typing import Any

import pytest

from transom.core import states as st
from transom.core.recorder import FlowRunCreated, LogRecorded, StateChanged, TaskRunCreated
from transom.core.states import StateType, now_utc
from transom.exceptions import (
    AlreadyExists,
    ClaimLost,
    InvalidTransition,
    NotAllowedFor,
    NotFound,
    UserInputError,
    WorkerNameTaken,
)
from transom.schemas import (
    ArtifactCreate,
    ArtifactUpdate,
    ConcurrencyLimitCreate,
    ConcurrencyLimitUpdate,
    DeploymentCreate,
    DeploymentRunCreate,
    DeploymentUpdate,
    FlowRunCreate,
    LeaseRenew,
    LogIn,
    RunCursor,
    SlotsAcquire,
    StateIn,
    VariableCreate,
    WorkerPoll,
    WorkPoolCreate,
    WorkPoolUpdate,
)
from transom.services import Backend


def _raises(kind: type[BaseException], call: Any, *args: Any, **kwargs: Any) -> BaseException:
    """`call` raises exactly `kind` (a subclass would hide a lossy mapping)."""
    with pytest.raises(kind) as info:
        call(*args, **kwargs)
    assert type(info.value) is kind, f"{type(info.value).__name__}: {info.value}"
    assert str(info.value), "every error says what went wrong"
    return info.value


def _state(kind: StateType, **extra: Any) -> StateIn:
    return StateIn(type=kind, **extra)


def _deploy(backend: Backend, name: str = "nightly", pool: str | None = "main",
            **extra: Any) -> Any:
    if pool is not None:
        try:
            backend.create_work_pool(WorkPoolCreate(name=pool))
        except AlreadyExists:
            pass
    return backend.upsert_deployment(DeploymentCreate(
        flow_name="etl", name=name, entrypoint="flows.py:etl", path="/srv/flows",
        work_pool=pool, **extra))


def _poll(backend: Backend, name: str, *, instance: uuid.UUID | None = None,
          running: list[uuid.UUID] | None = None, limit: int = 5) -> Any:
    return backend.poll_worker(WorkerPoll(name=name, instance=instance or uuid.uuid4(),
                                          work_pool="main", running=running or [], limit=limit))


class TestBackendContract:
    # -- recorded runs ---------------------------------------------------------------------------
    def test_health_names_the_database(self, backend: Backend) -> None:
        health = backend.health()
        assert health["status"] == "ok" and health["database"] in ("sqlite", "postgresql")

    def test_a_created_run_reads_back_by_id_and_prefix(self, backend: Backend) -> None:
        run = backend.create_flow_run(FlowRunCreate(flow_name="etl", name="first",
                                                    parameters={"n": 1}, tags=["a"]))
        assert (run.state_type, run.name, run.flow_name) == (StateType.PENDING, "first", "etl")
        read = backend.read_flow_run(run.id)
        assert read.model_dump(exclude={"task_run_count"}) == run.model_dump(
            exclude={"task_run_count"})
        assert backend.read_flow_run(run.id.hex[:10]).id == run.id
        assert [f.name for f in backend.list_flows()] == ["etl"]

    def test_missing_runs_and_bad_ids(self, backend: Backend) -> None:
        _raises(NotFound, backend.read_flow_run, uuid.uuid4())
        _raises(NotFound, backend.read_flow_run, "ffffffff")
        _raises(UserInputError, backend.read_flow_run, "not-an-id")
        _raises(NotFound, backend.set_flow_run_state, uuid.uuid4(), _state(StateType.RUNNING))
        _raises(NotFound, backend.cancel_flow_run, uuid.uuid4())
        _raises(NotFound, backend.flow_run_states, uuid.uuid4())
        _raises(NotFound, backend.flow_run_task_runs, uuid.uuid4())
        _raises(NotFound, backend.flow_run_logs, uuid.uuid4())
        _raises(NotFound, backend.read_task_run, uuid.uuid4())
        _raises(NotFound, backend.task_run_states, uuid.uuid4())

    def test_listing_filters_and_counts(self, backend: Backend) -> None:
        for i in range(3):
            backend.create_flow_run(FlowRunCreate(flow_name="etl", name=f"e{i}"))
        done = backend.create_flow_run(FlowRunCreate(
            flow_name="report", state=_state(StateType.COMPLETED)))
        page = backend.list_flow_runs(limit=2)
        assert (len(page.items), page.total) == (2, 4)
        assert [r.id for r in backend.list_flow_runs(state="completed").items] == [done.id]
        assert backend.list_flow_runs(state=StateType.PENDING, flow_name="etl").total == 3
        assert backend.list_flow_runs(since=now_utc() + timedelta(hours=1)).total == 0
        _raises(UserInputError, backend.list_flow_runs, state="done")

    def test_keyset_pages_walk_the_list_both_ways(self, backend: Backend) -> None:
        # Runs created in the same microsecond too: the id breaks the tie, nothing is skipped
        # or repeated at a page boundary.
        same = now_utc()
        for i in range(7):
            backend.send_events([FlowRunCreated(uuid.uuid4(), "etl", f"k{i}", process=None,
                                                created=same if i in (2, 3, 4) else
                                                same - timedelta(seconds=i))])
        everything = [r.id for r in backend.list_flow_runs(limit=100).items]
        first = backend.list_flow_runs(limit=3)
        assert first.prev_cursor is None and first.next_cursor and first.total == 7
        seen, page = [r.id for r in first.items], first
        while page.next_cursor:
            page = backend.list_flow_runs(limit=3, after=page.next_cursor)
            seen += [r.id for r in page.items]
        assert seen == everything and len(page.items) == 1  # the last page: 3 + 3 + 1
        back = backend.list_flow_runs(limit=3, before=page.prev_cursor)
        assert [r.id for r in back.items] == everything[3:6] and back.prev_cursor
        assert [r.id for r in backend.list_flow_runs(limit=3, before=back.prev_cursor).items] \
            == everything[:3]
        assert backend.list_flow_runs(limit=3, before=back.prev_cursor).prev_cursor is None
        assert backend.list_flow_runs(flow_name="etl", limit=3, after=first.next_cursor).total == 7
        _raises(UserInputError, backend.list_flow_runs, after="yesterday")
        # Both cursors: the runs between the two, newest first.
        runs = backend.list_flow_runs(limit=100).items
        newest, fifth = RunCursor.of(runs[0]).encode(), RunCursor.of(runs[4]).encode()
        window = backend.list_flow_runs(limit=100, after=newest, before=fifth)
        assert [r.id for r in window.items] == everything[1:4]
        assert backend.list_flow_runs(limit=2, after=newest, before=fifth).next_cursor

    def test_proposed_states_follow_the_transition_table(self, backend: Backend) -> None:
        run = backend.create_flow_run(FlowRunCreate(flow_name="etl"))
        assert backend.set_flow_run_state(run.id, _state(StateType.RUNNING)).name == "Running"
        record = backend.set_flow_run_state(run.id, _state(StateType.COMPLETED, name="Done",
                                                           message="all good"))
        assert (record.type, record.name, record.message) == (StateType.COMPLETED, "Done",
                                                              "all good")
        error = _raises(InvalidTransition, backend.set_flow_run_state, run.id,
                        _state(StateType.RUNNING))
        assert "COMPLETED" in str(error)
        forced = backend.set_flow_run_state(run.id, _state(StateType.FAILED, force=True))
        assert forced.type is StateType.FAILED
        assert [s.name for s in backend.flow_run_states(run.id)] == [
            "Pending", "Running", "Done", "Failed"]
        assert backend.read_flow_run(run.id).run_count == 1

    def test_cancel(self, backend: Backend) -> None:
        waiting = backend.create_flow_run(FlowRunCreate(flow_name="etl"))
        assert backend.cancel_flow_run(waiting.id.hex[:12], "not today").name == "Cancelled"
        # A running run no worker holds ends at once (its process, if on this machine, is
        # stopped); one a worker holds is Cancelling until its worker has stopped it.
        running = backend.create_flow_run(FlowRunCreate(flow_name="etl",
                                                        state=_state(StateType.RUNNING)))
        record = backend.cancel_flow_run(running.id, "stop")
        assert (record.name, record.message) == ("Cancelled", "stop")
        _raises(InvalidTransition, backend.cancel_flow_run, running.id)
        _raises(InvalidTransition, backend.cancel_flow_run, waiting.id)
        _raises(InvalidTransition, backend.set_flow_run_state, running.id,
                _state(StateType.RUNNING))
        _deploy(backend)
        held = backend.create_deployment_run("etl/nightly", DeploymentRunCreate())
        _poll(backend, "w1")
        assert backend.cancel_flow_run(held.id).name == "Cancelling"
        _raises(InvalidTransition, backend.cancel_flow_run, held.id)

    def test_a_batch_of_events_keeps_what_the_table_allows(self, backend: Backend) -> None:
        flow_id, task_id = uuid.uuid4(), uuid.uuid4()
        written = backend.send_events([
            FlowRunCreated(flow_id, "etl", "batch", {"day": 3}),
            StateChanged(flow_id, False, st.Running(), 1),
            TaskRunCreated(task_id, flow_id, "flows.extract", "extract-0"),
            StateChanged(task_id, True, st.Running(), 1),
            StateChanged(task_id, True, st.Completed(), 1),
            StateChanged(task_id, True, st.Running(), 1),  # after a final state: left out
            LogRecorded(flow_id, task_id, 20, "transom", "λ extracted", now_utc()),
            StateChanged(flow_id, False, st.Completed(), 1),
        ])
        assert written == 7
        assert [s.name for s in backend.flow_run_states(flow_id)] == ["Running", "Completed"]
        (task_run,) = backend.flow_run_task_runs(flow_id)
        assert (task_run.name, task_run.state_name) == ("extract-0", "Completed")
        assert backend.read_task_run(task_id).id == task_id
        assert [s.name for s in backend.task_run_states(task_id)] == ["Running", "Completed"]
        assert [line.message for line in backend.flow_run_logs(flow_id).items] == ["λ extracted"]
        # The same batch sent again after a lost answer stores nothing twice.
        backend.send_events([StateChanged(flow_id, False, st.Completed(), 1)], resent=True)
        assert len(backend.flow_run_states(flow_id)) == 2

    def test_a_state_for_a_run_nobody_created_is_left_out(self, backend: Backend) -> None:
        flow_id = uuid.uuid4()
        written = backend.send_events([
            StateChanged(uuid.uuid4(), False, st.Running(), 1),
            FlowRunCreated(flow_id, "etl", "kept"),
            StateChanged(flow_id, False, st.Running(), 1)])
        assert written == 2
        assert backend.read_flow_run(flow_id).state_name == "Running"

    def test_odd_text_and_numbers_are_stored_repaired(self, backend: Backend) -> None:
        flow_id = uuid.uuid4()
        odd = "x-\udcff-\x00-y"  # a surrogateescape'd byte and a NUL
        assert backend.send_events([
            FlowRunCreated(flow_id, "etl", f"run {odd}", {"ratio": float("nan")}),
            LogRecorded(flow_id, None, 20, "transom", f"printed {odd}", now_utc()),
            StateChanged(flow_id, False, st.Completed(message=odd), 1)]) == 3
        run = backend.read_flow_run(flow_id)
        assert (run.name, run.state_message) == ("run x-\ufffd-\ufffd-y", "x-\ufffd-\ufffd-y")
        assert run.parameters == {"ratio": "NaN"}
        assert [line.message for line in backend.flow_run_logs(flow_id).items] == [
            "printed x-\ufffd-\ufffd-y"]

    def test_task_run_states_and_logs(self, backend: Backend) -> None:
        flow_id, task_id = uuid.uuid4(), uuid.uuid4()
        backend.send_events([FlowRunCreated(flow_id, "etl", "r"),
                             TaskRunCreated(task_id, flow_id, "flows.t", "t-0"),
                             StateChanged(task_id, True, st.Pending())])
        assert backend.set_task_run_state(task_id, _state(StateType.RUNNING)).name == "Running"
        backend.set_task_run_state(task_id, _state(StateType.COMPLETED))
        _raises(InvalidTransition, backend.set_task_run_state, task_id,
                _state(StateType.RUNNING))
        assert backend.write_logs([LogIn(flow_run_id=flow_id, level=20, message=f"line {i}")
                                   for i in range(5)]) == 5
        page = backend.flow_run_logs(flow_id, limit=2, offset=2)
        assert ([line.message for line in page.items], page.total) == (["line 2", "line 3"], 5)

    # -- work pools ------------------------------------------------------------------------------
    def test_work_pools(self, backend: Backend) -> None:
        created = backend.create_work_pool(WorkPoolCreate(name="main", concurrency_limit=2))
        assert (created.name, created.concurrency_limit, created.paused) == ("main", 2, False)
        _raises(AlreadyExists, backend.create_work_pool, WorkPoolCreate(name="main"))
        _raises(NotFound, backend.read_work_pool, "nope")
        _raises(NotFound, backend.update_work_pool, "nope", WorkPoolUpdate(paused=True))
        _raises(NotFound, backend.delete_work_pool, "nope")
        updated = backend.update_work_pool("main", WorkPoolUpdate(paused=True,
                                                                  concurrency_limit=None))
        assert (updated.paused, updated.concurrency_limit) == (True, None)
        assert [p.name for p in backend.list_work_pools()] == ["main"]
        _deploy(backend)
        _raises(UserInputError, backend.delete_work_pool, "main")  # a deployment uses it
        backend.delete_deployment("etl/nightly")
        backend.delete_work_pool("main")
        assert backend.list_work_pools() == []

    # -- variables -------------------------------------------------------------------------------
    def test_variables(self, backend: Backend) -> None:
        values: dict[str, Any] = {
            "text": "héllo", "int": 42, "float": 2.5, "bool": False, "none": None,
            "list": [1, "two", None, [3.0]], "dict": {"a": {"b": [True]}, "n": -1},
        }
        for name, value in values.items():
            created = backend.set_variable(VariableCreate(name=f"v-{name}", value=value))
            assert (created.name, created.value, created.tags) == (f"v-{name}", value, [])
        for name, value in values.items():
            read = backend.read_variable(f"v-{name}")
            assert read.value == value and type(read.value) is type(value)
        listed = backend.list_variables()
        assert [v.name for v in listed] == sorted(f"v-{name}" for name in values)
        assert [v.name for v in backend.list_variables(limit=2, offset=1)] == [
            v.name for v in listed[1:3]]

        first = backend.set_variable(VariableCreate(name="answer", value=41, tags=["a", "b"]))
        error = _raises(AlreadyExists, backend.set_variable,
                        VariableCreate(name="answer", value=42))
        assert "answer" in str(error) and "overwrite" in str(error)
        assert backend.read_variable("answer").value == 41  # untouched by the refused set
        replaced = backend.set_variable(VariableCreate(name="answer", value=42, tags=["c"]),
                                        overwrite=True)
        assert (replaced.id, replaced.value, replaced.tags) == (first.id, 42, ["c"])
        assert replaced.created == first.created and replaced.updated >= first.updated
        new = backend.set_variable(VariableCreate(name="fresh", value="x"), overwrite=True)
        assert backend.read_variable("fresh").id == new.id  # overwrite creates one too

        backend.delete_variable("answer")
        _raises(NotFound, backend.read_variable, "answer")
        _raises(NotFound, backend.delete_variable, "answer")
        _raises(NotFound, backend.read_variable, "Not A Name")
        _raises(NotFound, backend.read_variable, "")
        _raises(NotFound, backend.delete_variable, "")

    # -- concurrency limits ----------------------------------------------------------------------
    def test_concurrency_limits(self, backend: Backend) -> None:
        created = backend.create_concurrency_limit(ConcurrencyLimitCreate(name="tag:db", limit=2))
        assert (created.name, created.limit, created.slot_decay_per_second, created.active,
                created.active_slots, created.leases) == ("tag:db", 2, 0.0, True, 0.0, [])
        error = _raises(AlreadyExists, backend.create_concurrency_limit,
                        ConcurrencyLimitCreate(name="tag:db", limit=5))
        assert "'tag:db' already exists" in str(error)
        backend.create_concurrency_limit(ConcurrencyLimitCreate(name="api", limit=1,
                                                                slot_decay_per_second=2))
        assert [x.name for x in backend.list_concurrency_limits()] == ["api", "tag:db"]
        assert [x.name for x in backend.list_concurrency_limits(limit=1, offset=1)] == ["tag:db"]
        assert backend.concurrency_limit_names() == ["api", "tag:db"]

        # Slots of every named limit at once, or none; a name with no limit limits nothing.
        first = backend.acquire_concurrency_slots(SlotsAcquire(
            names=["tag:db", "nobody"], holder="host pid 1"))
        assert first.granted and first.lease_id is not None and first.missing == ["nobody"]
        second = backend.acquire_concurrency_slots(SlotsAcquire(names=["tag:db"]))
        assert second.granted and second.lease_id is not None
        full = backend.acquire_concurrency_slots(SlotsAcquire(names=["tag:db"]))
        assert not full.granted and full.lease_id is None
        assert [(u.name, u.active_slots, u.limit) for u in full.limits] == [("tag:db", 2, 2)]
        read = backend.read_concurrency_limit("tag:db")
        assert read.active_slots == 2 and [x.holder for x in read.leases] == ["host pid 1", ""]
        assert read.leases[0].id == first.lease_id

        backend.release_concurrency_lease(first.lease_id)
        backend.release_concurrency_lease(first.lease_id)  # twice: nothing more to free
        assert backend.read_concurrency_limit("tag:db").active_slots == 1
        assert backend.renew_concurrency_leases(LeaseRenew(
            lease_ids=[second.lease_id, first.lease_id], lease_seconds=60)) == [first.lease_id]

        # A lease not renewed in time stops counting.
        short = backend.acquire_concurrency_slots(SlotsAcquire(names=["tag:db"],
                                                               lease_seconds=0.3))
        assert short.granted and short.lease_id is not None
        assert not backend.acquire_concurrency_slots(SlotsAcquire(names=["tag:db"])).granted
        time.sleep(0.4)
        assert backend.renew_concurrency_leases(LeaseRenew(
            lease_ids=[short.lease_id], lease_seconds=60)) == [short.lease_id]  # lost
        assert backend.acquire_concurrency_slots(SlotsAcquire(names=["tag:db"])).granted

        # A rate limit takes slots for good; they come back by decay (2 per second here).
        assert backend.acquire_concurrency_slots(SlotsAcquire(names=["api"],
                                                              mode="rate_limit")).granted
        assert not backend.acquire_concurrency_slots(SlotsAcquire(names=["api"],
                                                                  mode="rate_limit")).granted
        time.sleep(0.55)
        assert backend.acquire_concurrency_slots(SlotsAcquire(names=["api"],
                                                              mode="rate_limit")).granted
        error = _raises(NotAllowedFor, backend.acquire_concurrency_slots,
                        SlotsAcquire(names=["tag:db"], mode="rate_limit"))
        assert "rate_limit needs a limit with slot decay" in str(error)
        error = _raises(NotAllowedFor, backend.acquire_concurrency_slots,
                        SlotsAcquire(names=["tag:db"], occupy=3))
        assert "its limit is 2" in str(error)
        _raises(NotFound, backend.acquire_concurrency_slots,
                SlotsAcquire(names=["nobody"], strict=True))

        # Updated: a disabled limit limits nothing; deleted: its leases go with it.
        updated = backend.update_concurrency_limit("tag:db", ConcurrencyLimitUpdate(
            limit=3, active=False))
        assert (updated.limit, updated.active, updated.slot_decay_per_second) == (3, False, 0.0)
        assert backend.concurrency_limit_names() == ["api"]
        loose = backend.acquire_concurrency_slots(SlotsAcquire(names=["tag:db"], occupy=3))
        assert loose.granted and loose.lease_id is None
        backend.delete_concurrency_limit("tag:db")
        _raises(NotFound, backend.read_concurrency_limit, "tag:db")
        _raises(NotFound, backend.delete_concurrency_limit, "tag:db")
        _raises(NotFound, backend.update_concurrency_limit, "tag:db", ConcurrencyLimitUpdate())
        _raises(NotFound, backend.read_concurrency_limit, "")
        assert [x.name for x in backend.list_concurrency_limits()] == ["api"]
        for odd in ("..", ".", "tag:a b?#"):  # names a URL path could misread
            backend.create_concurrency_limit(ConcurrencyLimitCreate(name=odd, limit=1))
            assert backend.read_concurrency_limit(odd).name == odd
            assert backend.update_concurrency_limit(odd, ConcurrencyLimitUpdate(limit=2)).limit == 2
            backend.delete_concurrency_limit(odd)
        assert [x.name for x in backend.list_concurrency_limits()] == ["api"]

    # -- artifacts -------------------------------------------------------------------------------
    def test_artifacts(self, backend: Backend) -> None:
        run = backend.create_flow_run(FlowRunCreate(flow_name="etl"))
        task_id = uuid.uuid4()
        first = backend.create_artifact(ArtifactCreate(
            key="report", type="markdown", data="# v1", description="nightly",
            flow_run_id=run.id, task_run_id=task_id))
        assert (first.key, first.version, first.type, first.data, first.description) == (
            "report", 1, "markdown", "# v1", "nightly")
        assert (first.flow_run_id, first.task_run_id) == (run.id, task_id)
        second = backend.create_artifact(ArtifactCreate(key="report", type="markdown",
                                                        data="# v2"))
        assert second.version == 2 and backend.read_artifact("report").id == second.id
        table = backend.create_artifact(ArtifactCreate(
            key="rows", type="table", data=[{"a": 1, "b": None}], flow_run_id=run.id))
        keyless = backend.create_artifact(ArtifactCreate(type="image", data="https://x/i.png"))
        assert keyless.key is None and keyless.version is None

        assert [a.id for a in backend.list_artifacts(key="report")] == [second.id, first.id]
        assert {a.id for a in backend.list_artifacts()} == {second.id, table.id}  # keys' newest
        assert {a.id for a in backend.list_artifacts(flow_run_id=run.id)} == {first.id, table.id}
        assert backend.list_artifacts(key="report", limit=1, offset=1)[0].id == first.id
        assert [a.id for a in backend.list_artifacts(key_prefix="rep")] == [second.id]
        assert backend.list_artifacts(key_prefix="r%") == []  # a LIKE wildcard is a character

        progress = backend.create_artifact(ArtifactCreate(type="progress", data=0.0))
        moved = backend.update_artifact(progress.id, ArtifactUpdate(data=42.5,
                                                                    description="halfway"))
        assert (moved.id, moved.data, moved.description) == (progress.id, 42.5, "halfway")
        _raises(NotAllowedFor, backend.update_artifact, table.id, ArtifactUpdate(data=1))
        _raises(NotFound, backend.update_artifact, uuid.uuid4(), ArtifactUpdate(data=1))

        assert backend.delete_artifact("report") == 2
        _raises(NotFound, backend.read_artifact, "report")
        _raises(NotFound, backend.delete_artifact, "report")
        assert backend.list_artifacts(key="report") == []
        _raises(NotFound, backend.read_artifact, "")
        _raises(NotFound, backend.delete_artifact, "")

    # -- deployments -----------------------------------------------------------------------------
    def test_deployments(self, backend: Backend) -> None:
        deployment = _deploy(backend, tags=["t"], parameters={"day": 1})
        assert deployment.full_name == "etl/nightly"
        for ref in (deployment.id, str(deployment.id), "etl/nightly", "nightly"):
            assert backend.read_deployment(ref).id == deployment.id
        _raises(NotFound, backend.read_deployment, "etl/missing")
        _raises(NotFound, backend.read_deployment, uuid.uuid4())
        _raises(NotFound, backend.upsert_deployment, DeploymentCreate(
            flow_name="etl", name="x", entrypoint="flows.py:etl", work_pool="no-such-pool"))
        paused = backend.update_deployment("etl/nightly", DeploymentUpdate(paused=True))
        assert paused.paused
        assert [d.full_name for d in backend.list_deployments(work_pool="main")] == ["etl/nightly"]
        assert backend.list_deployments(flow_name="other") == []
        again = _deploy(backend, parameters={"day": 2})
        assert again.id == deployment.id and again.parameters == {"day": 2}
        assert backend.delete_deployment(deployment.id).id == deployment.id
        _raises(NotFound, backend.read_deployment, deployment.id)

    def test_deployment_runs(self, backend: Backend) -> None:
        _deploy(backend, parameters={"day": 1},
                parameter_schema={"type": "object", "properties": {"day": {"type": "integer"}},
                                  "additionalProperties": False})
        run = backend.create_deployment_run("etl/nightly", DeploymentRunCreate(
            parameters={"day": 2}, idempotency_key="k1"))
        assert (run.state_type, run.parameters) == (StateType.SCHEDULED, {"day": 2})
        same = backend.create_deployment_run("etl/nightly", DeploymentRunCreate(
            idempotency_key="k1"))
        assert same.id == run.id
        _raises(UserInputError, backend.create_deployment_run, "etl/nightly",
                DeploymentRunCreate(parameters={"month": 1}))
        _raises(NotFound, backend.create_deployment_run, "etl/missing", DeploymentRunCreate())

    # -- workers ---------------------------------------------------------------------------------
    def test_a_claim_is_made_once_and_a_lost_claim_is_refused(self, backend: Backend) -> None:
        _deploy(backend)
        run = backend.create_deployment_run("etl/nightly", DeploymentRunCreate())
        first = _poll(backend, "w1")
        assert [c.id for c in first.runs] == [run.id]
        assert backend.read_flow_run(run.id).state_type is StateType.PENDING
        second = _poll(backend, "w2")
        assert second.runs == []  # lost to w1
        # w2 reporting on w1's run is refused; w1's report stands.
        _raises(ClaimLost, backend.set_flow_run_state, run.id,
                _state(StateType.CRASHED, worker_id=second.worker_id))
        backend.set_flow_run_state(run.id, _state(StateType.RUNNING, worker_id=first.worker_id))
        assert backend.read_flow_run(run.id).state_type is StateType.RUNNING
        names = sorted(w.name for w in backend.list_workers(work_pool="main"))
        assert names == ["w1", "w2"]
        _raises(NotFound, backend.list_workers, work_pool="nope")

    def test_a_run_given_back_is_no_longer_the_workers(self, backend: Backend) -> None:
        _deploy(backend)
        run = backend.create_deployment_run("etl/nightly", DeploymentRunCreate())
        instance = uuid.uuid4()
        claimed = _poll(backend, "w1", instance=instance)
        # The worker's next poll does not list the run (its process never started): given back.
        _poll(backend, "w1", instance=instance, limit=0)
        assert backend.read_flow_run(run.id).state_type is StateType.SCHEDULED
        _raises(ClaimLost, backend.set_flow_run_state, run.id,
                _state(StateType.CRASHED, worker_id=claimed.worker_id))

    def test_a_worker_that_stops_is_offline_at_once(self, backend: Backend) -> None:
        _deploy(backend)
        instance = uuid.uuid4()
        _poll(backend, "w1", instance=instance)
        assert [w.online for w in backend.list_workers()] == [True]
        assert backend.read_work_pool("main").workers_online == 1
        backend.poll_worker(WorkerPoll(name="w1", instance=instance, work_pool="main",
                                       stopping=True))
        assert [w.online for w in backend.list_workers()] == [False]
        assert backend.read_work_pool("main").workers_online == 0
        _poll(backend, "w1")  # its name is free for the next start at once, and online again
        assert [w.online for w in backend.list_workers()] == [True]

    def test_a_worker_name_is_taken_while_its_owner_lives(self, backend: Backend) -> None:
        _deploy(backend)
        _poll(backend, "w1")
        error = _raises(WorkerNameTaken, _poll, backend, "w1")
        assert "already running" in str(error)
