"""The API's shared schemas: what they compute for the CLI and the client."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from transom.core.states import StateType, now_utc
from transom.schemas import FlowRunRead


def _run(state: StateType, started_ago: float, last_state_ago: float,
         ended_ago: float | None = None) -> FlowRunRead:
    now = now_utc()
    return FlowRunRead(
        id=uuid.uuid4(), name="r", flow_id=uuid.uuid4(), flow_name="f", state_type=state,
        state_name=state.value.title(), state_timestamp=now - timedelta(seconds=last_state_ago),
        start_time=now - timedelta(seconds=started_ago),
        end_time=None if ended_ago is None else now - timedelta(seconds=ended_ago),
        created=now - timedelta(seconds=started_ago), updated=now)


@pytest.mark.parametrize(("state", "at_least", "at_most"), [
    (StateType.RUNNING, 60, 70),       # still going: until now, not until it started Running
    (StateType.CANCELLING, 60, 70),
    (StateType.SCHEDULED, 20, 20),  # waiting to retry (AwaitingRetry): until its last state
])
def test_the_duration_of_a_run_still_going(state: StateType, at_least: float,
                                           at_most: float) -> None:
    duration = _run(state, started_ago=60, last_state_ago=40).duration
    assert duration is not None and at_least <= duration <= at_most


def test_the_duration_of_an_ended_run_is_start_to_end() -> None:
    assert _run(StateType.COMPLETED, started_ago=60, last_state_ago=10, ended_ago=10).duration == 50
    assert _run(StateType.SCHEDULED, 0, 0).model_copy(update={"start_time": None}).duration is None
