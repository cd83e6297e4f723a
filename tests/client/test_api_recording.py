"""Flows that report through the API: recorded by a real server, and nothing lost when the
server goes away mid-run and comes back."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.support.network import free_port

FLOW = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from transom import flow, task, get_run_logger

    @task
    def step(i: int) -> int:
        return i

    @flow
    def resilient(n: int, ready: str, go: str) -> int:
        total = sum(step(i) for i in range(n))
        Path(ready).write_text("half way")
        while not Path(go).exists():  # the test stops the server here
            time.sleep(0.05)
        get_run_logger().info("second half while the server is away")
        total += sum(step(i) for i in range(n))
        return total

    if __name__ == "__main__":
        state = resilient(int(sys.argv[1]), sys.argv[2], sys.argv[3], return_state=True)
        print(state.run_id)
""")


class ServerProcess:
    def __init__(self, home: Path, port: int) -> None:
        self.home, self.port = home, port
        self.url = f"http://127.0.0.1:{port}/api"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = dict(os.environ, TRANSOM_HOME=str(self.home))
        env.pop("TRANSOM_API_URL", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "transom", "server", "start", "--port", str(self.port)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert self.proc.poll() is None, self.proc.stderr.read() if self.proc.stderr else ""
            assert time.monotonic() < deadline, "the server did not come up"
            time.sleep(0.1)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            if sys.platform == "win32":
                self.proc.terminate()  # no SIGINT there; Ctrl+Break is tested in test_serve
            else:
                self.proc.send_signal(signal.SIGINT)  # Ctrl+C
            self.proc.wait(timeout=30)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    running = ServerProcess(tmp_path / "server-home", free_port())
    running.start()
    yield running
    running.stop()


def test_a_server_restart_mid_run_loses_nothing(server: ServerProcess, tmp_path: Path) -> None:
    script = tmp_path / "flow.py"
    script.write_text(FLOW, encoding="utf-8")
    ready, go = tmp_path / "ready", tmp_path / "go"
    env = dict(os.environ, TRANSOM_HOME=str(tmp_path / "client-home"), TRANSOM_API_URL=server.url)
    flow = subprocess.Popen([sys.executable, str(script), "50", str(ready), str(go)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not ready.exists():
        assert flow.poll() is None and time.monotonic() < deadline, flow.communicate()
        time.sleep(0.05)

    server.stop()  # the port must be free again at once
    go.write_text("go")
    time.sleep(3)  # the second half runs while nobody listens
    server.start()  # same port, same database

    out, err = flow.communicate(timeout=120)
    assert flow.returncode == 0, err
    assert "could not record run events" in err  # it noticed the outage, and carried on
    run_id = out.strip().splitlines()[-1]
    if "did not answer;" in err:  # exit came before the server was back: the spool has the rest
        listing = subprocess.run([sys.executable, "-m", "transom", "runs", "ls"], env=env,
                                 capture_output=True, text=True, timeout=60)
        assert listing.returncode == 0, listing.stderr  # anything that reaches it delivers it
        assert not list((tmp_path / "client-home" / "spool").rglob("*.jsonl"))
    run = httpx.get(f"{server.url}/flow_runs/{run_id}").json()
    assert run["state_name"] == "Completed" and run["task_run_count"] == 100
    tasks = httpx.get(f"{server.url}/flow_runs/{run_id}/task_runs").json()
    assert all(t["state_name"] == "Completed" for t in tasks)
    logs = httpx.get(f"{server.url}/flow_runs/{run_id}/logs").json()["items"]
    assert "second half while the server is away" in [line["message"] for line in logs]
    assert not (tmp_path / "client-home" / "transom.db").exists()  # nothing went to the embedded db


def test_runs_commands_read_from_the_api(server: ServerProcess, tmp_path: Path) -> None:
    script = tmp_path / "hello.py"
    script.write_text("from transom import flow\n@flow\ndef hello():\n    return 1\n", encoding="utf-8")
    env = dict(os.environ, TRANSOM_HOME=str(tmp_path / "client-home"), TRANSOM_API_URL=server.url,
               COLUMNS="200")
    run = subprocess.run([sys.executable, "-m", "transom", "run", f"{script}:hello"], env=env,
                         capture_output=True, text=True, encoding="utf-8")
    assert run.returncode == 0, run.stderr
    listed = subprocess.run([sys.executable, "-m", "transom", "runs", "ls", "--state", "completed"],
                            env=env, capture_output=True, text=True, encoding="utf-8")
    assert listed.returncode == 0 and "hello" in listed.stdout, listed.stderr
    assert not (tmp_path / "client-home" / "transom.db").exists()


def test_an_unreachable_server_is_one_sentence(tmp_path: Path) -> None:
    port = free_port()
    env = dict(os.environ, TRANSOM_HOME=str(tmp_path), TRANSOM_API_URL=f"http://127.0.0.1:{port}/api")
    done = subprocess.run([sys.executable, "-m", "transom", "runs", "ls"], env=env,
                          capture_output=True, text=True, encoding="utf-8", timeout=60)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f"cannot reach the Transom server at http://127.0.0.1:{port}/api" in done.stderr


def test_transom_run_checks_the_server_first(tmp_path: Path) -> None:
    port = free_port()
    script = tmp_path / "hello.py"
    script.write_text("from transom import flow\n@flow\ndef hello():\n    print('ran')\n", encoding="utf-8")
    env = dict(os.environ, TRANSOM_HOME=str(tmp_path), TRANSOM_API_URL=f"http://127.0.0.1:{port}/api")
    done = subprocess.run([sys.executable, "-m", "transom", "run", f"{script}:hello"], env=env,
                          capture_output=True, text=True, encoding="utf-8", timeout=60)
    assert done.returncode == 1 and "ran" not in done.stdout and "Traceback" not in done.stderr
    assert "cannot reach the Transom server" in done.stderr
