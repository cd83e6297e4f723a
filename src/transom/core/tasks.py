"""Task + @task: the definition of a unit of work. Running it is the engine's job."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Coroutine, Iterable, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Generic, Literal, ParamSpec, TypeVar, overload

from transom.core.annotations import BaseAnnotation, allow_failure, quote, unmapped
from transom.core.cache_policies import DEFAULT, NO_CACHE, CacheKeyFnPolicy, CachePolicy
from transom.core.hooks import TASK_HOOKS, Hook, HookTable, hook_list, hook_table
from transom.core.naming import RunNameSpec, check_run_name_spec
from transom.core.policies import RetryDelay, source_hash
from transom.core.tags import check_tags

if TYPE_CHECKING:
    from transom.core.context import TaskRunContext
    from transom.core.runners import TaskFuture, TaskFutureList
    from transom.core.states import State

__all__ = ["Task", "task", "unmapped"]  # unmapped lives in core/annotations.py; kept here too

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")

CacheKeyFn = Callable[["TaskRunContext", dict[str, Any]], "str | None"]
RetryConditionFn = Callable[["Task[..., Any]", "TaskRunContext", "State"], bool]

_logger = logging.getLogger("transom.tasks")


class Task(Generic[P, R]):
    """A function whose calls are task runs: retried, timed out, cached and recorded."""

    def __init__(
        self,
        fn: Callable[P, R],
        name: str | None = None,
        *,
        description: str | None = None,
        tags: Iterable[str] | None = None,
        retries: int = 0,
        retry_delay_seconds: RetryDelay | None = None,
        retry_jitter_factor: float | None = None,
        retry_condition_fn: RetryConditionFn | None = None,
        timeout_seconds: float | None = None,
        cache_key_fn: CacheKeyFn | None = None,
        cache_policy: CachePolicy | None = None,
        cache_expiration: timedelta | None = None,
        refresh_cache: bool | None = False,
        cache_result_in_memory: bool = True,
        persist_result: bool | None = None,
        result_storage: str | None = None,
        result_storage_key: str | None = None,
        result_serializer: str | None = None,
        version: str | None = None,
        log_prints: bool | None = None,
        task_run_name: RunNameSpec | None = None,
        on_completion: Iterable[Hook] | None = None,
        on_failure: Iterable[Hook] | None = None,
        on_running: Iterable[Hook] | None = None,
        on_commit: Iterable[Hook] | None = None,
        on_rollback: Iterable[Hook] | None = None,
    ) -> None:
        if not callable(fn):
            raise TypeError(f"@task needs a function, got {type(fn).__name__}")
        if retries < 0:
            raise ValueError("retries must be zero or more")
        if timeout_seconds is not None and timeout_seconds <= 0:
            raise ValueError("timeout_seconds must be more than zero")
        if retry_jitter_factor is not None and retry_jitter_factor < 0:
            raise ValueError("retry_jitter_factor must be zero or more")
        if result_serializer not in (None, "pickle", "json"):
            raise ValueError("result_serializer must be 'pickle' or 'json'")
        if cache_policy is not None and not isinstance(cache_policy, CachePolicy):
            raise TypeError("cache_policy takes a policy of transom.cache_policies (INPUTS, "
                            f"TASK_SOURCE, ...), got {type(cache_policy).__name__}")
        if result_storage_key is not None and not isinstance(result_storage_key, str):
            raise TypeError("result_storage_key takes a string template such as 'report-{day}'")
        check_run_name_spec(task_run_name, "task_run_name")
        self.fn = fn
        self.name: str = str(name or getattr(fn, "__name__", type(fn).__name__))
        self.description = description or inspect.getdoc(fn)
        self.tags = check_tags(tags or (), f"task {self.name!r}: tags")
        self.retries = retries
        self.retry_delay_seconds = retry_delay_seconds
        self.retry_jitter_factor = retry_jitter_factor
        self.retry_condition_fn = retry_condition_fn
        self.timeout_seconds = timeout_seconds
        self.cache_key_fn = cache_key_fn
        self.cache_policy = cache_policy
        self.cache_expiration = cache_expiration
        self.refresh_cache = bool(refresh_cache)
        self.cache_result_in_memory = cache_result_in_memory
        self.persist_result = persist_result
        self.result_storage = result_storage
        self.result_storage_key = result_storage_key
        self.result_serializer = result_serializer
        self.version = version
        self.key_policy, self.caches = self._resolve_cache_policy()
        self.log_prints = log_prints
        self.task_run_name = task_run_name
        self.on_completion_hooks = hook_list("on_completion", on_completion)
        self.on_failure_hooks = hook_list("on_failure", on_failure)
        self.on_running_hooks = hook_list("on_running", on_running)
        self.on_commit_hooks = hook_list("on_commit", on_commit)
        self.on_rollback_hooks = hook_list("on_rollback", on_rollback)
        self.state_hooks: HookTable | None = None
        self._refresh_hooks()
        self.is_async = inspect.iscoroutinefunction(fn)
        self.task_key = f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', self.name)}"
        self._source_hash: str | None = None
        self._signature: inspect.Signature | None = None
        self.__doc__ = getattr(fn, "__doc__", None)
        self.__name__ = self.name
        self.__wrapped__ = fn

    def _resolve_cache_policy(self) -> tuple[CachePolicy | None, bool]:
        """The policy a run's cache key comes from (None: never cached), and whether the task
        caches whatever the process-wide persistence setting is (an explicit choice); the
        default policy, DEFAULT, applies only to tasks whose results are persisted."""
        policy = self.cache_policy
        if self.cache_key_fn is not None:
            if policy is not None:
                _logger.warning("task %r has both cache_policy and cache_key_fn; cache_key_fn "
                                "is used", self.name)
            policy = CacheKeyFnPolicy(cache_key_fn=self.cache_key_fn)
        if self.persist_result is False:
            return None, False
        if policy is None:
            return DEFAULT, self.persist_result is True or self.result_storage_key is not None
        if policy is NO_CACHE:
            return None, self.result_storage_key is not None
        return policy, True

    @property
    def source_hash(self) -> str:
        if self._source_hash is None:
            self._source_hash = source_hash(self.fn)
        return self._source_hash

    @property
    def signature(self) -> inspect.Signature:
        if self._signature is None:
            self._signature = inspect.signature(self.fn)
        return self._signature

    def bind(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """The call's arguments by parameter name, defaults filled in."""
        bound = self.signature.bind(*args, **kwargs)
        bound.apply_defaults()
        return dict(bound.arguments)

    # -- state change hooks: `@my_task.on_failure` over `def hook(task, task_run, state)` -------
    def on_completion(self, fn: Hook) -> Hook:
        """Add a hook called when a run of this task completes."""
        return self._add_hook("on_completion", self.on_completion_hooks, fn)

    def on_failure(self, fn: Hook) -> Hook:
        """Add a hook called when a run of this task fails for good (after its retries)."""
        return self._add_hook("on_failure", self.on_failure_hooks, fn)

    def on_running(self, fn: Hook) -> Hook:
        """Add a hook called when a run of this task starts an attempt, before the function."""
        return self._add_hook("on_running", self.on_running_hooks, fn)

    # -- transaction hooks: `@my_task.on_rollback` over `def undo(txn)` ----------------------
    def on_commit(self, fn: Hook) -> Hook:
        """Add a hook called with the run's transaction when it commits (after the result is
        written: at once outside a transaction, when the transaction commits inside one)."""
        self.on_commit_hooks.extend(hook_list("on_commit", [fn]))
        return fn

    def on_rollback(self, fn: Hook) -> Hook:
        """Add a hook called with the run's transaction when the transaction a completed run of
        this task is in rolls back."""
        self.on_rollback_hooks.extend(hook_list("on_rollback", [fn]))
        return fn

    def _add_hook(self, option: str, hooks: list[Hook], fn: Hook) -> Hook:
        hooks.extend(hook_list(option, [fn]))
        self._refresh_hooks()
        return fn

    def _refresh_hooks(self) -> None:
        self.state_hooks = hook_table({
            "on_completion": self.on_completion_hooks, "on_failure": self.on_failure_hooks,
            "on_running": self.on_running_hooks}, TASK_HOOKS)

    def with_options(self, **changes: Any) -> Task[P, R]:
        """A copy of this task with some options changed."""
        options: dict[str, Any] = {
            "name": self.name, "description": self.description, "tags": self.tags,
            "retries": self.retries, "retry_delay_seconds": self.retry_delay_seconds,
            "retry_jitter_factor": self.retry_jitter_factor,
            "retry_condition_fn": self.retry_condition_fn, "timeout_seconds": self.timeout_seconds,
            "cache_key_fn": self.cache_key_fn, "cache_policy": self.cache_policy,
            "cache_expiration": self.cache_expiration, "refresh_cache": self.refresh_cache,
            "cache_result_in_memory": self.cache_result_in_memory,
            "persist_result": self.persist_result, "result_storage": self.result_storage,
            "result_storage_key": self.result_storage_key,
            "result_serializer": self.result_serializer, "version": self.version,
            "log_prints": self.log_prints, "task_run_name": self.task_run_name,
            "on_completion": list(self.on_completion_hooks),
            "on_failure": list(self.on_failure_hooks), "on_running": list(self.on_running_hooks),
            "on_commit": list(self.on_commit_hooks), "on_rollback": list(self.on_rollback_hooks),
        }
        unknown = set(changes) - set(options)
        if unknown:
            raise TypeError(f"unknown task option(s): {', '.join(sorted(unknown))}")
        options.update(changes)
        return Task(self.fn, **options)

    # -- running: all of it is in the engine ---------------------------------------------------
    # Typed as Flow.__call__ is (see there); `wait_for=` has overloads of its own for the same
    # reason as `return_state=`.
    @overload
    def __call__(self: Task[P, Coroutine[Any, Any, T]], *args: Any,
                 return_state: Literal[True], **kwargs: Any) -> Coroutine[Any, Any, State]: ...

    @overload
    def __call__(self, *args: Any, return_state: Literal[True], **kwargs: Any) -> State: ...

    @overload
    def __call__(self: Task[P, Coroutine[Any, Any, T]], *args: Any, return_state: bool,
                 **kwargs: Any) -> Coroutine[Any, Any, T | State]: ...

    @overload
    def __call__(self, *args: Any, return_state: bool, **kwargs: Any) -> R | State: ...

    @overload
    def __call__(self, *args: Any, wait_for: Iterable[Any] | None,
                 return_state: Literal[False] = False, **kwargs: Any) -> R: ...

    @overload
    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R: ...

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the task now and return its result (`return_state=True`: its final State).
        `wait_for=[...]`: futures or states to wait for first, which must have completed."""
        from transom.core import engine

        if not kwargs:  # the usual call: no options to take out
            if self.is_async:
                return engine.run_task_async(self, args, kwargs)
            return engine.run_task(self, args, kwargs)
        return_state = bool(kwargs.pop("return_state", False))
        wait_for = kwargs.pop("wait_for", None)
        if self.is_async:
            return engine.run_task_async(self, args, kwargs, return_state=return_state,
                                         wait_for=wait_for)
        return engine.run_task(self, args, kwargs, return_state=return_state, wait_for=wait_for)

    # A future resolves to the function's result; for an async function that is the value its
    # coroutine returns, not the coroutine. (mypy sees that a function taking a `return_state`
    # parameter of its own would match both kinds of overload; no task function does.)
    @overload
    def submit(self, *args: Any, return_state: Literal[True],  # type: ignore[overload-overlap]
               **kwargs: Any) -> State: ...

    @overload
    def submit(self: Task[P, Coroutine[Any, Any, T]],  # type: ignore[overload-overlap]
               *args: Any, return_state: bool, **kwargs: Any) -> TaskFuture[T] | State: ...

    @overload
    def submit(self, *args: Any, return_state: bool,  # type: ignore[overload-overlap]
               **kwargs: Any) -> TaskFuture[R] | State: ...

    @overload
    def submit(self: Task[P, Coroutine[Any, Any, T]], *args: Any, wait_for: Iterable[Any] | None,
               return_state: Literal[False] = False, **kwargs: Any) -> TaskFuture[T]: ...

    @overload
    def submit(self, *args: Any, wait_for: Iterable[Any] | None,
               return_state: Literal[False] = False, **kwargs: Any) -> TaskFuture[R]: ...

    @overload
    def submit(self: Task[P, Coroutine[Any, Any, T]], *args: P.args,
               **kwargs: P.kwargs) -> TaskFuture[T]: ...

    @overload
    def submit(self, *args: P.args, **kwargs: P.kwargs) -> TaskFuture[R]: ...

    def submit(self, *args: Any, **kwargs: Any) -> TaskFuture[Any] | State:
        """Run concurrently on the flow's task runner; returns a future of the result
        (`return_state=True`: waits, and returns the run's final State, as Prefect does).
        `wait_for=[...]`: futures or states the run waits for before it starts."""
        from transom.core import engine

        return_state = bool(kwargs.pop("return_state", False))
        wait_for = kwargs.pop("wait_for", None)
        future = engine.submit_task(self, args, kwargs, wait_for=wait_for)
        return future.final_state() if return_state else future

    # `map` takes iterables of the parameters (or `unmapped(...)`), which a ParamSpec cannot
    # express: its arguments are not checked, its futures are typed.
    @overload
    def map(self, *args: Any, return_state: Literal[True], **kwargs: Any) -> list[State]: ...

    @overload
    def map(self: Task[P, Coroutine[Any, Any, T]], *args: Any,
            **kwargs: Any) -> TaskFutureList[T]: ...

    @overload
    def map(self, *args: Any, **kwargs: Any) -> TaskFutureList[R]: ...

    def map(self, *args: Any, **kwargs: Any) -> TaskFutureList[Any] | list[State]:
        """Submit one run per element of the iterable arguments (`unmapped(x)` is passed whole);
        returns their futures (`return_state=True`: waits, and returns their final States).
        `wait_for=[...]` applies to every run."""
        from transom.core import engine
        from transom.core.runners import TaskFutureList

        return_state = bool(kwargs.pop("return_state", False))
        wait_for = kwargs.pop("wait_for", None)
        calls = expand_map_arguments(self.name, args, kwargs)
        futures: TaskFutureList[Any] = TaskFutureList(
            engine.submit_task(self, a, k, wait_for=wait_for) for a, k in calls)
        return [future.final_state() for future in futures] if return_state else futures

    def __get__(self, instance: Any, owner: Any) -> Any:
        # Decorated methods: bind the instance like a plain function would.
        if instance is None:
            return self
        return Task._bound(self, instance)

    @staticmethod
    def _bound(task_obj: Task[..., Any], instance: Any) -> Task[..., Any]:
        import functools

        bound = task_obj.with_options()
        bound.fn = functools.partial(task_obj.fn, instance)
        bound.is_async = task_obj.is_async
        bound._signature = inspect.signature(bound.fn)
        return bound

    def __repr__(self) -> str:
        return f"Task({self.name!r})"


def _is_mappable(value: Any) -> bool:
    return isinstance(value, Iterable) and not isinstance(value, str | bytes | bytearray | Mapping)


class _Argument:
    """One argument of `map`: the values it takes call by call, or one value for every call.
    `allow_failure(...)` and `quote(...)` are looked through and put back on each element."""

    __slots__ = ("annotation", "items", "value")

    def __init__(self, value: Any) -> None:
        self.annotation: BaseAnnotation[Any] | None = None
        if isinstance(value, allow_failure | quote):
            self.annotation, value = value, value.value
        self.items: list[Any] | None = None
        if isinstance(value, unmapped):
            value = value.value
        elif _is_mappable(value):
            self.items = list(value)
        self.value = value

    def at(self, i: int) -> Any:
        value = self.value if self.items is None else self.items[i]
        return value if self.annotation is None else self.annotation.rewrap(value)


def expand_map_arguments(name: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]
                         ) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
    """Turn `map` arguments into one (args, kwargs) per call; mapped iterables must match in length."""
    positional = [_Argument(a) for a in args]
    keyword = {k: _Argument(v) for k, v in kwargs.items()}
    lengths = {len(a.items) for a in (*positional, *keyword.values()) if a.items is not None}
    if not lengths:
        raise TypeError(f"{name}.map() needs at least one iterable argument to map over")
    if len(lengths) > 1:
        raise ValueError(f"{name}.map() got iterables of different lengths: {sorted(lengths)}")
    (count,) = lengths
    return [(tuple(a.at(i) for a in positional), {k: a.at(i) for k, a in keyword.items()})
            for i in range(count)]


@overload
def task(fn: Callable[P, R], /) -> Task[P, R]: ...


@overload
def task(fn: None = None, /, **options: Any) -> Callable[[Callable[P, R]], Task[P, R]]: ...


def task(fn: Callable[P, R] | None = None, /, **options: Any) -> Any:
    """Make a function a task: `@task` or `@task(retries=3, timeout_seconds=10, ...)`."""
    if fn is not None:
        return Task(fn, **options)

    def decorate(f: Callable[P, R]) -> Task[P, R]:
        return Task(f, **options)

    return decorate
