"""End to end: flows in real processes record into a real SQLite file, whatever way they end."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

FLOWS = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    from transom import flow, task, get_run_logger

    @task
    def step(i: int) -> int:
        return i * 2

    @task
    def wait_forever(ready: str) -> None:
        Path(ready).write_text("ready")
        time.sleep(60)

    @flow
    def many(n: int) -> int:
        get_run_logger().info("starting %d steps", n)
        return sum(step(i) for i in range(n))

    @flow
    def fails() -> None:
        step(1)
        raise RuntimeError("the flow broke")

    @flow
    def hangs(ready: str) -> None:
        step(1)
        wait_forever(ready)

    @flow
    def hangs_submitted(ready: str) -> None:
        step(1)
        futures = [wait_forever.submit(ready + str(i)) for i in range(2)]
        [f.result() for f in futures]

    if __name__ == "__main__":
        name, *args = sys.argv[1:]
        if name == "many":
            print(many(int(args[0])))
        elif name == "fails":
            fails()
        elif name == "hangs":
            hangs(args[0])
        else:
            hangs_submitted(args[0])
""")


@pytest.fixture
def script(tmp_path: Path) -> Path:
    path = tmp_path / "flows.py"
    path.write_text(FLOWS, encoding="utf-8")
    return path


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def start(script: Path, home: Path, *args: str) -> subprocess.Popen[str]:
    env = dict(os.environ, TRANSOM_HOME=str(home))
    return subprocess.Popen([sys.executable, str(script), *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def query(home: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(home / "transom.db") as db:
        return db.execute(sql).fetchall()


def flow_states(home: Path) -> list[str]:
    return [r[0] for r in query(home, "SELECT state_name FROM flow_runs ORDER BY created")]


def test_normal_exit_records_everything(script: Path, home: Path) -> None:
    proc = start(script, home, "many", "200")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert out.strip() == str(sum(i * 2 for i in range(200)))
    assert flow_states(home) == ["Completed"]
    assert query(home, "SELECT count(*), min(state_type) FROM task_runs") == [(200, "COMPLETED")]
    assert query(home, "SELECT message FROM logs WHERE message LIKE 'starting%'") == [
        ("starting 200 steps",)]


def test_a_raising_flow_is_recorded_failed_with_its_error(script: Path, home: Path) -> None:
    proc = start(script, home, "fails")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1 and "the flow broke" in err
    assert flow_states(home) == ["Failed"]
    (message,) = query(home, "SELECT state_message FROM flow_runs")[0]
    assert message == "RuntimeError: the flow broke"
    assert query(home, "SELECT state_name FROM task_runs") == [("Completed",)]


def _interrupt(script: Path, home: Path, tmp_path: Path, sig: int,
               flow: str = "hangs") -> subprocess.Popen[str]:
    ready = tmp_path / "ready"
    proc = start(script, home, flow, str(ready))
    deadline = time.monotonic() + 30
    ready_files = [ready] if flow == "hangs" else [tmp_path / "ready0", tmp_path / "ready1"]
    while not all(r.exists() for r in ready_files):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the flow never started its task"
        time.sleep(0.05)
    proc.send_signal(sig)
    proc.communicate(timeout=30)
    return proc


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals; Ctrl+C on Windows runs in the windows job")
def test_ctrl_c_ends_the_run_cancelled_not_running(script: Path, home: Path, tmp_path: Path) -> None:
    proc = _interrupt(script, home, tmp_path, signal.SIGINT)
    assert proc.returncode != 0
    assert flow_states(home) == ["Cancelled"]
    rows = dict(query(home, "SELECT name, state_name FROM task_runs"))
    assert rows == {"step-0": "Completed", "wait_forever-0": "Cancelled"}


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals; Ctrl+C on Windows runs in the windows job")
def test_ctrl_c_ends_submitted_task_runs_too_and_exits_promptly(
        script: Path, home: Path, tmp_path: Path) -> None:
    started = time.monotonic()
    proc = _interrupt(script, home, tmp_path, signal.SIGINT, flow="hangs_submitted")
    assert time.monotonic() - started < 30  # the sleeping task threads do not hold the exit
    assert proc.returncode != 0
    assert flow_states(home) == ["Cancelled"]
    rows = dict(query(home, "SELECT name, state_name FROM task_runs"))
    assert rows == {"step-0": "Completed", "wait_forever-0": "Cancelled",
                    "wait_forever-1": "Cancelled"}


@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM does not exist as a signal on Windows")
def test_sigterm_ends_the_run_crashed(script: Path, home: Path, tmp_path: Path) -> None:
    proc = _interrupt(script, home, tmp_path, signal.SIGTERM)
    assert proc.returncode != 0
    assert flow_states(home) == ["Crashed"]
    (message,) = query(home, "SELECT state_message FROM flow_runs")[0]
    assert "SIGTERM" in str(message)


def test_two_processes_record_completely_at_the_same_time(script: Path, home: Path) -> None:
    procs = [start(script, home, "many", "300") for _ in range(2)]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    assert flow_states(home) == ["Completed", "Completed"]
    assert query(home, "SELECT count(*) FROM task_runs WHERE state_type = 'COMPLETED'") == [(600,)]
    assert query(home, "SELECT count(*) FROM states") == [(2 * 3 + 600 * 3,)]


def test_a_corrupt_database_is_reported_once_and_does_not_hold_up_exit(
        script: Path, home: Path) -> None:
    home.mkdir(parents=True)
    (home / "transom.db").write_bytes(b"garbage" * 1000)
    proc = start(script, home, "many", "20")
    out, err = proc.communicate(timeout=20)  # a retry loop at exit would blow this bound
    # The flow ran; that nothing of it was recorded is said once, and in the exit code.
    assert proc.returncode == 1 and out.strip() == str(sum(i * 2 for i in range(20)))
    assert err.count("runs are NOT being recorded") == 1 and "Traceback" not in err
    assert "is not a SQLite database" in err
