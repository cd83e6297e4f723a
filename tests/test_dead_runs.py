"""A run whose own process died (no worker holds it) is found dead and ends Crashed, with and
without a server; cancelling such a run stops its process and ends it either way."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.server.conftest import LiveServer
from tests.support.processes import gone
from transom.core import states as st
from transom.core.recorder import FlowRunCreated, ProcessHeartbeat, ProcessInfo, StateChanged
from transom.core.states import StateType, now_utc
from transom.services import Context, EmbeddedBackend, open_backend
from transom.settings import Settings
from transom.store import open_database

LONG_FLOW = textwrap.dedent("""
    import time
    from transom import flow, task

    @task
    def slow() -> None:
        time.sleep(120)

    @flow
    def longflow() -> None:
        slow()

    if __name__ == "__main__":
        longflow()
""")


def _start(tmp_path: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    script = tmp_path / "longflow.py"
    script.write_text(LONG_FLOW, encoding="utf-8")
    return subprocess.Popen([sys.executable, str(script)], cwd=tmp_path,
                            env={**os.environ, **env},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _wait_running(read: Callable[[], Any], process: subprocess.Popen[bytes]) -> Any:
    deadline = time.monotonic() + 30
    while True:
        runs = read()
        if runs and runs[0].state_type is StateType.RUNNING:
            return runs[0]
        assert process.poll() is None and time.monotonic() < deadline, "the flow did not start"
        time.sleep(0.1)


def _embedded(home: Path) -> Settings:
    return Settings.load({}, home=home)


def test_kill_9_without_a_server_is_crashed_by_the_next_command(tmp_path: Path) -> None:
    home = tmp_path / "home"
    process = _start(tmp_path, {"TRANSOM_HOME": str(home)})
    try:
        def read() -> Any:
            with EmbeddedBackend(Context(open_database(_embedded(home).database_url_resolved),
                                         _embedded(home))) as backend:
                return backend.list_flow_runs().items
        run = _wait_running(read, process)
        process.kill()
        process.wait(10)
        killed = time.monotonic()
        with open_backend(_embedded(home)) as backend:  # what any later `transom ...` does
            crashed = backend.read_flow_run(run.id)
        took = time.monotonic() - killed
    finally:
        process.kill()
    assert crashed.state_name == "Crashed", crashed
    assert f"pid {process.pid}" in (crashed.state_message or "")
    assert "is gone" in (crashed.state_message or "")
    print(f"time from kill -9 to Crashed (embedded, next command): {took:.2f}s")


def test_kill_9_with_a_server_is_crashed_by_its_housekeeping(tmp_path: Path) -> None:
    settings = Settings.load({}, home=tmp_path / "server-home",
                             database_url=f"sqlite:///{tmp_path / 'server.db'}",
                             server_services_interval=0.5, server_scheduler_interval=60)
    server = LiveServer(settings)
    server.start()
    process = _start(tmp_path, {"TRANSOM_HOME": str(tmp_path / "client-home"),
                                "TRANSOM_API_URL": server.url})
    try:
        from transom.client import TransomClient

        with TransomClient(server.url) as client:
            run = _wait_running(lambda: client.list_flow_runs().items, process)
            process.kill()
            process.wait(10)
            killed = time.monotonic()
            while client.read_flow_run(run.id).state_type is not StateType.CRASHED:
                assert time.monotonic() - killed < 20, "the dead run was not noticed"
                time.sleep(0.1)
            took = time.monotonic() - killed
            crashed = client.read_flow_run(run.id)
    finally:
        process.kill()
        server.stop()
    assert "is gone" in (crashed.state_message or "")
    print(f"time from kill -9 to Crashed (server housekeeping every 0.5s): {took:.2f}s")


def test_a_silent_process_elsewhere_is_crashed_after_the_timeout(tmp_path: Path) -> None:
    settings = Settings.load({}, home=tmp_path, run_heartbeat_timeout=60)
    elsewhere = ProcessInfo(uuid.uuid4(), 4242, "another-machine")
    backend = EmbeddedBackend(Context(open_database(settings.database_url_resolved), settings))
    with backend:
        run_id = uuid.uuid4()
        backend.send_events([FlowRunCreated(run_id, "f", "r", process=elsewhere),
                             StateChanged(run_id, False, st.Running(), 1)])
        start = now_utc()
        assert backend.crash_runs_without_heartbeat(start + timedelta(seconds=59)) == 0
        # A heartbeat keeps it alive for another timeout.
        backend.send_events([ProcessHeartbeat(elsewhere, start + timedelta(seconds=50))])
        assert backend.crash_runs_without_heartbeat(start + timedelta(seconds=100)) == 0
        assert backend.crash_runs_without_heartbeat(start + timedelta(seconds=115)) == 1
        crashed = backend.read_flow_run(run_id)
    assert crashed.state_name == "Crashed"
    assert "pid 4242 on another-machine" in (crashed.state_message or "")
    assert "the limit is 60s" in (crashed.state_message or "")


def test_a_live_process_heart_beats(tmp_path: Path) -> None:
    home = tmp_path / "home"
    process = _start(tmp_path, {"TRANSOM_HOME": str(home), "TRANSOM_RUN_HEARTBEAT_INTERVAL": "0.2"})
    try:
        backend = EmbeddedBackend(Context(open_database(_embedded(home).database_url_resolved),
                                          _embedded(home)))
        with backend:
            run = _wait_running(lambda: backend.list_flow_runs().items, process)
            with backend.ctx.db.read() as conn:
                first = conn.exec_driver_sql("SELECT heartbeat FROM flow_runs").scalar()
            time.sleep(1.0)
            with backend.ctx.db.read() as conn:
                later = conn.exec_driver_sql("SELECT heartbeat FROM flow_runs").scalar()
            assert later > first
            # Far in the future a silent process would be dead, but this one is alive here:
            # only a stale heartbeat counts against it, and it keeps beating.
            assert backend.read_flow_run(run.id).state_type is StateType.RUNNING
    finally:
        process.kill()


@pytest.mark.parametrize("where", ["embedded", "server"])
def test_cancelling_a_run_no_worker_holds_stops_its_process(tmp_path: Path, where: str) -> None:
    env = {"TRANSOM_HOME": str(tmp_path / "home")}
    server = None
    if where == "server":
        server = LiveServer(Settings.load({}, home=tmp_path / "server-home",
                                          database_url=f"sqlite:///{tmp_path / 'server.db'}"))
        server.start()
        env["TRANSOM_API_URL"] = server.url
    process = _start(tmp_path, env)
    try:
        settings = Settings.load(env)
        with open_backend(settings) as backend:
            run = _wait_running(lambda: backend.list_flow_runs().items, process)
            record = backend.cancel_flow_run(run.id, "not now")
            assert (record.name, record.message) == ("Cancelled", "not now")
            assert gone(process.pid, within=20), "the run's process was not stopped"
            time.sleep(0.5)  # whatever the process said on its way out is refused
            final = backend.read_flow_run(run.id)
        assert (final.state_name, final.state_message) == ("Cancelled", "not now")
    finally:
        process.kill()
        if server is not None:
            server.stop()


DETACHING_FLOW = textwrap.dedent("""
    import sys
    from transom import flow
    from transom.shell import shell_run

    @flow
    def detaching(pidfile: str) -> None:
        # A double fork: the subshell starts a process that leaves its session, and exits; the
        # orphan is nobody's descendant now (but the keeper's), while the shell goes on.
        shell_run(f"( setsid sh -c 'echo $$ > {pidfile}; exec sleep 1000' & ); sleep 1000",
                  shell="bash")

    if __name__ == "__main__":
        detaching(sys.argv[1])
""")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the keeper is Linux's")
def test_cancelling_a_run_no_worker_holds_stops_what_its_shell_task_detached(
        tmp_path: Path) -> None:
    env = {"TRANSOM_HOME": str(tmp_path / "home")}
    script = tmp_path / "detaching.py"
    script.write_text(DETACHING_FLOW, encoding="utf-8")
    pidfile = tmp_path / "orphan.pid"
    process = subprocess.Popen([sys.executable, str(script), str(pidfile)], cwd=tmp_path,
                               env={**os.environ, **env},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    orphan = None
    try:
        settings = Settings.load(env)
        with open_backend(settings) as backend:
            run = _wait_running(lambda: backend.list_flow_runs().items, process)
            deadline = time.monotonic() + 30
            while not pidfile.exists() or not pidfile.read_text().strip():
                assert time.monotonic() < deadline, "the shell task did not start"
                time.sleep(0.05)
            orphan = int(pidfile.read_text())
            backend.cancel_flow_run(run.id, "stop it all")
            assert gone(process.pid, within=20), "the run's process was not stopped"
            assert gone(orphan, within=10), "the detached grandchild outlived the cancel"
            assert backend.read_flow_run(run.id).state_name == "Cancelled"
    finally:
        process.kill()
        if orphan is not None and not gone(orphan, within=0):
            os.kill(orphan, 9)
