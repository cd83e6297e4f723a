"""The current flow run and task run (contextvars), and the process-wide Runtime.

The Runtime is what the engine needs from outside `core/`: a Recorder and result stores. It is
built lazily, once per process, by a factory that `transom/runtime.py` registers from settings;
tests and embedders can swap it with `use_runtime(...)`.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from transom.core.recorder import Recorder

if TYPE_CHECKING:
    from transom.core.flows import Flow
    from transom.core.runners import TaskRunner
    from transom.core.tasks import Task

__all__ = [
    "FlowRunContext",
    "ResultStore",
    "Runtime",
    "StoredResult",
    "TaskRunContext",
    "TaskSlots",
    "current_flow_run",
    "current_task_run",
    "get_runtime",
    "in_event_loop",
    "set_runtime_factory",
    "use_runtime",
]


@dataclass(frozen=True, slots=True)
class StoredResult:
    """A value read back from result storage (a persisted result or a cache hit)."""

    key: str
    value: Any
    created: datetime
    expiration: datetime | None = None


class ResultStore(Protocol):
    """Persists results by key; the cache is results stored under their cache key."""

    location: str

    def read(self, key: str, *, now: datetime | None = None) -> StoredResult | None:
        """The stored value, or None if it is missing or expired."""
        ...

    def write(self, key: str, value: Any, *, serializer: str | None = None,
              expiration: datetime | None = None) -> str:
        """Store `value`; returns where it went. Raises SerializationError if it cannot."""
        ...


class TaskSlots(Protocol):
    """The concurrency slots a task run holds while it runs (its tags' limits)."""

    def acquire(self) -> None:
        """Wait until the slots are this run's (saying what it waits for in the run's log)."""
        ...

    def release(self) -> None: ...


class Runtime(Protocol):
    """What the engine needs from outside core/: where events go and where results are kept."""

    @property
    def recorder(self) -> Recorder: ...

    @property
    def default_serializer(self) -> str: ...

    @property
    def task_runner_workers(self) -> int | None: ...

    @property
    def log_level(self) -> int: ...

    @property
    def persist_results(self) -> bool: ...

    @property
    def flush_timeout(self) -> float:
        """How long the end of a top-level run waits for its events to be written."""
        ...

    def result_store(self, location: str | None = None) -> ResultStore: ...

    def task_slots(self, tags: list[str], say: Callable[[str], None]) -> TaskSlots | None:
        """What a task run with `tags` takes before its attempts and gives back after them
        (None: no tag limits here); `say` writes a line in the run's log."""
        ...


_factory: Callable[[], Runtime] | None = None
_runtime: Runtime | None = None
_lock = threading.Lock()
_override: ContextVar[Runtime | None] = ContextVar("transom_runtime", default=None)


def set_runtime_factory(factory: Callable[[], Runtime]) -> None:
    global _factory
    _factory = factory


def get_runtime() -> Runtime:
    override = _override.get()
    if override is not None:
        return override
    global _runtime
    if _runtime is None:
        with _lock:
            if _runtime is None:
                if _factory is None:
                    raise RuntimeError("no Transom runtime configured; import transom first")
                _runtime = _factory()
    return _runtime


def reset_runtime() -> None:
    """Forget the process-wide runtime (its recorder is flushed and closed)."""
    global _runtime
    with _lock:
        if _runtime is not None:
            _runtime.recorder.close()
        _runtime = None


@contextmanager
def use_runtime(runtime: Runtime) -> Iterator[Runtime]:
    token = _override.set(runtime)
    try:
        yield runtime
    finally:
        _override.reset(token)


@dataclass(slots=True)
class FlowRunContext:
    flow: Flow[..., Any]
    flow_run_id: uuid.UUID
    name: str
    parameters: dict[str, Any]
    task_runner: TaskRunner
    runtime: Runtime
    log_prints: bool = False
    run_count: int = 1
    parent_task_run_id: uuid.UUID | None = None
    tags: list[str] = field(default_factory=list)  # the run's: the flow's and those in effect
    # Task runs of this flow run that have not reached a final state (for an interrupt to end).
    active_tasks: set[Any] = field(default_factory=set)
    _dynamic_keys: dict[str, int] = field(default_factory=dict)
    _key_lock: threading.Lock = field(default_factory=threading.Lock)

    def next_dynamic_key(self, task_key: str) -> int:
        with self._key_lock:
            n = self._dynamic_keys.get(task_key, 0)
            self._dynamic_keys[task_key] = n + 1
            return n


@dataclass(slots=True)
class TaskRunContext:
    task: Task[..., Any]
    task_run_id: uuid.UUID
    flow_run_id: uuid.UUID | None
    name: str
    bound: dict[str, Any] | None  # the parameters, once bound (see `parameters`)
    run_count: int = 1
    log_prints: bool = False
    tags: list[str] = field(default_factory=list)  # the run's: the task's and those in effect
    call: tuple[tuple[Any, ...], dict[str, Any]] | None = None  # the call's (args, kwargs)

    @property
    def parameters(self) -> dict[str, Any]:
        """The call's arguments by parameter name, bound when first asked for: most task runs
        never read them, and binding costs more than the rest of a trivial task run."""
        if self.bound is None:
            try:
                self.bound = self.task.bind(*self.call) if self.call is not None else {}
            except TypeError:  # the call does not fit the function; the call itself says so
                self.bound = {}
        return self.bound

    @parameters.setter
    def parameters(self, value: dict[str, Any]) -> None:
        self.bound = value


flow_run_var: ContextVar[FlowRunContext | None] = ContextVar("transom_flow_run", default=None)
task_run_var: ContextVar[TaskRunContext | None] = ContextVar("transom_task_run", default=None)


def current_flow_run() -> FlowRunContext | None:
    return flow_run_var.get()


def current_task_run() -> TaskRunContext | None:
    return task_run_var.get()


def in_event_loop() -> bool:
    """Whether this thread is running an asyncio event loop (code called from `async def`):
    where Prefect's dual sync/async functions return an awaitable instead of a result."""
    import asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
