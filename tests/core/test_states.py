from __future__ import annotations

import itertools

import pytest

from transom.core import states as st
from transom.core.states import FINAL_TYPES, StateType, check_transition
from transom.exceptions import InvalidTransition, RunFailed


def test_normal_lifecycle_is_allowed() -> None:
    path = [None, StateType.PENDING, StateType.RUNNING, StateType.SCHEDULED, StateType.RUNNING,
            StateType.COMPLETED]
    for current, proposed in itertools.pairwise(path):
        check_transition(current, proposed)  # type: ignore[arg-type]


@pytest.mark.parametrize("final", sorted(FINAL_TYPES))
def test_final_states_only_allow_a_rerun(final: StateType) -> None:
    check_transition(final, StateType.SCHEDULED)
    with pytest.raises(InvalidTransition, match=f"cannot move a {final.value} run to RUNNING"):
        check_transition(final, StateType.RUNNING)


def test_cancelling_can_only_end() -> None:
    with pytest.raises(InvalidTransition, match="allowed next: CANCELLED, COMPLETED, CRASHED, FAILED"):
        check_transition(StateType.CANCELLING, StateType.RUNNING)


def test_failed_state_carries_error_and_reraises() -> None:
    try:
        raise KeyError("missing")
    except KeyError as exc:
        failed = st.Failed(exc)
    assert failed.error is not None
    assert failed.error.type == "KeyError"
    assert "raise KeyError" in failed.error.traceback
    assert failed.message == "KeyError: 'missing'"
    with pytest.raises(KeyError):
        failed.result()
    assert isinstance(failed.result(raise_on_failure=False), KeyError)


def test_failed_state_without_exception_raises_run_failed() -> None:
    crashed = st.Crashed(message="process died")
    with pytest.raises(RunFailed, match="process died") as info:
        crashed.result()
    assert info.value.state is crashed


def test_named_variants_keep_their_type() -> None:
    assert st.AwaitingRetry(scheduled_time=st.now_utc()).type is StateType.SCHEDULED
    assert st.Running(name="Retrying").is_running()
    assert st.Completed(1, name="Cached").cached
    assert st.Completed(5).result() == 5


def _user_step(x: int) -> float:
    return 1 / x


def test_a_recorded_traceback_is_the_users_code_not_the_engines() -> None:
    from transom import flow, task

    failing = task(_user_step)
    seen: dict[str, st.State[float]] = {}

    @flow
    def pipeline() -> float:
        seen["task"] = failing(0, return_state=True)
        return failing(0)

    flow_state = pipeline(return_state=True)
    errors = [state.error for state in (seen["task"], flow_state)]
    for error in errors:
        assert error is not None
        shown = error.traceback
        assert "return 1 / x" in shown and "ZeroDivisionError: division by zero" in shown
        assert "/transom/core/" not in shown and "engine.py" not in shown, shown
    assert errors[1] is not None and "return failing(0)" in errors[1].traceback


def test_an_error_raised_in_transom_keeps_transom_frames() -> None:
    try:
        check_transition(StateType.COMPLETED, StateType.RUNNING)
    except InvalidTransition as exc:
        error = st.Failed(exc).error
    assert error is not None
    shown = error.traceback
    assert "check_transition" in shown and "states.py" in shown
    # And a cause raised in the user's code is trimmed on its own.
    try:
        try:
            _user_step(0)
        except ZeroDivisionError as cause:
            raise RuntimeError("wrapped") from cause
    except RuntimeError as exc:
        wrapped = st.Failed(exc).error
    assert wrapped is not None
    chained = wrapped.traceback
    assert "return 1 / x" in chained and "direct cause" in chained
