"""Task runners (threads by default, processes on request), the futures they hand back, and how
futures and states in a run's inputs and return value are resolved."""

from __future__ import annotations

import concurrent.futures as cf
import contextvars
import multiprocessing
import os
import queue
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Generic, NamedTuple, Protocol, TypeVar, cast

from transom.core import states as st
from transom.core.annotations import allow_failure, quote, unmapped
from transom.core.states import State

__all__ = [
    "DoneAndNotDone",
    "DoneAndNotDoneFutures",
    "PrefectFuture",
    "PrefectFutureList",
    "ProcessPoolTaskRunner",
    "SubmittedRun",
    "TaskFuture",
    "TaskFutureList",
    "TaskRunner",
    "ThreadPoolTaskRunner",
    "UpstreamNotCompleted",
    "as_completed",
    "check_upstream",
    "resolve_inputs",
    "state_of_return",
    "upstream_ids",
    "wait",
]

R = TypeVar("R")


class TaskFuture(Generic[R]):
    """A task run that was submitted; resolves to its final State."""

    __slots__ = ("_future", "_run", "task_name", "task_run_id")

    def __init__(self, future: cf.Future[State], task_run_id: uuid.UUID, task_name: str,
                 run: object = None) -> None:
        self._future = future
        self.task_run_id = task_run_id
        self.task_name = task_name
        self._run = run  # the run itself, whose `state` is where it is now

    def wait(self, timeout: float | None = None) -> None:
        cf.wait([self._future], timeout=timeout)

    def done(self) -> bool:
        return self._future.done()

    @property
    def state(self) -> State:
        """The run's state now, without waiting (as Prefect's): its final state once it is
        done, else Pending or Running."""
        if self._future.done():
            return self._future.result()
        current = getattr(self._run, "state", None)
        return current if isinstance(current, State) else st.Pending()

    def final_state(self) -> State:
        """The run's final state (waits for it)."""
        return self._future.result()

    def result(self, timeout: float | None = None, raise_on_failure: bool = True) -> R:
        """The run's value (waits for it); raises its exception if it did not complete, or,
        with `raise_on_failure=False`, returns it."""
        state = self._future.result(timeout=timeout)
        return cast(R, state.result(raise_on_failure=raise_on_failure))

    def add_done_callback(self, fn: Callable[[TaskFuture[R]], None]) -> None:
        self._future.add_done_callback(lambda _f: fn(self))

    def __repr__(self) -> str:
        status = self._future.result().name if self._future.done() else "pending"
        return f"TaskFuture({self.task_name}, {status})"


class TaskFutureList(list[TaskFuture[R]]):
    """What `Task.map` returns: a list of futures (index it, iterate it) that can also be waited
    on and read as one."""

    def wait(self, timeout: float | None = None) -> None:
        """Wait until every run has finished, or `timeout` seconds have passed."""
        wait(self, timeout=timeout)

    def result(self, timeout: float | None = None, raise_on_failure: bool = True) -> list[R]:
        """The value of every run, in order; TimeoutError if they did not all finish in time."""
        _, not_done = wait(self, timeout=timeout)
        if not_done:
            raise TimeoutError(f"{len(not_done)} of {len(self)} task runs had not finished "
                               f"after {timeout:g}s")
        return [future.result(raise_on_failure=raise_on_failure) for future in self]


class DoneAndNotDone(NamedTuple):
    done: set[TaskFuture[Any]]
    not_done: set[TaskFuture[Any]]


# Prefect's names for the same things, so annotations in a renamed flow file hold.
PrefectFuture = TaskFuture
PrefectFutureList = TaskFutureList
DoneAndNotDoneFutures = DoneAndNotDone


def wait(futures: Iterable[TaskFuture[Any]], timeout: float | None = None) -> DoneAndNotDone:
    """Wait for futures to finish (all, or until `timeout`); returns (done, not_done)."""
    by_inner = {f._future: f for f in futures}
    done, not_done = cf.wait(by_inner, timeout=timeout)
    return DoneAndNotDone({by_inner[f] for f in done}, {by_inner[f] for f in not_done})


def as_completed(futures: Iterable[TaskFuture[Any]],
                 timeout: float | None = None) -> Iterator[TaskFuture[Any]]:
    """Yield futures as they finish."""
    by_inner = {f._future: f for f in futures}
    for inner in cf.as_completed(by_inner, timeout=timeout):
        yield by_inner[inner]


class SubmittedRun(Protocol):
    """What the engine hands a runner: one task run, runnable here or in another process."""

    def run_local(self) -> State: ...

    def run_remote(self, executor: cf.Executor) -> State: ...

    def cancelled(self) -> State: ...


class TaskRunner:
    """Runs submitted task runs concurrently. Each flow run gets its own (see `duplicate`)."""

    def submit(self, run: SubmittedRun) -> cf.Future[State]:
        raise NotImplementedError

    def shutdown(self, wait: bool = True) -> None:
        """Wait for (or, with wait=False, stop waiting for) every submitted run."""
        raise NotImplementedError

    def duplicate(self) -> TaskRunner:
        """A fresh runner with the same settings."""
        raise NotImplementedError


class DaemonThreadPool(cf.Executor):
    """A thread pool whose threads do not hold the process open.

    concurrent.futures joins its worker threads at exit, so a flow interrupted by Ctrl+C would
    wait there for every task still running. Here the interrupted runs are recorded Cancelled
    first and the process then exits at once. Threads start on demand, up to `max_workers`.
    """

    def __init__(self, max_workers: int, name: str = "transom-task") -> None:
        self._max_workers = max_workers
        self._name = name
        self._work: queue.SimpleQueue[tuple[cf.Future[Any], Callable[..., Any], tuple[Any, ...]] | None]
        self._work = queue.SimpleQueue()
        self._idle = threading.Semaphore(0)
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._shutdown = False

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future[Any]:
        if kwargs:
            raise TypeError("DaemonThreadPool.submit takes positional arguments only")
        future: cf.Future[Any] = cf.Future()
        with self._lock:
            if self._shutdown:
                raise RuntimeError("cannot submit to a task runner that has shut down")
            self._work.put((future, fn, args))
            if not self._idle.acquire(blocking=False) and len(self._threads) < self._max_workers:
                thread = threading.Thread(target=self._worker, daemon=True,
                                          name=f"{self._name}-{len(self._threads)}")
                self._threads.append(thread)
                thread.start()
        return future

    def _worker(self) -> None:
        while True:
            item = self._work.get()
            if item is None:
                return
            future, fn, args = item
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn(*args))
                except BaseException as exc:
                    future.set_exception(exc)
            del item, future  # do not keep the last result alive while idle
            self._idle.release()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            self._shutdown = True
            if cancel_futures:
                while True:
                    try:
                        item = self._work.get_nowait()
                    except queue.Empty:
                        break
                    if item is not None:
                        item[0].cancel()
            for _ in self._threads:
                self._work.put(None)
        if wait:
            for thread in self._threads:
                thread.join()


class ThreadPoolTaskRunner(TaskRunner):
    """Runs tasks in a pool of threads; the default. Context (the current run) follows each task."""

    def __init__(self, max_workers: int | None = None) -> None:
        if max_workers is not None and max_workers < 1:
            raise ValueError("max_workers must be at least 1")
        self.max_workers = max_workers
        self._pool: DaemonThreadPool | None = None
        self._lock = threading.Lock()

    def _threads(self) -> DaemonThreadPool:
        with self._lock:
            if self._pool is None:
                self._pool = DaemonThreadPool(self.max_workers or min(32, (os.cpu_count() or 1) + 4))
            return self._pool

    def submit(self, run: SubmittedRun) -> cf.Future[State]:
        ctx = contextvars.copy_context()
        return _guard(self._threads().submit(ctx.run, run.run_local), run)

    def shutdown(self, wait: bool = True) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=wait, cancel_futures=not wait)

    def duplicate(self) -> ThreadPoolTaskRunner:
        return type(self)(self.max_workers)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(max_workers={self.max_workers})"


class ProcessPoolTaskRunner(ThreadPoolTaskRunner):
    """Runs each task in a pool of worker processes (spawned, as on Windows, on every OS).

    A parent thread per run waits for its inputs and checks the cache; the task, its arguments and
    the run's identity are then cloudpickled to a worker process, which runs the attempts (retries,
    timeouts) and sends back the final state and the run's events for the parent to record.
    Arguments and results must pickle. Use it for CPU-bound tasks.
    """

    def __init__(self, max_workers: int | None = None) -> None:
        super().__init__(max_workers)
        self._processes: cf.ProcessPoolExecutor | None = None

    def _process_pool(self) -> cf.ProcessPoolExecutor:
        with self._lock:
            if self._processes is None:
                self._processes = cf.ProcessPoolExecutor(
                    self.max_workers or os.cpu_count() or 1,
                    mp_context=multiprocessing.get_context("spawn"),
                )
            return self._processes

    def submit(self, run: SubmittedRun) -> cf.Future[State]:
        processes = self._process_pool()
        ctx = contextvars.copy_context()
        return _guard(self._threads().submit(ctx.run, run.run_remote, processes), run)

    def shutdown(self, wait: bool = True) -> None:
        super().shutdown(wait)
        with self._lock:
            processes, self._processes = self._processes, None
        if processes is not None:
            processes.shutdown(wait=wait, cancel_futures=not wait)


def _guard(future: cf.Future[State], run: SubmittedRun) -> cf.Future[State]:
    """A future that resolves to the run's Cancelled state if the pool drops it unstarted."""
    outer: cf.Future[State] = cf.Future()

    def relay(inner: cf.Future[State]) -> None:
        if inner.cancelled():
            outer.set_result(run.cancelled())
        elif inner.exception() is not None:
            outer.set_exception(inner.exception())
        else:
            outer.set_result(inner.result())

    future.add_done_callback(relay)
    return outer


# -- futures and states in a run's inputs and return value ---------------------------------------
class UpstreamNotCompleted(Exception):
    """An upstream run that a run waits for did not complete: the run will not start."""


_PLAIN = (int, float, str, bool, bytes, type(None))
_DEPTH = 3  # how deep collections are searched for futures and states
_COLLECTIONS = (list, tuple, set, frozenset)


def _walk(value: Any, found: list[uuid.UUID], depth: int = 0) -> None:
    if isinstance(value, _PLAIN) or depth > _DEPTH or isinstance(value, quote):
        return
    if isinstance(value, TaskFuture):
        found.append(value.task_run_id)
    elif isinstance(value, allow_failure):
        _walk(value.value, found, depth)
    elif isinstance(value, _COLLECTIONS):
        for item in value:
            _walk(item, found, depth + 1)
    elif isinstance(value, dict):
        for item in value.values():
            _walk(item, found, depth + 1)


def upstream_ids(args: tuple[Any, ...], kwargs: dict[str, Any],
                 wait_for: Iterable[Any] | None = None) -> list[uuid.UUID]:
    """The task runs whose futures are in the arguments (or in `wait_for`), in order."""
    found: list[uuid.UUID] = []
    for value in args:
        _walk(value, found)
    for value in kwargs.values():
        _walk(value, found)
    if wait_for:
        for value in wait_for:
            _walk(value, found)
    return found


def _final(value: TaskFuture[Any] | State[Any]) -> tuple[State[Any], str]:
    if isinstance(value, TaskFuture):
        return value.final_state(), f"upstream task run {value.task_name!r}"
    return value, "an upstream state"


def _settled(value: TaskFuture[Any] | State[Any], allowed: bool) -> State[Any]:
    """The final state of an upstream, if the run may go on with it (UpstreamNotCompleted if not:
    it did not complete, and it did not fail where `allow_failure` lets a failure through)."""
    state, who = _final(value)
    if state.is_completed() or (allowed and state.is_failed()):
        return state
    detail = f": {state.message}" if state.message else ""
    raise UpstreamNotCompleted(f"{who} ended {state.name}{detail}")


def _resolve(value: Any, depth: int = 0, allowed: bool = False) -> Any:
    if isinstance(value, _PLAIN) or depth > _DEPTH:
        return value
    if isinstance(value, TaskFuture | State):
        return _settled(value, allowed).result(raise_on_failure=False)
    if isinstance(value, quote):
        return value.value
    if isinstance(value, allow_failure):
        return _resolve(value.value, depth, allowed=True)
    if isinstance(value, unmapped):  # outside `.map()` (in a call or `.submit()`): the value
        return _resolve(value.value, depth, allowed)
    if isinstance(value, _COLLECTIONS):
        items = [_resolve(v, depth + 1, allowed) for v in value]
        return items if type(value) is list else type(value)(items)
    if type(value) is dict:
        return {k: _resolve(v, depth + 1, allowed) for k, v in value.items()}
    return value


def resolve_inputs(args: tuple[Any, ...], kwargs: dict[str, Any]
                   ) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The arguments with each future or state replaced by its value (waiting for it) and each
    annotation taken off; UpstreamNotCompleted if one did not complete."""
    if all(isinstance(a, _PLAIN) for a in args) and all(
            isinstance(v, _PLAIN) for v in kwargs.values()):
        return args, kwargs
    return tuple(_resolve(a) for a in args), {k: _resolve(v) for k, v in kwargs.items()}


def check_upstream(wait_for: Iterable[Any]) -> None:
    """Wait for every future in `wait_for`; UpstreamNotCompleted if one (or a state given there)
    did not complete (failed is fine for one wrapped in `allow_failure`)."""
    for item in wait_for:
        allowed = isinstance(item, allow_failure)
        inner = item.value if allowed else item
        for value in inner if isinstance(inner, _COLLECTIONS) else (inner,):
            if isinstance(value, TaskFuture | State):
                _settled(value, allowed)


def state_of_return(value: Any) -> State[Any] | None:
    """The final state a run's return value asks for, or None for a plain value.

    A State made by the function (it belongs to no run yet) is the run's final state as it is.
    Futures or states of other runs (one, or a list, tuple or set of them) decide it by their
    outcomes: Completed with their values if all completed, else Failed, saying how many did not;
    its result() raises the first failure's exception.
    """
    if isinstance(value, _PLAIN):
        return None
    if isinstance(value, State):
        if value.run_id is None:
            return value.copy(timestamp=st.now_utc())
        return _aggregate([value], lambda values: values[0])
    if isinstance(value, TaskFuture):
        return _aggregate([value.final_state()], lambda values: values[0])
    if (isinstance(value, _COLLECTIONS) and value
            and all(isinstance(v, State | TaskFuture) for v in value)):
        states = [v.final_state() if isinstance(v, TaskFuture) else v for v in value]
        shape: Callable[[list[Any]], Any] = tuple if isinstance(value, tuple) else list
        return _aggregate(states, shape)
    return None


def _aggregate(states: list[State[Any]], shape: Callable[[list[Any]], Any]) -> State[Any]:
    total = len(states)
    unfinished = [s for s in states if not s.is_completed()]
    if not unfinished:
        return st.Completed(shape([s.data for s in states]), message="All states completed.")
    failed = [s for s in unfinished if s.is_failed() or s.is_crashed()]
    first = failed[0] if failed else unfinished[0]
    parts = [f"{len(failed)}/{total} states failed"] if failed else []
    if len(unfinished) > len(failed):
        parts.append(f"{len(unfinished) - len(failed)}/{total} did not complete")
    message = "; ".join(parts) + (f" (first: {first.message})" if first.message else "")
    return State(st.StateType.FAILED, "Failed", message=message, error=first.error,
                 exception=first.exception)
