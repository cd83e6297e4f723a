"""Values every database (and JSON on the wire) can take: what a batch of run events is repaired
with when the database or the wire refuses one of its values, so one odd value never costs a
recorded run.

Refused for good, never for a while (so retrying is pointless): text with lone surrogates (a
file name decoded with `surrogateescape`, argv, a printed byte string; SQLite and PostgreSQL
take UTF-8 only), NUL characters (PostgreSQL text), text longer than its column, non-finite
numbers in JSON (PostgreSQL's jsonb has no NaN or Infinity), integers past 64 bits. The repair
keeps what can be kept: a lone surrogate becomes U+FFFD, a NUL U+FFFD, a too-long name is cut
(with an ellipsis), NaN and the infinities become the strings "NaN", "Infinity", "-Infinity", an
out-of-range integer its decimal text.
"""

from __future__ import annotations

import math
from dataclasses import fields, is_dataclass, replace
from typing import Any

from transom.core.recorder import Event, FlowRunCreated, LogRecorded, StateChanged, TaskRunCreated
from transom.core.states import ErrorInfo, State

__all__ = ["storable_event", "storable_json", "storable_text"]

_INT64 = 2**63 - 1

# The longest text each field's column takes (see models.py); other text is unbounded.
_LIMITS = {"name": 255, "flow_name": 255, "task_key": 512, "cache_key": 255, "logger": 255}
_STATE_NAME = 32


def storable_text(text: str, limit: int | None = None) -> str:
    """`text` with lone surrogates and NULs replaced by U+FFFD, cut to `limit` characters."""
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            # A surrogate pair stays one character; a lone surrogate becomes U+FFFD.
            text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    if limit is not None and len(text) > limit:
        text = text[:limit - 1] + "…"
    return text


def storable_json(value: Any, depth: int = 0) -> Any:
    """A JSON value every database stores: text repaired, non-finite floats and integers past
    64 bits as text (nesting past 100 levels is cut to its text, too)."""
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value if -_INT64 - 1 <= value <= _INT64 else str(value)
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if depth > 100:
        return storable_text(str(value))
    if isinstance(value, dict):
        return {storable_text(str(k)): storable_json(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [storable_json(v, depth + 1) for v in value]
    return storable_text(str(value))


def _state(state: State) -> State:
    error = state.error
    if error is not None:
        error = ErrorInfo(storable_text(error.type), storable_text(error.message),
                          storable_text(error.traceback))
    return state.copy(name=storable_text(state.name, _STATE_NAME),
                      message=None if state.message is None else storable_text(state.message),
                      error=error)


def storable_event(event: Event) -> Event:
    """A copy of `event` whose every value its tables can store (see the module's docstring)."""
    if isinstance(event, StateChanged):
        ref = event.result_ref
        return replace(event, state=_state(event.state),
                       result_ref=None if ref is None else storable_text(ref))
    changes: dict[str, Any] = {}
    assert is_dataclass(event)
    for field in fields(event):
        value = getattr(event, field.name)
        if isinstance(value, str):
            changes[field.name] = storable_text(value, _LIMITS.get(field.name))
        elif field.name in ("parameters", "tags"):
            changes[field.name] = storable_json(value)
    if isinstance(event, FlowRunCreated | TaskRunCreated | LogRecorded):
        return replace(event, **changes)
    return event
