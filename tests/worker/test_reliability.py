"""Reliability with real processes: `transom server start` and `transom worker start` on
127.0.0.1, flows that record themselves in a file. Bounded in time; they stop by themselves."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import httpx
import pytest

from tests.support.network import free_port
from tests.support.processes import gone
from tests.worker.conftest import FLOWS
from transom.client import TransomClient
from transom.schemas import DeploymentCreate, DeploymentRunCreate, FlowRunRead, WorkPoolCreate

FINAL = ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")


def _environ(home: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRANSOM_")}
    env.update({"TRANSOM_HOME": str(home), "PYTHONIOENCODING": "utf-8"})
    temporary = home.parent / "tmp"  # the test's own temporary directory (hand-over folders)
    temporary.mkdir(exist_ok=True)
    env.update({"TMPDIR": str(temporary), "TEMP": str(temporary), "TMP": str(temporary)})
    env.update({f"TRANSOM_{k.upper()}": v for k, v in settings.items()})
    return env


class Processes:
    """`python -m transom ...` children of one test, each logging to a file, all ended after."""

    def __init__(self, root: Path, database_url: str) -> None:
        self.root = root
        self.home = root / "home"
        self.database_url = database_url
        self.port = free_port()
        self.api_url = f"http://127.0.0.1:{self.port}/api"
        self.started: list[tuple[subprocess.Popen[bytes], IO[bytes]]] = []
        (root / "flows.py").write_text(FLOWS, encoding="utf-8")

    def start(self, *args: str, log: str, **settings: str) -> subprocess.Popen[bytes]:
        out = (self.root / log).open("ab")
        process = subprocess.Popen(
            [sys.executable, "-m", "transom", *args], cwd=self.root, stdout=out,
            stderr=subprocess.STDOUT, env=_environ(self.home, **settings))
        self.started.append((process, out))
        return process

    def server(self, **settings: str) -> subprocess.Popen[bytes]:
        process = self.start("server", "start", "--port", str(self.port), log="server.log",
                             database_url=self.database_url, **settings)
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{self.api_url}/health", timeout=1).status_code == 200:
                    return process
            except httpx.HTTPError:
                pass
            assert process.poll() is None, (self.root / "server.log").read_text()
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)

    def worker(self, name: str, *options: str, **settings: str) -> subprocess.Popen[bytes]:
        settings = {"api_url": self.api_url, "worker_poll_interval": "0.2", **settings}
        return self.start("worker", "start", "--pool", "main", "--name", name, *options,
                          log=f"{name}.log", **settings)

    def close(self) -> None:
        # Workers first: a worker whose server is gone spends its shutdown trying to reach it.
        workers_first = sorted(reversed(self.started), key=lambda p: "server" in p[0].args)
        for process, out in workers_first:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(5)
            out.close()

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}"
                         for p in sorted(self.root.glob("*.log")))


@pytest.fixture
def procs(tmp_path: Path, database_url: str) -> Iterator[Processes]:
    processes = Processes(tmp_path, database_url)
    try:
        yield processes
    finally:
        processes.close()


def _setup(client: TransomClient, root: Path, *flows: str) -> None:
    client.create_work_pool(WorkPoolCreate(name="main"))
    for flow in flows:
        client.upsert_deployment(DeploymentCreate(
            flow_name=flow, name=flow, entrypoint=f"flows.py:{flow}", path=str(root),
            work_pool="main"))


def _wait(client: TransomClient, ids: list[uuid.UUID], done: Callable[[FlowRunRead], bool],
          timeout: float, procs: Processes) -> list[FlowRunRead]:
    deadline = time.monotonic() + timeout
    while True:
        runs = [client.read_flow_run(i) for i in ids]
        if all(done(r) for r in runs):
            return runs
        if time.monotonic() > deadline:
            states = Counter(r.state_name for r in runs)
            raise AssertionError(f"runs did not get there in {timeout}s: {dict(states)}\n"
                                 + procs.logs())
        time.sleep(0.2)


def _final(run: FlowRunRead) -> bool:
    return run.state_type is not None and run.state_type.value in FINAL


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_300_scheduled_runs_on_3_workers_each_run_exactly_once(procs: Processes) -> None:
    procs.server()
    log = procs.root / "executed.txt"
    with TransomClient(procs.api_url) as client:
        _setup(client, procs.root, "record")
        ids = [client.create_deployment_run("record", DeploymentRunCreate(
            parameters={"log": str(log)})).id for _ in range(300)]
        for i in range(3):
            procs.worker(f"w{i}", "--limit", "4")
        runs = _wait(client, ids, _final, 240, procs)
    assert Counter(r.state_name for r in runs) == {"Completed": 300}
    executed = log.read_text(encoding="utf-8").split()
    assert len(executed) == 300 and {uuid.UUID(i) for i in executed} == set(ids)
    # Every run went Scheduled -> Pending -> Running -> Completed once, by one worker.
    assert len({r.worker_id for r in runs}) >= 2


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_kill_9_of_a_worker_crashes_its_run_and_another_worker_takes_the_rest(
        procs: Processes) -> None:
    procs.server(server_worker_timeout="3", server_services_interval="0.5")
    pidfile = procs.root / "pids"
    with TransomClient(procs.api_url) as client:
        _setup(client, procs.root, "sleepy", "hello")
        long = client.create_deployment_run("sleepy", DeploymentRunCreate(
            parameters={"seconds": 120, "pidfile": str(pidfile)})).id
        doomed = procs.worker("doomed", "--limit", "1", worker_prefetch_seconds="0")
        _wait(client, [long], lambda r: r.state_name == "Running", 30, procs)
        rest = [client.create_deployment_run("hello", DeploymentRunCreate()).id for _ in range(3)]
        while not pidfile.exists() or " " not in pidfile.read_text():
            time.sleep(0.05)
        flow_pid, grandchild = map(int, pidfile.read_text().split())
        (handed,) = (procs.root / "tmp").glob("transom-worker-*")  # the only worker yet
        assert len(list(handed.iterdir())) == 1  # the long run's file
        killed = time.monotonic()
        doomed.kill()  # SIGKILL; TerminateProcess on Windows (its Job Object ends the run)
        (crashed,) = _wait(client, [long], _final, 20, procs)
        assert time.monotonic() - killed < 10
        assert crashed.state_name == "Crashed" and "worker" in (crashed.state_message or "")
        assert gone(flow_pid, 10)  # its run process noticed its worker was gone
        assert gone(grandchild, 10)
        assert all(not _final(r) for r in _wait(client, rest, lambda r: True, 1, procs))
        procs.worker("rescuer")
        runs = _wait(client, rest, _final, 30, procs)
    assert [r.state_name for r in runs] == ["Completed"] * 3
    assert not handed.exists()  # the rescuer removed the killed worker's hand-over folder


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.skipif(sys.platform == "win32", reason="SIGSTOP is POSIX")
def test_a_worker_that_stops_heart_beating_has_its_run_crashed_by_the_server(
        procs: Processes) -> None:
    procs.server(server_worker_timeout="2", server_services_interval="0.5")
    with TransomClient(procs.api_url) as client:
        _setup(client, procs.root, "sleepy")
        run_id = client.create_deployment_run("sleepy", DeploymentRunCreate(
            parameters={"seconds": 60})).id
        frozen = procs.worker("frozen")
        _wait(client, [run_id], lambda r: r.state_name == "Running", 30, procs)
        frozen.send_signal(signal.SIGSTOP)
        try:
            (run,) = _wait(client, [run_id], _final, 15, procs)
        finally:
            frozen.send_signal(signal.SIGKILL)
    assert run.state_name == "Crashed"
    assert "its worker 'frozen' stopped heart-beating" in (run.state_message or "")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_runs_complete_and_are_recorded_across_a_server_restart(procs: Processes) -> None:
    server = procs.server()
    with TransomClient(procs.api_url, retries=8, backoff=0.3) as client:
        _setup(client, procs.root, "sleepy")
        ids = [client.create_deployment_run("sleepy", DeploymentRunCreate(
            parameters={"seconds": 8})).id for _ in range(4)]
        procs.worker("steady", "--limit", "4")
        # All started (where starting a process is slow, as under Wine, the first may be done).
        _wait(client, ids, lambda r: r.start_time is not None, 30, procs)
        server.terminate()  # SIGTERM: uvicorn shuts down; on Windows a hard stop
        server.wait(20)
        time.sleep(2)
        procs.server()
        runs = _wait(client, ids, _final, 60, procs)
        histories = [[s.name for s in client.flow_run_states(i)] for i in ids]
    assert [r.state_name for r in runs] == ["Completed"] * 4
    assert all(h == ["Scheduled", "Pending", "Running", "Completed"] for h in histories), histories
