from __future__ import annotations

import asyncio
from typing import Any

import pytest

from transom import Flow, flow, task
from transom.exceptions import FlowRunTimeout, ParameterError


def test_bare_and_configured_decorators(runtime: Any) -> None:
    @flow
    def plain(x: int = 1) -> int:
        return x + 1

    @flow(name="configured", retries=1)
    def configured() -> str:
        return "ok"

    assert isinstance(plain, Flow) and plain.name == "plain"
    assert plain() == 2
    assert configured() == "ok"
    assert [r.flow_name for r in runtime.flow_runs()] == ["plain", "configured"]


def test_parameters_are_coerced_from_type_hints(runtime: Any) -> None:
    @flow
    def typed(n: int, ratio: float = 0.5, names: list[str] | None = None) -> tuple[Any, ...]:
        return n, ratio, names

    assert typed("3", ratio="2") == (3, 2.0, None)
    assert runtime.flow_runs()[0].parameters == {"n": 3, "ratio": 2.0, "names": None}


def test_bad_parameter_fails_before_the_run_with_its_name(runtime: Any) -> None:
    @flow
    def typed(count: int) -> int:
        return count

    with pytest.raises(ParameterError, match=r"parameter 'count' is invalid.*got 'many'"):
        typed("many")
    with pytest.raises(ParameterError, match="missing a required argument: 'count'"):
        typed()
    with pytest.raises(ParameterError, match="has no parameter 'cuont'"):
        typed.validate_parameters({"cuont": 1})
    assert runtime.flow_runs() == []  # nothing was started


def test_final_state_and_return_state(runtime: Any) -> None:
    @flow
    def broken() -> None:
        raise RuntimeError("no luck")

    state = broken(return_state=True)
    assert state.is_failed() and state.message == "RuntimeError: no luck"
    assert state.run_id == runtime.flow_runs()[0].id
    assert runtime.states(state.run_id) == ["Pending", "Running", "Failed"]
    with pytest.raises(RuntimeError, match="no luck"):
        broken()


def test_flow_retries_rerun_the_whole_flow(runtime: Any) -> None:
    attempts: list[int] = []

    @flow(retries=2, retry_delay_seconds=0)
    def shaky() -> int:
        attempts.append(1)
        if len(attempts) < 3:
            raise ValueError("try again")
        return len(attempts)

    state = shaky(return_state=True)
    assert state.result() == 3
    assert runtime.states(state.run_id) == [
        "Pending", "Running", "AwaitingRetry", "Retrying", "AwaitingRetry", "Retrying", "Completed"]


def test_flow_timeout_is_enforced_for_sync_code(runtime: Any) -> None:
    @flow(timeout_seconds=0.2)
    def sleepy() -> None:
        import time

        time.sleep(30)

    state = sleepy(return_state=True)
    assert state.name == "TimedOut"
    assert isinstance(state.exception, FlowRunTimeout)


def test_async_flow_with_async_task_and_timeout(runtime: Any) -> None:
    @task
    async def double(x: int) -> int:
        await asyncio.sleep(0)
        return 2 * x

    @flow
    async def pipeline(x: int) -> int:
        return await double(x)

    @flow(timeout_seconds=0.1)
    async def stuck() -> None:
        await asyncio.sleep(30)

    assert asyncio.run(pipeline(4)) == 8
    assert asyncio.run(stuck(return_state=True)).name == "TimedOut"


def test_subflow_is_a_linked_child_run(runtime: Any) -> None:
    @flow
    def child(x: int) -> int:
        return x * 10

    @flow
    def parent() -> int:
        return child(2) + child(3)

    assert parent() == 50
    parent_run, *children = runtime.flow_runs()
    assert parent_run.flow_name == "parent"
    assert [c.parent_flow_run_id for c in children] == [parent_run.id, parent_run.id]


def test_with_options_makes_a_changed_copy() -> None:
    @flow(retries=1)
    def base() -> None:
        pass

    other = base.with_options(name="other", retries=3)
    assert (other.name, other.retries, base.retries) == ("other", 3, 1)
    with pytest.raises(TypeError, match="unknown flow option"):
        base.with_options(retrys=2)


def test_parameter_schema_comes_from_hints() -> None:
    @flow
    def typed(n: int, label: str = "x") -> None:
        pass

    @flow
    def open_ended(n: int, **extra: object) -> None:
        pass

    schema = typed.parameter_schema()
    assert schema["properties"]["n"]["type"] == "integer"
    assert schema["required"] == ["n"]
    # Only a flow that takes **kwargs accepts other names (the server checks runs against it).
    assert schema["additionalProperties"] is False
    assert open_ended.parameter_schema()["additionalProperties"] is True
