"""`transom runs ls/show/logs`: over runs recorded by real flows (as a real command) and over
runs written through the store's sink (the Typer app in-process)."""

from __future__ import annotations

import os
import textwrap
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from transom.cli import runs as runs_cli
from transom.cli.output import console
from transom.core.recorder import FlowRunCreated, LogRecorded, StateChanged, TaskRunCreated
from transom.core.states import ErrorInfo, State, StateType
from transom.exceptions import UserInputError
from transom.store.sink import StoreSink

Transom = Any  # the `transom` fixture of tests/cli/conftest.py

FLOWS = textwrap.dedent("""
    import sys
    from transom import flow, task, get_run_logger

    @task(retries=1)
    def shaky(attempts=[]):
        attempts.append(1)
        if len(attempts) == 1:
            raise ConnectionError("first try fails")
        get_run_logger().info("ναι, it worked")
        return 1

    @flow(name="nightly-report")
    def report():
        return shaky()

    @flow
    def broken():
        raise ValueError("wrong input file")

""")


@pytest.fixture
def recorded(transom: Transom, home: Path, tmp_path: Path) -> Path:
    script = tmp_path / "flows.py"
    script.write_text(FLOWS, encoding="utf-8")
    assert transom("run", f"{script}:report").code == 0
    assert transom("run", f"{script}:broken").code == 1
    return home


def _run_ids(home: Path) -> dict[str, str]:
    import sqlite3

    with sqlite3.connect(home / "transom.db") as db:
        return {state: run_id for run_id, state in db.execute(
            "SELECT id, state_name FROM flow_runs")}


def test_ls_lists_runs_with_states(transom: Transom, recorded: Path) -> None:
    result = transom("runs", "ls")
    assert result.code == 0, result.stderr
    assert "nightly-report" in result.stdout and "broken" in result.stdout
    assert "Completed" in result.stdout and "Failed" in result.stdout
    assert "Flow runs (2 of 2)" in result.stdout


def test_ls_filters(transom: Transom, recorded: Path) -> None:
    failed = transom("runs", "ls", "--state", "failed")
    assert "broken" in failed.stdout and "nightly-report" not in failed.stdout
    by_flow = transom("runs", "ls", "--flow", "nightly-report", "--since", "1h")
    assert "nightly-report" in by_flow.stdout and "broken" not in by_flow.stdout
    none = transom("runs", "ls", "--since", "2999-01-01")
    assert none.code == 0 and "No runs match those filters." in none.stdout


def test_show_has_tasks_states_and_logs(transom: Transom, recorded: Path) -> None:
    run_id = _run_ids(recorded)["Completed"]
    result = transom("runs", "show", run_id[:8])
    assert result.code == 0, result.stderr
    out = result.stdout
    assert "nightly-report" in out and "shaky-0" in out
    for state in ("Pending", "Running", "Completed"):
        assert state in out
    assert "ναι, it worked" in out and "first try fails" in out


def test_show_a_failed_run_prints_its_traceback(transom: Transom, recorded: Path) -> None:
    result = transom("runs", "show", _run_ids(recorded)["Failed"])
    assert "ValueError: wrong input file" in result.stdout
    assert "Error traceback:" in result.stdout


def test_logs(transom: Transom, recorded: Path) -> None:
    result = transom("runs", "logs", _run_ids(recorded)["Completed"][:6])
    assert result.code == 0
    assert "[shaky-0]" in result.stdout and "ναι, it worked" in result.stdout


def test_empty_database_and_bad_input(transom: Transom, home: Path) -> None:
    empty = transom("runs", "ls")
    assert empty.code == 0 and "No runs recorded yet." in empty.stdout
    transom("runs", "show", "abcdef").assert_user_error("no flow run has an id starting with")
    transom("runs", "ls", "--since", "yesterday").assert_user_error("--since 'yesterday'")
    transom("runs", "ls", "--state", "done").assert_user_error("unknown state 'done'")


def test_a_corrupt_database_is_one_sentence(transom: Transom, home: Path) -> None:
    home.mkdir(parents=True)
    (home / "transom.db").write_bytes(b"garbage" * 1000)
    transom("runs", "ls").assert_user_error("is not a SQLite database")


def test_environment_is_isolated(home: Path) -> None:
    assert os.environ.get("TRANSOM_HOME") != str(home)


# -- the Typer app in-process, over runs written straight through the store's sink ---------------
NOW = datetime.now(timezone.utc)


def _state(kind: StateType, name: str, at: datetime, message: str | None = None) -> State:
    return State(kind, name, at, message)


@pytest.fixture
def seeded(home: Path) -> dict[str, FlowRunCreated]:
    """Two runs: `etl` just now (two tasks, logs) and `report` two hours ago (failed)."""
    etl = FlowRunCreated(uuid.uuid4(), "etl", "brave-otter", {"day": "mon"}, created=NOW)
    report = FlowRunCreated(uuid.uuid4(), "report", "calm-heron", created=NOW - timedelta(hours=2))
    extract, load = uuid.uuid4(), uuid.uuid4()
    start = NOW + timedelta(seconds=1)
    failed = State(StateType.FAILED, "Failed", report.created + timedelta(seconds=5),
                   "KeyError: 'col'", error=ErrorInfo("KeyError", "'col'", "Traceback ...\nKeyError: 'col'"))
    sink = StoreSink(f"sqlite:///{home / 'transom.db'}")
    sink.write([
        etl, StateChanged(etl.id, False, _state(StateType.RUNNING, "Running", start), 1),
        TaskRunCreated(extract, etl.id, "etl.extract", "extract-0"),
        TaskRunCreated(load, etl.id, "etl.load", "load-0"),
        StateChanged(extract, True, _state(StateType.RUNNING, "Running", start), 1),
        StateChanged(extract, True, _state(StateType.COMPLETED, "Completed", start + timedelta(seconds=1)), 1),
        StateChanged(load, True, _state(StateType.RUNNING, "Running", start), 1),
        StateChanged(load, True, _state(StateType.FAILED, "Failed", start + timedelta(seconds=2)), 1),
        LogRecorded(etl.id, None, 20, "transom.flow_runs", "starting the day", start),
        LogRecorded(etl.id, load, 30, "transom.task_runs", "slow disk ⏳", start + timedelta(seconds=1)),
        StateChanged(etl.id, False, _state(StateType.COMPLETED, "Completed", start + timedelta(seconds=2.5)), 1),
        report, StateChanged(report.id, False, _state(StateType.RUNNING, "Running", report.created), 1),
        StateChanged(report.id, False, failed, 1),
    ])
    sink.close()
    return {"etl": etl, "report": report}


def _invoke(home: Path, *args: str, input: str | None = None) -> Any:
    console.cache_clear()  # a console made now writes to CliRunner's captured output
    try:
        return CliRunner().invoke(runs_cli.app, list(args), input=input, env={
            "TRANSOM_HOME": str(home), "TRANSOM_DATABASE_URL": None, "COLUMNS": "200",
            "NO_COLOR": "1",
            # the suite's own switches: Transom would warn of them as unknown settings
            "TRANSOM_TEST_REQUIRE_BROWSER": None, "TRANSOM_TEST_REQUIRE_POSTGRES": None})
    finally:
        console.cache_clear()


def test_ls_in_process(home: Path, seeded: dict[str, FlowRunCreated]) -> None:
    result = _invoke(home, "ls")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Flow runs (2 of 2)" in out
    # Not a terminal: the whole id (a terminal gets its first 8 characters, a unique prefix).
    etl_row = next(line for line in out.splitlines() if str(seeded["etl"].id) in line)
    for cell in ("etl", "brave-otter", "Completed", "2.50s", " 2"):
        assert cell in etl_row
    assert out.index("brave-otter") < out.index("calm-heron")  # newest first
    assert "Failed" in out


def test_ls_filters_in_process(home: Path, seeded: dict[str, FlowRunCreated]) -> None:
    assert "calm-heron" not in _invoke(home, "ls", "--since", "30m").output
    both = (NOW - timedelta(hours=3)).isoformat()
    assert "Flow runs (2 of 2)" in _invoke(home, "ls", "--since", both).output
    failed = _invoke(home, "ls", "--state", "FAILED").output
    assert "calm-heron" in failed and "brave-otter" not in failed
    assert "calm-heron" not in _invoke(home, "ls", "--flow", "etl").output
    assert "Flow runs (1 of 2)" in _invoke(home, "ls", "--limit", "1").output
    assert "No runs match those filters." in _invoke(home, "ls", "--flow", "nope").output


def test_ls_filters_by_deployment_pool_tag_until_and_prefix(
        home: Path, seeded: dict[str, FlowRunCreated]) -> None:
    from transom.schemas import DeploymentCreate, DeploymentRunCreate, WorkPoolCreate
    from transom.services import Context, EmbeddedBackend
    from transom.settings import Settings
    from transom.store import open_database

    db = open_database(f"sqlite:///{home / 'transom.db'}")
    try:
        backend = EmbeddedBackend(Context(db, Settings.load({})), owns_database=False)
        backend.create_work_pool(WorkPoolCreate(name="main"))
        deployment = backend.upsert_deployment(DeploymentCreate(
            flow_name="etl", name="nightly", entrypoint="flows/etl.py:etl", work_pool="main"))
        backend.create_deployment_run(deployment.id, DeploymentRunCreate(
            name="deployed-run", tags=["blue"]))
    finally:
        db.close()
    for args in (("--deployment", "etl/nightly"), ("-d", str(deployment.id)), ("--pool", "main"),
                 ("--tag", "blue"), ("--prefix", "DEPLOYED")):
        out = _invoke(home, "ls", *args).output
        assert "Flow runs (1 of 1)" in out and "deployed-run" in out, (args, out)
    before = _invoke(home, "ls", "--until", "1h").output
    assert "calm-heron" in before and "brave-otter" not in before and "deployed-run" not in before
    by_id = _invoke(home, "ls", "--prefix", seeded["etl"].id.hex[:9]).output
    assert "Flow runs (1 of 1)" in by_id and "brave-otter" in by_id
    assert "No runs match those filters." in _invoke(home, "ls", "--tag", "red").output
    # The app's error handler (not this sub-app) prints them as one sentence.
    unknown = _invoke(home, "ls", "--pool", "nope")
    assert isinstance(unknown.exception, UserInputError)
    assert str(unknown.exception).startswith("no work pool named 'nope'")
    bad = _invoke(home, "ls", "--until", "soon")
    assert isinstance(bad.exception, UserInputError)
    assert str(bad.exception).startswith("--until 'soon' is neither a duration")


def test_show_in_process(home: Path, seeded: dict[str, FlowRunCreated]) -> None:
    result = _invoke(home, "show", seeded["etl"].id.hex[:7])
    assert result.exit_code == 0, result.output
    out = result.output
    assert str(seeded["etl"].id) in out and "Flow:       etl" in out and "'day': 'mon'" in out
    assert "Task runs (2)" in out
    load_row = next(line for line in out.splitlines() if "load-0" in line and "Failed" in line)
    assert "2.00s" in load_row
    assert "State history" in out and "Running" in out
    assert "starting the day" in out and "[load-0] slow disk ⏳" in out
    failed = _invoke(home, "show", str(seeded["report"].id)).output
    assert "KeyError: 'col'" in failed and "Error traceback:" in failed


INTERRUPTED = ErrorInfo("transom.exceptions.RunInterrupted", "cancelled by ada",
                        "Traceback (most recent call last):\n" + "  internal frame\n" * 24
                        + "transom.exceptions.RunInterrupted: cancelled by ada")


@pytest.mark.parametrize(("kind", "name", "message", "line"), [
    (StateType.CANCELLED, "Cancelled", "cancelled by ada", "State:      Cancelled  cancelled by ada"),
    # a stop whose state says nothing: the one line is the error's message
    (StateType.CRASHED, "Crashed", None, "Stopped: cancelled by ada"),
])
def test_show_a_stopped_run_in_one_line(home: Path, kind: StateType, name: str,
                                        message: str | None, line: str) -> None:
    run = FlowRunCreated(uuid.uuid4(), "etl", "calm-heron", created=NOW)
    sink = StoreSink(f"sqlite:///{home / 'transom.db'}")
    sink.write([run, StateChanged(run.id, False, _state(StateType.RUNNING, "Running", NOW), 1),
                StateChanged(run.id, False, State(kind, name, NOW + timedelta(seconds=1), message,
                                                  error=INTERRUPTED), 1)])
    sink.close()
    out = _invoke(home, "show", run.id.hex).output
    assert "Traceback" not in out and "internal frame" not in out and "Error traceback" not in out
    assert line in out.splitlines(), out


def test_logs_in_process(home: Path, seeded: dict[str, FlowRunCreated]) -> None:
    lines = _invoke(home, "logs", seeded["etl"].id.hex).output.splitlines()
    assert len(lines) == 2
    assert "INFO" in lines[0] and lines[0].endswith("starting the day")
    assert "WARNING" in lines[1] and lines[1].endswith("[load-0] slow disk ⏳")
    assert "No log lines." in _invoke(home, "logs", seeded["report"].id.hex).output


def test_delete_in_process(home: Path, seeded: dict[str, FlowRunCreated]) -> None:
    etl, report = seeded["etl"].id.hex, seeded["report"].id.hex
    result = _invoke(home, "delete", etl[:8], report, "--yes")
    assert result.exit_code == 0, result.output
    assert result.output.count("Deleted flow run ") == 2
    assert "No runs recorded yet." in _invoke(home, "ls").output
    again = _invoke(home, "delete", etl, "--yes")
    assert again.exit_code == 1 and "no flow run has the id" in again.output
    asked = _invoke(home, "delete", etl, input="n\n")
    assert asked.exit_code == 1 and "Delete 1 flow run(s)" in asked.output


def test_logs_by_level_and_text_in_process(home: Path, seeded: dict[str, FlowRunCreated]) -> None:
    run = seeded["etl"].id.hex
    warnings = _invoke(home, "logs", run, "--level", "warning").output.splitlines()
    assert len(warnings) == 1 and warnings[0].endswith("[load-0] slow disk ⏳")
    assert _invoke(home, "logs", run, "-l", "30").output.splitlines() == warnings
    found = _invoke(home, "logs", run, "--search", "THE DAY").output.splitlines()
    assert len(found) == 1 and found[0].endswith("starting the day")
    assert "No log lines." in _invoke(home, "logs", run, "--search", "nowhere").output
    loud = _invoke(home, "logs", run, "--level", "loud")
    assert isinstance(loud.exception, UserInputError) and "--level takes DEBUG" in str(loud.exception)


def test_unknown_ids_and_an_empty_database_in_process(home: Path) -> None:
    assert "No runs recorded yet." in _invoke(home, "ls").output
    missing = _invoke(home, "show", "abc123")
    assert isinstance(missing.exception, UserInputError)
    assert "no flow run has an id starting with 'abc123'" in str(missing.exception)


def test_ls_as_a_real_command(transom: Transom, home: Path, seeded: dict[str, FlowRunCreated]) -> None:
    result = transom("runs", "ls", "--flow", "report")
    assert result.code == 0, result.stderr
    assert str(seeded["report"].id) in result.stdout and "Failed" in result.stdout


@pytest.mark.parametrize(("text", "ago"), [
    ("30m", timedelta(minutes=30)), ("2h", timedelta(hours=2)), ("1d", timedelta(days=1)),
    ("1.5h", timedelta(minutes=90)), (" 45s ", timedelta(seconds=45)), ("2w", timedelta(weeks=2)),
])
def test_since_durations(text: str, ago: timedelta) -> None:
    assert runs_cli.parse_since(text, now=NOW) == NOW - ago


def test_since_dates_and_nonsense() -> None:
    assert runs_cli.parse_since("2026-11-24", now=NOW) == datetime(2026, 11, 24, tzinfo=timezone.utc)
    plus_one = runs_cli.parse_since("2026-11-24T08:00+01:00", now=NOW)
    assert plus_one == datetime(2026, 11, 24, 7, tzinfo=timezone.utc)
    with pytest.raises(UserInputError, match="--since 'last tuesday' is neither a duration"):
        runs_cli.parse_since("last tuesday", now=NOW)
