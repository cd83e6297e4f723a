"""examples/objects.py, a flow that uses a secret, a variable, concurrency limits, artifacts, a
pause and a run of another deployment, run as a user runs it (`python examples/objects.py`) with
no server and against a server: everything recorded where it should be."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.conftest import clean_environ
from tests.server.conftest import LiveServer
from transom.settings import Settings

pytestmark = pytest.mark.slow  # a dozen commands and a flow, each a new process, twice

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "warehouse-pw-8841"


@pytest.fixture(params=["embedded", "server"])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[dict[str, str], Path]]:
    """The environment of the user's commands and the folder of the database that stores it all."""
    environ = clean_environ(tmp_path / "home")
    if request.param == "embedded":
        yield environ, tmp_path / "home"
        return
    server = LiveServer(Settings.load({}, home=tmp_path / "server",
                                      database_url=f"sqlite:///{tmp_path / 'server' / 'transom.db'}",
                                      server_services=False))
    server.start()
    try:
        yield {**environ, "TRANSOM_API_URL": server.url}, tmp_path / "server"
    finally:
        server.stop()


def _transom(environ: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "transom", *args], capture_output=True,
                          env=environ, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr.decode() + done.stdout.decode()
    return done.stdout.decode("utf-8")


def _json(environ: dict[str, str], *args: str) -> object:
    return json.loads(_transom(environ, *args, "--output", "json"))


def test_the_objects_flow_records_everything_with_and_without_a_server(
        env: tuple[dict[str, str], Path]) -> None:
    environ, folder = env
    _transom(environ, "concurrency-limit", "create", "warehouse", "--tag", "--limit", "1")
    _transom(environ, "concurrency-limit", "create", "warehouse-writes", "--limit", "2")
    _transom(environ, "variable", "set", "report-threshold", "25")
    _transom(environ, "work-pool", "create", "main")
    _transom(environ, "deploy", "examples/etl.py:etl", "--name", "downstream", "--pool", "main")
    flow = subprocess.Popen([sys.executable, "examples/objects.py", "--approve",
                             "--then=etl/downstream"], cwd=ROOT, env=environ,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while True:
            runs = [r for r in _json(environ, "runs", "ls", "--flow", "nightly-report")]  # type: ignore[union-attr]
            if runs and runs[0]["state_name"] == "Paused":
                break
            assert flow.poll() is None, flow.stdout.read().decode()  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "the flow never paused"
            time.sleep(0.3)
        run_id = runs[0]["id"]
        _transom(environ, "runs", "resume", run_id, "--input",
                 '{"approved": true, "reviewer": "ada"}')
        out, _ = flow.communicate(timeout=90)
    finally:
        flow.kill()
    console = out.decode("utf-8")
    assert flow.returncode == 0, console
    assert PASSWORD not in console and "connecting to the warehouse with **********" in console
    assert "approved: True by ada" in console
    shown = json.loads(_transom(environ, "runs", "show", run_id, "--output", "json"))
    assert shown["flow_run"]["state_name"] == "Completed"
    assert [s["name"] for s in shown["states"]].count("Paused") == 1
    assert {t["state_name"] for t in shown["task_runs"]} == {"Completed"}
    assert len(shown["task_runs"]) == 3
    logs = [line["message"] for line in shown["logs"]]
    assert "connecting to the warehouse with **********" in logs
    artifacts = {a["key"]: a for a in _json(environ, "artifact", "ls")}  # type: ignore[union-attr]
    assert {"nightly-rows", "nightly-summary", "nightly-progress"} <= set(artifacts)
    assert all(a["flow_run_id"] == run_id for a in artifacts.values())
    assert "**60** rows (threshold 25)" in json.dumps(artifacts["nightly-summary"])
    assert _transom(environ, "variable", "get", "last-report-rows").strip() == "60"
    limits = {limit["name"]: limit for limit in _json(environ, "concurrency-limit", "ls")}  # type: ignore[union-attr]
    assert limits["tag:warehouse"]["active_slots"] == 0 == limits["warehouse-writes"]["active_slots"]
    secret = _json(environ, "block", "inspect", "secret/warehouse-password")
    assert PASSWORD not in json.dumps(secret)
    downstream = [r for r in _json(environ, "runs", "ls", "--flow", "etl")]  # type: ignore[union-attr]
    assert len(downstream) == 1 and downstream[0]["state_name"] == "Scheduled"
    # The database that stores it all holds the secret encrypted only.
    stored = b"".join(p.read_bytes() for p in sorted(folder.glob("transom.db*")))
    assert b"nightly-summary" in stored and PASSWORD.encode() not in stored
    assert os.path.exists(folder / "secrets.key")
