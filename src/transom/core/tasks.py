"""Task + @task: the definition of a unit of work. Running it is the engine's job."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Generic, Literal, ParamSpec, TypeVar, overload

from transom.core.policies import RetryDelay, source_hash

if TYPE_CHECKING:
    from transom.core.context import TaskRunContext
    from transom.core.runners import TaskFuture
    from transom.core.states import State

__all__ = ["Task", "task", "unmapped"]

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")

CacheKeyFn = Callable[["TaskRunContext", dict[str, Any]], "str | None"]
RetryConditionFn = Callable[["Task[..., Any]", "TaskRunContext", "State"], bool]


@dataclass(frozen=True, slots=True)
class unmapped:
    """Wrap an argument of `Task.map` to pass it whole to every call instead of mapping over it."""

    value: Any


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
        cache_expiration: timedelta | None = None,
        refresh_cache: bool = False,
        persist_result: bool | None = None,
        result_storage: str | None = None,
        result_serializer: str | None = None,
        log_prints: bool | None = None,
        task_run_name: str | None = None,
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
        self.fn = fn
        self.name: str = name or str(getattr(fn, "__name__", type(fn).__name__))
        self.description = description or inspect.getdoc(fn)
        self.tags = list(tags or ())
        self.retries = retries
        self.retry_delay_seconds = retry_delay_seconds
        self.retry_jitter_factor = retry_jitter_factor
        self.retry_condition_fn = retry_condition_fn
        self.timeout_seconds = timeout_seconds
        self.cache_key_fn = cache_key_fn
        self.cache_expiration = cache_expiration
        self.refresh_cache = refresh_cache
        self.persist_result = persist_result
        self.result_storage = result_storage
        self.result_serializer = result_serializer
        self.log_prints = log_prints
        self.task_run_name = task_run_name
        self.is_async = inspect.iscoroutinefunction(fn)
        self.task_key = f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', self.name)}"
        self._source_hash: str | None = None
        self._signature: inspect.Signature | None = None
        self.__doc__ = getattr(fn, "__doc__", None)
        self.__name__ = self.name
        self.__wrapped__ = fn

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

    def with_options(self, **changes: Any) -> Task[P, R]:
        """A copy of this task with some options changed."""
        options: dict[str, Any] = {
            "name": self.name, "description": self.description, "tags": self.tags,
            "retries": self.retries, "retry_delay_seconds": self.retry_delay_seconds,
            "retry_jitter_factor": self.retry_jitter_factor,
            "retry_condition_fn": self.retry_condition_fn, "timeout_seconds": self.timeout_seconds,
            "cache_key_fn": self.cache_key_fn, "cache_expiration": self.cache_expiration,
            "refresh_cache": self.refresh_cache, "persist_result": self.persist_result,
            "result_storage": self.result_storage, "result_serializer": self.result_serializer,
            "log_prints": self.log_prints, "task_run_name": self.task_run_name,
        }
        unknown = set(changes) - set(options)
        if unknown:
            raise TypeError(f"unknown task option(s): {', '.join(sorted(unknown))}")
        options.update(changes)
        return Task(self.fn, **options)

    # -- running: all of it is in the engine ---------------------------------------------------
    # Typed as Flow.__call__ is (see there).
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
    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R: ...

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from transom.core import engine

        return_state = bool(kwargs.pop("return_state", False))
        if self.is_async:
            return engine.run_task_async(self, args, kwargs, return_state=return_state)
        return engine.run_task(self, args, kwargs, return_state=return_state)

    # A future resolves to the function's result; for an async function that is the value its
    # coroutine returns, not the coroutine.
    @overload
    def submit(self: Task[P, Coroutine[Any, Any, T]], *args: P.args,
               **kwargs: P.kwargs) -> TaskFuture[T]: ...

    @overload
    def submit(self, *args: P.args, **kwargs: P.kwargs) -> TaskFuture[R]: ...

    def submit(self, *args: Any, **kwargs: Any) -> TaskFuture[Any]:
        """Run concurrently on the flow's task runner; returns a future of the result."""
        from transom.core import engine

        return engine.submit_task(self, args, kwargs)

    # `map` takes iterables of the parameters (or `unmapped(...)`), which a ParamSpec cannot
    # express: its arguments are not checked, its futures are typed.
    @overload
    def map(self: Task[P, Coroutine[Any, Any, T]], *args: Any,
            **kwargs: Any) -> list[TaskFuture[T]]: ...

    @overload
    def map(self, *args: Any, **kwargs: Any) -> list[TaskFuture[R]]: ...

    def map(self, *args: Any, **kwargs: Any) -> list[TaskFuture[Any]]:
        """Submit one run per element of the iterable arguments (`unmapped(x)` is passed whole)."""
        from transom.core import engine

        calls = expand_map_arguments(self.name, args, kwargs)
        return [engine.submit_task(self, a, k) for a, k in calls]

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


def expand_map_arguments(name: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]
                         ) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
    """Turn `map` arguments into one (args, kwargs) per call; mapped iterables must match in length."""
    arg_lists: list[list[Any] | None] = []
    lengths: set[int] = set()
    for value in args:
        if _is_mappable(value):
            items = list(value)
            lengths.add(len(items))
            arg_lists.append(items)
        else:
            arg_lists.append(None)
    kw_lists: dict[str, list[Any] | None] = {}
    for key, value in kwargs.items():
        if _is_mappable(value):
            items = list(value)
            lengths.add(len(items))
            kw_lists[key] = items
        else:
            kw_lists[key] = None
    if not lengths:
        raise TypeError(f"{name}.map() needs at least one iterable argument to map over")
    if len(lengths) > 1:
        raise ValueError(f"{name}.map() got iterables of different lengths: {sorted(lengths)}")
    (count,) = lengths

    def static(v: Any) -> Any:
        return v.value if isinstance(v, unmapped) else v

    calls = []
    for i in range(count):
        call_args = tuple(static(a) if lst is None else lst[i] for a, lst in zip(args, arg_lists, strict=True))
        call_kwargs = {k: static(kwargs[k]) if lst is None else lst[i] for k, lst in kw_lists.items()}
        calls.append((call_args, call_kwargs))
    return calls


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
