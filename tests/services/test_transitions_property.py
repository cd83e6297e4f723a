"""Property: whatever sequence of state changes reaches a run, through whichever entry point
(a proposal, an engine event batch, a cancel, a worker's claim, give-back or loss, late-run
marking, a pause or suspension and its resume or timeout), the history stored for it obeys the
transition table."""

from __future__ import annotations

import itertools
import uuid
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as strategies

from transom.core import states as st
from transom.core.recorder import StateChanged
from transom.core.states import TRANSITIONS, State, StateType, check_transition, now_utc
from transom.exceptions import TransomError
from transom.schemas import (
    DeploymentCreate,
    DeploymentRunCreate,
    PauseCreate,
    ResumeIn,
    StateIn,
    WorkerPoll,
    WorkPoolCreate,
)
from transom.services import Backend

_numbers = itertools.count()

ACTIONS = strategies.one_of(
    strategies.tuples(strategies.just("propose"), strategies.sampled_from(StateType)),
    strategies.tuples(strategies.just("event"), strategies.sampled_from(StateType)),
    strategies.tuples(strategies.just("cancel"), strategies.none()),
    strategies.tuples(strategies.just("claim"), strategies.none()),
    strategies.tuples(strategies.just("keep"), strategies.none()),
    strategies.tuples(strategies.just("drop"), strategies.none()),
    strategies.tuples(strategies.just("late"), strategies.none()),
    strategies.tuples(strategies.just("pause"), strategies.booleans()),
    strategies.tuples(strategies.just("resume"), strategies.none()),
)


class _Scenario:
    """One deployment run in a pool of its own, and a worker that may claim it."""

    def __init__(self, backend: Backend) -> None:
        n = next(_numbers)
        self.backend = backend
        self.pool = f"pool-{n}"
        backend.create_work_pool(WorkPoolCreate(name=self.pool))
        backend.upsert_deployment(DeploymentCreate(
            flow_name="prop", name=f"d{n}", entrypoint="flows.py:prop", work_pool=self.pool))
        self.run = backend.create_deployment_run(f"prop/d{n}", DeploymentRunCreate()).id
        self.worker = f"worker-{n}"
        self.instance = uuid.uuid4()
        self.worker_id: uuid.UUID | None = None
        self.later = now_utc()

    def poll(self, running: list[uuid.UUID], limit: int) -> None:
        result = self.backend.poll_worker(WorkerPoll(
            name=self.worker, instance=self.instance, work_pool=self.pool, running=running,
            limit=limit))
        self.worker_id = result.worker_id

    def act(self, action: str, kind: Any) -> None:
        backend = self.backend
        if action == "propose":
            assert kind is not None
            backend.set_flow_run_state(self.run, StateIn(type=kind, worker_id=self.worker_id))
        elif action == "event":
            assert kind is not None
            backend.send_events([StateChanged(self.run, False,
                                              State(kind, kind.value.title()), 1)])
        elif action == "cancel":
            backend.cancel_flow_run(self.run, "property test")
        elif action == "claim":
            self.poll([], 1)
        elif action == "keep":
            self.poll([self.run], 0)
        elif action == "drop":
            self.poll([], 0)
        elif action == "pause":  # kind: suspend (reschedule) or pause
            backend.pause_flow_run(self.run, PauseCreate(key="k", timeout_seconds=1800,
                                                         reschedule=bool(kind)))
        elif action == "resume":
            backend.resume_flow_run(self.run, ResumeIn())
        else:  # an hour later: Scheduled runs are Late, a silent worker's runs are lost
            self.later += timedelta(hours=1)
            backend.housekeeping(self.later)


def _check(history: list[Any]) -> None:
    previous: StateType | None = None
    for record in history:
        assert record.type in TRANSITIONS[previous], (
            f"{previous} -> {record.type} stored: " + " -> ".join(r.name for r in history))
        previous = record.type


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(actions=strategies.lists(ACTIONS, min_size=1, max_size=12))
def test_every_stored_history_obeys_the_table(backend: Backend,
                                               actions: list[tuple[str, Any]]) -> None:
    scenario = _Scenario(backend)
    for action, kind in actions:
        try:
            scenario.act(action, kind)
        except TransomError:
            pass  # refused, with the reason: the history must still be a legal one
    _check(backend.flow_run_states(scenario.run))


def test_the_table_allows_what_pauses_need() -> None:
    """Paused and Suspended are SCHEDULED states by name: the moves of a pause are the table's."""
    pause_moves = [
        (st.Running(), st.Paused(timeout_seconds=60)),  # pause_flow_run
        (st.Running(), st.Suspended(timeout_seconds=60)),  # suspend_flow_run
        (st.Paused(), st.Running()),  # resume
        (st.Paused(), st.Failed(message="the run was paused for 60 s and not resumed")),
        (st.Paused(), st.Cancelled()), (st.Paused(), st.Cancelling()),  # cancel
        (st.Suspended(), st.Scheduled(name="Resuming")),  # resume of a suspension
        (st.Scheduled(name="Resuming"), st.Pending()),  # a worker claims it again
        (st.Suspended(), st.Pending()), (st.Suspended(), st.Failed()),
    ]
    for before, after in pause_moves:
        check_transition(before.type, after.type)  # raises if the table refused it
    assert st.Paused().is_paused() and st.Suspended().is_paused()
