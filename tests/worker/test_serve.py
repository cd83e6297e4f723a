"""`flow.serve(...)` and `flow.deploy(...)` from Python, as a script a user runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.worker.conftest import Harness

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

SCRIPT = '''
from transom import flow

@flow
def tick(n: int = 1):
    print("tick", n)
    return n

if __name__ == "__main__":
    import sys
    if sys.argv[1] == "deploy":
        deployment = tick.deploy("from-python", work_pool="main", cron="0 9 * * *",
                                 timezone="Europe/Paris", parameters={"n": 3})
        print("deployed", deployment.full_name, deployment.entrypoint)
    else:
        tick.serve(name="every-second", interval=1, parameters={"n": 7})
'''


def _env(harness: Harness) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRANSOM_")}
    env.update(TRANSOM_HOME=str(harness.project / "home"), TRANSOM_API_URL=harness.server.url,
               TRANSOM_WORKER_POLL_INTERVAL="0.1", PYTHONIOENCODING="utf-8")
    return env


@pytest.mark.wine_lacks("ctrl_break")
def test_serve_runs_the_scheduled_runs_until_stopped(harness: Harness) -> None:
    script = harness.project / "served.py"
    script.write_text(SCRIPT, encoding="utf-8")
    process = subprocess.Popen([sys.executable, str(script), "serve"], env=_env(harness),
                               cwd=harness.project, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, encoding="utf-8",
                               creationflags=getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0))
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            done = harness.client.list_flow_runs(flow_name="tick", state="COMPLETED")
            if done.total >= 2:
                break
            time.sleep(0.2)
        assert done.total >= 2
        assert all(run.parameters == {"n": 7} for run in done.items)
    finally:
        process.send_signal(signal.SIGTERM if sys.platform != "win32" else signal.CTRL_BREAK_EVENT)
        output, _ = process.communicate(timeout=30)
    assert "Serving tick/every-second (every 1s (UTC))" in output
    assert "Paused tick/every-second" in output
    deployment = harness.client.read_deployment("tick/every-second")
    assert deployment.paused and deployment.work_pool_name is None
    assert harness.client.list_flow_runs(flow_name="tick", state="RUNNING").total == 0


def test_deploy_from_python_registers_its_own_file(harness: Harness) -> None:
    harness.deploy("flows.py:hello")  # makes the pool
    script = harness.project / "served.py"
    script.write_text(SCRIPT, encoding="utf-8")
    done = subprocess.run([sys.executable, str(script), "deploy"], env=_env(harness),
                          cwd=Path("/") if sys.platform != "win32" else None,
                          capture_output=True, text=True, encoding="utf-8", timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "deployed tick/from-python served.py:tick"
    deployment = harness.client.read_deployment("tick/from-python")
    assert deployment.path == str(script.parent.resolve()) and deployment.parameters == {"n": 3}
    assert deployment.schedules[0].describe() == "cron 0 9 * * * (Europe/Paris)"
    assert deployment.parameter_schema is not None
