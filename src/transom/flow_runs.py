"""`transom.flow_runs`, Prefect's path for waiting on a flow run, and for a human in the loop.

    run = await wait_for_flow_run(run_id, timeout=600)

    @flow
    def approve() -> None:
        answer = pause_flow_run(wait_for_input=Approval, timeout=3600)  # waits for a resume
        ...
    resume_flow_run(run_id, run_input={"ok": True})  # from anywhere: code, `transom runs resume`

`pause_flow_run` moves the run to Paused (a Scheduled-type state) and its process waits, reading
the run's state every `PAUSE_POLL_SECONDS`, until a resume moves it back to Running; it returns
the resume's input, validated by `wait_for_input` (a pydantic model or any type pydantic
validates: `int`, `list[str]`, ...), whose JSON Schema the resume was checked against. Not
resumed within `timeout` seconds, it raises FlowPauseTimeout and the run ends Failed with that
reason. `suspend_flow_run` is for a deployment's run: the run is Suspended and its process ends
(the Pause signal); on resume a worker of its pool starts it again from the top, and the flow's
`suspend_flow_run` call, reached again under the same key, returns the input at once. Tasks with
persisted results (`persist_result=True`) are Cached on that rerun: their default cache key
holds their inputs, their source and the flow run's id, which the rerun keeps.

Pause keys are `pause-1`, `pause-2`, ... in the order a run's pauses are reached (the same on a
rerun), unless `key=` names one. With no `wait_for_input` the resume carries no input and the
calls return None. In async code (an event loop running) each returns an awaitable, as Prefect's;
`apause_flow_run`, `asuspend_flow_run` and `aresume_flow_run` are always async.
Works embedded or against the server of TRANSOM_API_URL (`services.open_backend`).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any

import pydantic

from transom.core.context import current_flow_run, current_task_run, get_runtime, in_event_loop
from transom.core.logs import get_run_logger
from transom.core.states import FINAL_TYPES, PAUSED_NAMES, StateType
from transom.deployments import wait_for_run
from transom.exceptions import (
    FlowPauseTimeout,
    FlowRunWaitTimeout,
    MissingContextError,
    NotFound,
    Pause,
    RunInterrupted,
)
from transom.schemas import FlowRunRead, PauseCreate, ResumeIn, first_error

if TYPE_CHECKING:
    from transom.settings import Settings

__all__ = ["PAUSE_POLL_SECONDS", "apause_flow_run", "aresume_flow_run", "asuspend_flow_run",
           "pause_flow_run", "resume_flow_run", "suspend_flow_run", "wait_for_flow_run"]

logger = logging.getLogger("transom.flow_runs")


async def wait_for_flow_run(flow_run_id: uuid.UUID | str, timeout: float | None = 10800,
                            poll_interval: float | None = None, client: Any = None,
                            log_states: bool = False, *,
                            settings: Settings | None = None) -> FlowRunRead:
    """The flow run once it has ended (Completed, Failed, Crashed or Cancelled); raises
    FlowRunWaitTimeout if it has not within `timeout` seconds (None: wait as long as it takes).
    `log_states` logs each state it passes through. `client` is accepted for Prefect's
    signature; the run is read from TRANSOM_API_URL's server, else the embedded database."""
    del client
    return await asyncio.to_thread(_wait, flow_run_id, timeout, poll_interval or 1.0,
                                   log_states, settings)


def _wait(flow_run_id: uuid.UUID | str, timeout: float | None, interval: float,
          log_states: bool, settings: Settings | None) -> FlowRunRead:
    from transom.services import open_backend

    def said(run: FlowRunRead) -> None:
        if log_states:
            logger.info("flow run %r is %s", run.name, run.state_name)

    with open_backend(settings) as backend:
        run = backend.read_flow_run(flow_run_id)
        said(run)
        final: FlowRunRead = wait_for_run(backend, run, timeout, interval, said)
    if final.state_type not in FINAL_TYPES:
        raise FlowRunWaitTimeout(f"flow run {final.name!r} ({final.id}) had not ended after "
                                 f"{timeout:g} s; it is {final.state_name}")
    return final


# -- pause, suspend, resume ------------------------------------------------------------------------
PAUSE_POLL_SECONDS = 0.5
"""How often a paused run's process reads its state, waiting for a resume."""

_pause_counts: dict[uuid.UUID, itertools.count[int]] = {}
_counts_lock = threading.Lock()



def _pausing_run(what: str) -> uuid.UUID:
    """The flow run calling `what`: its own code, never a task's (Prefect's rule)."""
    if current_task_run() is not None:
        raise RuntimeError(f"{what} cannot be called from a task run; call it in the flow")
    ctx = current_flow_run()
    if ctx is None:
        raise MissingContextError(f"{what} is called inside a flow run; none is running here")
    return ctx.flow_run_id


def _next_key(run_id: uuid.UUID) -> str:
    with _counts_lock:
        counter = _pause_counts.setdefault(run_id, itertools.count(1))
        return f"pause-{next(counter)}"


def _schema(wait_for_input: Any) -> tuple[pydantic.TypeAdapter[Any] | None, dict[str, Any] | None]:
    if wait_for_input is None:
        return None, None
    try:
        adapter: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(wait_for_input)
        return adapter, adapter.json_schema()
    except (pydantic.PydanticUserError, pydantic.PydanticSchemaGenerationError, TypeError) as exc:
        raise TypeError(f"wait_for_input takes a pydantic model or a type pydantic can validate "
                        f"(int, list[str], ...); {wait_for_input!r} is not one: {exc}") from None


def _input(adapter: pydantic.TypeAdapter[Any] | None, value: Any) -> Any:
    return None if adapter is None else adapter.validate_python(value)


def _pause(what: str, timeout: float, wait_for_input: Any, key: str | None,
           reschedule: bool) -> Any:
    from transom.services import open_backend

    run_id = _pausing_run(what)
    adapter, schema = _schema(wait_for_input)
    try:
        body = PauseCreate(key=key or _next_key(run_id), timeout_seconds=timeout,
                           run_input_schema=schema, reschedule=reschedule)
    except pydantic.ValidationError as exc:
        raise ValueError(f"{what}: {first_error(exc, 'pause')}") from None
    key = body.key
    runtime = get_runtime()
    with open_backend() as backend:
        try:  # reached again (the rerun of a resumed suspension, a retry): not paused twice
            done = backend.read_pause(run_id, key)
        except NotFound:
            done = None
        if done is not None and done.resumed is not None:
            return _input(adapter, done.run_input)
        runtime.recorder.flush(timeout=runtime.flush_timeout)  # the run's Running is written
        backend.pause_flow_run(run_id, body)
        log = get_run_logger()
        if reschedule:
            log.info("flow run %s suspended (key %r): its process ends; a worker starts it "
                 "again when it is resumed", run_id, key)
            raise Pause(f"flow run {run_id} suspended (key {key!r})")
        log.info("flow run %s paused (key %r); waiting up to %g s for a resume",
                 run_id, key, timeout)
        _wait_for_resume(backend, run_id, timeout)
        return _input(adapter, backend.read_pause(run_id, key).run_input)


def _wait_for_resume(backend: Any, run_id: uuid.UUID, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        run = backend.read_flow_run(run_id)
        paused = run.state_type is StateType.SCHEDULED and run.state_name in PAUSED_NAMES
        if run.state_type is StateType.CANCELLING or run.state_type in FINAL_TYPES:
            raise RunInterrupted(f"the flow run was {run.state_name.lower()} while paused",
                                 cancelled=run.state_type is not StateType.CRASHED)
        if not paused:
            return  # resumed (Running), or moved on by an operator
        if time.monotonic() >= deadline:
            from transom.store.pauses import timeout_reason

            raise FlowPauseTimeout(timeout_reason(timeout))
        time.sleep(min(PAUSE_POLL_SECONDS, max(deadline - time.monotonic(), 0.0)))


def pause_flow_run(wait_for_input: Any = None, timeout: float = 3600,
                   poll_interval: float | None = None, key: str | None = None) -> Any:
    """Pause the current flow run until it is resumed (`resume_flow_run`, `transom runs resume`):
    its process waits. Returns the resume's input validated by `wait_for_input` (None without
    one); FlowPauseTimeout after `timeout` seconds unresumed (the run ends Failed).
    `poll_interval` is accepted for Prefect's signature (see PAUSE_POLL_SECONDS)."""
    del poll_interval
    if in_event_loop():
        return asyncio.to_thread(_pause, "pause_flow_run", timeout, wait_for_input, key, False)
    return _pause("pause_flow_run", timeout, wait_for_input, key, False)


def suspend_flow_run(wait_for_input: Any = None, flow_run_id: uuid.UUID | None = None,
                     timeout: float = 3600, key: str | None = None, client: Any = None) -> Any:
    """Suspend the current deployment run: it is Suspended and its process ends; resumed, a worker
    starts it again and this call returns the resume's input (validated by `wait_for_input`).
    Refused for a run that is not a deployment's. `flow_run_id` and `client` are accepted for
    Prefect's signature; only the current run can be suspended."""
    del client
    if flow_run_id is not None and flow_run_id != getattr(current_flow_run(), "flow_run_id",
                                                          None):
        raise ValueError("suspend_flow_run suspends the current flow run only")
    if in_event_loop():
        return asyncio.to_thread(_pause, "suspend_flow_run", timeout, wait_for_input, key, True)
    return _pause("suspend_flow_run", timeout, wait_for_input, key, True)


def _resume(flow_run_id: uuid.UUID | str, run_input: Any) -> None:
    from transom.services import open_backend

    if isinstance(run_input, pydantic.BaseModel):
        run_input = run_input.model_dump(mode="json")
    try:
        body = ResumeIn(run_input=run_input)
    except pydantic.ValidationError as exc:
        raise ValueError(first_error(exc, "run input")) from None
    with open_backend() as backend:
        backend.resume_flow_run(flow_run_id, body)


def resume_flow_run(flow_run_id: uuid.UUID | str, run_input: Any = None) -> Any:
    """Resume a Paused or Suspended flow run with `run_input` (a JSON value, or a pydantic model
    instance) checked against what it waits for: RunInputInvalid if it does not match (the run
    stays paused), InvalidTransition if the run is not paused."""
    if in_event_loop():
        return asyncio.to_thread(_resume, flow_run_id, run_input)
    _resume(flow_run_id, run_input)
    return None


# -- the async forms (Prefect's `apause_flow_run`, ...): always awaitable --------------------------
async def apause_flow_run(wait_for_input: Any = None, timeout: float = 3600,
                          poll_interval: float | None = None, key: str | None = None) -> Any:
    """`pause_flow_run`, awaited."""
    del poll_interval
    return await asyncio.to_thread(_pause, "pause_flow_run", timeout, wait_for_input, key, False)


async def asuspend_flow_run(wait_for_input: Any = None, timeout: float = 3600,
                            key: str | None = None) -> Any:
    """`suspend_flow_run`, awaited."""
    return await asyncio.to_thread(_pause, "suspend_flow_run", timeout, wait_for_input, key, True)


async def aresume_flow_run(flow_run_id: uuid.UUID | str, run_input: Any = None) -> None:
    """`resume_flow_run`, awaited."""
    await asyncio.to_thread(_resume, flow_run_id, run_input)
