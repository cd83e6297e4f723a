"""A flow that pauses for input, run as `python flow.py` in a real subprocess, resumed from another
process by `transom runs resume ID --input JSON`: with no server (the embedded database of a
fresh home) and against a live server (TRANSOM_API_URL). Also the timeout, and suspend refused
outside a deployment's run."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

from tests.cli.conftest import Transom, clean_environ

FLOWS = textwrap.dedent('''
    import sys
    from pydantic import BaseModel
    from transom import flow, pause_flow_run, suspend_flow_run

    class Approval(BaseModel):
        approved: bool
        note: str = ""

    @flow
    def approve():
        answer = pause_flow_run(wait_for_input=Approval, timeout=120)
        print(f"ANSWER approved={answer.approved} note={answer.note}", flush=True)
        return answer.note

    @flow
    def forgotten():
        pause_flow_run(timeout=1)

    @flow
    def suspends():
        suspend_flow_run(timeout=60)

    if __name__ == "__main__":
        globals()[sys.argv[1]]()
''')


def _start(tmp_path: Path, home: Path, env: dict[str, str], name: str) -> subprocess.Popen[str]:
    script = tmp_path / "flows.py"
    script.write_text(FLOWS, encoding="utf-8")
    return subprocess.Popen([sys.executable, str(script), name], cwd=tmp_path, text=True,
                            env={**clean_environ(home), **env}, encoding="utf-8",
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _runs(transom: Transom, env: dict[str, str]) -> list[dict[str, Any]]:
    done = transom("runs", "ls", "--output", "json", env=env)
    assert done.code == 0, done.stderr
    runs: list[dict[str, Any]] = json.loads(done.stdout)
    return runs


def _wait_state(transom: Transom, env: dict[str, str], name: str,
                process: subprocess.Popen[str]) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        runs = _runs(transom, env)
        if runs and runs[0]["state_name"] == name:
            return runs[0]
        if process.poll() is not None or time.monotonic() > deadline:
            out, err = process.communicate(timeout=10)
            raise AssertionError(f"the run is not {name}: {runs}\n{out}\n{err}")
        time.sleep(0.2)


def _history(transom: Transom, env: dict[str, str], run_id: str) -> list[str]:
    done = transom("runs", "show", run_id, "--output", "json", env=env)
    assert done.code == 0, done.stderr
    return [s["name"] for s in json.loads(done.stdout)["states"]]


def test_a_paused_flow_is_resumed_from_another_process_with_input(
        transom: Transom, backend_env: dict[str, str], home: Path, tmp_path: Path) -> None:
    process = _start(tmp_path, home, backend_env, "approve")
    try:
        run = _wait_state(transom, backend_env, "Paused", process)
        run_id = run["id"]
        # Input the flow's model refuses: one sentence, exit 1, and the run stays Paused.
        transom("runs", "resume", run_id, "--input", '{"approved": "maybe"}',
                env=backend_env).assert_user_error("does not match", "['approved']",
                                                   "stays paused")
        transom("runs", "resume", run_id, "--input", "{not json",
                env=backend_env).assert_user_error("--input is not JSON")
        transom("runs", "resume", run_id, env=backend_env).assert_user_error("waits for input")
        assert _runs(transom, backend_env)[0]["state_name"] == "Paused"
        assert process.poll() is None  # still waiting
        done = transom("runs", "resume", run_id[:8], "--input",
                       '{"approved": true, "note": "ship it"}', env=backend_env)
        assert done.code == 0 and "is Running: resumed." in done.stdout, done.stderr
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert "ANSWER approved=True note=ship it" in out
    assert _history(transom, backend_env, run_id) == [
        "Pending", "Running", "Paused", "Running", "Completed"]
    # A run that is not paused: 409, in one sentence.
    transom("runs", "resume", run_id, env=backend_env).assert_user_error(
        "is not paused (it is Completed)")
    transom("runs", "resume", "ffffffff", env=backend_env).assert_user_error("ffffffff")


def test_a_pause_not_resumed_in_time_ends_failed_with_the_reason(
        transom: Transom, backend_env: dict[str, str], home: Path, tmp_path: Path) -> None:
    process = _start(tmp_path, home, backend_env, "forgotten")
    _, err = process.communicate(timeout=60)
    assert process.returncode == 1, err
    run = _runs(transom, backend_env)[0]
    assert run["state_name"] == "Failed"
    assert "the run was paused for 1 s and not resumed" in run["state_message"]
    assert _history(transom, backend_env, run["id"]) == [
        "Pending", "Running", "Paused", "Failed"]


def test_suspend_outside_a_deployment_run_is_refused(
        transom: Transom, backend_env: dict[str, str], home: Path, tmp_path: Path) -> None:
    process = _start(tmp_path, home, backend_env, "suspends")
    process.communicate(timeout=60)
    assert process.returncode == 1
    run = _runs(transom, backend_env)[0]
    assert run["state_name"] == "Failed"
    assert "is not a deployment's run: only those can be suspended" in run["state_message"]
