"""The UI's overview reads on the embedded backend, on SQLite and PostgreSQL, with a fixed clock:
bucket edges, what each window counts, and the failures' error lines."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.support.seed import flow_run
from transom.core.states import StateType
from transom.services import Context, EmbeddedBackend
from transom.settings import Settings
from transom.store import open_database

NOW = datetime(2026, 3, 10, 12, 30, tzinfo=timezone.utc)


@pytest.fixture(params=["sqlite", "postgresql"])
def embedded(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EmbeddedBackend]:
    if request.param == "postgresql":
        url = str(request.getfixturevalue("postgres_url"))
    else:
        url = f"sqlite:///{tmp_path / 'transom.db'}"
    settings = Settings.load({}, home=tmp_path / "home", database_url=url, server_services=False)
    with EmbeddedBackend(Context(open_database(url, busy_timeout=10), settings,
                                 clock=lambda: NOW)) as backend:
        yield backend


def _run(backend: EmbeddedBackend, name: str, created: datetime, *, failed: bool = False,
         ended: bool = True) -> None:
    _, events = flow_run("etl", name, created=created, failed=failed)
    backend.send_events(events if ended else events[:-1])  # without its end: still Running


def test_runs_are_counted_in_the_bucket_they_ended_in_and_the_window_they_were_made_in(
        embedded: EmbeddedBackend) -> None:
    _run(embedded, "on-the-edge", NOW.replace(minute=0) - timedelta(seconds=3))  # ends 12:00:00
    _run(embedded, "failed", NOW.replace(hour=10, minute=15), failed=True)       # ends 10:15:03
    _run(embedded, "too-old", NOW - timedelta(days=1, minutes=1))                 # before the window
    _run(embedded, "first", NOW - timedelta(days=1) + timedelta(minutes=1))       # ends 12:31:03
    _run(embedded, "running", NOW - timedelta(minutes=5), ended=False)
    data = embedded.dashboard(timedelta(hours=24), timedelta(hours=1))
    assert data.until == NOW and data.since == NOW - timedelta(hours=24)
    assert data.counts == {StateType.COMPLETED: 2, StateType.FAILED: 1, StateType.RUNNING: 1}
    assert data.buckets[0] == datetime(2026, 3, 9, 12, tzinfo=timezone.utc)
    assert data.buckets[-1] == datetime(2026, 3, 10, 12, tzinfo=timezone.utc)
    assert len(data.buckets) == 25
    by_hour = {b.strftime("%d %H"): (data.ended[StateType.COMPLETED][i],
                                     data.ended[StateType.FAILED][i])
               for i, b in enumerate(data.buckets) if data.ended[StateType.COMPLETED][i]
               or data.ended[StateType.FAILED][i]}
    assert by_hour == {"09 12": (1, 0), "10 10": (0, 1), "10 12": (1, 0)}
    assert sum(data.ended[StateType.CRASHED]) == 0
    assert [(f.run.name, f.error) for f in data.failures] == [
        ("failed", "ValueError: the input file is empty")]
    assert data.late == [] and data.trouble.pools == [] and data.trouble.workers == []
    week = embedded.dashboard(timedelta(days=7), timedelta(hours=6))
    assert week.buckets[0] == datetime(2026, 3, 3, 12, tzinfo=timezone.utc)
    assert week.counts[StateType.COMPLETED] == 3  # too-old is inside 7 days
    assert sum(week.ended[StateType.COMPLETED]) == 3
    assert all(b.hour % 6 == 0 for b in week.buckets)
    month = embedded.dashboard(timedelta(days=30), timedelta(days=1))
    assert all(b.hour == 0 for b in month.buckets) and len(month.buckets) == 31
