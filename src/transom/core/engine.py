"""The run loop, written once: propose states, call, retry, time out, cache, persist, call hooks.

`_Run` holds the rules every run follows (states, retries, results, names, hooks); `_TaskRun` and
`_FlowRun` add what is particular to each. What a run does from start to end, and the two
drivers that carry it out (sync and async), are in `core/steps.py`: written once, they cannot
drift apart.
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import logging
import uuid
from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar, Token
from datetime import datetime
from typing import Any, ClassVar

from transom.core import caching
from transom.core import states as st
from transom.core.annotations import BaseAnnotation
from transom.core.context import (
    FlowRunContext,
    Runtime,
    TaskRunContext,
    TaskSlots,
    flow_run_var,
    get_runtime,
    task_run_var,
)
from transom.core.flows import Flow
from transom.core.hooks import Calls, Due, FlowRun, HookTable, TaskRun, fire, hook_calls
from transom.core.logs import configure_logging, enable_print_capture
from transom.core.naming import RunNameSpec, generate_run_name, render_run_name
from transom.core.policies import retry_delay_for
from transom.core.recorder import FlowRunCreated, StateChanged, TaskRunCreated
from transom.core.runners import (
    TaskFuture,
    TaskRunner,
    ThreadPoolTaskRunner,
    UpstreamNotCompleted,
    check_upstream,
    resolve_inputs,
    state_of_return,
    upstream_ids,
)
from transom.core.states import State
from transom.core.steps import attempts as _attempts
from transom.core.steps import drive as _drive
from transom.core.steps import drive_async as _drive_async
from transom.core.steps import flow_steps as _flow_steps
from transom.core.steps import task_steps as _task_steps
from transom.core.tags import merge_tags
from transom.core.tasks import Task
from transom.core.transactions import Transaction, transaction_var
from transom.exceptions import (
    Abort,
    FlowRunTimeout,
    Pause,
    RunInterrupted,
    SerializationError,
    TaskRunTimeout,
)
from transom.platform.signals import TerminationGuard

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
_flow_logger = logging.getLogger("transom.flow_runs")
_task_logger = logging.getLogger("transom.task_runs")
Adopted = tuple[uuid.UUID, str, int]  # a claimed flow run: its id, name and runs so far


class _Run:
    """State keeping shared by task runs and flow runs."""

    is_task = False
    settles = False  # whether an attempt leaves work of its own to wait for (submitted tasks)
    retries = 0
    runs_before = 0  # an adopted flow run's runs in earlier processes (a retry, a resume)
    keeps_results_in_memory = True  # False: a persisted result is read back by State.result()
    retry_delay: Any = None
    jitter: float | None = None
    timeout: float | None = None
    hooks: HookTable | None = None  # the flow's or task's hooks by state type; None: there are none
    wait_for: list[Any] | None = None  # futures or states to wait for before the run starts
    due: Due | None = None  # hooks to call at the next HOOKS step
    tags: list[str]
    created: datetime | None = None  # when it was created (Pending), and first Running
    started: datetime | None = None

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
        self.recorder.record(StateChanged(self.run_id, self.is_task, state,
                                          self.run_count + self.runs_before, result_ref))
        if self.hooks is not None:
            fns = self.hooks.get(state.type)
            if fns:
                if self.due is None:
                    self.due = []
                self.due.append((state, fns))
        return state

    def begin_attempt(self) -> None:
        self.run_count += 1
        if self.run_count == 1:
            self.started = self.set_state(st.Running()).timestamp
        else:
            self.set_state(st.Retrying())

    def on_success(self, value: Any) -> State:
        """Record a call that returned `value`: Completed with it, or the final state it asks for
        (a State the function made, or the outcome of futures or states of other runs)."""
        final = None if isinstance(value, _PLAIN) else state_of_return(value)
        if final is not None and not final.is_completed():
            return self.end_in(final)
        data = value if final is None else final.data
        try:
            ref = self.persist(data)
        except SerializationError as exc:
            self.on_failure(exc)
            return self.state  # type: ignore[return-value]
        if final is None and not self.keeps_results_in_memory:
            value = self.stored_result(value)
        state = self.set_state(st.Completed(value) if final is None else final, result_ref=ref)
        self.log_finished(state)
        return state

    def log_finished(self, state: State) -> None:
        self.log(logging.INFO, "finished in state %s", state.name)

    def end_in(self, state: State) -> State:
        """End in a state the function returned that is not Completed (no retries, as Prefect)."""
        if not state.is_final():
            state = st.Failed(message=(
                f"the function returned a {state.name} state; a run ends in a final state "
                "(Completed, Failed, Crashed or Cancelled)"))
        self.set_state(state)
        level = logging.WARNING if state.is_cancelled() else logging.ERROR
        self.log(level, "finished in state %s: %s", state.name, state.message)
        return state

    def persist(self, value: Any) -> str | None:
        """Store the result if the run keeps it; where it went (SerializationError if it cannot)."""
        raise NotImplementedError

    def stored_result(self, value: Any) -> Any:
        """What a Completed state holds for a result not kept in memory."""
        return value

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
        """The process is stopping under this run (Ctrl+C, a cancel, SystemExit); a suspended
        flow run's (Pause) keeps its Suspended state."""
        exc = _AsyncGuard.reason_for(exc)
        if isinstance(exc, Pause) and not self.is_task and self.state is not None:
            return self.state
        if isinstance(exc, KeyboardInterrupt):
            state = st.Cancelled(exc, message="interrupted (Ctrl+C)")
        elif isinstance(exc, RunInterrupted) and exc.cancelled:
            state = st.Cancelled(exc, message=str(exc))
        else:
            state = st.Crashed(exc, message=f"the run's process is stopping: {exc!r}")
        return self.set_state(state)

    def not_ready(self, reason: UpstreamNotCompleted) -> State:
        """An upstream run did not complete: this run will not start (NotReady, as Prefect)."""
        self.log(logging.WARNING, "will not start: %s", reason)
        return self.set_state(st.NotReady(message=str(reason)))

    def should_retry(self, failed: State) -> bool:
        return True

    # -- names ---------------------------------------------------------------------------------
    def rename(self, spec: RunNameSpec, parameters: Mapping[str, Any],
               ctx_var: ContextVar[Any], ctx: Any) -> str | None:
        """Take the name `spec` gives, a function called inside `ctx` (the run's context); if it
        cannot give one, keep the generated name and say why (logged once the run exists)."""
        token = ctx_var.set(ctx) if not isinstance(spec, str) else None
        try:
            self.name = render_run_name(spec, parameters)
        except ValueError as exc:
            return str(exc)
        finally:
            if token is not None:
                ctx_var.reset(token)
        return None

    def name_problem(self, option: str, problem: str) -> None:
        self.log(logging.WARNING, "could not name the run from %s (%s); it is named %r instead",
                 option, problem, self.name)

    # -- hooks ---------------------------------------------------------------------------------
    def hook_steps(self) -> Calls:
        """The calls of the hooks due now (taken off the list)."""
        due, self.due = self.due or [], None
        return hook_calls(self.hook_owner(), self.describe, due, self.log)

    def fire_hooks(self) -> None:
        """Call the hooks due now, here (for code outside the steps, such as a runner's)."""
        if self.due:
            fire(self.hook_steps())

    def hook_owner(self) -> object:
        raise NotImplementedError

    def describe(self, state: State) -> object:
        """The run as a hook is given it (FlowRun, TaskRun)."""
        raise NotImplementedError

    # -- the attempt -------------------------------------------------------------------------
    def call(self) -> Any:
        """Call the function once with the run's arguments (a coroutine, for an async one)."""
        raise NotImplementedError

    def enter(self) -> list[tuple[ContextVar[Any], Token[Any]]]:
        """Make this run the current one (contextvars) for the duration of an attempt."""
        raise NotImplementedError

    def leave(self, tokens: list[tuple[ContextVar[Any], Token[Any]]]) -> None:
        for var, token in reversed(tokens):
            var.reset(token)

    def settle(self, *, wait: bool) -> None:
        """After an attempt: wait for (or, after a timeout or interrupt, abandon) its children."""

    def wait_for_children(self) -> None:
        self.settle(wait=True)

    def timeout_error(self) -> BaseException:
        raise NotImplementedError

    def log(self, level: int, msg: str, *args: Any, exc_info: BaseException | None = None) -> None:
        raise NotImplementedError


class _TaskRun(_Run):
    """One task call: cache, upstream futures, retries, persisted result."""

    is_task = True
    # Set only by runs that cache or are in a transaction (class defaults: the usual run sets
    # none of them). txn: the run's own transaction, made inside another one or for the task's
    # on_commit / on_rollback hooks; key_lock: held from the cache lookup to the end
    # (SERIALIZABLE); store: where a keyed result goes; written: (store, key) once written.
    txn: Transaction | None = None
    key_lock: Any = None
    store: Any = None
    written: tuple[Any, str] | None = None

    def __init__(self, task: Task[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
                 flow_ctx: FlowRunContext | None, runtime: Runtime,
                 *, run_id: uuid.UUID | None = None,
                 dynamic_key: int | None = None, wait_for: list[Any] | None = None) -> None:
        self.task = task
        self.flow_ctx = flow_ctx
        self.flow_run_id = flow_ctx.flow_run_id if flow_ctx is not None else None
        key = dynamic_key if dynamic_key is not None else (
            flow_ctx.next_dynamic_key(task.task_key) if flow_ctx is not None else 0)
        # A custom name (task_run_name) is given in create(), which runs once, in this process.
        super().__init__(runtime, run_id or uuid.uuid4(), f"{task.name}-{key}")
        self.dynamic_key = key
        self.args = args
        self.kwargs = kwargs
        self.wait_for = wait_for
        self.waits_for_upstream = False  # some arguments are futures of other task runs
        self.hooks = task.state_hooks
        self.tags = task.tags
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
        if not task.cache_result_in_memory:
            self.keeps_results_in_memory = False

    # -- lifecycle -----------------------------------------------------------------------------
    def set_state(self, state: State, result_ref: str | None = None) -> State:
        state = super().set_state(state, result_ref)
        if state.type in st.FINAL_TYPES:
            if self.flow_ctx is not None:
                self.flow_ctx.active_tasks.discard(self)
            if self.key_lock is not None:
                self.key_lock.release()
                self.key_lock = None
        return state

    def create(self) -> None:
        if self.flow_ctx is not None:
            self.flow_ctx.active_tasks.add(self)
        upstream = upstream_ids(self.args, self.kwargs, self.wait_for)
        self.waits_for_upstream = bool(upstream)
        self.tags = merge_tags(self.task.tags)
        problem = self._rename() if self.task.task_run_name is not None else None
        self.recorder.record(TaskRunCreated(
            self.run_id, self.flow_run_id, self.task.task_key, self.name, self.dynamic_key,
            upstream=upstream, tags=self.tags,
        ))
        self.created = self.set_state(st.Pending()).timestamp
        if problem is not None:
            self.name_problem("task_run_name", problem)

    def _rename(self) -> str | None:
        try:
            parameters = self.task.bind(self.args, self.kwargs)
        except TypeError as exc:
            return f"the call's arguments do not fit the function: {exc}"
        ctx = TaskRunContext(self.task, self.run_id, self.flow_run_id, self.name, parameters,
                             0, self.log_prints, self.tags)
        return self.rename(self.task.task_run_name, parameters,  # type: ignore[arg-type]
                           task_run_var, ctx)

    def prepare(self) -> State | None:
        """Wait for upstream futures, then look in the cache; a final State if there is no need
        to call the function (NotReady if an upstream run did not complete)."""
        try:
            if self.wait_for:
                check_upstream(self.wait_for)
            self.args, self.kwargs = resolve_inputs(self.args, self.kwargs)
        except UpstreamNotCompleted as exc:
            if self.flow_ctx is not None:
                self.flow_ctx.active_tasks.discard(self)  # it is over, though not final
            return self.not_ready(exc)
        self.ctx = TaskRunContext(self.task, self.run_id, self.flow_run_id, self.name, None,
                                  0, self.log_prints, self.tags, (self.args, self.kwargs))
        task = self.task
        parent = transaction_var.get()
        if parent is not None or task.on_commit_hooks or task.on_rollback_hooks:
            self.txn = Transaction(parent=parent)
        if task.caches or (task.key_policy is not None and task.persist_result is None
                           and self.runtime.persist_results):
            return self.look_up()
        return None

    def look_up(self) -> State | None:
        """Compute the run's cache key; a Cached state if a result is stored under it."""
        return caching.look_up(self)

    def slots(self) -> TaskSlots | None:
        """The slots of its tags' concurrency limits it must hold to run (None: no tags)."""
        return self.runtime.task_slots(self.tags, self._say) if self.tags else None

    def _say(self, message: str) -> None:
        self.log(logging.INFO, "%s", message)

    def slots_refused(self, exc: Exception) -> State:
        """Its slots cannot be taken (a limit of 0, the database away): it ends Failed."""
        return self.end_in(st.Failed(exc, message=f"could not take its concurrency slots: {exc}"))

    def begin_attempt(self) -> None:
        super().begin_attempt()
        if self.ctx is not None:
            self.ctx.run_count = self.run_count

    def call(self) -> Any:
        return self.task.fn(*self.args, **self.kwargs)

    def enter(self) -> list[tuple[ContextVar[Any], Token[Any]]]:
        tokens: list[tuple[ContextVar[Any], Token[Any]]] = [
            (task_run_var, task_run_var.set(self.ctx))]
        if self.txn is not None:
            tokens.append((transaction_var, transaction_var.set(self.txn)))
        return tokens

    def persist(self, value: Any) -> str | None:
        task = self.task
        persist = task.persist_result
        if persist is None:
            persist = self.cache_key is not None or self.runtime.persist_results
        if not persist:
            return self.stage(value, None) if self.txn is not None else None
        key = self.cache_key or f"task-run-{self.run_id}"
        expiration = (st.now_utc() + task.cache_expiration
                      if self.cache_key and task.cache_expiration is not None else None)
        store = self.store
        if store is None:  # no cache lookup here (a process-pool worker's part of the run)
            policy = task.key_policy if self.cache_key else None
            store = self.runtime.result_store(
                (policy.key_storage if policy is not None else None) or task.result_storage)
        serializer = task.result_serializer or self.runtime.default_serializer

        def write() -> str:
            self.written = (store, key)
            return str(store.write(key, value, serializer=serializer, expiration=expiration))

        if self.txn is None:
            return write()
        return self.stage(value, write)

    def stage(self, value: Any, write: Callable[[], str] | None) -> str | None:
        return caching.stage(self, value, write)

    def stored_result(self, value: Any) -> Any:
        if self.written is None:  # not written (yet): kept
            return value
        store, key = self.written
        return st.StoredValue(store, key)

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

    def log_finished(self, state: State) -> None:
        """`finished in state Completed`, at INFO: in the run's logs and on the console, as
        Prefect users are used to seeing it (TRANSOM_LOGGING_LEVEL=WARNING quiets it)."""
        self.log(logging.INFO, "finished in state %s", state.name)

    def log(self, level: int, msg: str, *args: Any, exc_info: BaseException | None = None) -> None:
        if _task_logger.isEnabledFor(level):
            _task_logger.log(level, msg, *args, exc_info=exc_info, extra={
                "flow_run_id": self.flow_run_id, "task_run_id": self.run_id,
                "run_label": f"Task run {self.name!r}"})

    def hook_owner(self) -> object:
        return self.task

    def describe(self, state: State) -> TaskRun:
        return TaskRun(self.run_id, self.name, self.task.task_key, self.dynamic_key,
                       self.flow_run_id, list(self.tags), self.run_count, state,
                       cache_key=self.cache_key, expected_start_time=self.created,
                       start_time=self.started,
                       end_time=state.timestamp if state.is_final() else None)

    # -- SubmittedRun: how runners execute it -----------------------------------------------
    def run_local(self) -> State:
        if self.task.is_async:
            return asyncio.run(_drive_async(self, _task_steps(self)))
        return _drive(self, _task_steps(self))

    def run_remote(self, executor: cf.Executor) -> State:
        from transom.core import remote

        final = self.prepare()
        slots = self.slots() if final is None else None
        if slots is not None:
            try:
                slots.acquire()  # held here while the child process runs the attempts
            except Exception as exc:
                final = self.slots_refused(exc)
        if final is None:
            try:
                final = remote.run_task_in(executor, self)  # the attempts' hooks ran over there
            finally:
                if slots is not None:
                    slots.release()
        self.fire_hooks()
        return final

    def cancelled(self) -> State:
        return self.set_state(st.Cancelled(message="the flow run ended before this task started"))


class _FlowRun(_Run):
    """One flow call: parameters, its task runner, subflow links, flush at the end."""

    settles = True

    def __init__(self, flow: Flow[..., Any], parameters: dict[str, Any], runtime: Runtime,
                 parent: FlowRunContext | None, parent_task: TaskRunContext | None, *,
                 adopt: Adopted | None = None,
                 wait_for: list[Any] | None = None) -> None:
        # A custom name (flow_run_name) is given in create(); an adopted run has its name.
        run_id, name, self.runs_before = adopt or (uuid.uuid4(), generate_run_name(), 0)
        super().__init__(runtime, run_id, name)
        # An adopted run exists already (a worker claimed it): it is not created again.
        self.adopted = adopt is not None
        self.flow = flow
        self.parameters = parameters
        self.parent = parent
        self.parent_task = parent_task
        self.wait_for = wait_for
        self.hooks = flow.state_hooks
        self.tags = flow.tags
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
        self.tags = merge_tags(self.flow.tags)
        problem = self._rename() if self.flow.flow_run_name is not None else None
        self.recorder.record(FlowRunCreated(
            self.run_id, self.flow.name, self.name, _jsonable(self.parameters),
            parent_flow_run_id=self.parent.flow_run_id if self.parent else None,
            parent_task_run_id=self.parent_task.task_run_id if self.parent_task else None,
            tags=self.tags,
        ))
        self.created = self.set_state(st.Pending()).timestamp
        if problem is not None:
            self.name_problem("flow_run_name", problem)

    def _rename(self) -> str | None:
        ctx = self._context(run_count=0)
        return self.rename(self.flow.flow_run_name, self.parameters,  # type: ignore[arg-type]
                           flow_run_var, ctx)

    def _context(self, run_count: int) -> FlowRunContext:
        return FlowRunContext(self.flow, self.run_id, self.name, self.parameters,
                              self.runner_template.duplicate(), self.runtime,
                              self.log_prints, run_count,
                              self.parent_task.task_run_id if self.parent_task else None,
                              self.tags)

    def wait_for_upstream(self) -> State | None:
        """Wait for the futures of `wait_for`; NotReady if one did not complete."""
        try:
            check_upstream(self.wait_for or ())
        except UpstreamNotCompleted as exc:
            return self.not_ready(exc)
        return None

    def begin_attempt(self) -> None:
        super().begin_attempt()
        self.ctx = self._context(self.run_count + self.runs_before)
        if self.run_count == 1:
            self.log(logging.INFO, "started (flow %r)", self.flow.name)

    def call(self) -> Any:
        bound = self.flow.signature.bind_partial(**self.parameters)
        return self.flow.fn(*bound.args, **bound.kwargs)

    def enter(self) -> list[tuple[ContextVar[Any], Token[Any]]]:
        return [(flow_run_var, flow_run_var.set(self.ctx)), (task_run_var, task_run_var.set(None))]

    def settle(self, *, wait: bool) -> None:
        """Wait for the tasks this attempt submitted (or stop waiting, after a timeout/interrupt)."""
        if self.ctx is not None:
            self.ctx.task_runner.shutdown(wait=wait)

    def persist(self, value: Any) -> str | None:
        persist = self.flow.persist_result
        if persist is None:
            persist = self.runtime.persist_results
        if not persist:
            return None
        return self.runtime.result_store(self.flow.result_storage).write(
            f"flow-run-{self.run_id}", value,
            serializer=self.flow.result_serializer or self.runtime.default_serializer)

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

    def log(self, level: int, msg: str, *args: Any, exc_info: BaseException | None = None) -> None:
        if _flow_logger.isEnabledFor(level):
            _flow_logger.log(level, msg, *args, exc_info=exc_info, extra={
                "flow_run_id": self.run_id, "task_run_id": None,
                "run_label": f"Flow run {self.name!r}"})

    def hook_owner(self) -> object:
        return self.flow

    def describe(self, state: State) -> FlowRun:
        return FlowRun(self.run_id, self.name, self.flow.name, dict(self.parameters),
                       list(self.tags), self.run_count + self.runs_before, state,
                       parent_task_run_id=self.parent_task.task_run_id if self.parent_task else None,
                       expected_start_time=self.created, start_time=self.started,
                       end_time=state.timestamp if state.is_final() else None)

    def finish(self) -> None:
        """Wait until the recorder has written everything so far."""
        self.recorder.flush(timeout=self.runtime.flush_timeout)


# -- entry points called by Task and Flow -------------------------------------------------------
_PLAIN = (int, float, str, bool, bytes, type(None))  # return values that cannot be states


def _wait_list(wait_for: Any) -> list[Any] | None:
    """`wait_for` as a list: one future, state or annotation, or any iterable of them."""
    if wait_for is None:
        return None
    if isinstance(wait_for, TaskFuture | State | BaseAnnotation):
        return [wait_for]
    if not isinstance(wait_for, Iterable) or isinstance(wait_for, str | bytes):
        raise TypeError(f"wait_for takes a list of futures or states, got {type(wait_for).__name__}")
    return list(wait_for) or None


def _start_task(task: Task[..., Any], args: tuple[Any, ...], kwargs: Mapping[str, Any],
                wait_for: Any = None) -> _TaskRun:
    runtime = get_runtime()
    configure_logging(runtime.log_level)
    run = _TaskRun(task, args, dict(kwargs), flow_run_var.get(), runtime,
                   wait_for=None if wait_for is None else _wait_list(wait_for))
    run.create()
    return run


def run_task(task: Task[..., Any], args: tuple[Any, ...], kwargs: Mapping[str, Any],
             *, return_state: bool = False, wait_for: Any = None) -> Any:
    run = _start_task(task, args, kwargs, wait_for)
    return _outcome(_drive(run, _task_steps(run)), return_state)


async def run_task_async(task: Task[..., Any], args: tuple[Any, ...], kwargs: Mapping[str, Any],
                         *, return_state: bool = False, wait_for: Any = None) -> Any:
    run = _start_task(task, args, kwargs, wait_for)
    return _outcome(await _drive_async(run, _task_steps(run)), return_state)


def attempt_task(run: _TaskRun) -> State:
    """Call the task until it completes, fails for good, or runs out of retries (its inputs are
    resolved already: a process-pool worker's part of the run)."""
    return _drive(run, _attempts(run))


async def attempt_task_async(run: _TaskRun) -> State:
    return await _drive_async(run, _attempts(run))


def submit_task(task: Task[..., Any], args: tuple[Any, ...], kwargs: Mapping[str, Any],
                *, wait_for: Any = None) -> TaskFuture[Any]:
    flow_ctx = flow_run_var.get()
    if flow_ctx is None:
        raise RuntimeError(f"{task.name}.submit() must be called inside a flow run")
    run = _start_task(task, args, kwargs, wait_for)
    return TaskFuture(flow_ctx.task_runner.submit(run), run.run_id, run.name, run)


def _start_flow(flow: Flow[..., Any], args: tuple[Any, ...], kwargs: Mapping[str, Any],
                adopt: Adopted | None = None, wait_for: Any = None) -> _FlowRun:
    parameters = flow.validate_parameters(flow.bind(args, kwargs))  # fails before the run exists
    runtime = get_runtime()
    configure_logging(runtime.log_level)
    parent = None if adopt is not None else flow_run_var.get()
    run = _FlowRun(flow, parameters, runtime, parent, None if adopt else task_run_var.get(),
                   adopt=adopt, wait_for=_wait_list(wait_for))
    run.create()
    return run


def run_flow(flow: Flow[..., Any], args: tuple[Any, ...], kwargs: Mapping[str, Any],
             *, return_state: bool = False, adopt: Adopted | None = None,
             wait_for: Any = None) -> Any:
    """Run `flow` as a new flow run, or as the existing run `adopt` = (id, name, runs before)
    names (one a worker claimed: it is Pending and moves on to Running from there)."""
    run = _start_flow(flow, args, kwargs, adopt, wait_for)
    return _outcome(_drive(run, _flow_steps(run, TerminationGuard)), return_state)


async def run_flow_async(flow: Flow[..., Any], args: tuple[Any, ...], kwargs: Mapping[str, Any],
                         *, return_state: bool = False,
                         adopt: Adopted | None = None, wait_for: Any = None) -> Any:
    run = _start_flow(flow, args, kwargs, adopt, wait_for)
    return _outcome(await _drive_async(run, _flow_steps(run, _AsyncGuard)), return_state)


def _outcome(state: State, return_state: bool) -> Any:
    return state if return_state else state.result()


# -- parameters as recorded ---------------------------------------------------------------
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


# -- stop requests ------------------------------------------------------------------------------
class _AsyncGuard:
    """While entered by a top-level async flow run: `interrupt_flow_run` cancels its asyncio task,
    and the CancelledError that unwinds its runs is recorded with the reason (the async twin of
    platform.signals.TerminationGuard)."""

    current: ClassVar[_AsyncGuard | None] = None

    def __init__(self, active: bool) -> None:
        self.active = active
        self.task: asyncio.Task[Any] | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.reason: tuple[str, bool] | None = None

    def __enter__(self) -> _AsyncGuard:
        task = asyncio.current_task() if self.active else None
        if task is not None and _AsyncGuard.current is None:  # else another run has it
            self.task, self.loop = task, asyncio.get_running_loop()
            _AsyncGuard.current = self
        return self

    def __exit__(self, *exc: object) -> None:
        if _AsyncGuard.current is self:
            _AsyncGuard.current = None

    def interrupt(self, message: str, cancelled: bool) -> None:
        assert self.loop is not None and self.task is not None
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
    guard = TerminationGuard.current
    if guard is None:
        return False
    guard.interrupt(message, cancelled=cancelled)
    return True
