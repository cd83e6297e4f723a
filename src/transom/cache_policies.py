"""`transom.cache_policies`: the recipes of a task's cache key, where a Prefect user imports them."""

from __future__ import annotations

from transom.core.cache_policies import (
    DEFAULT,
    FLOW_PARAMETERS,
    INPUTS,
    NO_CACHE,
    NONE,
    RUN_ID,
    TASK_SOURCE,
    CacheKeyFnPolicy,
    CachePolicy,
    CompoundCachePolicy,
    FlowParameters,
    Inputs,
    RunId,
    TaskSource,
)

# Sorted plainly (uppercase first), as tests/compat/test_module_paths.py checks every public
# module; ruff's isort-style order would put the constants before the classes.
__all__ = [  # noqa: RUF022
    "CacheKeyFnPolicy",
    "CachePolicy",
    "CompoundCachePolicy",
    "DEFAULT",
    "FLOW_PARAMETERS",
    "FlowParameters",
    "INPUTS",
    "Inputs",
    "NONE",
    "NO_CACHE",
    "RUN_ID",
    "RunId",
    "TASK_SOURCE",
    "TaskSource",
]
