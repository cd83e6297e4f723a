"""Cache policies as Prefect 3 documents them: INPUTS, TASK_SOURCE, FLOW_PARAMETERS, RUN_ID,
NO_CACHE and DEFAULT (= INPUTS + TASK_SOURCE + RUN_ID, used when a task persists its result),
combined with `+`, narrowed with `INPUTS - "name"`, CacheKeyFnPolicy, `configure(key_storage=,
isolation_level=)`; and the task options refresh_cache, cache_expiration,
cache_result_in_memory, result_storage_key and version."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from transom import flow, task
from transom.cache_policies import (
    DEFAULT,
    FLOW_PARAMETERS,
    INPUTS,
    NO_CACHE,
    RUN_ID,
    TASK_SOURCE,
    CacheKeyFnPolicy,
    CompoundCachePolicy,
)
from transom.tasks import task_input_hash


def test_default_is_inputs_task_source_and_run_id() -> None:
    assert isinstance(DEFAULT, CompoundCachePolicy)
    assert DEFAULT.policies == [INPUTS, TASK_SOURCE, RUN_ID]
    assert (INPUTS + TASK_SOURCE).policies == [INPUTS, TASK_SOURCE]


def test_a_persisted_task_is_cached_within_its_flow_run_by_default(runtime: Any) -> None:
    calls: list[int] = []

    @task(persist_result=True)
    def add_one(x: int) -> int:
        calls.append(x)
        return x + 1

    @flow
    def twice() -> list[str]:
        return [add_one(1, return_state=True).name, add_one(1, return_state=True).name,
                add_one(2, return_state=True).name]

    assert twice() == ["Completed", "Cached", "Completed"]
    assert twice() == ["Completed", "Cached", "Completed"]  # RUN_ID: a new flow run, a new key
    assert calls == [1, 2, 1, 2]


def test_without_persistence_a_task_is_not_cached(runtime: Any) -> None:
    calls: list[int] = []

    @task
    def plain(x: int) -> int:
        calls.append(x)
        return x

    @flow
    def twice() -> None:
        plain(1)
        plain(1)

    twice()
    assert calls == [1, 1]


def test_inputs_caches_across_flow_runs(runtime: Any) -> None:
    calls: list[int] = []

    @task(cache_policy=INPUTS)
    def square(x: int) -> int:
        calls.append(x)
        return x * x

    @flow
    def once(x: int) -> int:
        return square(x)

    assert (once(3), once(3), once(4)) == (9, 9, 16)
    assert calls == [3, 4]


def test_inputs_minus_a_name_ignores_that_argument(runtime: Any) -> None:
    calls: list[tuple[int, bool]] = []

    @task(cache_policy=INPUTS - "debug")
    def load(x: int, debug: bool = False) -> int:
        calls.append((x, debug))
        return x

    assert load(1) == 1
    assert load(1, debug=True) == 1  # same key: debug is not part of it
    assert load(2, debug=True) == 2
    assert calls == [(1, False), (2, True)]
    narrowed = (INPUTS + TASK_SOURCE) - "debug" - "verbose"
    assert isinstance(narrowed, CompoundCachePolicy)
    assert narrowed.policies[0].exclude == ["debug", "verbose"]  # type: ignore[attr-defined]


def test_inputs_alone_is_shared_by_tasks_and_task_source_keeps_them_apart(runtime: Any) -> None:
    @task(cache_policy=INPUTS)
    def first(x: int) -> str:
        return "first"

    @task(cache_policy=INPUTS)
    def second(x: int) -> str:
        return "second"

    @task(cache_policy=INPUTS + TASK_SOURCE)
    def third(x: int) -> str:
        return "third"

    assert first(1) == "first"
    assert second(1) == "first"  # the same key, in the same storage: Prefect's documented sharing
    assert third(1) == "third"


def test_task_source_ignores_the_inputs(runtime: Any) -> None:
    calls: list[int] = []

    @task(cache_policy=TASK_SOURCE)
    def stateful(x: int) -> int:
        calls.append(x)
        return x

    assert (stateful(1), stateful(2)) == (1, 1)
    assert calls == [1]


def test_a_new_version_of_a_task_misses_the_cache_of_the_old(runtime: Any) -> None:
    calls: list[str] = []

    @task(cache_policy=TASK_SOURCE, version="1")
    def model() -> str:
        calls.append("run")
        return "trained"

    model()
    model()
    model.with_options(version="2")()
    assert calls == ["run", "run"]
    assert model.with_options(version="2").version == "2"


def test_flow_parameters_key_on_the_parent_flow_runs_parameters(runtime: Any) -> None:
    calls: list[str] = []

    @task(cache_policy=FLOW_PARAMETERS)
    def extract() -> str:
        calls.append("extract")
        return "rows"

    @flow
    def etl(day: str) -> str:
        return extract()

    etl("mon")
    etl("mon")
    etl("tue")
    assert len(calls) == 2


def test_run_id_caches_within_one_flow_run_only(runtime: Any) -> None:
    calls: list[int] = []

    @task(cache_policy=RUN_ID)
    def step(x: int) -> int:
        calls.append(x)
        return x

    @flow
    def pipeline() -> list[int]:
        return [step(1), step(2)]

    assert pipeline() == [1, 1]
    assert pipeline() == [1, 1]
    assert calls == [1, 1]


def test_no_cache_never_caches_even_when_persisting(runtime: Any) -> None:
    calls: list[int] = []

    @task(cache_policy=NO_CACHE, persist_result=True)
    def always(x: int) -> int:
        calls.append(x)
        return x

    always(1)
    always(1)
    assert calls == [1, 1]
    assert (NO_CACHE + INPUTS) is INPUTS


def test_persist_result_false_turns_caching_off(runtime: Any) -> None:
    calls: list[int] = []

    @task(cache_policy=INPUTS, persist_result=False)
    def kept_nowhere(x: int) -> int:
        calls.append(x)
        return x

    kept_nowhere(1)
    kept_nowhere(1)
    assert calls == [1, 1]


def test_cache_key_fn_policy_and_cache_key_fn_still_work(runtime: Any) -> None:
    calls: list[str] = []

    def by_lowercase(ctx: Any, parameters: dict[str, Any]) -> str:
        return "greet-" + parameters["name"].lower()

    @task(cache_policy=CacheKeyFnPolicy(cache_key_fn=by_lowercase))
    def greet(name: str) -> str:
        calls.append(name)
        return f"hello {name}"

    @task(cache_key_fn=task_input_hash)
    def legacy(x: int) -> int:
        calls.append(str(x))
        return x

    assert (greet("Ada"), greet("ADA")) == ("hello Ada", "hello Ada")
    assert (legacy(5), legacy(5)) == (5, 5)
    assert calls == ["Ada", "5"]


def test_refresh_cache_runs_again_and_replaces_the_cached_value(runtime: Any) -> None:
    values = iter([1, 2, 3])

    @task(cache_policy=TASK_SOURCE)
    def reading() -> int:
        return next(values)

    assert reading() == 1
    assert reading() == 1
    assert reading.with_options(refresh_cache=True)() == 2
    assert reading() == 2  # the refreshed value is the one cached now


def test_cache_expiration_with_a_policy(runtime: Any) -> None:
    calls: list[int] = []

    @task(cache_policy=INPUTS, cache_expiration=timedelta(0))
    def short(x: int) -> int:
        calls.append(x)
        return x

    short(1)
    short(1)
    assert calls == [1, 1]


def test_an_unhashable_input_runs_the_task_uncached_with_a_warning(
        runtime: Any, caplog: pytest.LogCaptureFixture) -> None:
    calls: list[int] = []

    @task(cache_policy=INPUTS)
    def takes_a_lock(lock: Any) -> int:
        calls.append(1)
        return 1

    lock = threading.Lock()
    assert (takes_a_lock(lock), takes_a_lock(lock)) == (1, 1)
    assert calls == [1, 1]
    assert "could not compute the cache key" in caplog.text


def test_result_storage_key_is_a_template_over_the_parameters(runtime: Any) -> None:
    calls: list[str] = []

    @task(result_storage_key="report-{day}.pkl")
    def report(day: str) -> str:
        calls.append(day)
        return f"report for {day}"

    @task(result_storage_key="{parameters[day]}-{task_run.task_name}")
    def prefect_style(day: str) -> str:
        return day

    assert report("mon") == "report for mon"
    assert report("mon") == "report for mon"  # stored under that key, so found there
    assert report("tue") == "report for tue"
    prefect_style("wed")
    names = sorted(p.name for p in Path(runtime.storage).iterdir())
    assert names == ["report-mon.pkl", "report-tue.pkl", "wed-prefect_style"]
    assert calls == ["mon", "tue"]


def test_a_result_storage_key_naming_a_missing_parameter_fails_the_run(runtime: Any) -> None:
    @task(result_storage_key="out-{nope}")
    def out(day: str) -> str:
        return day

    state = out("mon", return_state=True)
    assert state.is_failed()
    assert "result_storage_key 'out-{nope}'" in (state.message or "")


def test_cache_result_in_memory_false_reads_the_result_back_from_storage(runtime: Any) -> None:
    @task(cache_policy=INPUTS, cache_result_in_memory=False)
    def big(n: int) -> list[int]:
        return list(range(n))

    @task(cache_policy=INPUTS)
    def small(n: int) -> list[int]:
        return list(range(n))

    state = big(3, return_state=True)
    assert state.data != [0, 1, 2]  # not held by the state
    assert state.result() == [0, 1, 2]
    assert small(3, return_state=True).data == [0, 1, 2]


def test_key_storage_keeps_cached_results_apart_from_result_storage(
        runtime: Any, tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    policy = (INPUTS + TASK_SOURCE).configure(key_storage=str(keys))
    calls: list[int] = []

    @task(cache_policy=policy)
    def cached(x: int) -> int:
        calls.append(x)
        return x

    assert (cached(1), cached(1)) == (1, 1)
    assert calls == [1]
    assert len(list(keys.iterdir())) == 1
    assert not Path(runtime.storage).exists()
    assert policy.key_storage == str(keys) and INPUTS.key_storage is None  # a copy


def test_serializable_isolation_runs_one_call_per_key_at_a_time(runtime: Any) -> None:
    calls: list[int] = []

    @task(cache_policy=INPUTS.configure(isolation_level="SERIALIZABLE"))
    def slow(x: int) -> int:
        calls.append(x)
        time.sleep(0.2)
        return x

    @flow
    def racing() -> list[str]:
        futures = [slow.submit(1) for _ in range(3)]
        for f in futures:
            f.wait()
        return [f.state.name for f in futures]

    assert sorted(racing()) == ["Cached", "Cached", "Completed"]
    assert calls == [1]


def test_configure_refuses_what_is_not_supported() -> None:
    with pytest.raises(ValueError, match="isolation_level must be one of"):
        INPUTS.configure(isolation_level="DIRTY")
    with pytest.raises(TypeError, match="lock_manager is not supported"):
        INPUTS.configure(lock_manager=object())
    with pytest.raises(TypeError, match="cache_policy takes a policy"):
        task(cache_policy="INPUTS")(lambda: 1)  # type: ignore[arg-type]


def test_an_async_task_is_cached_by_its_policy(runtime: Any) -> None:
    import asyncio

    calls: list[int] = []

    @task(cache_policy=INPUTS)
    async def fetch(x: int) -> int:
        calls.append(x)
        return x

    @flow
    async def twice() -> list[int]:
        return [await fetch(1), await fetch(1)]

    assert asyncio.run(twice()) == [1, 1]
    assert calls == [1]
