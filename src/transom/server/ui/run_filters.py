"""The runs list's filters as the page's URL holds them: read from the query (one sentence of
UserInputError for a malformed one), passed to the backend, written back into every link of
the page (pager, live list, bulk actions' way back) and said in words in its title and count."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Annotated, Any

from fastapi import Query

from transom.core.states import StateType
from transom.exceptions import UserInputError
from transom.fields import MAX_YEAR, MIN_YEAR
from transom.services.flow_runs import MAX_FILTER_TEXT

__all__ = ["FilterText", "RunsFilter"]

FilterText = Annotated[str | None, Query()]
"""A filter's text as the URL holds it (the server bounds a request line); what is too long
for the filter is refused with a 400 page by RunsFilter, in one sentence."""



def _local(value: datetime, sep: str = "T") -> str:
    """A UTC time as an <input type="datetime-local"> holds it (seconds only when it has)."""
    spec = "minutes" if not value.second and not value.microsecond else "auto"
    return value.replace(tzinfo=None).isoformat(sep=sep, timespec=spec)


def _text(value: str | None, what: str, limit: int = MAX_FILTER_TEXT) -> str | None:
    value = value.strip() if value else None
    if value and len(value) > limit:
        raise UserInputError(f"the {what} filter is longer than {limit} characters")
    if value and "\x00" in value:
        raise UserInputError(f"the {what} filter holds a NUL character")
    return value or None


def _time(value: str | None, what: str) -> datetime | None:
    """A datetime-local value (`2026-01-05T09:00`, seconds optional) read as UTC; one with
    its own offset is taken as it says."""
    value = value.strip() if value else None
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise UserInputError(f"the {what} time {value[:40]!r} is not a date and time like "
                             "2026-01-05T09:00 (UTC)") from None
    if not MIN_YEAR <= parsed.year <= MAX_YEAR:
        raise UserInputError(f"the {what} time's year {parsed.year} is out of range "
                             f"({MIN_YEAR} to {MAX_YEAR})")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


@dataclass(frozen=True)
class RunsFilter:
    """The runs page's filters, read and normalised (a state type it does not know: any)."""

    kind: StateType | None = None
    flow: str | None = None
    deployment: str | None = None
    pool: str | None = None
    tag: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    prefix: str | None = None

    @classmethod
    def read(cls, *, state: str | None = None, flow: str | None = None,
             deployment: str | None = None, pool: str | None = None, tag: str | None = None,
             since: str | None = None, until: str | None = None,
             prefix: str | None = None) -> RunsFilter:
        kind = StateType(state.upper()) if state and state.upper() in StateType.__members__ \
            else None
        return cls(kind=kind, flow=_text(flow, "flow"),
                   deployment=_text(deployment, "deployment", 2 * MAX_FILTER_TEXT + 1),
                   pool=_text(pool, "work pool"), tag=_text(tag, "tag"),
                   since=_time(since, "since"), until=_time(until, "until"),
                   prefix=_text(prefix, "name or id"))

    def backend_args(self) -> dict[str, Any]:
        """The keyword arguments of `Backend.list_flow_runs` these filters are."""
        return {"flow_name": self.flow, "state": self.kind, "deployment": self.deployment,
                "work_pool": self.pool, "tag": self.tag, "since": self.since,
                "until": self.until, "prefix": self.prefix}

    def query(self) -> dict[str, str]:
        """The URL's query of these filters (only those given), as the form sends them."""
        given = {"state": self.kind.value if self.kind else None, "flow": self.flow,
                 "deployment": self.deployment, "pool": self.pool, "tag": self.tag,
                 "since": _local(self.since) if self.since else None,
                 "until": _local(self.until) if self.until else None,
                 "prefix": self.prefix}
        return {k: v for k, v in given.items() if v}

    def form_value(self, name: str) -> str:
        """The value a field of the filter form shows (a time as datetime-local, in UTC)."""
        return self.query().get(name, "")

    def words(self) -> list[str]:
        """What the filters ask for, in words: the page's title and count say it."""
        said = [self.kind.value.title() if self.kind else None,
                f"flow {self.flow}" if self.flow else None,
                f"deployment {self.deployment}" if self.deployment else None,
                f"pool {self.pool}" if self.pool else None,
                f"tagged {self.tag}" if self.tag else None,
                f"created from {_local(self.since, ' ')} UTC" if self.since else None,
                f"created before {_local(self.until, ' ')} UTC" if self.until else None,
                f"name or id starting {self.prefix!r}" if self.prefix else None]
        return [w for w in said if w]

    def __bool__(self) -> bool:
        return bool(self.query())
