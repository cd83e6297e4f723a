"""Flow + @flow: the definition of a workflow and its parameters. Running it is the engine's job."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Generic, Literal, ParamSpec, Protocol, TypeVar, overload

from transom.core.hooks import FLOW_HOOKS, Hook, HookTable, hook_list, hook_table
from transom.core.naming import RunNameSpec, check_run_name_spec
from transom.core.policies import RetryDelay
from transom.core.runners import TaskRunner
from transom.core.tags import check_tags
from transom.exceptions import ParameterError

if TYPE_CHECKING:
    from os import PathLike

    from transom.core.states import State

__all__ = ["Deployer", "Flow", "flow", "set_deployer"]

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")


class Deployer(Protocol):
    """What `Flow.deploy`, `.serve`, `.to_deployment` and `.from_source` hand over to:
    deployments live outside core/, which never imports them; `import transom` registers the
    real one with `set_deployer`."""

    def deploy(self, flow: Flow[..., Any], name: str, **options: Any) -> Any: ...

    def serve(self, flow: Flow[..., Any], name: str | None, **options: Any) -> None: ...

    def to_deployment(self, flow: Flow[..., Any], name: str, **options: Any) -> Any: ...

    def from_source(self, source: str | PathLike[str], entrypoint: str) -> Flow[..., Any]: ...


_deployer: Deployer | None = None


def set_deployer(deployer: Deployer) -> None:
    global _deployer
    _deployer = deployer


def _get_deployer() -> Deployer:
    if _deployer is None:
        raise RuntimeError("no Transom deployer configured; import transom first")
    return _deployer


class Flow(Generic[P, R]):
    """A function whose calls are flow runs: validated parameters, retries, timeouts, recorded."""

    def __init__(
        self,
        fn: Callable[P, R],
        name: str | None = None,
        *,
        description: str | None = None,
        version: str | None = None,
        retries: int = 0,
        retry_delay_seconds: RetryDelay | None = None,
        timeout_seconds: float | None = None,
        task_runner: TaskRunner | None = None,
        log_prints: bool | None = None,
        persist_result: bool | None = None,
        result_storage: str | None = None,
        result_serializer: str | None = None,
        validate_parameters: bool = True,
        flow_run_name: RunNameSpec | None = None,
        tags: Iterable[str] | None = None,
        on_completion: Iterable[Hook] | None = None,
        on_failure: Iterable[Hook] | None = None,
        on_crashed: Iterable[Hook] | None = None,
        on_cancellation: Iterable[Hook] | None = None,
        on_running: Iterable[Hook] | None = None,
    ) -> None:
        if not callable(fn):
            raise TypeError(f"@flow needs a function, got {type(fn).__name__}")
        if retries < 0:
            raise ValueError("retries must be zero or more")
        if timeout_seconds is not None and timeout_seconds <= 0:
            raise ValueError("timeout_seconds must be more than zero")
        if task_runner is not None and not isinstance(task_runner, TaskRunner):
            raise TypeError("task_runner must be a TaskRunner such as ThreadPoolTaskRunner()")
        if result_serializer not in (None, "pickle", "json"):
            raise ValueError("result_serializer must be 'pickle' or 'json'")
        check_run_name_spec(flow_run_name, "flow_run_name")
        self.fn = fn
        default = str(getattr(fn, "__name__", type(fn).__name__)).replace("_", "-")
        self.name: str = str(name or default)
        self.description = description or inspect.getdoc(fn)
        self.version = version
        self.retries = retries
        self.retry_delay_seconds = retry_delay_seconds
        self.timeout_seconds = timeout_seconds
        self.task_runner = task_runner
        self.log_prints = log_prints
        self.persist_result = persist_result
        self.result_storage = result_storage
        self.result_serializer = result_serializer
        self.should_validate_parameters = validate_parameters
        self.flow_run_name = flow_run_name
        self.tags = check_tags(tags or (), f"flow {self.name!r}: tags")
        self.on_completion_hooks = hook_list("on_completion", on_completion)
        self.on_failure_hooks = hook_list("on_failure", on_failure)
        self.on_crashed_hooks = hook_list("on_crashed", on_crashed)
        self.on_cancellation_hooks = hook_list("on_cancellation", on_cancellation)
        self.on_running_hooks = hook_list("on_running", on_running)
        self.state_hooks: HookTable | None = None
        self._refresh_hooks()
        self.is_async = inspect.iscoroutinefunction(fn)
        self.signature = inspect.signature(fn)
        self._model: Any = None
        self.__doc__ = getattr(fn, "__doc__", None)
        self.__name__ = getattr(fn, "__name__", self.name)
        self.__wrapped__ = fn

    # -- parameters ------------------------------------------------------------------------
    def bind(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """The call's parameters by name, defaults filled in; a wrong call is a ParameterError."""
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise ParameterError(f"flow {self.name!r}: {exc}") from None
        bound.apply_defaults()
        return dict(bound.arguments)

    def validate_parameters(self, parameters: Mapping[str, Any]) -> dict[str, Any]:
        """Check and coerce parameters against the type hints (pydantic); name the bad one."""
        unknown = [k for k in parameters if k not in self.signature.parameters]
        has_var_kw = any(p.kind is p.VAR_KEYWORD for p in self.signature.parameters.values())
        if unknown and not has_var_kw:
            expected = ", ".join(self.signature.parameters) or "no parameters"
            raise ParameterError(
                f"flow {self.name!r} has no parameter {unknown[0]!r} (it takes: {expected})"
            )
        missing = [
            name for name, p in self.signature.parameters.items()
            if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
            and name not in parameters
        ]
        if missing:
            raise ParameterError(f"flow {self.name!r} is missing the parameter {missing[0]!r}")
        if not self.should_validate_parameters:
            return dict(parameters)
        model = self._parameter_model()
        import pydantic

        try:
            validated = model.model_validate(dict(parameters))
        except pydantic.ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(p) for p in error.get("loc", ())) or "?"
            value = error.get("input")
            raise ParameterError(
                f"flow {self.name!r}: parameter {where!r} is invalid: {error.get('msg')} "
                f"(got {value!r})"
            ) from None
        return {name: getattr(validated, name) for name in parameters}

    def _parameter_model(self) -> Any:
        if self._model is None:
            import pydantic

            fields: dict[str, Any] = {}
            hints = _type_hints(self.fn)
            for name, param in self.signature.parameters.items():
                if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                    continue
                annotation = hints.get(name, Any)
                default = ... if param.default is param.empty else param.default
                fields[name] = (annotation, default)
            self._model = pydantic.create_model(
                f"{self.name}-parameters",
                __config__=pydantic.ConfigDict(arbitrary_types_allowed=True, extra="allow"),
                **fields,
            )
        return self._model

    def parameter_schema(self) -> dict[str, Any]:
        """JSON schema of the parameters (for deployments and the UI)."""
        schema: dict[str, Any] = self._parameter_model().model_json_schema()
        # Other names are accepted only by a flow that takes **kwargs (the model allows extras
        # for that case; the signature check refuses them otherwise).
        schema["additionalProperties"] = any(
            p.kind is p.VAR_KEYWORD for p in self.signature.parameters.values())
        return schema

    def with_options(self, **changes: Any) -> Flow[P, R]:
        """A copy of this flow with some options changed."""
        options: dict[str, Any] = {
            "name": self.name, "description": self.description, "version": self.version,
            "retries": self.retries, "retry_delay_seconds": self.retry_delay_seconds,
            "timeout_seconds": self.timeout_seconds, "task_runner": self.task_runner,
            "log_prints": self.log_prints, "persist_result": self.persist_result,
            "result_storage": self.result_storage, "result_serializer": self.result_serializer,
            "validate_parameters": self.should_validate_parameters,
            "flow_run_name": self.flow_run_name, "tags": self.tags,
            "on_completion": list(self.on_completion_hooks),
            "on_failure": list(self.on_failure_hooks), "on_crashed": list(self.on_crashed_hooks),
            "on_cancellation": list(self.on_cancellation_hooks),
            "on_running": list(self.on_running_hooks),
        }
        unknown = set(changes) - set(options)
        if unknown:
            raise TypeError(f"unknown flow option(s): {', '.join(sorted(unknown))}")
        options.update(changes)
        return Flow(self.fn, **options)

    # -- state change hooks: `@my_flow.on_failure` over `def hook(flow, flow_run, state)` -------
    def on_completion(self, fn: Hook) -> Hook:
        """Add a hook called when a run of this flow completes."""
        return self._add_hook("on_completion", self.on_completion_hooks, fn)

    def on_failure(self, fn: Hook) -> Hook:
        """Add a hook called when a run of this flow fails for good (after its retries)."""
        return self._add_hook("on_failure", self.on_failure_hooks, fn)

    def on_crashed(self, fn: Hook) -> Hook:
        """Add a hook called when a run of this flow crashes (its process is stopping)."""
        return self._add_hook("on_crashed", self.on_crashed_hooks, fn)

    def on_cancellation(self, fn: Hook) -> Hook:
        """Add a hook called when a run of this flow is cancelled."""
        return self._add_hook("on_cancellation", self.on_cancellation_hooks, fn)

    def on_running(self, fn: Hook) -> Hook:
        """Add a hook called when a run of this flow starts an attempt, before the function."""
        return self._add_hook("on_running", self.on_running_hooks, fn)

    def _add_hook(self, option: str, hooks: list[Hook], fn: Hook) -> Hook:
        hooks.extend(hook_list(option, [fn]))
        self._refresh_hooks()
        return fn

    def _refresh_hooks(self) -> None:
        self.state_hooks = hook_table({
            "on_completion": self.on_completion_hooks, "on_failure": self.on_failure_hooks,
            "on_crashed": self.on_crashed_hooks, "on_cancellation": self.on_cancellation_hooks,
            "on_running": self.on_running_hooks}, FLOW_HOOKS)

    # -- running: all of it is in the engine ---------------------------------------------------
    # A call takes the function's own parameters (checked by a type checker through P) and
    # returns what the function returns (for an async function: its coroutine). PEP 612 forbids
    # a keyword parameter between `*args: P.args` and `**kwargs: P.kwargs`, so `return_state=True`
    # has overloads of its own, which take any arguments (not checked against the function's) and
    # give the final State (awaitable for an async function). Flow and Task each declare them
    # (not a shared base class), so a type error names the Flow or the Task the user called.
    @overload
    def __call__(self: Flow[P, Coroutine[Any, Any, T]], *args: Any,
                 return_state: Literal[True], **kwargs: Any) -> Coroutine[Any, Any, State]: ...

    @overload
    def __call__(self, *args: Any, return_state: Literal[True], **kwargs: Any) -> State: ...

    @overload
    def __call__(self: Flow[P, Coroutine[Any, Any, T]], *args: Any, return_state: bool,
                 **kwargs: Any) -> Coroutine[Any, Any, T | State]: ...

    @overload
    def __call__(self, *args: Any, return_state: bool, **kwargs: Any) -> R | State: ...

    @overload
    def __call__(self, *args: Any, wait_for: Iterable[Any] | None,
                 return_state: Literal[False] = False, **kwargs: Any) -> R: ...

    @overload
    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R: ...

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the flow and return its result (`return_state=True`: its final State). A subflow
        takes `wait_for=[...]`: futures or states to wait for first, which must have completed."""
        from transom.core import engine

        return_state = bool(kwargs.pop("return_state", False))
        wait_for = kwargs.pop("wait_for", None)
        if self.is_async:
            return engine.run_flow_async(self, args, kwargs, return_state=return_state,
                                         wait_for=wait_for)
        return engine.run_flow(self, args, kwargs, return_state=return_state, wait_for=wait_for)

    # -- deployments: all of it is outside core/, behind the registered Deployer ----------------
    def deploy(self, name: str, **options: Any) -> Any:
        """Register this flow as a deployment whose runs workers of `work_pool_name=` start
        (`cron=`, `interval=`, `parameters=`, ...); see `transom.deployments.deploy_flow`."""
        return _get_deployer().deploy(self, name, **options)

    def serve(self, name: str | None = None, **options: Any) -> None:
        """Register this flow as a deployment (named after the flow by default) and run its
        scheduled runs from this process until Ctrl+C; see `transom.deployments.serve_flow`."""
        _get_deployer().serve(self, name, **options)

    def to_deployment(self, name: str, **options: Any) -> Any:
        """This flow as a checked deployment, not registered yet, for `transom.serve(...)` or
        `transom.deploy(...)`; takes the options of `deploy`."""
        return _get_deployer().to_deployment(self, name, **options)

    @classmethod
    def from_source(cls, source: str | PathLike[str], entrypoint: str) -> Flow[..., Any]:
        """The flow `entrypoint` (`path/file.py:fn`) names in `source`: a folder, or a git
        repository (cloned under TRANSOM_HOME); its deployments run it from there."""
        return _get_deployer().from_source(source, entrypoint)

    def __repr__(self) -> str:
        return f"Flow({self.name!r})"


def _type_hints(fn: Callable[..., Any]) -> dict[str, Any]:
    import typing

    try:
        return typing.get_type_hints(fn)
    except Exception:  # unresolvable forward references: fall back to no validation for them
        return {}


@overload
def flow(fn: Callable[P, R], /) -> Flow[P, R]: ...


@overload
def flow(fn: None = None, /, **options: Any) -> Callable[[Callable[P, R]], Flow[P, R]]: ...


def flow(fn: Callable[P, R] | None = None, /, **options: Any) -> Any:
    """Make a function a flow: `@flow` or `@flow(name=..., retries=..., task_runner=...)`."""
    if fn is not None:
        return Flow(fn, **options)

    def decorate(f: Callable[P, R]) -> Flow[P, R]:
        return Flow(f, **options)

    return decorate
