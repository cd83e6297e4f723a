"""Cache policies: recipes for a task run's cache key, combined with `+`, narrowed with `-`.

A policy's `compute_key(task_ctx, inputs, flow_parameters)` gives the key a task run's result is
stored and looked up under, or None (no caching for that run). `DEFAULT` is Prefect's
INPUTS + TASK_SOURCE + RUN_ID; `configure(key_storage=..., isolation_level=...)` gives a copy
whose records live in another result location and whose runs of one key may be serialised in
this process (see `core/transactions.py` for the locks).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from transom.core.context import TaskRunContext

__all__ = [
    "DEFAULT",
    "FLOW_PARAMETERS",
    "INPUTS",
    "NONE",
    "NO_CACHE",
    "RUN_ID",
    "TASK_SOURCE",
    "CacheKeyFnPolicy",
    "CachePolicy",
    "CompoundCachePolicy",
    "FlowParameters",
    "Inputs",
    "RunId",
    "TaskSource",
    "hash_objects",
]

ISOLATION_LEVELS = ("READ_COMMITTED", "SERIALIZABLE")


def hash_objects(*values: Any) -> str:
    """A stable hex digest of `values`: JSON when they are JSON, else their pickle (ValueError if
    neither can carry them, so that an unhashable input never gives a key made of addresses)."""
    try:
        blob = json.dumps(values, sort_keys=True).encode()
    except (TypeError, ValueError):
        import cloudpickle

        try:
            blob = bytes(cloudpickle.dumps(values))
        except Exception as exc:
            raise ValueError(f"the inputs cannot be hashed for a cache key: {exc}") from None
    return hashlib.sha256(blob).hexdigest()


@dataclass(frozen=True)
class CachePolicy:
    """Base of every policy. `key_storage`: a folder or URL the cached results are kept in
    (instead of the task's result_storage); `isolation_level`: "READ_COMMITTED" (default) or
    "SERIALIZABLE" (one run of a key at a time in this process, the others then read its
    result)."""

    key_storage: str | None = field(default=None, kw_only=True)
    isolation_level: str | None = field(default=None, kw_only=True)
    lock_manager: Any = field(default=None, kw_only=True, repr=False)

    def compute_key(self, task_ctx: TaskRunContext, inputs: Mapping[str, Any],
                    flow_parameters: Mapping[str, Any], **kwargs: Any) -> str | None:
        raise NotImplementedError

    def configure(self, key_storage: str | Any = None, lock_manager: Any = None,
                  isolation_level: str | Any = None) -> CachePolicy:
        """A copy with another key storage and/or isolation level (None keeps the current)."""
        changes: dict[str, Any] = {}
        if key_storage is not None:
            if not isinstance(key_storage, str):
                key_storage = getattr(key_storage, "__fspath__", lambda: None)()
                if key_storage is None:
                    raise TypeError("key_storage takes a folder path or a URL (storage blocks are "
                                    "not supported by Transom)")
            changes["key_storage"] = str(key_storage)
        if lock_manager is not None:
            raise TypeError("lock_manager is not supported: SERIALIZABLE isolation uses "
                            "Transom's in-process locks")
        if isolation_level is not None:
            level = str(getattr(isolation_level, "name", isolation_level)).upper()
            if level not in ISOLATION_LEVELS:
                raise ValueError(f"isolation_level must be one of {', '.join(ISOLATION_LEVELS)}, "
                                 f"got {isolation_level!r}")
            changes["isolation_level"] = level
        return replace(self, **changes)

    @classmethod
    def from_cache_key_fn(cls, cache_key_fn: Callable[..., str | None]) -> CacheKeyFnPolicy:
        return CacheKeyFnPolicy(cache_key_fn=cache_key_fn)

    def __add__(self, other: CachePolicy) -> CachePolicy:
        if not isinstance(other, CachePolicy):
            return NotImplemented
        return CompoundCachePolicy(policies=[*_parts(self), *_parts(other)],
                                   key_storage=self.key_storage or other.key_storage,
                                   isolation_level=self.isolation_level or other.isolation_level)

    def __sub__(self, name: str) -> CachePolicy:
        """This policy with parameter `name` left out of its inputs."""
        if not isinstance(name, str):
            raise TypeError("only a parameter's name (a str) can be taken out of a cache policy")
        return CompoundCachePolicy(policies=[self, Inputs(exclude=[name])],
                                   key_storage=self.key_storage,
                                   isolation_level=self.isolation_level)


def _parts(policy: CachePolicy) -> list[CachePolicy]:
    return list(policy.policies) if isinstance(policy, CompoundCachePolicy) else [policy]


@dataclass(frozen=True)
class CompoundCachePolicy(CachePolicy):
    """The keys of several policies hashed together; None only if every one gives None."""

    policies: list[CachePolicy] = field(default_factory=list)

    def compute_key(self, task_ctx: TaskRunContext, inputs: Mapping[str, Any],
                    flow_parameters: Mapping[str, Any], **kwargs: Any) -> str | None:
        keys = [p.compute_key(task_ctx, inputs, flow_parameters, **kwargs) for p in self.policies]
        present = [k for k in keys if k is not None]
        return hash_objects(*present) if present else None

    def __sub__(self, name: str) -> CachePolicy:
        if not isinstance(name, str):
            raise TypeError("only a parameter's name (a str) can be taken out of a cache policy")
        if not any(isinstance(p, Inputs) for p in self.policies):
            return super().__sub__(name)
        policies = [p - name if isinstance(p, Inputs) else p for p in self.policies]
        return replace(self, policies=policies)


@dataclass(frozen=True)
class _NoCache(CachePolicy):
    """Never a key: the task's results are neither cached nor looked up."""

    def compute_key(self, task_ctx: TaskRunContext, inputs: Mapping[str, Any],
                    flow_parameters: Mapping[str, Any], **kwargs: Any) -> str | None:
        return None

    def __add__(self, other: CachePolicy) -> CachePolicy:
        return other if isinstance(other, CachePolicy) else NotImplemented


@dataclass(frozen=True)
class Inputs(CachePolicy):
    """The task's arguments (all of them, but those named in `exclude`)."""

    exclude: list[str] = field(default_factory=list)

    def compute_key(self, task_ctx: TaskRunContext, inputs: Mapping[str, Any],
                    flow_parameters: Mapping[str, Any], **kwargs: Any) -> str | None:
        kept = {k: v for k, v in inputs.items() if k not in self.exclude}
        return hash_objects(kept) if kept else None

    def __sub__(self, name: str) -> CachePolicy:
        if not isinstance(name, str):
            raise TypeError("only a parameter's name (a str) can be taken out of a cache policy")
        return replace(self, exclude=[*self.exclude, name])


@dataclass(frozen=True)
class TaskSource(CachePolicy):
    """The task's code (its source, or bytecode when the source cannot be read) and version."""

    def compute_key(self, task_ctx: TaskRunContext, inputs: Mapping[str, Any],
                    flow_parameters: Mapping[str, Any], **kwargs: Any) -> str | None:
        task = task_ctx.task
        return hash_objects(task.source_hash, task.version)


@dataclass(frozen=True)
class FlowParameters(CachePolicy):
    """The parameters of the flow run the task runs in (None outside one)."""

    def compute_key(self, task_ctx: TaskRunContext, inputs: Mapping[str, Any],
                    flow_parameters: Mapping[str, Any], **kwargs: Any) -> str | None:
        return hash_objects(dict(flow_parameters)) if flow_parameters else None


@dataclass(frozen=True)
class RunId(CachePolicy):
    """The flow run's id, or the task run's own outside a flow: a cache within one run."""

    def compute_key(self, task_ctx: TaskRunContext, inputs: Mapping[str, Any],
                    flow_parameters: Mapping[str, Any], **kwargs: Any) -> str | None:
        run_id = task_ctx.flow_run_id or task_ctx.task_run_id
        return str(run_id)


@dataclass(frozen=True)
class CacheKeyFnPolicy(CachePolicy):
    """A `cache_key_fn(task_run_context, parameters)` as a policy."""

    cache_key_fn: Callable[..., str | None] | None = None

    def compute_key(self, task_ctx: TaskRunContext, inputs: Mapping[str, Any],
                    flow_parameters: Mapping[str, Any], **kwargs: Any) -> str | None:
        if self.cache_key_fn is None:
            return None
        return self.cache_key_fn(task_ctx, dict(inputs))


INPUTS: CachePolicy = Inputs()
TASK_SOURCE: CachePolicy = TaskSource()
FLOW_PARAMETERS: CachePolicy = FlowParameters()
RUN_ID: CachePolicy = RunId()
NO_CACHE: CachePolicy = _NoCache()
NONE: CachePolicy = NO_CACHE  # its name in Prefect 3.0
DEFAULT: CachePolicy = INPUTS + TASK_SOURCE + RUN_ID
