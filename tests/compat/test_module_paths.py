"""A Prefect 3 file runs after `prefect` -> `transom` in its imports: each module path a Prefect
user imports exists and names what it should. Names Transom has not built yet are listed in
NOT_YET: their tests skip and say what is missing, so a gap is reported, never passed over."""

from __future__ import annotations

import importlib
import inspect
import logging
import sys
import types
import uuid
import warnings

import pytest

import transom
from transom import flow, task
from transom.core.runners import ThreadPoolTaskRunner

# Prefect's path (renamed) -> the names a renamed file imports from it.
PATHS: dict[str, list[str]] = {
    "transom": ["Flow", "State", "Task", "Transaction", "allow_failure", "deploy", "flow",
                "get_client", "get_run_logger", "pause_flow_run", "resume_flow_run", "serve",
                "suspend_flow_run", "tags", "task", "unmapped"],
    "transom.flows": ["Flow", "flow", "serve"],
    "transom.tasks": ["Task", "exponential_backoff", "task", "task_input_hash"],
    "transom.futures": ["PrefectFuture", "PrefectFutureList", "TaskFuture", "as_completed",
                        "wait"],
    "transom.states": ["AwaitingRetry", "Cancelled", "Cancelling", "Completed", "Crashed",
                       "Failed", "Late", "Paused", "Pending", "Retrying", "Running",
                       "Scheduled", "State", "StateType", "Suspended"],
    "transom.task_runners": ["ConcurrentTaskRunner", "ProcessPoolTaskRunner",
                             "ThreadPoolTaskRunner"],
    "transom.logging": ["disable_run_logger", "get_logger", "get_run_logger"],
    "transom.context": ["FlowRunContext", "TaskRunContext", "get_run_context", "tags"],
    "transom.runtime": ["deployment", "flow_run", "task_run"],
    "transom.runtime.flow_run": ["id", "name", "parameters", "run_count", "scheduled_start_time",
                                 "tags", "ui_url"],
    "transom.runtime.task_run": ["id", "name", "parameters", "run_count", "tags"],
    "transom.runtime.deployment": ["id", "name", "parameters", "version"],
    "transom.utilities.annotations": ["allow_failure", "quote", "unmapped"],
    "transom.testing.utilities": ["prefect_test_harness"],
    "transom.client.orchestration": ["PrefectClient", "SyncPrefectClient", "get_client"],
    "transom.deployments": ["arun_deployment", "deploy", "run_deployment", "serve"],
    "transom.flow_runs": ["apause_flow_run", "aresume_flow_run", "asuspend_flow_run",
                          "pause_flow_run", "resume_flow_run", "suspend_flow_run",
                          "wait_for_flow_run"],
    "transom.exceptions": ["CancelledRun", "CrashedRun", "FailedRun", "FlowRunWaitTimeout",
                           "MissingContextError",
                           "MissingResult", "ObjectAlreadyExists", "ObjectNotFound",
                           "ParameterBindError", "ParameterTypeError", "PrefectException",
                           "UnfinishedRun"],
    "transom.cache_policies": ["DEFAULT", "FLOW_PARAMETERS", "INPUTS", "NO_CACHE", "RUN_ID",
                               "TASK_SOURCE", "CacheKeyFnPolicy", "CachePolicy"],
    "transom.transactions": ["CommitMode", "IsolationLevel", "Transaction", "get_transaction",
                             "transaction"],
    "transom.variables": ["Variable"],
    "transom.blocks.core": ["Block"],
    "transom.blocks.system": ["JSON", "DateTime", "Secret", "String"],
    "transom.concurrency.sync": ["AcquireConcurrencySlotTimeoutError",
                                 "ConcurrencySlotAcquisitionError", "concurrency", "rate_limit"],
    "transom.concurrency.asyncio": ["AcquireConcurrencySlotTimeoutError",
                                    "ConcurrencySlotAcquisitionError", "concurrency",
                                    "rate_limit"],
    "transom.artifacts": ["create_image_artifact", "create_link_artifact",
                          "create_markdown_artifact", "create_progress_artifact",
                          "create_table_artifact", "update_progress_artifact"],
}

# Prefect names a renamed file may import that Transom does not have yet.
NOT_YET: dict[str, list[str]] = {
}


def _import(path: str) -> types.ModuleType:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return importlib.import_module(path)


def _resolve(module: types.ModuleType, name: str) -> object:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return getattr(module, name)


@pytest.mark.parametrize(("path", "name"), [(p, n) for p, names in PATHS.items() for n in names])
def test_the_prefect_path_names_what_it_should(path: str, name: str) -> None:
    module = _import(path)
    _resolve(module, name)
    assert name in module.__all__


@pytest.mark.parametrize("path", sorted(PATHS))
def test_each_public_module_has_a_sorted_complete_all(path: str) -> None:
    module = _import(path)
    names = [n for n in module.__all__ if n != "__version__"]
    # Plainly sorted, or as ruff sorts it (CONSTANTS, then Classes, then functions).
    assert names in (sorted(names), sorted(names, key=lambda n: (
        0 if n.isupper() else 1 if n[0].isupper() else 2, n)))
    for name in module.__all__:
        _resolve(module, name)  # every listed name resolves (lazy ones included)


@pytest.mark.parametrize(("path", "name"), [(p, n) for p, names in NOT_YET.items() for n in names])
def test_prefect_names_not_built_yet_are_reported(path: str, name: str) -> None:
    try:
        module = _import(path)
    except ModuleNotFoundError as exc:
        pytest.skip(f"not built yet: module {exc.name} does not exist (for {path}.{name})")
    if not hasattr(module, name):
        pytest.skip(f"not built yet: {path} has no {name}")


def test_the_same_objects_are_reachable_by_every_path() -> None:
    from transom import futures, runtime, states, task_runners, tasks
    from transom.client import orchestration
    from transom.core import runners
    from transom.utilities import annotations

    assert transom.runtime is runtime and transom.states is states
    assert tasks.task is transom.task and states.State is transom.State
    assert futures.PrefectFuture is futures.TaskFuture is runners.TaskFuture
    assert futures.PrefectFutureList is runners.TaskFutureList
    assert task_runners.ThreadPoolTaskRunner is transom.ThreadPoolTaskRunner
    assert transom.get_client is orchestration.get_client
    assert transom.allow_failure is annotations.allow_failure
    assert transom.serve is transom.flows.serve is transom.deployments.serve
    assert transom.Transaction is transom.transactions.Transaction
    assert transom.cache_policies.INPUTS is transom.core.cache_policies.INPUTS


def test_concurrent_task_runner_is_the_thread_pool_and_warns_where_used() -> None:
    with pytest.warns(DeprecationWarning, match="use ThreadPoolTaskRunner") as caught:
        from transom.task_runners import ConcurrentTaskRunner
    assert caught[0].filename == __file__  # the warning points at the user's line
    assert ConcurrentTaskRunner is ThreadPoolTaskRunner

    @task
    def double(x: int) -> int:
        return 2 * x

    @flow(task_runner=ConcurrentTaskRunner(max_workers=2))
    def doubled() -> list[int]:
        return [f.result() for f in [double.submit(1), double.submit(2)]]

    assert doubled() == [2, 4]


def test_transom_logging_does_not_hide_the_standard_library() -> None:
    import transom._runtime
    import transom.core.logs
    import transom.logging as transom_logging

    assert sys.modules["logging"] is logging and logging.__file__ != transom_logging.__file__
    assert transom.core.logs.logging is logging and transom._runtime.logging is logging
    assert transom_logging.get_logger().name == "transom"
    assert transom_logging.get_logger("etl").name == "transom.etl"


def test_a_lazy_name_whose_module_is_missing_is_a_clear_attribute_error(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(transom._LAZY, "nothing", "transom.core.nothing_here")
    with pytest.raises(AttributeError, match=r"transom\.core\.nothing_here is missing"):
        transom.nothing  # noqa: B018
    assert not hasattr(transom, "nothing")


# -- transom.context -----------------------------------------------------------------------------
def test_get_run_context_outside_a_run_raises_a_clear_error() -> None:
    from transom.context import FlowRunContext, MissingContextError, TaskRunContext, get_run_context

    with pytest.raises(MissingContextError, match="outside a flow or task run"):
        get_run_context()
    assert FlowRunContext.get() is None and TaskRunContext.get() is None


def test_get_run_context_gives_the_task_run_inside_a_task_and_the_flow_run_in_a_flow() -> None:
    from transom.context import FlowRunContext, TaskRunContext, get_run_context

    @task(tags=["inner"])
    def look() -> dict[str, object]:
        ctx = get_run_context()
        assert isinstance(ctx, TaskRunContext)
        flow_ctx = FlowRunContext.get()
        assert flow_ctx is not None
        return {"task": ctx.task.name, "run": ctx.task_run.name, "tags": ctx.task_run.tags,
                "flow_run_id": ctx.task_run.flow_run_id, "flow": flow_ctx.flow.name}

    @flow(name="context-probe", tags=["outer"])
    def probe(x: int = 2) -> dict[str, object]:
        ctx = get_run_context()
        assert isinstance(ctx, FlowRunContext)
        return {"flow": ctx.flow.name, "id": ctx.flow_run.id, "name": ctx.flow_run.name,
                "parameters": ctx.parameters, "tags": ctx.flow_run.tags, "task": look()}

    seen = probe(5)
    assert seen["flow"] == "context-probe" and seen["parameters"] == {"x": 5}
    assert seen["tags"] == ("outer",)
    inner = seen["task"]
    assert isinstance(inner, dict)
    assert inner["task"] == "look" and inner["tags"] == ("inner",)
    assert inner["flow_run_id"] == seen["id"] and inner["flow"] == "context-probe"
    assert str(inner["run"]).startswith("look")


# -- transom.runtime -----------------------------------------------------------------------------
def test_runtime_outside_a_run_is_empty_and_never_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    from transom.runtime import deployment, flow_run, task_run

    monkeypatch.delenv("TRANSOM__RUN", raising=False)
    assert (flow_run.id, flow_run.name, flow_run.flow_name, flow_run.ui_url) == (None,) * 4
    assert (flow_run.parameters, flow_run.tags, flow_run.run_count) == ({}, [], 0)
    assert flow_run.scheduled_start_time.tzinfo is not None  # now, as in Prefect
    assert (task_run.id, task_run.name, task_run.parameters, task_run.run_count) == \
        (None, None, {}, 0)
    assert (deployment.id, deployment.name, deployment.version, deployment.parameters) == \
        (None, None, None, {})
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        flow_run.nope  # noqa: B018
    assert "scheduled_start_time" in dir(flow_run)


def test_runtime_reads_the_current_flow_run_and_task_run_live() -> None:
    from transom import tags
    from transom.runtime import flow_run, task_run

    @task(tags=["t"])
    def inside_task() -> dict[str, object]:
        return {"id": task_run.id, "name": task_run.name, "task_name": task_run.task_name,
                "tags": task_run.tags, "run_count": task_run.run_count,
                "flow_run": flow_run.name}

    @flow(name="runtime-probe", version="7", tags=["f"])
    def probe(x: int = 1) -> dict[str, object]:
        return {"id": flow_run.id, "name": flow_run.name, "flow_name": flow_run.flow_name,
                "version": flow_run.flow_version, "parameters": flow_run.parameters,
                "run_count": flow_run.run_count, "tags": flow_run.tags,
                "task": inside_task()}

    with tags("outer"):
        state = probe(3, return_state=True)
    seen = state.result()
    assert seen["id"] == str(state.run_id)
    assert seen["flow_name"] == "runtime-probe" and seen["version"] == "7"
    assert seen["parameters"] == {"x": 3} and seen["run_count"] == 1
    assert seen["tags"] == ["f", "outer"]
    inner = seen["task"]
    assert isinstance(inner, dict)
    uuid.UUID(str(inner["id"]))
    assert inner["task_name"] == "inside_task" and inner["run_count"] == 1
    assert inner["tags"] == ["t", "outer"] and inner["flow_run"] == seen["name"]


def test_runtime_task_run_parameters_are_the_call_arguments() -> None:
    from transom.runtime import task_run

    @task
    def echo(a: int, b: str = "x") -> dict[str, object]:
        return task_run.parameters

    @flow
    def calls() -> dict[str, object]:
        return echo(1)

    assert calls() == {"a": 1, "b": "x"}


def test_runtime_deployment_comes_from_the_run_a_worker_handed_the_process(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from transom.runtime import deployment, flow_run
    from transom.schemas import ClaimedRun

    run = ClaimedRun(id=uuid.uuid4(), name="brave-owl", flow_name="etl",
                     deployment_id=uuid.uuid4(), deployment_name="nightly",
                     entrypoint="flows.py:etl", parameters={"day": "mon"})
    monkeypatch.setenv("TRANSOM__RUN", run.model_dump_json())
    assert deployment.id == str(run.deployment_id) and deployment.name == "nightly"
    assert deployment.flow_run_id == str(run.id) and deployment.parameters == {"day": "mon"}
    assert deployment.version is None
    assert flow_run.id is None  # no flow is running in this process yet


def test_runtime_attributes_are_module_level_lookups() -> None:
    from transom.runtime import flow_run

    # A Prefect file reads them as attributes of the module, at the time it reads them.
    assert isinstance(flow_run, types.ModuleType)
    assert inspect.getattr_static(flow_run, "__getattr__") is not None
    assert "id" not in vars(flow_run)


def test_runtime_ui_url_is_the_runs_page_on_the_server_it_reports_to(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from transom.runtime import flow_run

    @flow
    def where() -> tuple[str | None, str | None, str]:
        embedded = flow_run.ui_url  # no server: no page to link to
        monkeypatch.setenv("TRANSOM_API_URL", "http://127.0.0.1:4200/api/")
        try:
            return embedded, flow_run.ui_url, str(flow_run.id)
        finally:
            monkeypatch.delenv("TRANSOM_API_URL")

    embedded, served, run_id = where()
    assert embedded is None and served == f"http://127.0.0.1:4200/runs/{run_id}"
