"""`transom runs ls/show/logs` over runs recorded by real flows in a real database."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import Any

import pytest

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
