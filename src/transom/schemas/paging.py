"""One page of a listing, and the keyset cursor flow run lists page by (no OFFSET)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Generic, NamedTuple, Protocol, TypeVar

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from transom.schemas import FlowRunRead

__all__ = ["CURSOR_PATTERN", "Page", "RunCursor"]

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a listing and how many items match in all."""

    items: list[T]
    total: int
    limit: int
    offset: int
    next_cursor: str | None = Field(
        default=None, description="Flow run lists: pass as `after` for the next (older) page; "
                                  "null on the last page.")
    prev_cursor: str | None = Field(
        default=None, description="Flow run lists: pass as `before` for the previous (newer) "
                                  "page; null on the first page.")


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_FIRST = datetime.min.replace(tzinfo=timezone.utc)
_LAST = datetime.max.replace(tzinfo=timezone.utc)
CURSOR_PATTERN = r"^\s*-?[0-9]{1,20}_[0-9a-fA-F]{32}\s*$"
"""What a cursor looks like on the wire (what `RunCursor.encode` writes)."""


class Keyed(Protocol):
    @property
    def created(self) -> datetime: ...
    @property
    def id(self) -> uuid.UUID: ...


class RunCursor(NamedTuple):
    """A place in the flow run list (newest first): a run's creation time and id. On the wire
    `<microseconds since 1970>_<id hex>`, exact, so a page boundary never skips or repeats."""

    created: datetime
    id: uuid.UUID

    def encode(self) -> str:
        return f"{(self.created - _EPOCH) // timedelta(microseconds=1)}_{self.id.hex}"

    @classmethod
    def decode(cls, text: str) -> RunCursor:
        """ValueError, in one sentence, when `text` is not a cursor this server gave."""
        micros, _, hex_id = text.strip().partition("_")
        try:
            count, run_id = int(micros), uuid.UUID(hex=hex_id)
        except ValueError:
            raise ValueError(f"{text!r} is not a page cursor; use next_cursor or prev_cursor "
                             "of a page") from None
        # A time past the calendar's ends is its end: before or after every run.
        low = (_FIRST - _EPOCH) // timedelta(microseconds=1)
        high = (_LAST - _EPOCH) // timedelta(microseconds=1)
        return cls(_EPOCH + timedelta(microseconds=min(max(count, low), high)), run_id)

    @classmethod
    def of(cls, item: FlowRunRead | Keyed) -> RunCursor:
        """The place of a flow run (or of anything listed by creation time and id, as the
        newest versions of artifacts)."""
        return cls(item.created, item.id)
