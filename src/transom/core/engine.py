"""The run loop, written once: propose states, call, retry, time out, cache, persist.

`_Run` holds the rules every run follows (states, retries, results); `_TaskRun` and `_FlowRun` add
what is particular to each. The drivers at the bottom only call the function, sleep and wait: a
sync driver and an async driver over the same lifecycle methods, so the logic is not mirrored.
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import logging
import signal
import sys
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar, Token
from datetime import datetime
from typing import Any

from transom.core import states as st
from transom.core.context import (
    FlowRunContext,
    Runtime,
    TaskRunContext,
    flow_run_var,
    get_runtime,
    task_run_var,
)
from transom.core.flows import Flow
from transom.core.logs import configure_logging, enable_print_capture
from transom.core.naming import generate_run_name
from transom.core.policies import retry_delay_for
from transom.core.recorder import FlowRunCreated, StateChanged, TaskRunCreated
from transom.core.runners import TaskFuture, TaskRunner, ThreadPoolTaskRunner
from transom.core.states import State
from transom.core.tasks import Task
from transom.core.timeouts import call_async_with_timeout, call_with_timeout
from transom.exceptions import (
    Abort,
    FlowRunTimeout,
    RunInterrupted,
    SerializationError,
    TaskRunTimeout,
)

__all__ = [
    "attempt_task",
    "attempt_task_async",
    "interrupt_flow_run",
    "run_flow",
    "run_flow_async",
    "run_task",
    "run_task_async",
    "submit_task",
]

logger = logging.getLogger("transom.engine")


class _UpstreamFailed(Exception):
    pass


class _Run:
    """State keeping shared by task runs and flow runs."""

    is_task = False
    retries = 0
    retry_delay: Any = None
    jitter: float | None = None
    timeout: float | None = None

    def __init__(self, runtime: Runtime, run_id: uuid.UUID, name: str) -> None:
        self.runtime = runtime
        self.recorder = runtime.recorder
        self.run_id = run_id
        self.name = name
        self.run_count = 0
        self.state: State | None = None

    def set_state(self, state: State, result_ref: str | None = None) -> State:
        if state.run_id is None:  # a fresh State of ours, not yet shared: stamp it in place
            object.__setattr__(state, "run_id", self.run_id)
        self.state = state
        self.recorder.record(StateChanged(self.run_id, self.is_task, state, self.run_count,
                                          result_ref))
        return state

    def begin_attempt(self) -> None:
        self.run_count += 1
        self.set_state(st.Running() if self.run_count == 1 else st.Running(name="Retrying"))

    def on_failure(self, exc: BaseException) -> float | None:
        """Record a failed attempt; returns the delay before the next one, or None if final."""
        if isinstance(exc, TaskRunTimeout | FlowRunTimeout):
            failed = st.Failed(exc, name="TimedOut")
        else:
            failed = st.Failed(exc)
        if (
            self.run_count <= self.retries
            and not isinstance(exc, Abort | SerializationError)
            and self.should_retry(failed)
        ):
            delay = retry_delay_for(self.retry_delay, self.run_count, self.retries, self.jitter)
            self.log(logging.WARNING, "attempt %d failed (%s); retrying in %.3gs",
                     self.run_count, failed.message, delay)
            self.set_state(st.AwaitingRetry(scheduled_time=st.now_utc(), message=failed.message))
            return delay
        self.set_state(failed)
        self.log(logging.ERROR, "finished in state %s: %s", failed.name, failed.message)
        return None

    def on_interrupt(self, exc: BaseException) -> State:
        """The process is stopping under this run (Ctrl+C, a cancel, SystemExit)."""
        exc = _AsyncGuard.reason_for(exc)
        if isinstance(exc, KeyboardInterrupt):
            state = st.Cancelled(exc, message="interrupted (Ctrl+C)")
        elif isinstance(exc, RunInterrupted) and exc.cancelled:
            state = st.Cancelled(exc, message=str(exc))
        else:
            state = st.Crashed(exc, message=f"the run's process is stopping: {exc!r}")
        return self.set_state(state)

    def should_retry(self, failed: State) -> bool:
        return True

    def enter(self) -> list[tuple[ContextVar[Any], Token[Any]]]:
        """Make this run the current one (contextvars) for the duration of an attempt."""
        raise NotImplementedError

    def leave(self, tokens: list[tuple[ContextVar[Any], Token[Any]]]) -> None:
        for var, token in reversed(tokens):
            var.reset(token)

    def settle(self, *, wait: bool) -> None:
        """After an attempt: wait for (or, after a timeout or interrupt, abandon) its children."""

    def timeout_error(self) -> BaseException:
        raise NotImplementedError

    def on_success(self, value: Any) -> State:
        raise NotImplementedError

    def log(self, level: int, msg: str, *args: Any) -> None:
        raise NotImplementedError


class _TaskRun(_Run):
    """One task call: cache, upstream futures, retries, persisted result."""

    is_task = True

    def __init__(self, task: Task[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
                 flow_ctx: FlowRunContext | None, runtime: Runtime,
                 return_state: bool = False, *, run_id: uuid.UUID | None = None,
                 dynamic_key: int | None = None) -> None:
        self.task = task
        self.flow_ctx = flow_ctx
        self.flow_run_id = flow_ctx.flow_run_id if flow_ctx is not None else None
        key = dynamic_key if dynamic_key is not None else (
            flow_ctx.next_dynamic_key(task.task_key) if flow_ctx is not None else 0)
        super().__init__(runtime, run_id or uuid.uuid4(), task.task_run_name or f"{task.name}-{key}")
        self.dynamic_key = key
        self.args = args
        self.kwargs = kwargs
        self.return_state = return_state
        self.retries = task.retries
        self.retry_delay = task.retry_delay_seconds
        self.jitter = task.retry_jitter_factor
        self.timeout = task.timeout_seconds
        self.log_prints = (task.log_prints if task.log_prints is not None
                           else flow_ctx.log_prints if flow_ctx is not None else False)
        if self.log_prints:
            enable_print_capture()
        self.cache_key: str | None = None
        self.parameters: dict[str, Any] | None = None
        self.ctx: TaskRunContext | None = None

    # -- lifecycle -----------------------------------------------------------------------------
    def set_state(self, state: State, result_ref: str | None = None) -> State:
        state = super().set_state(state, result_ref)
        if self.flow_ctx is not None and state.type in st.FINAL_TYPES:
            self.flow_ctx.active_tasks.discard(self)
        return state

    def create(self) -> None:
        if self.flow_ctx is not None:
            self.flow_ctx.active_tasks.add(self)
        upstream = _upstream_ids(self.args, self.kwargs)
        self.recorder.record(TaskRunCreated(
            self.run_id, self.flow_run_id, self.task.task_key, self.name, self.dynamic_key,
            upstream=upstream, tags=self.task.tags,
        ))
        self.set_state(st.Pending())

    def prepare(self) -> State | None:
        """Wait for upstream futures, then look in the cache; a final State if there is no need
        to call the function."""
        try:
            self.args, self.kwargs = _resolve_inputs(self.args, self.kwargs)
        except _UpstreamFailed as exc:
            return self.set_state(st.Failed(name="NotReady", message=str(exc)))
        self.ctx = TaskRunContext(self.task, self.run_id, self.flow_run_id, self.name, {},
                                  0, self.log_prints)
        task = self.task
        if task.cache_key_fn is not None:
            self.ctx.parameters = self.parameters = task.bind(self.args, self.kwargs)
            self.cache_key = task.cache_key_fn(self.ctx, self.parameters)
            if self.cache_key and not task.refresh_cache:
                store = self.runtime.result_store(task.result_storage)
                hit = store.read(self.cache_key)
                if hit is not None:
                    self.log(logging.INFO, "cache hit (key %s)", self.cache_key[:12])
                    return self.set_state(st.Completed(hit.value, name="Cached",
                                                       message=f"cached {hit.created:%Y-%m-%d %H:%M:%S}"),
                                          result_ref=self.cache_key)
        return None

    def begin_attempt(self) -> None:
        super().begin_attempt()
        if self.ctx is not None:
            self.ctx.run_count = self.run_count

    def enter(self) -> list[tuple[ContextVar[Any], Token[Any]]]:
        return [(task_run_var, task_run_var.set(self.ctx))]

    def on_success(self, value: Any) -> State:
        task = self.task
        persist = task.persist_result
        if persist is None:
            persist = self.cache_key is not None or self.runtime.persist_results
        ref = None
        if persist:
            key = self.cache_key or f"task-run-{self.run_id}"
            expiration = (st.now_utc() + task.cache_expiration
                          if self.cache_key and task.cache_expiration is not None else None)
            try:
                ref = self.runtime.result_store(task.result_storage).write(
                    key, value, serializer=task.result_serializer or self.runtime.default_serializer,
                    expiration=expiration)
            except SerializationError as exc:
                self.on_failure(exc)
                return self.state  # type: ignore[return-value]
        state = self.set_state(st.Completed(value), result_ref=ref)
        if logger.isEnabledFor(logging.DEBUG):
            self.log(logging.DEBUG, "finished in state Completed")
        return state

    def should_retry(self, failed: State) -> bool:
        condition = self.task.retry_condition_fn
        if condition is None or self.ctx is None:
            return True
        try:
            return bool(condition(self.task, self.ctx, failed))
        except Exception as exc:
            self.log(logging.ERROR, "retry_condition_fn raised %r; not retrying", exc)
            return False

    def timeout_error(self) -> BaseException:
        return TaskRunTimeout(f"task run {self.name!r} exceeded its timeout of {self.timeout:g}s")

    def log(self, level: int, msg: str, *args: Any) -> None:
        logging.getLogger("transom.task_runs").log(
            level, msg, *args,
            extra={"flow_run_id": self.flow_run_id, "task_run_id": self.run_id,
                   "run_label": f"Task run {self.name!r}"})

    def result(self) -> Any:
        state = self.state
        assert state is not None
        return state if self.return_state else state.result()

    # -- SubmittedRun: how runners execute it -----------------------------------------------
    def run_local(self) -> State:
        if self.task.is_async:
            return asyncio.run(_drive_task_async(self))
        return _drive_task(self)

    def run_remote(self, executor: cf.Executor) -> State:
        from transom.core import remote

        final = self.prepare()
        if final is not None:
            return final
        return remote.run_task_in(executor, self)

    def cancelled(self) -> State:
        return self.set_state(st.Cancelled(message="the flow run ended before this task started"))


class _FlowRun(_Run):
    """One flow call: parameters, its task runner, subflow links, flush at the end."""

    def __init__(self, flow: Flow[..., Any], parameters: dict[str, Any], runtime: Runtime,
                 parent: FlowRunContext | None, parent_task: TaskRunContext | None, *,
                 adopt: tuple[uuid.UUID, str] | None = None) -> None:
        run_id, name = adopt or (uuid.uuid4(), flow.flow_run_name or generate_run_name())
        super().__init__(runtime, run_id, name)
        # An adopted run exists already (a worker claimed it): it is not created again.
        self.adopted = adopt is not None
        self.flow = flow
        self.parameters = parameters
        self.parent = parent
        self.parent_task = parent_task
        self.retries = flow.retries
        self.retry_delay = flow.retry_delay_seconds
        self.timeout = flow.timeout_seconds
        runner = flow.task_runner or ThreadPoolTaskRunner(runtime.task_runner_workers)
        self.runner_template: TaskRunner = runner
        self.ctx: FlowRunContext | None = None
        self.log_prints = bool(flow.log_prints) if flow.log_prints is not None else (
            parent.log_prints if parent is not None else False)
        if self.log_prints:
            enable_print_capture()

    def create(self) -> None:
        if self.adopted:
            return
        self.recorder.record(FlowRunCreated(
            self.run_id, self.flow.name, self.name, _jsonable(self.parameters),
            parent_flow_run_id=self.parent.flow_run_id if self.parent else None,
            parent_task_run_id=self.parent_task.task_run_id if self.parent_task else None,
            tags=self.flow.tags,
        ))
        self.set_state(st.Pending())

    def begin_attempt(self) -> None:
        super().begin_attempt()
        self.ctx = FlowRunContext(self.flow, self.run_id, self.name, self.parameters,
                                  self.runner_template.duplicate(), self.runtime,
                                  self.log_prints, self.run_count,
                                  self.parent_task.task_run_id if self.parent_task else None)
        if self.run_count == 1:
            self.log(logging.INFO, "started (flow %r)", self.flow.name)

    def enter(self) -> list[tuple[ContextVar[Any], Token[Any]]]:
        return [(flow_run_var, flow_run_var.set(self.ctx)), (task_run_var, task_run_var.set(None))]

    def settle(self, *, wait: bool) -> None:
        """Wait for the tasks this attempt submitted (or stop waiting, after a timeout/interrupt)."""
        if self.ctx is not None:
            self.ctx.task_runner.shutdown(wait=wait)

    def on_success(self, value: Any) -> State:
        ref = None
        persist = self.flow.persist_result
        if persist is None:
            persist = self.runtime.persist_results
        if persist:
            try:
                ref = self.runtime.result_store(self.flow.result_storage).write(
                    f"flow-run-{self.run_id}", value,
                    serializer=self.flow.result_serializer or self.runtime.default_serializer)
            except SerializationError as exc:
                self.on_failure(exc)
                return self.state  # type: ignore[return-value]
        state = self.set_state(st.Completed(value), result_ref=ref)
        self.log(logging.INFO, "finished in state Completed")
        return state

    def on_interrupt(self, exc: BaseException) -> State:
        # Task runs still going in other threads or processes end with the flow run, so none
        # is left Running when the process goes away.
        if self.ctx is not None:
            for task_run in self.ctx.active_tasks.copy():
                if task_run.state is None or not task_run.state.is_final():
                    task_run.on_interrupt(exc)
        return super().on_interrupt(exc)

    def timeout_error(self) -> BaseException:
        return FlowRunTimeout(f"flow run {self.name!r} exceeded its timeout of {self.timeout:g}s")

    def log(self, level: int, msg: str, *args: Any) -> None:
        logging.getLogger("transom.flow_runs").log(
            level, msg, *args,
            extra={"flow_run_id": self.run_id, "task_run_id": None,
                   "run_label": f"Flow run {self.name!r}"})

    def finish(self) -> None:
        """A top-level run is durable when the call returns: wait for the recorder."""
        if self.parent is None:
            self.recorder.flush(timeout=self.runtime.flush_timeout)


# -- entry points called by Task and Flow -------------------------------------------------------
def _start_task(task: Task[..., Any], args: tuple[Any, ...], kwargs: Mapping[str, Any],
                return_state: bool) -> _TaskRun:
    runtime = get_runtime()
    configure_logging(runtime.log_level)
    run = _TaskRun(task, args, dict(kwargs), flow_run_var.get(), runtime, return_state)
    run.create()
    return run


def run_task(task: Task[..., Any], args: tuple[Any, ...], kwargs: Mapping[str, Any],
             *, return_state: bool = False) -> Any:
    run = _start_task(task, args, kwargs, return_state)
    _drive_task(run)
    return run.result()


async def run_task_async(task: Task[..., Any], args: tuple[Any, ...], kwargs: Mapping[str, Any],
                         *, return_state: bool = False) -> Any:
    run = _start_task(task, args, kwargs, return_state)
    await _drive_task_async(run)
    return run.result()


def submit_task(task: Task[..., Any], args: tuple[Any, ...],
                kwargs: Mapping[str, Any]) -> TaskFuture[Any]:
    flow_ctx = flow_run_var.get()
    if flow_ctx is None:
        raise RuntimeError(f"{task.name}.submit() must be called inside a flow run")
    run = _start_task(task, args, kwargs, return_state=True)
    return TaskFuture(flow_ctx.task_runner.submit(run), run.run_id, run.name)


def _start_flow(flow: Flow[..., Any], args: tuple[Any, ...], kwargs: Mapping[str, Any],
                adopt: tuple[uuid.UUID, str] | None = None) -> _FlowRun:
    parameters = flow.validate_parameters(flow.bind(args, kwargs))  # fails before the run exists
    runtime = get_runtime()
    configure_logging(runtime.log_level)
    parent = None if adopt is not None else flow_run_var.get()
    run = _FlowRun(flow, parameters, runtime, parent, None if adopt else task_run_var.get(),
                   adopt=adopt)
    run.create()
    return run


def _flow_result(run: _FlowRun, return_state: bool) -> Any:
    state = run.state
    assert state is not None
    return state if return_state else state.result()


def run_flow(flow: Flow[..., Any], args: tuple[Any, ...], kwargs: Mapping[str, Any],
             *, return_state: bool = False, adopt: tuple[uuid.UUID, str] | None = None) -> Any:
    """Run `flow` as a new flow run, or as the existing run `adopt` = (id, name) names (one a
    worker claimed: it is Pending and moves on to Running from there)."""
    run = _start_flow(flow, args, kwargs, adopt)
    with _termination_as_interrupt(run.parent is None):
        try:
            _drive_flow(run)
        finally:
            run.finish()
    return _flow_result(run, return_state)


async def run_flow_async(flow: Flow[..., Any], args: tuple[Any, ...], kwargs: Mapping[str, Any],
                         *, return_state: bool = False,
                         adopt: tuple[uuid.UUID, str] | None = None) -> Any:
    run = _start_flow(flow, args, kwargs, adopt)
    guard = _AsyncGuard.enter() if run.parent is None else None
    try:
        await _drive_flow_async(run)
    finally:
        if guard is not None:
            guard.exit()
        if run.parent is None:
            await asyncio.get_running_loop().run_in_executor(None, run.finish)
    return _flow_result(run, return_state)


# -- drivers: the only code that calls user functions, sleeps and awaits ----------------------
def _drive_task(run: _TaskRun) -> State:
    final = run.prepare()
    return final if final is not None else attempt_task(run)


async def _drive_task_async(run: _TaskRun) -> State:
    loop = asyncio.get_running_loop()
    final = await loop.run_in_executor(None, run.prepare) if _has_futures(run) else run.prepare()
    return final if final is not None else await attempt_task_async(run)


def attempt_task(run: _TaskRun) -> State:
    """Call the task until it completes, fails for good, or runs out of retries."""
    fn = run.task.fn
    return _attempts(run, lambda: fn(*run.args, **run.kwargs))


async def attempt_task_async(run: _TaskRun) -> State:
    fn = run.task.fn
    return await _attempts_async(run, lambda: fn(*run.args, **run.kwargs))


def _drive_flow(run: _FlowRun) -> State:
    bound = run.flow.signature.bind_partial(**run.parameters)
    fn = run.flow.fn
    return _attempts(run, lambda: fn(*bound.args, **bound.kwargs))


async def _drive_flow_async(run: _FlowRun) -> State:
    bound = run.flow.signature.bind_partial(**run.parameters)
    fn = run.flow.fn
    return await _attempts_async(run, lambda: fn(*bound.args, **bound.kwargs))


def _attempts(run: _Run, call: Callable[[], Any]) -> State:
    """The attempt loop for sync tasks and flows: call, then succeed, retry or give up."""
    while True:
        run.begin_attempt()
        tokens = run.enter()
        try:
            value = call_with_timeout(call, run.timeout, run.timeout_error)
            run.settle(wait=True)
        except Exception as exc:
            run.settle(wait=not isinstance(exc, TimeoutError))
            delay = run.on_failure(exc)
            if delay is None:
                return run.state  # type: ignore[return-value]
            if delay:
                time.sleep(delay)
            continue
        except BaseException as exc:
            run.settle(wait=False)
            run.on_interrupt(exc)
            raise
        finally:
            run.leave(tokens)
        return run.on_success(value)


async def _attempts_async(run: _Run, call: Callable[[], Awaitable[Any]]) -> State:
    """The same loop for async tasks and flows; waiting and sleeping do not block the loop."""
    loop = asyncio.get_running_loop()
    while True:
        run.begin_attempt()
        tokens = run.enter()
        try:
            value = await call_async_with_timeout(call, run.timeout, run.timeout_error)
            await loop.run_in_executor(None, lambda: run.settle(wait=True))
        except Exception as exc:
            run.settle(wait=False)
            delay = run.on_failure(exc)
            if delay is None:
                return run.state  # type: ignore[return-value]
            if delay:
                await asyncio.sleep(delay)
            continue
        except BaseException as exc:
            run.settle(wait=False)
            run.on_interrupt(exc)
            raise
        finally:
            run.leave(tokens)
        return run.on_success(value)


# -- inputs -------------------------------------------------------------------------------------
_PLAIN = (int, float, str, bool, bytes, type(None))


def _has_futures(run: _TaskRun) -> bool:
    return bool(_upstream_ids(run.args, run.kwargs))


def _walk_futures(value: Any, found: list[TaskFuture[Any]], depth: int = 0) -> None:
    if isinstance(value, _PLAIN) or depth > 3:
        return
    if isinstance(value, TaskFuture):
        found.append(value)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            _walk_futures(item, found, depth + 1)
    elif isinstance(value, dict):
        for item in value.values():
            _walk_futures(item, found, depth + 1)


def _upstream_ids(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> list[uuid.UUID]:
    found: list[TaskFuture[Any]] = []
    for value in args:
        _walk_futures(value, found)
    for value in kwargs.values():
        _walk_futures(value, found)
    return [f.task_run_id for f in found]


def _resolve(value: Any, depth: int = 0) -> Any:
    if isinstance(value, _PLAIN) or depth > 3:
        return value
    if isinstance(value, TaskFuture):
        state = value.state
        if not state.is_completed():
            raise _UpstreamFailed(f"upstream task run {value.task_name!r} ended {state.name}"
                                  + (f": {state.message}" if state.message else ""))
        return state.data
    if isinstance(value, list | tuple | set | frozenset):
        items = [_resolve(v, depth + 1) for v in value]
        return items if type(value) is list else type(value)(items)
    if isinstance(value, dict) and type(value) is dict:
        return {k: _resolve(v, depth + 1) for k, v in value.items()}
    return value


def _resolve_inputs(args: tuple[Any, ...], kwargs: dict[str, Any]
                    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
    if not any(not isinstance(a, _PLAIN) for a in args) and not any(
            not isinstance(v, _PLAIN) for v in kwargs.values()):
        return args, kwargs
    return (tuple(_resolve(a) for a in args), {k: _resolve(v) for k, v in kwargs.items()})


def _jsonable(value: Any, depth: int = 0) -> Any:
    """A JSON-safe picture of parameters for the record (repr for anything exotic)."""
    if isinstance(value, str | int | float | bool | type(None)):
        return value
    if depth > 4:
        return repr(value)[:200]
    if isinstance(value, dict):
        return {str(k): _jsonable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v, depth + 1) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return repr(value)[:200]


# -- termination signals ------------------------------------------------------------------------
class _TerminationGuard:
    """Turn SIGTERM (and SIGBREAK where it exists) into RunInterrupted inside a top-level flow
    run in the main thread, so the run ends Crashed/Cancelled and is recorded before exit."""

    current: _TerminationGuard | None = None  # the guard of this process's top-level run

    def __init__(self, active: bool) -> None:
        self.active = active and threading.current_thread() is threading.main_thread()
        self.previous: dict[int, Any] = {}
        self.reason: tuple[str, bool] | None = None  # set by interrupt_flow_run

    def __enter__(self) -> None:
        if not self.active:
            return
        _TerminationGuard.current = self
        for name in ("SIGTERM", "SIGBREAK"):
            signum = getattr(signal, name, None)
            if signum is None:
                continue
            try:
                self.previous[signum] = signal.signal(signum, self._handle)
            except (ValueError, OSError):
                pass
        if sys.platform == "win32":
            # interrupt_flow_run raises SIGINT there (the one signal that wakes a sleeping main
            # thread): it means the interrupt's reason when one is set, Ctrl+C otherwise.
            try:
                self.previous[signal.SIGINT] = signal.signal(signal.SIGINT, self._handle_int)
            except (ValueError, OSError):
                pass

    def _handle(self, signum: int, frame: Any) -> None:
        if self.reason is not None:
            message, cancelled = self.reason
            raise RunInterrupted(message, cancelled=cancelled)
        raise RunInterrupted(f"stopped by signal {signal.Signals(signum).name}", cancelled=False)

    def _handle_int(self, signum: int, frame: Any) -> None:
        if self.reason is not None:
            message, cancelled = self.reason
            raise RunInterrupted(message, cancelled=cancelled)
        previous = self.previous.get(signal.SIGINT)
        if callable(previous):
            previous(signum, frame)
        elif previous != signal.SIG_IGN:
            raise KeyboardInterrupt

    def __exit__(self, *exc: object) -> None:
        if _TerminationGuard.current is self:
            _TerminationGuard.current = None
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)


def _termination_as_interrupt(active: bool) -> _TerminationGuard:
    return _TerminationGuard(active)


class _AsyncGuard:
    """The top-level async flow run of this process, for `interrupt_flow_run`: its task is
    cancelled, and the CancelledError that unwinds its runs is recorded with the reason."""

    current: _AsyncGuard | None = None

    def __init__(self, loop: asyncio.AbstractEventLoop, task: asyncio.Task[Any]) -> None:
        self.loop = loop
        self.task = task
        self.reason: tuple[str, bool] | None = None

    @classmethod
    def enter(cls) -> _AsyncGuard | None:
        task = asyncio.current_task()
        if cls.current is not None or task is None:
            return None  # another top-level async run has it (or no task to cancel)
        cls.current = cls(asyncio.get_running_loop(), task)
        return cls.current

    def exit(self) -> None:
        if _AsyncGuard.current is self:
            _AsyncGuard.current = None

    def interrupt(self, message: str, cancelled: bool) -> None:
        self.reason = (message, cancelled)
        self.loop.call_soon_threadsafe(self.task.cancel, message)

    @staticmethod
    def reason_for(exc: BaseException) -> BaseException:
        """The interrupt a CancelledError stands for, if `interrupt` caused it."""
        guard = _AsyncGuard.current
        if guard is not None and guard.reason and isinstance(exc, asyncio.CancelledError):
            message, cancelled = guard.reason
            return RunInterrupted(message, cancelled=cancelled)
        return exc


def interrupt_flow_run(message: str, *, cancelled: bool = True) -> bool:
    """From any thread: stop the top-level flow run of this process now (a worker's cancel).

    It ends Cancelled (or Crashed, with `cancelled=False`) with `message`, as a termination
    signal would end it, and is recorded before the process exits. A sync run is interrupted in
    the main thread, an async one by cancelling its task (the flow's `await` raises
    CancelledError). False if no top-level flow run is going in this process.
    """
    async_guard = _AsyncGuard.current
    if async_guard is not None:
        async_guard.interrupt(message, cancelled)
        return True
    guard = _TerminationGuard.current
    if guard is None:
        return False
    guard.reason = (message, cancelled)
    main = threading.main_thread().ident
    if hasattr(signal, "pthread_kill") and main is not None:
        # Aimed at the main thread, so a sleep or a wait there is interrupted at once.
        signal.pthread_kill(main, signal.SIGTERM)
    else:
        # Windows: raising SIGINT here runs the C handler, which also wakes a time.sleep() of
        # the main thread (interrupt_main would only run the handler once that sleep ends); the
        # guard's SIGINT handler then raises the interrupt in the main thread.
        signal.raise_signal(signal.SIGINT)
    return True
