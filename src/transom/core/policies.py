"""Retry delays and cache keys: the small named policies that tasks and flows are configured with."""

from __future__ import annotations

import hashlib
import inspect
import json
import random
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from transom.core.context import TaskRunContext

__all__ = [
    "RetryDelay",
    "exponential_backoff",
    "retry_delay_for",
    "source_hash",
    "task_input_hash",
]

RetryDelay = float | int | Sequence[float | int] | Callable[[int], Sequence[float | int]]


def exponential_backoff(backoff_factor: float) -> Callable[[int], list[float]]:
    """Delays of `backoff_factor * 2**n` for retry n (0-based): pass as `retry_delay_seconds`."""
    if backoff_factor < 0:
        raise ValueError("backoff_factor must be zero or more")

    def delays(retries: int) -> list[float]:
        return [backoff_factor * (2**n) for n in range(retries)]

    return delays


def retry_delay_for(
    setting: RetryDelay | None,
    retry_number: int,
    retries: int,
    jitter_factor: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait before retry `retry_number` (1-based) under a `retry_delay_seconds` setting."""
    if setting is None:
        delay = 0.0
    elif callable(setting):
        setting = setting(retries)
        delay = float(setting[min(retry_number, len(setting)) - 1]) if setting else 0.0
    elif isinstance(setting, int | float):
        delay = float(setting)
    else:
        values = list(setting)
        delay = float(values[min(retry_number, len(values)) - 1]) if values else 0.0
    if jitter_factor and delay > 0:
        # Up to jitter_factor * delay extra, so many runs failing together do not retry together.
        delay += (rng or random).uniform(0, jitter_factor * delay)
    return max(delay, 0.0)


def source_hash(fn: Callable[..., Any]) -> str:
    """A hash of a function's source (its bytecode when the source cannot be read)."""
    try:
        text = inspect.getsource(fn).encode()
    except (OSError, TypeError):
        code = getattr(fn, "__code__", None)
        text = code.co_code if code is not None else repr(fn).encode()
    return hashlib.sha256(text).hexdigest()[:16]


def _stable_bytes(value: Any) -> bytes:
    try:
        return json.dumps(value, sort_keys=True, default=repr).encode()
    except (TypeError, ValueError):
        import cloudpickle

        return bytes(cloudpickle.dumps(value))


def task_input_hash(context: TaskRunContext, parameters: dict[str, Any]) -> str:
    """Cache key from the task's identity, its source and its inputs: pass as `cache_key_fn`."""
    digest = hashlib.sha256()
    digest.update(context.task.task_key.encode())
    digest.update(context.task.source_hash.encode())
    digest.update(_stable_bytes(parameters))
    return digest.hexdigest()
