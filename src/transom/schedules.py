"""Schedules of deployments: cron (with a timezone), interval (with an anchor) and RRule.

Pure time arithmetic, no I/O: the store's scheduler asks `occurrences(...)` for the times in a
window, and the CLI and the API check what users type with `check_cron`, `check_timezone` and
`check_rrule` (a UserInputError of one sentence that names the reason).

Cron in a timezone follows the wall clock the way cron(8) does across DST changes:
- a time skipped when clocks go forward (02:30 on the spring-forward night) runs once, at the
  moment the clock jumps (03:00 local);
- a time that happens twice when clocks go back runs once, the first time, for a job that names
  its hours (`30 1 * * *`); a job that runs every hour (`0 * * * *`, `*/15 * * * *`) runs in both
  copies of the repeated hour, so it keeps its rhythm in elapsed time.
"""

from __future__ import annotations

import difflib
import functools
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from transom.exceptions import UserInputError

__all__ = [
    "DEFAULT_ANCHOR",
    "MAX_COUNT",
    "MAX_INTERVAL",
    "MIN_PERIOD",
    "Schedule",
    "check_cron",
    "check_interval",
    "check_rrule",
    "check_timezone",
    "occurrences",
]

MIN_PERIOD = 1.0
"""The shortest time between two runs a schedule may ask for, in seconds."""

MAX_INTERVAL = 100 * 366 * 86400.0
"""The longest interval a schedule may ask for (about a century), in seconds."""

MAX_COUNT = 100_000
"""The largest COUNT an rrule may have: a rule with COUNT is walked from its anchor."""

_MAX_STEPS = 200_000  # occurrences one window may walk through: bounded time per scheduler pass

DEFAULT_ANCHOR = datetime(2020, 1, 1)
"""Where interval schedules start counting when no anchor is given (local time of the schedule's
timezone): fixed, so every server computes the same times and materialising stays idempotent."""

_MACROS = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}


@dataclass(frozen=True)
class Schedule:
    """One schedule: exactly one of `cron`, `interval` (seconds) or `rrule`."""

    cron: str | None = None
    interval: float | None = None
    anchor_date: datetime | None = None
    rrule: str | None = None
    timezone: str | None = None

    def __post_init__(self) -> None:
        kinds = [k for k in ("cron", "interval", "rrule") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise UserInputError("a schedule needs exactly one of cron, interval or rrule"
                                 + (f" (got {' and '.join(kinds)})" if kinds else ""))
        if self.timezone is not None:
            check_timezone(self.timezone)
        if self.cron is not None:
            check_cron(self.cron)
        if self.interval is not None:
            check_interval(self.interval)
        if self.rrule is not None:
            check_rrule(self.rrule)

    @property
    def zone(self) -> tzinfo:
        return _zone(self.timezone) if self.timezone else timezone.utc

    def describe(self) -> str:
        """How the schedule reads in a listing: `cron 0 9 * * 1-5 (Europe/Paris)`."""
        if self.cron is not None:
            text = f"cron {self.cron}"
        elif self.interval is not None:
            text = f"every {_seconds(self.interval)}"
            if self.anchor_date is not None:
                text += f" from {self.anchor_date.isoformat()}"
        else:
            text = f"rrule {self.rrule}"
        return f"{text} ({self.timezone or 'UTC'})"


# -- checks: what a user typed, refused with the reason -------------------------------------------
def check_timezone(name: str) -> str:
    """An IANA timezone name that exists here, else UserInputError with a close match."""
    try:
        _zone(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        close = difflib.get_close_matches(name, _zone_names(), n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UserInputError(f"unknown timezone {name!r}{hint}; use an IANA name such as "
                             "Europe/Paris, America/New_York or UTC") from None
    return name


def check_cron(expression: str) -> str:
    """A five-field cron expression (or @daily and friends), else UserInputError with why."""
    from croniter import croniter

    text = " ".join(expression.split())
    if not text:
        raise UserInputError("the cron expression is empty; write five fields, e.g. "
                             "'0 9 * * 1-5' (minute hour day-of-month month day-of-week)")
    if text.lower() not in _MACROS and len(text.split()) != 5:
        raise UserInputError(
            f"invalid cron expression {expression!r}: it has {len(text.split())} fields, "
            "cron needs five (minute hour day-of-month month day-of-week), e.g. '0 9 * * 1-5'")
    from croniter import CroniterBadDateError

    try:
        it = croniter(text, datetime(2020, 1, 1, tzinfo=timezone.utc))
    except (ValueError, KeyError) as exc:  # croniter's errors are ValueErrors
        reason = str(exc).rstrip(".") or type(exc).__name__
        raise UserInputError(f"invalid cron expression {expression!r}: {reason}; write five "
                             "fields, e.g. '0 9 * * 1-5'") from None
    try:
        it.get_next(datetime)
    except (CroniterBadDateError, ValueError, OverflowError):
        raise UserInputError(f"the cron expression {expression!r} never fires (no such date, "
                             "e.g. February 30th)") from None
    return text


def check_interval(seconds: float) -> float:
    """An interval in seconds between MIN_PERIOD and MAX_INTERVAL, else UserInputError."""
    if not seconds or seconds <= 0 or seconds != seconds:  # zero, negative or NaN
        raise UserInputError(f"the interval must be more than zero seconds, not {seconds!r}")
    if seconds < MIN_PERIOD:
        raise UserInputError(f"an interval of {seconds!r} seconds runs more often than once a "
                             f"second (limit: at least {MIN_PERIOD:g} s between runs)")
    if seconds > MAX_INTERVAL:
        raise UserInputError(f"an interval of {seconds!r} seconds is longer than a century "
                             f"(limit: at most {MAX_INTERVAL:g} s)")
    return float(seconds)


def check_rrule(text: str) -> str:
    """An iCalendar RRULE (e.g. FREQ=WEEKLY;BYDAY=MO,WE;BYHOUR=9), else UserInputError.

    RRULE resolution is a second, so no rule runs more often than MIN_PERIOD; a COUNT is
    bounded by MAX_COUNT because a rule with one is walked from its anchor."""
    rule = _parse_rrule(text, DEFAULT_ANCHOR)
    count = getattr(rule, "_count", None)
    if count is not None and count > MAX_COUNT:
        raise UserInputError(f"invalid rrule {text!r}: COUNT={count} is too many occurrences "
                             f"(limit: COUNT of at most {MAX_COUNT})")
    return text


def _parse_rrule(text: str, dtstart: datetime) -> Any:
    from dateutil.rrule import rrulestr

    body = text.strip()
    try:
        return rrulestr(body, dtstart=dtstart, ignoretz=True)
    except (ValueError, TypeError, KeyError) as exc:
        raise UserInputError(f"invalid rrule {text!r}: {exc}; write it like "
                             "FREQ=WEEKLY;BYDAY=MO,WE;BYHOUR=9;BYMINUTE=0") from None


# -- occurrences ------------------------------------------------------------------------------------
def occurrences(schedule: Schedule, start: datetime, end: datetime, *,
                limit: int = 1000) -> list[datetime]:
    """The schedule's times `t` with `start <= t <= end`, in UTC, oldest first, at most `limit`."""
    start = _utc(start)
    end = _utc(end)
    if end < start or limit <= 0:
        return []
    try:
        if schedule.cron is not None:
            times = _cron_times(schedule.cron, schedule.zone, start, end, limit)
        elif schedule.interval is not None:
            times = _interval_times(schedule, start, end, limit)
        else:
            times = _rrule_times(schedule, start, end, limit)
    except OverflowError:  # a time past year 9999: the schedule has no more
        return []
    return times[:limit]


def _cron_times(expression: str, zone: tzinfo, start: datetime, end: datetime,
                limit: int) -> list[datetime]:
    from croniter import croniter

    text = " ".join(expression.split())
    every_hour = text.lower() in ("@hourly",) or (
        not text.startswith("@") and text.split()[1] == "*")
    # croniter iterates timezone-aware times: it gives a skipped time at the jump and both
    # copies of a repeated one; the wall-clock rule above then drops a repeated copy.
    local_start = (start - timedelta(microseconds=1)).astimezone(zone)
    it = croniter(text, local_start)
    times: list[datetime] = []
    seen_walls: set[datetime] = set()
    seen: set[datetime] = set()
    from croniter import CroniterBadDateError

    while len(times) < limit:
        try:
            local = it.get_next(datetime)
        except (CroniterBadDateError, OverflowError):  # never fires, or past year 9999
            break
        moment = _utc(local)
        if moment > end:
            break
        wall = local.replace(tzinfo=None)
        if moment in seen or (not every_hour and wall in seen_walls):
            continue
        seen.add(moment)
        seen_walls.add(wall)
        if moment >= start:
            times.append(moment)
    return times


def _interval_times(schedule: Schedule, start: datetime, end: datetime,
                    limit: int) -> list[datetime]:
    assert schedule.interval is not None
    zone = schedule.zone
    anchor = schedule.anchor_date or DEFAULT_ANCHOR
    step = schedule.interval
    if step % 86400 == 0 and schedule.timezone:
        # Whole days in a timezone keep their wall-clock time across DST changes.
        local_anchor = (anchor.astimezone(zone) if anchor.tzinfo else anchor.replace(tzinfo=zone))
        days = int(step // 86400)
        naive = local_anchor.replace(tzinfo=None)
        span = (start.astimezone(zone).replace(tzinfo=None) - naive).days
        first_day = max(0, span // days - 1)
        return _window((_utc((naive + timedelta(days=k * days)).replace(tzinfo=zone))
                        for k in itertools.count(first_day)), start, end, limit)
    first = _utc(anchor if anchor.tzinfo else anchor.replace(tzinfo=zone))
    elapsed = (start - first).total_seconds()
    first_step = int(max(0, -(-elapsed // step))) if elapsed > 0 else 0
    return _window((first + timedelta(seconds=k * step) for k in itertools.count(first_step)),
                   start, end, limit)


def _window(moments: Iterator[datetime], start: datetime, end: datetime,
            limit: int) -> list[datetime]:
    """The first `limit` of ascending `moments` from `start` to `end`, both included."""
    times: list[datetime] = []
    for moment in moments:
        if len(times) >= limit or moment > end:
            break
        if moment >= start:
            times.append(moment)
    return times


def _rrule_times(schedule: Schedule, start: datetime, end: datetime,
                 limit: int) -> list[datetime]:
    assert schedule.rrule is not None
    zone = schedule.zone
    anchor = schedule.anchor_date or DEFAULT_ANCHOR
    local_anchor = anchor.astimezone(zone).replace(tzinfo=None) if anchor.tzinfo else anchor
    # The rule speaks in local wall times; a few hours of margin cover a DST change near the
    # window (none is needed where the offset holds: a SECONDLY rule walks only the window).
    offsets = {(moment).astimezone(zone).utcoffset()
               for moment in (start - timedelta(days=1), start, end, end + timedelta(days=1))}
    margin = timedelta(0) if len(offsets) == 1 else timedelta(hours=3)
    lo = start.astimezone(zone).replace(tzinfo=None) - margin
    hi = end.astimezone(zone).replace(tzinfo=None) + margin
    rule = _parse_rrule(schedule.rrule, _near(schedule.rrule, local_anchor, lo))
    times: list[datetime] = []
    for steps, wall in enumerate(rule):
        if wall > hi or steps >= _MAX_STEPS or len(times) >= 2 * limit:
            break
        if wall < lo:
            continue
        moment = _utc(wall.replace(tzinfo=zone))
        if start <= moment <= end and moment not in times:
            times.append(moment)
    return sorted(times)[:limit]


_PERIODS = {"SECONDLY": 1, "MINUTELY": 60, "HOURLY": 3600, "DAILY": 86400, "WEEKLY": 604800}


def _near(text: str, anchor: datetime, lo: datetime) -> datetime:
    """Where to start walking `text` so it yields the same times from `lo` on as from `anchor`:
    the anchor moved forward by whole periods of the rule (FREQ x INTERVAL), up to `lo`. Rules
    with a COUNT, or by month or year (whose periods vary in length), start at the anchor."""
    parts = dict(p.split("=", 1) for p in text.strip().upper().removeprefix("RRULE:").split(";")
                 if "=" in p)
    unit = _PERIODS.get(parts.get("FREQ", ""))
    if unit is None or "COUNT" in parts or lo <= anchor:
        return anchor
    try:
        period = unit * int(parts.get("INTERVAL", "1"))
    except ValueError:
        return anchor
    whole = int((lo - anchor).total_seconds() // period)
    return anchor + timedelta(seconds=whole * period)


# -- helpers --------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=256)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@functools.lru_cache(maxsize=1)
def _zone_names() -> list[str]:
    return sorted(available_timezones())


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def _seconds(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
