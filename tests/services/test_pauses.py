"""Pauses through every backend (embedded on SQLite and PostgreSQL, HTTP against a live server on
both): pause, the resume's input checked against the stored schema, the 409 of a run that is not
paused; and, on the embedded backends (whose housekeeping a test can drive with a clock), that a
paused or suspended run is never claimed, marked Late or taken for dead, and that a forgotten
pause times out Failed with the reason."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from transom.core import states as st
from transom.core.recorder import FlowRunCreated, ProcessInfo, StateChanged
from transom.core.states import StateType, now_utc
from transom.exceptions import (
    InvalidTransition,
    NotFound,
    RunInputInvalid,
    TransomError,
    UserInputError,
)
from transom.schemas import (
    DeploymentCreate,
    DeploymentRunCreate,
    FlowRunCreate,
    PauseCreate,
    ResumeIn,
    StateIn,
    WorkerPoll,
    WorkPoolCreate,
)
from transom.services import Backend, Context, EmbeddedBackend
from transom.settings import Settings
from transom.store import open_database

INTEGER = {"type": "integer", "minimum": 0}


def _raises(kind: type[TransomError], call: Any, *args: Any) -> str:
    with pytest.raises(kind) as caught:
        call(*args)
    message = str(caught.value)
    assert message and "\n" not in message and "Traceback" not in message
    return message


def _running(backend: Backend) -> uuid.UUID:
    return backend.create_flow_run(FlowRunCreate(
        flow_name="approve", state=StateIn(type=StateType.RUNNING))).id


def _names(backend: Backend, run_id: uuid.UUID) -> list[str]:
    return [s.name for s in backend.flow_run_states(run_id)]


class TestPauseContract:
    def test_a_pause_is_resumed_with_input_its_schema_accepts(self, backend: Backend) -> None:
        run_id = _running(backend)
        paused = backend.pause_flow_run(run_id, PauseCreate(
            key="pause-1", timeout_seconds=600, run_input_schema=INTEGER))
        assert (paused.type, paused.name) == (StateType.SCHEDULED, "Paused")
        assert backend.read_flow_run(run_id).state_name == "Paused"
        # Input that does not match, or none, is refused in one sentence; the run stays Paused.
        assert "is not of type 'integer'" in _raises(
            RunInputInvalid, backend.resume_flow_run, run_id, ResumeIn(run_input="seven"))
        assert "minimum" in _raises(RunInputInvalid, backend.resume_flow_run, run_id,
                                    ResumeIn(run_input=-1))
        assert "waits for input" in _raises(RunInputInvalid, backend.resume_flow_run, run_id,
                                            ResumeIn())
        assert backend.read_flow_run(run_id).state_name == "Paused"
        assert backend.read_pause(run_id, "pause-1").resumed is None
        resumed = backend.resume_flow_run(str(run_id)[:13], ResumeIn(run_input=7))
        assert (resumed.type, resumed.name) == (StateType.RUNNING, "Running")
        pause = backend.read_pause(run_id, "pause-1")
        assert (pause.run_input, pause.run_input_schema) == (7, INTEGER)
        assert pause.resumed is not None and not pause.reschedule
        assert _names(backend, run_id) == ["Running", "Paused", "Running"]
        # Resuming a run that is not paused: 409, one sentence.
        assert "is not paused (it is Running)" in _raises(
            InvalidTransition, backend.resume_flow_run, run_id, ResumeIn(run_input=7))

    def test_a_pause_without_a_schema_takes_no_input(self, backend: Backend) -> None:
        run_id = _running(backend)
        backend.pause_flow_run(run_id, PauseCreate(key="k", timeout_seconds=60))
        assert "does not wait for input" in _raises(
            RunInputInvalid, backend.resume_flow_run, run_id, ResumeIn(run_input={"a": 1}))
        backend.resume_flow_run(run_id)
        assert backend.read_pause(run_id, "k").run_input is None

    def test_what_cannot_pause_or_resume_says_why(self, backend: Backend) -> None:
        pending = backend.create_flow_run(FlowRunCreate(flow_name="approve")).id
        assert "only a running flow run can pause" in _raises(
            InvalidTransition, backend.pause_flow_run, pending,
            PauseCreate(key="k", timeout_seconds=60))
        run_id = _running(backend)
        assert "not a deployment's run" in _raises(
            UserInputError, backend.pause_flow_run, run_id,
            PauseCreate(key="k", timeout_seconds=60, reschedule=True))
        assert backend.read_flow_run(run_id).state_name == "Running"
        _raises(NotFound, backend.read_pause, run_id, "k")
        _raises(NotFound, backend.pause_flow_run, uuid.uuid4(),
                PauseCreate(key="k", timeout_seconds=60))
        _raises(NotFound, backend.resume_flow_run, uuid.uuid4(), ResumeIn())

    def test_a_paused_run_can_be_cancelled(self, backend: Backend) -> None:
        run_id = _running(backend)
        backend.pause_flow_run(run_id, PauseCreate(key="k", timeout_seconds=60))
        assert backend.cancel_flow_run(run_id).type is StateType.CANCELLED
        _raises(InvalidTransition, backend.resume_flow_run, run_id, ResumeIn())


# -- what the background work must leave alone: embedded backends, with a clock ---------------------
@pytest.fixture(params=["sqlite", "postgresql"])
def embedded(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EmbeddedBackend]:
    url = (str(request.getfixturevalue("postgres_url")) if request.param == "postgresql"
           else f"sqlite:///{tmp_path / 'transom.db'}")
    settings = Settings.load({}, home=tmp_path / "home", database_url=url,
                             server_services=False)
    with EmbeddedBackend(Context(open_database(url, busy_timeout=10), settings)) as backend:
        yield backend


def _deployment_run(backend: Backend) -> uuid.UUID:
    backend.create_work_pool(WorkPoolCreate(name="main"))
    backend.upsert_deployment(DeploymentCreate(flow_name="approve", name="d",
                                               entrypoint="flows.py:approve", work_pool="main"))
    return backend.create_deployment_run("approve/d", DeploymentRunCreate()).id


def _poll(backend: Backend, instance: uuid.UUID, running: list[uuid.UUID],
          limit: int = 1) -> Any:
    return backend.poll_worker(WorkerPoll(name="w1", instance=instance, work_pool="main",
                                          running=running, limit=limit))


def test_a_suspended_run_waits_for_its_resume_not_for_a_worker(
        embedded: EmbeddedBackend) -> None:
    run_id = _deployment_run(embedded)
    instance = uuid.uuid4()
    claimed = _poll(embedded, instance, [])
    assert [r.id for r in claimed.runs] == [run_id]
    embedded.set_flow_run_state(run_id, StateIn(type=StateType.RUNNING,
                                                worker_id=claimed.worker_id))
    embedded.pause_flow_run(run_id, PauseCreate(key="pause-1", timeout_seconds=10**6,
                                                reschedule=True))
    assert embedded.read_flow_run(run_id).state_name == "Suspended"
    # Its worker still lists it (the process is ending), then not; neither is a loss, and no
    # poll claims it; an hour later it is not Late, not Crashed: still Suspended.
    _poll(embedded, instance, [run_id])
    assert _poll(embedded, instance, []).runs == []
    embedded.housekeeping(now_utc() + timedelta(hours=1))
    assert _poll(embedded, instance, [], limit=5).runs == []
    assert embedded.read_flow_run(run_id).state_name == "Suspended"
    # Resumed, it is Scheduled (Resuming) for the pool's workers, and claimed again.
    assert embedded.resume_flow_run(run_id).name == "Resuming"
    assert [r.id for r in _poll(embedded, instance, []).runs] == [run_id]
    assert _names(embedded, run_id)[-4:] == ["Running", "Suspended", "Resuming", "Pending"]


def test_a_paused_run_of_a_worker_is_still_its_worker_s(embedded: EmbeddedBackend) -> None:
    """Its process lives (and waits): it counts as the worker's, and if the worker no longer has
    it, it ended with that process (Crashed)."""
    run_id = _deployment_run(embedded)
    instance = uuid.uuid4()
    claimed = _poll(embedded, instance, [])
    embedded.set_flow_run_state(run_id, StateIn(type=StateType.RUNNING,
                                                worker_id=claimed.worker_id))
    embedded.pause_flow_run(run_id, PauseCreate(key="k", timeout_seconds=10**6))
    _poll(embedded, instance, [run_id], limit=0)
    assert [w.active_runs for w in embedded.list_workers()] == [1]
    assert embedded.read_flow_run(run_id).state_name == "Paused"
    _poll(embedded, instance, [], limit=0)
    run = embedded.read_flow_run(run_id)
    assert run.state_name == "Crashed" and "no longer runs it" in (run.state_message or "")


def test_a_paused_run_is_neither_late_nor_claimed(embedded: EmbeddedBackend) -> None:
    run_id = _deployment_run(embedded)
    # An operator pauses a run before a worker has it (Paused is a Scheduled state by name).
    embedded.set_flow_run_state(run_id, StateIn(type=StateType.SCHEDULED, name="Paused"))
    embedded.housekeeping(now_utc() + timedelta(hours=1))
    assert _poll(embedded, uuid.uuid4(), [], limit=5).runs == []
    assert _names(embedded, run_id) == ["Scheduled", "Paused"]


def test_a_paused_process_that_goes_silent_is_not_taken_for_dead(
        embedded: EmbeddedBackend) -> None:
    run_id = uuid.uuid4()
    elsewhere = ProcessInfo(uuid.uuid4(), 4242, "another-host")
    embedded.send_events([FlowRunCreated(run_id, "approve", "r", process=elsewhere),
                          StateChanged(run_id, False, st.Running(), 1)])
    embedded.pause_flow_run(run_id, PauseCreate(key="k", timeout_seconds=10**6))
    later = now_utc() + timedelta(hours=1)
    assert embedded.crash_runs_without_heartbeat(later) == 0
    assert embedded.read_flow_run(run_id).state_name == "Paused"
    # The same run Running would be: the exclusion is the pause's, not the host's.
    embedded.resume_flow_run(run_id)
    assert embedded.crash_runs_without_heartbeat(later) == 1


def test_a_forgotten_pause_times_out_failed_with_the_reason(embedded: EmbeddedBackend) -> None:
    paused = _running(embedded)
    embedded.pause_flow_run(paused, PauseCreate(key="k", timeout_seconds=5))
    suspended = _deployment_run(embedded)
    embedded.set_flow_run_state(suspended, StateIn(type=StateType.RUNNING))
    embedded.pause_flow_run(suspended, PauseCreate(key="k", timeout_seconds=5,
                                                   reschedule=True))
    start = now_utc()
    assert embedded.expire_pauses(start + timedelta(seconds=1)) == 0
    # A Suspended run has no process to fail it: it ends at its timeout.
    assert embedded.expire_pauses(start + timedelta(seconds=6)) == 1
    run = embedded.read_flow_run(suspended)
    assert (run.state_name, run.state_message) == (
        "Failed", "the run was paused for 5 s and not resumed")
    # A Paused one's own process fails it first; after the heartbeat timeout more, this does.
    grace = embedded.ctx.settings.run_heartbeat_timeout
    assert embedded.read_flow_run(paused).state_name == "Paused"
    embedded.housekeeping(start + timedelta(seconds=6 + grace))
    run = embedded.read_flow_run(paused)
    assert (run.state_name, run.state_message) == (
        "Failed", "the run was paused for 5 s and not resumed")
    assert _names(embedded, paused) == ["Running", "Paused", "Failed"]
