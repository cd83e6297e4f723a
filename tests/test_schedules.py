"""Schedule arithmetic: cron across DST changes, intervals, RRules, and bad input refused."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from transom.exceptions import UserInputError
from transom.schedules import Schedule, check_cron, occurrences

UTC = timezone.utc
PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")


def _local(times: list[datetime], zone: ZoneInfo) -> list[str]:
    return [t.astimezone(zone).strftime("%m-%d %H:%M%z") for t in times]


def test_a_daily_cron_in_a_timezone_runs_once_a_day_across_both_dst_changes() -> None:
    daily = Schedule(cron="30 2 * * *", timezone="Europe/Paris")
    spring = occurrences(daily, datetime(2026, 3, 27, tzinfo=UTC), datetime(2026, 3, 31, tzinfo=UTC))
    # 02:30 does not exist on 29 March: it runs once, when the clock jumps to 03:00.
    assert _local(spring, PARIS) == ["03-27 02:30+0100", "03-28 02:30+0100", "03-29 03:00+0200",
                                     "03-30 02:30+0200"]
    autumn = occurrences(daily, datetime(2026, 10, 23, tzinfo=UTC), datetime(2026, 10, 27, tzinfo=UTC))
    # 02:30 happens twice on 25 October: it runs once, the first time.
    assert _local(autumn, PARIS) == ["10-23 02:30+0200", "10-24 02:30+0200", "10-25 02:30+0200",
                                     "10-26 02:30+0100"]


def test_an_hourly_cron_keeps_elapsed_time_through_the_repeated_hour() -> None:
    hourly = Schedule(cron="0 * * * *", timezone="America/New_York")
    # The local day of 1 November 2026 has 25 hours; an hourly job runs in each.
    day = occurrences(hourly, datetime(2026, 11, 1, 4, tzinfo=UTC), datetime(2026, 11, 2, 4, 59, tzinfo=UTC))
    assert len(day) == 25
    assert all((b - a) == timedelta(hours=1) for a, b in itertools.pairwise(day))
    assert _local(day, NEW_YORK)[1:3] == ["11-01 01:00-0400", "11-01 01:00-0500"]


def test_cron_without_timezone_is_utc_and_bounds_are_inclusive() -> None:
    every_15 = Schedule(cron="*/15 * * * *")
    times = occurrences(every_15, datetime(2026, 1, 1, 10, 0, tzinfo=UTC),
                        datetime(2026, 1, 1, 10, 30, tzinfo=UTC))
    assert [t.strftime("%H:%M") for t in times] == ["10:00", "10:15", "10:30"]
    assert all(t.tzinfo is UTC for t in times)
    assert occurrences(every_15, datetime(2026, 1, 1, tzinfo=UTC),
                       datetime(2026, 1, 2, tzinfo=UTC), limit=5)[-1].strftime("%H:%M") == "01:00"


def test_intervals_count_from_their_anchor_and_whole_days_keep_the_local_time() -> None:
    tenth = Schedule(interval=600, anchor_date=datetime(2026, 1, 1, 0, 5, tzinfo=UTC))
    times = occurrences(tenth, datetime(2026, 3, 1, 0, 0, tzinfo=UTC), datetime(2026, 3, 1, 0, 30, tzinfo=UTC))
    assert [t.strftime("%H:%M") for t in times] == ["00:05", "00:15", "00:25"]
    daily = Schedule(interval=86400, anchor_date=datetime(2026, 1, 1, 9, 0), timezone="Europe/Paris")
    spring = occurrences(daily, datetime(2026, 3, 28, tzinfo=UTC), datetime(2026, 3, 30, 12, tzinfo=UTC))
    assert _local(spring, PARIS) == ["03-28 09:00+0100", "03-29 09:00+0200", "03-30 09:00+0200"]


def test_rrule_in_a_timezone() -> None:
    weekly = Schedule(rrule="FREQ=WEEKLY;BYDAY=MO,WE;BYHOUR=9;BYMINUTE=0", timezone="America/New_York")
    times = occurrences(weekly, datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 12, tzinfo=UTC))
    assert _local(times, NEW_YORK) == ["03-02 09:00-0500", "03-04 09:00-0500", "03-09 09:00-0400",
                                       "03-11 09:00-0400"]


def test_the_same_window_gives_the_same_times_whoever_asks() -> None:
    schedule = Schedule(interval=7)
    start = datetime(2026, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)
    first = occurrences(schedule, start, start + timedelta(minutes=5))
    later = occurrences(schedule, start + timedelta(seconds=30), start + timedelta(minutes=5))
    assert later == [t for t in first if t >= start + timedelta(seconds=30)]


@pytest.mark.parametrize(("kwargs", "fragment"), [
    ({"cron": "61 * * * *"}, "invalid cron expression '61 * * * *'"),
    ({"cron": "* * *"}, "it has 3 fields, cron needs five"),
    ({"cron": "0 0 * * * *"}, "it has 6 fields"),
    ({"cron": "  "}, "the cron expression is empty"),
    ({"cron": "0 9 * * *", "timezone": "Europe/Pariss"}, "unknown timezone 'Europe/Pariss' (did you mean 'Europe/Paris'?)"),
    ({"cron": "0 9 * * *", "timezone": "Mars/Olympus"}, "unknown timezone 'Mars/Olympus'"),
    ({"rrule": "FREQ=SOMETIMES"}, "invalid rrule 'FREQ=SOMETIMES'"),
    ({"interval": 0}, "the interval must be more than zero seconds"),
    ({"interval": 5e-324}, "runs more often than once a second (limit: at least 1 s between runs)"),
    ({"interval": 0.5}, "runs more often than once a second"),
    ({"interval": 1e300}, "longer than a century (limit: at most"),
    ({"cron": "0 0 30 2 *"}, "the cron expression '0 0 30 2 *' never fires"),
    ({"rrule": "FREQ=SECONDLY;COUNT=100000000"}, "(limit: COUNT of at most 100000)"),
    ({}, "exactly one of cron, interval or rrule"),
    ({"cron": "* * * * *", "interval": 60}, "got cron and interval"),
])
def test_bad_schedules_are_refused_with_the_reason(kwargs: dict[str, object], fragment: str) -> None:
    with pytest.raises(UserInputError) as caught:
        Schedule(**kwargs)  # type: ignore[arg-type]
    assert fragment in str(caught.value)
    assert "\n" not in str(caught.value)


def test_cron_macros_and_spacing_are_accepted() -> None:
    assert check_cron("@daily") == "@daily"
    assert check_cron(" 0  9 * * 1-5 ") == "0 9 * * 1-5"
    assert Schedule(cron="0 9 * * 1-5", timezone="Europe/Paris").describe() == \
        "cron 0 9 * * 1-5 (Europe/Paris)"
    assert Schedule(interval=3600).describe() == "every 1h (UTC)"


def test_a_secondly_rrule_walks_only_its_window_however_old_its_anchor() -> None:
    import time

    start = datetime(2026, 12, 1, 0, 0, 0, 500000, tzinfo=UTC)
    began = time.perf_counter()
    for rule in ("FREQ=SECONDLY", "FREQ=MINUTELY", "FREQ=SECONDLY;INTERVAL=7"):
        for anchor in (None, datetime(1, 1, 1), datetime(2000, 1, 1, tzinfo=UTC)):
            times = occurrences(Schedule(rrule=rule, anchor_date=anchor, timezone="Europe/Paris"),
                                start, start + timedelta(hours=1), limit=100)
            assert times and len(times) <= 100 and times[0] >= start
    assert time.perf_counter() - began < 2.0  # it walked from the anchor: minutes per rule
    secondly = occurrences(Schedule(rrule="FREQ=SECONDLY"), start, start + timedelta(hours=1))
    assert secondly[:2] == [start.replace(microsecond=0) + timedelta(seconds=1),
                            start.replace(microsecond=0) + timedelta(seconds=2)]


@pytest.mark.parametrize("rule", ["FREQ=MINUTELY;INTERVAL=7;BYSECOND=3,33",
                                  "FREQ=HOURLY;INTERVAL=5;BYMINUTE=10",
                                  "FREQ=DAILY;INTERVAL=3;BYHOUR=9,21",
                                  "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,FR;BYHOUR=8",
                                  "FREQ=MONTHLY;BYMONTHDAY=31"])
def test_starting_near_the_window_gives_the_times_walked_from_the_anchor(rule: str) -> None:
    from dateutil.rrule import rrulestr

    anchor = datetime(2025, 11, 3, 4, 5, 6)
    start, end = datetime(2026, 3, 27, tzinfo=UTC), datetime(2026, 4, 3, tzinfo=UTC)
    walked = [_utc_wall(t, PARIS) for t in rrulestr(rule, dtstart=anchor).between(
        datetime(2026, 3, 26), datetime(2026, 4, 4), inc=True)]
    expected = sorted({t for t in walked if start <= t <= end})[:1000]
    got = occurrences(Schedule(rrule=rule, anchor_date=anchor, timezone="Europe/Paris"), start, end)
    assert got == expected


def _utc_wall(wall: datetime, zone: ZoneInfo) -> datetime:
    return wall.replace(tzinfo=zone).astimezone(UTC)
