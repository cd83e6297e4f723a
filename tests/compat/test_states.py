"""States as Prefect 3 has them: every constructor and predicate, `State[int]`, results without
raising, and a run that returns a State, or futures and states of other runs, ending in the state
they determine."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from transom import flow, task
from transom.core import states as st
from transom.core.annotations import quote
from transom.core.states import State, StateType
from transom.exceptions import RunFailed

PREDICATES = ["is_scheduled", "is_pending", "is_running", "is_completed", "is_failed",
              "is_crashed", "is_cancelled", "is_cancelling", "is_final", "is_paused"]


@pytest.mark.parametrize(("make", "kind", "name", "true"), [
    (lambda: st.Scheduled(), StateType.SCHEDULED, "Scheduled", {"is_scheduled"}),
    (lambda: st.Late(), StateType.SCHEDULED, "Late", {"is_scheduled"}),
    (lambda: st.AwaitingRetry(), StateType.SCHEDULED, "AwaitingRetry", {"is_scheduled"}),
    (lambda: st.Paused(timeout_seconds=60), StateType.SCHEDULED, "Paused",
     {"is_scheduled", "is_paused"}),
    (lambda: st.Suspended(), StateType.SCHEDULED, "Suspended", {"is_scheduled", "is_paused"}),
    (lambda: st.Pending(), StateType.PENDING, "Pending", {"is_pending"}),
    (lambda: st.NotReady(), StateType.PENDING, "NotReady", {"is_pending"}),
    (lambda: st.Running(), StateType.RUNNING, "Running", {"is_running"}),
    (lambda: st.Retrying(), StateType.RUNNING, "Retrying", {"is_running"}),
    (lambda: st.Cancelling(), StateType.CANCELLING, "Cancelling", {"is_cancelling"}),
    (lambda: st.Completed(), StateType.COMPLETED, "Completed", {"is_completed", "is_final"}),
    (lambda: st.Failed(), StateType.FAILED, "Failed", {"is_failed", "is_final"}),
    (lambda: st.Crashed(), StateType.CRASHED, "Crashed", {"is_crashed", "is_final"}),
    (lambda: st.Cancelled(), StateType.CANCELLED, "Cancelled", {"is_cancelled", "is_final"}),
])
def test_constructors_and_predicates(make: Any, kind: StateType, name: str, true: set[str]) -> None:
    state = make()
    assert (state.type, state.name) == (kind, name)
    assert {p for p in PREDICATES if getattr(state, p)()} == true


def test_constructors_take_prefects_keyword_arguments() -> None:
    assert st.Completed(data=5, name="SKIPPED", message="nothing new").result() == 5
    assert st.Completed(name="SKIPPED").name == "SKIPPED"
    failed = st.Failed(message="it broke", data=KeyError("k"), name="Broken")
    assert (failed.name, failed.message) == ("Broken", "it broke")
    assert isinstance(failed.result(raise_on_failure=False), KeyError)
    assert st.Pending(message="m", data=1).data == 1 and st.Running(message="m").message == "m"
    assert st.Scheduled(name="Later", message="m").name == "Later"
    assert st.Late(message="late").message == "late"
    assert st.Crashed(message="gone", name="Lost").name == "Lost"
    assert st.Cancelled(message="stop", data=None).message == "stop"
    assert st.Retrying(message="again").name == "Retrying"
    paused = st.Paused(timeout_seconds=30)
    assert paused.scheduled_time is not None
    assert paused.scheduled_time - paused.timestamp < timedelta(seconds=31)
    with pytest.raises(ValueError, match="not both"):
        st.Paused(timeout_seconds=1, pause_expiration_time=st.now_utc())


def test_result_without_raising_returns_the_exception() -> None:
    assert isinstance(st.Failed(ValueError("v")).result(raise_on_failure=False), ValueError)
    error = st.Crashed(message="the process died").result(raise_on_failure=False)
    assert isinstance(error, RunFailed) and "the process died" in str(error)
    with pytest.raises(RunFailed, match="the run is NotReady, not finished"):
        st.NotReady(message="upstream").result(raise_on_failure=False)


def test_state_is_generic_for_annotations() -> None:
    def check(state: State[int]) -> int:
        return state.result()

    assert check(st.Completed(3)) == 3
    assert State[int] is not None and State[int].__origin__ is State  # type: ignore[attr-defined]


def test_a_run_that_returns_a_state_ends_in_it(runtime: Any) -> None:
    @task
    def skip() -> State:
        return st.Completed(name="SKIPPED", message="no new data")

    @task
    def refuse() -> State:
        return st.Failed(message="bad input")

    @flow
    def main() -> State:
        assert skip() is None  # a completed state's data is the result
        with pytest.raises(RunFailed, match="bad input"):
            refuse()
        return st.Completed(data="summary", name="Partial")

    assert main() == "summary"
    (flow_run,) = runtime.flow_runs()
    (skipped,) = runtime.task_runs("skip")
    (refused,) = runtime.task_runs("refuse")
    assert runtime.states(skipped.id) == ["Pending", "Running", "SKIPPED"]
    assert runtime.states(refused.id) == ["Pending", "Running", "Failed"]  # no retries
    assert runtime.states(flow_run.id) == ["Pending", "Running", "Partial"]


def test_a_state_kept_in_a_module_is_reused_unchanged(runtime: Any) -> None:
    skipped = st.Completed(name="SKIPPED")

    @flow
    def job() -> State:
        return skipped

    first, second = job(return_state=True), job(return_state=True)
    assert first.run_id != second.run_id and skipped.run_id is None


def test_returned_futures_decide_the_flows_state(runtime: Any) -> None:
    @task
    def check(x: int) -> int:
        if x < 0:
            raise ValueError(f"negative: {x}")
        return x

    @flow
    def all_good() -> Any:
        return check.map([1, 2, 3])

    @flow
    def some_bad() -> Any:
        return [check.submit(1), check.submit(-2), check.submit(-3)]

    @flow
    def one_state() -> Any:
        return check(5, return_state=True)

    assert all_good() == [1, 2, 3]  # the values, not the futures
    assert one_state() == 5
    state = some_bad(return_state=True)
    assert state.is_failed() and state.message.startswith("2/3 states failed")
    assert "negative: -2" in state.message
    with pytest.raises(ValueError, match="negative: -2"):  # the first failure's own exception
        state.result()


def test_returned_states_that_did_not_complete_and_tuples(runtime: Any) -> None:
    @task
    def broken() -> int:
        raise ValueError("broken")

    @task
    def use(x: int) -> int:
        return x

    @flow
    def mixed() -> Any:
        return (use(1, return_state=True), use.submit(broken.submit()))

    @flow
    def pair() -> Any:
        return (use(1, return_state=True), use(2, return_state=True))

    state = mixed(return_state=True)
    assert state.is_failed() and state.message.startswith("1/2 did not complete")
    assert pair() == (1, 2)


def test_a_returned_state_must_be_final(runtime: Any) -> None:
    @flow
    def waits() -> State:
        return st.Paused(timeout_seconds=60)

    state = waits(return_state=True)
    assert state.is_failed()
    assert "returned a Paused state; a run ends in a final state" in state.message


def test_quote_returns_a_state_without_the_flow_taking_it(runtime: Any) -> None:
    @flow
    def report() -> Any:
        return quote(st.Failed(message="kept as data"))

    result = report()
    assert result.unquote().message == "kept as data"


def test_async_flows_take_returned_states_too(runtime: Any) -> None:
    @task
    async def value() -> int:
        return 4

    @flow
    async def main() -> Any:
        return [value.submit(), value.submit()]

    assert asyncio.run(main()) == [4, 4]


def test_result_raises_prefects_run_exceptions_when_no_exception_is_attached() -> None:
    from transom.exceptions import (
        CancelledRun,
        CrashedRun,
        FailedRun,
        PrefectException,
        UnfinishedRun,
    )
    from transom.states import Cancelled, Crashed, Failed, Running

    for state, error in [(Failed(message="gave up"), FailedRun),
                         (Crashed(message="process died"), CrashedRun),
                         (Cancelled(message="stopped"), CancelledRun)]:
        with pytest.raises(error, match=state.message):
            state.result()
        returned = state.result(raise_on_failure=False)
        assert type(returned) is error and isinstance(returned, PrefectException)
    with pytest.raises(UnfinishedRun, match="not finished"):
        Running().result()


def test_a_failed_flows_exception_is_the_one_it_raised_not_a_failed_run() -> None:
    from transom import flow
    from transom.exceptions import FailedRun

    @flow
    def breaks() -> None:
        raise LookupError("missing row")

    state = breaks(return_state=True)
    assert type(state.result(raise_on_failure=False)) is LookupError
    assert not isinstance(state.result(raise_on_failure=False), FailedRun)
