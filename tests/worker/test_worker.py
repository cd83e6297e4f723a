"""A worker as a user relies on it: runs start, are recorded, retried, cancelled, and never
left Running when their process dies."""

from __future__ import annotations

import re
import sys
import time
import uuid
from pathlib import Path

import psutil
import pytest

from tests.support.processes import gone
from tests.worker.conftest import Harness

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def test_a_run_starts_is_recorded_and_its_output_streams(harness: Harness) -> None:
    harness.deploy("flows.py:hello", parameters={"name": "ada"})
    run_id = harness.run("hello", name="grace")
    harness.start_worker(limit=2)
    run = harness.final(run_id)
    assert run.state_name == "Completed" and run.run_count == 1 and run.worker_id is not None
    assert [s.name for s in harness.client.flow_run_states(run_id)] == [
        "Scheduled", "Pending", "Running", "Completed"]
    logs = [line.message for line in harness.client.flow_run_logs(run_id).items]
    assert any("hello grace" in message for message in logs)
    assert any(line.endswith("printed grace") for line in harness.lines)


@pytest.mark.slow  # 10 MB through the API and a file: seconds under Wine; Linux and Windows CI run it
def test_a_ten_megabyte_parameter_reaches_its_run(harness: Harness) -> None:
    # Far past what an environment variable may hold (~128 kB on Linux, 32 kB on Windows):
    # the run is handed to its process in a file, removed when the run ends.
    blob = "abc" + "x" * (10 * 1024 * 1024) + "xyz"
    out = harness.project / "measured"
    harness.deploy("flows.py:measure")
    run_id = harness.run("measure", blob=blob, out=str(out))
    worker = harness.start_worker()
    run = harness.final(run_id, timeout=60)
    assert run.state_name == "Completed", harness.lines
    assert out.read_text() == f"{len(blob)} abcxyz"
    deadline = time.monotonic() + 10
    while worker.children or worker.finishing:  # the worker settles the ended run
        assert time.monotonic() < deadline
        time.sleep(0.05)
    folder = worker.handover.folder
    assert folder is not None and folder.is_dir()
    handed = [line for line in harness.lines if folder.name in line]
    assert not handed  # the file's name is never in what the worker says
    assert list(folder.iterdir()) == [], "the hand-over file was left behind"


def test_whole_flow_retries_work_under_a_worker(harness: Harness) -> None:
    marker = harness.project / "marker"
    harness.deploy("flows.py:flaky")
    run_id = harness.run("flaky", marker=str(marker))
    harness.start_worker()
    run = harness.final(run_id)
    assert run.state_name == "Completed" and run.run_count == 3
    names = [s.name for s in harness.client.flow_run_states(run_id)]
    assert names.count("AwaitingRetry") == 2 and names[-1] == "Completed"


def test_a_flow_that_cannot_load_ends_failed_with_the_reason(harness: Harness) -> None:
    harness.deploy("flows.py:hello")
    (harness.project / "flows.py").unlink()
    run_id = harness.run("hello")
    harness.start_worker()
    run = harness.final(run_id)
    assert run.state_name == "Failed"
    assert "cannot start flow run" in (run.state_message or "")
    assert "no file at" in (run.state_message or "")


def test_cancel_stops_the_whole_tree_and_nothing_else(harness: Harness, tmp_path: Path) -> None:
    harness.deploy("flows.py:sleepy")
    pidfile = tmp_path / "pids"
    victim = harness.run("sleepy", seconds=60, pidfile=str(pidfile))
    other = harness.run("sleepy", seconds=2)
    harness.start_worker(limit=2)
    harness.wait(victim, lambda r: r.state_name == "Running")
    deadline = time.monotonic() + 10
    while not pidfile.exists() or " " not in pidfile.read_text():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    flow_pid, grandchild = map(int, pidfile.read_text().split())
    assert harness.client.cancel_flow_run(victim).name == "Cancelling"
    run = harness.final(victim, timeout=20)
    assert run.state_name == "Cancelled"
    assert gone(flow_pid, 10) and gone(grandchild, 10)
    assert harness.final(other).state_name == "Completed"  # the worker and other runs go on


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a subreaper is Linux's")
def test_cancel_stops_a_double_forked_grandchild(harness: Harness, tmp_path: Path) -> None:
    harness.deploy("flows.py:doublefork")
    pidfile = tmp_path / "orphan"
    run_id = harness.run("doublefork", pidfile=str(pidfile))
    harness.start_worker()
    harness.wait(run_id, lambda r: r.state_name == "Running")
    deadline = time.monotonic() + 10
    while not pidfile.exists() or not pidfile.read_text().strip():
        assert time.monotonic() < deadline, harness.lines
        time.sleep(0.05)
    orphan = int(pidfile.read_text())
    try:
        harness.client.cancel_flow_run(run_id)
        assert harness.final(run_id, timeout=20).state_name == "Cancelled"
        assert gone(orphan, 10), "the double-forked grandchild outlived the cancel"
    finally:
        if not gone(orphan, 0):
            psutil.Process(orphan).kill()


def test_a_worker_stopped_gracefully_is_offline_at_once(harness: Harness) -> None:
    harness.deploy("flows.py:hello")
    worker = harness.start_worker()
    deadline = time.monotonic() + 10
    while worker.polls == 0:
        assert time.monotonic() < deadline, harness.lines
        time.sleep(0.05)
    assert [w.online for w in harness.client.list_workers()] == [True]
    worker.stop(now=False)
    harness.workers[-1][1].join(20)
    assert [w.online for w in harness.client.list_workers()] == [False]  # not 30 s later
    assert harness.client.read_work_pool("main").workers_online == 0


@pytest.mark.parametrize("flow", ["sleepy", "waiting"])
def test_a_cancelled_run_is_stopped_by_its_flow_and_recorded_by_it(harness: Harness,
                                                                   flow: str) -> None:
    # Sync and async flows alike take the cancel at once (no kill after the grace period), and
    # the engine records why.
    harness.deploy(f"flows.py:{flow}")
    run_id = harness.run(flow, seconds=60)
    harness.start_worker()
    harness.wait(run_id, lambda r: r.state_name == "Running")
    harness.client.cancel_flow_run(run_id, "not needed today")
    run = harness.final(run_id, timeout=20)
    assert (run.state_name, run.state_message) == ("Cancelled", "not needed today")


def test_a_run_that_ignores_the_cancel_is_killed_after_the_grace_period(harness: Harness,
                                                                        tmp_path: Path) -> None:
    harness.deploy("flows.py:stubborn")
    pidfile = tmp_path / "pid"
    run_id = harness.run("stubborn", pidfile=str(pidfile))
    harness.start_worker()
    harness.wait(run_id, lambda r: r.state_name == "Running")
    while not pidfile.exists() or not pidfile.read_text():
        time.sleep(0.05)
    started = time.monotonic()
    harness.client.cancel_flow_run(run_id)
    run = harness.final(run_id, timeout=20)
    assert run.state_name == "Cancelled"
    assert "killed after the 2s grace period" in (run.state_message or "")
    assert 1.5 < time.monotonic() - started < 15
    assert gone(int(pidfile.read_text()), 5)


def test_a_run_whose_process_dies_ends_crashed_with_the_reason(harness: Harness,
                                                               tmp_path: Path) -> None:
    harness.deploy("flows.py:sleepy")
    pidfile = tmp_path / "pids"
    run_id = harness.run("sleepy", seconds=60, pidfile=str(pidfile))
    harness.start_worker()
    harness.wait(run_id, lambda r: r.state_name == "Running")
    while not pidfile.exists() or " " not in pidfile.read_text():
        time.sleep(0.05)
    psutil.Process(int(pidfile.read_text().split()[0])).kill()  # SIGKILL / TerminateProcess
    run = harness.final(run_id)
    assert run.state_name == "Crashed"
    # Windows has no signals: a terminated process just has an exit code (psutil's is 15).
    how = r"was killed by signal SIGKILL" if sys.platform != "win32" else r"exited with code \d+"
    assert re.fullmatch(f"crashed: its process {how} without reporting a final state",
                        run.state_message or ""), run.state_message



def test_a_running_worker_delivers_a_spool_kept_after_it_started(harness: Harness) -> None:
    from transom.core import states as st
    from transom.core.recorder import FlowRunCreated, StateChanged
    from transom.schemas import WorkPoolCreate
    from transom.services import spool

    harness.client.create_work_pool(WorkPoolCreate(name="main"))
    worker = harness.start_worker()
    deadline = time.monotonic() + 20
    while worker.polls < 1:
        assert time.monotonic() < deadline, harness.lines
        time.sleep(0.05)
    # A run on this machine ended while the server was away, after the worker's first poll.
    run_id = uuid.uuid4()
    home, url = harness.settings.home, harness.server.url
    kept = spool.keep(home, url, [FlowRunCreated(run_id, "offline", "quiet-heron"),
                                  StateChanged(run_id, False, st.Running()),
                                  StateChanged(run_id, False, st.Completed())])
    while kept.exists():
        assert time.monotonic() < deadline, harness.lines
        time.sleep(0.05)
    assert harness.client.read_flow_run(run_id).state_name == "Completed"
    assert any("Delivered 3 event(s) that earlier runs kept" in line for line in harness.lines)
