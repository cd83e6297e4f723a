"""The deployment run this process was started for by a worker (worker.protocol), if any."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from transom.worker.protocol import claimed_run_json

if TYPE_CHECKING:
    from transom.schemas import ClaimedRun

__all__ = ["claimed_run"]


def claimed_run() -> ClaimedRun | None:
    """The run a worker handed this process, or None (a flow called directly, or a bad value)."""
    try:
        raw = claimed_run_json()
    except OSError:
        return None
    return _parse(raw) if raw else None


@functools.lru_cache(maxsize=4)
def _parse(raw: str) -> ClaimedRun | None:
    import pydantic

    from transom.schemas import ClaimedRun

    try:
        return ClaimedRun.model_validate_json(raw)
    except pydantic.ValidationError:
        return None
