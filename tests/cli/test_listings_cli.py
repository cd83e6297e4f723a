"""Listings as scripts meet them: piped at 80 columns no id or name is wrapped or cut, and every
listing has `--output json` (the API's schema) and, where flat, `--output csv`. Times carry their
zone: the schedule's for a deployment, else the local one (TZ). Real commands, real pipes."""

from __future__ import annotations

import csv
import io
import json
import re
import textwrap
from datetime import datetime, timezone
from pathlib import Path

import pytest
from tests.cli.conftest import Transom

from transom.cli.output import format_time
from transom.schemas import DeploymentRead, FlowRunRead, WorkerRead, WorkPoolRead

FLOW = "an-uncommonly-long-flow-name-for-the-pipe"
RUN = "fearless-pelican-with-a-name-too-long-for-eighty-columns"
POOL = "a-work-pool-whose-name-is-long-enough-to-wrap"
NARROW = {"COLUMNS": "80", "TZ": "Europe/Paris"}

FLOWS = textwrap.dedent(f"""
    from transom import flow

    @flow(name="{FLOW}", flow_run_name="{RUN}")
    def long_names():
        return 1

    @flow
    def nightly(day: str = "mon"):
        return day
""")


@pytest.fixture
def project(transom: Transom, tmp_path: Path) -> Path:
    (tmp_path / "flows.py").write_text(FLOWS, encoding="utf-8")
    assert transom("run", "flows.py:long_names").code == 0
    assert transom("work-pool", "create", POOL).code == 0
    deployed = transom("deploy", "flows.py:nightly", "--name", "at-two", "--pool", POOL,
                       "--cron", "0 2 * * *", "--timezone", "America/New_York")
    assert deployed.code == 0, deployed.stderr
    return tmp_path


def _line_with(text: str, output: str) -> str:
    return next(line for line in output.splitlines() if text in line)


def test_runs_ls_piped_at_80_columns_keeps_ids_and_names_whole(transom: Transom,
                                                               project: Path) -> None:
    listed = transom("runs", "ls", env=NARROW)
    assert listed.code == 0, listed.stderr
    run = json.loads(transom("runs", "ls", "--output", "json").stdout)[0]
    row = _line_with(RUN, listed.stdout)  # `| grep` finds the name: it is on one line
    assert FLOW in row and run["id"] in row  # the whole id, not 8 characters of it
    assert "Completed" in row and re.search(r"\d\d:\d\d:\d\d (CET|CEST)", row), row


def test_every_listing_has_json_in_the_apis_schema(transom: Transom, project: Path) -> None:
    runs = json.loads(transom("runs", "ls", "-o", "json").stdout)
    assert [FlowRunRead.model_validate(r).name for r in runs] == [RUN]
    assert runs[0]["flow_name"] == FLOW and runs[0]["start_time"].endswith("Z")
    deployments = json.loads(transom("deployment", "ls", "-o", "json").stdout)
    assert [DeploymentRead.model_validate(d).full_name for d in deployments] == ["nightly/at-two"]
    assert deployments[0]["schedules"][0]["timezone"] == "America/New_York"
    pools = json.loads(transom("work-pool", "ls", "-o", "json").stdout)
    assert [WorkPoolRead.model_validate(p).name for p in pools] == [POOL]
    assert json.loads(transom("worker", "ls", "-o", "json").stdout) == []  # none polled yet
    shown = json.loads(transom("runs", "show", runs[0]["id"][:8], "-o", "json").stdout)
    assert set(shown) == {"flow_run", "task_runs", "states", "logs"}
    assert shown["flow_run"] == runs[0]
    assert [s["name"] for s in shown["states"]] == ["Pending", "Running", "Completed"]
    inspected = json.loads(transom("deployment", "inspect", "nightly/at-two", "-o", "json").stdout)
    assert inspected["deployment"] == deployments[0] and inspected["scheduled_runs"] == []
    pool = json.loads(transom("work-pool", "inspect", POOL, "-o", "json").stdout)
    assert pool["work_pool"] == pools[0] and pool["deployments"] == deployments


def test_flat_listings_have_csv(transom: Transom, project: Path) -> None:
    rows = list(csv.DictReader(io.StringIO(transom("runs", "ls", "-o", "csv").stdout)))
    assert list(rows[0]) == list(FlowRunRead.model_fields)
    assert rows[0]["name"] == RUN and rows[0]["tags"] == "[]" and rows[0]["parent_flow_run_id"] == ""
    pools = list(csv.DictReader(io.StringIO(transom("work-pool", "ls", "-o", "csv").stdout)))
    assert [(p["name"], p["paused"]) for p in pools] == [(POOL, "false")]
    deployments = transom("deployment", "ls", "--output", "csv").stdout
    assert deployments.splitlines()[0].split(",") == list(DeploymentRead.model_fields)
    workers = transom("worker", "ls", "-o", "csv").stdout
    assert workers.splitlines() == [",".join(WorkerRead.model_fields)]  # the header alone


def test_the_other_tables_keep_names_whole_when_piped(transom: Transom, project: Path) -> None:
    pools = transom("work-pool", "ls", env=NARROW)
    assert POOL in pools.stdout, pools.stdout
    deployments = transom("deployment", "ls", env=NARROW)
    row = _line_with("nightly/at-two", deployments.stdout)
    assert POOL in row and "(America/New_York)" in row
    run_id = json.loads(transom("runs", "ls", "-o", "json").stdout)[0]["id"]
    shown = transom("runs", "show", run_id, env=NARROW)
    assert RUN in shown.stdout
    assert re.search(r"\d\d:\d\d:\d\d\.\d{3} (CET|CEST) .*Completed", shown.stdout), shown.stdout


def test_deployment_times_are_in_the_schedules_zone(transom: Transom, project: Path) -> None:
    inspected = transom("deployment", "inspect", "nightly/at-two", env=NARROW)
    next_runs = _line_with("Next runs:", inspected.stdout)
    # 02:00 in New York, said so (EST or EDT), whatever the local zone (TZ is Paris here).
    assert re.search(r"\d{4}-\d\d-\d\d 02:00:00 E[SD]T", next_runs), next_runs
    listed = transom("deployment", "ls", env=NARROW)
    assert re.search(r"02:00:00 E[SD]T", _line_with("nightly/at-two", listed.stdout))


def test_scheduled_runs_show_in_inspect_and_in_runs_ls(transom: Transom, project: Path) -> None:
    asked = [transom("deployment", "run", "nightly/at-two", "--in", when, env=NARROW)
             for when in ("2h", "3h")]
    for done in asked:
        assert done.code == 0, done.stderr
        # in the schedule's zone, labelled
        assert re.search(r"is scheduled for \d{4}-\d\d-\d\d \d\d:\d\d:\d\d E[SD]T\.", done.stdout)
    inspected = transom("deployment", "inspect", "nightly/at-two", env=NARROW).stdout
    assert "Next runs:   -" not in inspected
    assert "Scheduled:   2 run(s) waiting" in inspected
    scheduled = [r for r in json.loads(transom("runs", "ls", "-o", "json").stdout)
                 if r["state_type"] == "SCHEDULED"]
    assert len(scheduled) == 2
    first = min(datetime.fromisoformat(r["expected_start_time"].replace("Z", "+00:00"))
                for r in scheduled)
    assert format_time(first, "America/New_York") in _line_with("Next runs:", inspected)
    listed = transom("runs", "ls", env=NARROW).stdout
    row = _line_with(scheduled[0]["name"], listed)
    assert "nightly/at-two" in row and "Scheduled" in row  # the deployment column
    assert re.search(r"\d\d:\d\d:\d\d (CET|CEST) \(expected\)", row), row  # not "-"
    assert "Deployment" in _line_with("ID", listed)


def test_a_bad_output_format_is_refused(transom: Transom, project: Path) -> None:
    done = transom("runs", "ls", "--output", "xml")
    assert done.code != 0 and "Traceback" not in done.stderr
    assert "'xml' is not one of" in done.stderr


@pytest.mark.parametrize(("zone", "when", "shown"), [
    ("Europe/Paris", datetime(2026, 12, 2, 1, 0, tzinfo=timezone.utc), "2026-12-02 02:00:00 CET"),
    ("Europe/Paris", datetime(2026, 7, 2, 0, 0, tzinfo=timezone.utc), "2026-07-02 02:00:00 CEST"),
    ("America/Sao_Paulo", datetime(2026, 12, 2, 5, 0, tzinfo=timezone.utc),
     "2026-12-02 02:00:00 -03:00"),  # a zone without letters for its name: the offset
    ("UTC", datetime(2026, 12, 2, 2, 0, tzinfo=timezone.utc), "2026-12-02 02:00:00 UTC"),
])
def test_times_are_labelled_with_their_zone(zone: str, when: datetime, shown: str) -> None:
    assert format_time(when, zone) == shown
    assert format_time(None) == "-"
