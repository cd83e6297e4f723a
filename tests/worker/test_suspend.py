"""suspend_flow_run under a real worker and server: the run is Suspended and its process ends;
nothing claims it until it is resumed; then a worker starts it again, the task whose result was
persisted is Cached (its side effect happened once), and suspend_flow_run returns the input."""

from __future__ import annotations

import time
from pathlib import Path

from tests.worker.conftest import Harness
from transom.core.states import StateType
from transom.exceptions import InvalidTransition, RunInputInvalid
from transom.schemas import ResumeIn

FLOWS = '''
from pathlib import Path
from transom import flow, task, suspend_flow_run

@task(persist_result=True)
def count_visit(marker: str) -> int:
    path = Path(marker)
    visits = int(path.read_text()) + 1 if path.exists() else 1
    path.write_text(str(visits))
    return visits * 10

@flow
def approval(marker: str, out: str):
    value = count_visit(marker)
    answer = suspend_flow_run(wait_for_input=int, timeout=120)
    Path(out).write_text(f"{value} {answer}")
    return answer
'''


def test_a_suspended_run_is_started_again_on_resume_and_reuses_its_task_result(
        harness: Harness, tmp_path: Path) -> None:
    (harness.project / "suspending.py").write_text(FLOWS, encoding="utf-8")
    harness.deploy("suspending.py:approval")
    marker, out = tmp_path / "visits.txt", tmp_path / "out.txt"
    run_id = harness.run("approval/approval", marker=str(marker), out=str(out))
    harness.start_worker()
    suspended = harness.wait(run_id, lambda r: r.state_name == "Suspended")
    assert suspended.state_type is StateType.SCHEDULED
    # Its process ended by design: not Crashed, not claimed again by the polling worker.
    deadline = time.monotonic() + 30
    while not any("is Suspended; its process ended" in line for line in harness.lines):
        assert time.monotonic() < deadline, "\n".join(harness.lines)
        time.sleep(0.1)
    time.sleep(1.5)  # fifteen polls of the worker, and the server's services
    assert harness.client.read_flow_run(run_id).state_name == "Suspended"
    assert marker.read_text() == "1" and not out.exists()
    try:
        harness.client.resume_flow_run(run_id, ResumeIn(run_input="seven"))
    except RunInputInvalid as exc:
        assert "is not of type 'integer'" in str(exc)
    else:
        raise AssertionError("a string resumed a run waiting for an integer")
    assert harness.client.read_flow_run(run_id).state_name == "Suspended"

    assert harness.client.resume_flow_run(run_id, ResumeIn(run_input=7)).name == "Resuming"
    final = harness.final(run_id)
    assert final.state_name == "Completed", "\n".join(harness.lines)
    assert out.read_text() == "10 7"
    assert marker.read_text() == "1"  # the task's side effect happened once
    names = [s.name for s in harness.client.flow_run_states(run_id)]
    assert names == ["Scheduled", "Pending", "Running", "Suspended", "Resuming", "Pending",
                     "Running", "Completed"]
    tasks = harness.client.flow_run_task_runs(run_id)
    assert sorted(t.state_name for t in tasks) == ["Cached", "Completed"]
    try:
        harness.client.resume_flow_run(run_id, ResumeIn(run_input=7))
    except InvalidTransition as exc:
        assert "is not paused (it is Completed)" in str(exc)
    else:
        raise AssertionError("a completed run was resumed")
