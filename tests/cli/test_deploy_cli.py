"""`transom deploy`, `transom deployment ...`, `transom work-pool ...`, `transom runs cancel`, as a
user types them (embedded database, no server), and the bad input each refuses."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from tests.cli.conftest import Transom

FLOWS = '''
from transom import flow, task

@flow
def greet(name: str = "world", times: int = 1):
    return f"hello {name}" * times

@flow
def needs_day(day: str):
    return day

@task
def not_a_flow():
    return 1
'''


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "flows.py").write_text(FLOWS, encoding="utf-8")
    return tmp_path


def test_pools_and_deployments_as_a_user_meets_them(transom: Transom, project: Path) -> None:
    created = transom("work-pool", "create", "main", "--limit", "3")
    assert created.code == 0 and "Work pool main created (at most 3 runs at once)." in created.stdout
    deployed = transom("deploy", "flows.py:greet", "--name", "daily", "--pool", "main",
                       "--cron", "0 9 * * *", "--timezone", "Europe/Paris", "--param", "name=ada")
    assert deployed.code == 0, deployed.stderr
    assert "Deployment greet/daily registered in work pool 'main'." in deployed.stdout
    assert "Schedule: cron 0 9 * * * (Europe/Paris)" in deployed.stdout
    assert "Next runs: " in deployed.stdout
    listed = transom("deployment", "ls")
    assert "greet/daily" in listed.stdout and "cron 0 9 * * * (Europe/Paris)" in listed.stdout
    shown = transom("deployment", "inspect", "daily")
    assert 'Parameters:  {"name": "ada"}' in shown.stdout and "flows.py:greet" in shown.stdout
    ran = transom("deployment", "run", "greet/daily", "--param", "times=2")
    assert ran.code == 0 and "is scheduled for now." in ran.stdout
    assert "No worker is polling work pool 'main'" in ran.stdout
    run_id = re.search(r"transom runs show (\w+)", ran.stdout).group(1)  # type: ignore[union-attr]
    cancelled = transom("runs", "cancel", run_id)
    assert cancelled.code == 0 and "is Cancelled: it will not run." in cancelled.stdout
    assert "is paused." in transom("deployment", "pause", "daily").stdout
    assert "paused" in transom("deployment", "ls").stdout
    assert "is active." in transom("deployment", "resume", "daily").stdout
    pools = transom("work-pool", "inspect", "main")
    assert "Deployments:      greet/daily" in pools.stdout and "Concurrency limit: 3" in pools.stdout
    assert "is paused" in transom("work-pool", "pause", "main").stdout
    refused = transom("work-pool", "delete", "main")
    refused.assert_user_error("work pool 'main' is used by the deployments greet/daily")
    assert "deleted" in transom("deployment", "delete", "greet/daily").stdout
    assert "deleted" in transom("work-pool", "delete", "main").stdout
    assert "No work pools yet" in transom("work-pool", "ls").stdout


@pytest.mark.parametrize(("args", "fragments"), [
    (("missing.py:greet",), ("no file at", "missing.py")),
    (("flows.py:nope",), ("flows.py has no 'nope'", "greet")),
    (("flows.py:not_a_flow",), ("flows.py:not_a_flow is a task, not a flow",)),
    (("flows.py:greet", "--cron", "0 25 * * *"), ("invalid cron expression '0 25 * * *'",)),
    (("flows.py:greet", "--cron", "0 9 * *"), ("it has 4 fields, cron needs five",)),
    (("flows.py:greet", "--cron", "0 9 * * *", "--timezone", "Europe/Pariss"),
     ("unknown timezone 'Europe/Pariss' (did you mean 'Europe/Paris'?)",)),
    (("flows.py:greet", "--interval", "soon"), ("interval 'soon' is not a duration",)),
    (("flows.py:greet", "--param", "colour=red"), ("flow 'greet' has no parameter 'colour'",)),
    (("flows.py:greet", "--param", "times=many"), ("parameter 'times' is invalid",)),
])
def test_bad_deployments_are_refused_at_deploy_time(transom: Transom, project: Path,
                                                    args: tuple[str, ...],
                                                    fragments: tuple[str, ...]) -> None:
    # Checked before the pool is looked up: this pool does not even exist.
    result = transom("deploy", *args[:1], "--name", "d", "--pool", "main", *args[1:])
    result.assert_user_error(*fragments)


def test_missing_pool_and_required_parameters(transom: Transom, project: Path) -> None:
    transom("deploy", "flows.py:greet", "--name", "d", "--pool", "nope").assert_user_error(
        "no work pool named 'nope'; create it with `transom work-pool create nope`")
    transom("deploy", "flows.py:greet", "--name", "d").assert_user_error("--pool is required")
    assert "No deployments yet" in transom("deployment", "ls").stdout
    assert transom("work-pool", "create", "main").code == 0
    assert transom("deploy", "flows.py:needs_day", "--name", "d", "--pool", "main").code == 0
    transom("deployment", "run", "d").assert_user_error(
        "deployment 'needs-day/d' needs the parameter 'day'; pass it with --param day=VALUE")
    transom("deployment", "inspect", "nothing").assert_user_error("no deployment named 'nothing'")
    transom("runs", "cancel", "abc123").assert_user_error("no flow run has an id starting with")


def test_a_worker_pointed_at_a_missing_pool_says_so(transom: Transom) -> None:
    transom("worker", "start", "--pool", "nope").assert_user_error(
        "work pool 'nope' does not exist; create it with `transom work-pool create nope`, or "
        "start the worker with --create-pool")
    assert "No workers have polled yet" in transom("worker", "ls").stdout


@pytest.mark.slow  # a worker and two runs, each a new process
def test_deployment_run_watch_follows_the_run_to_its_end(transom: Transom, project: Path,
                                                         home: Path) -> None:
    import subprocess
    import sys

    from tests.cli.conftest import clean_environ

    assert transom("work-pool", "create", "main").code == 0
    assert transom("deploy", "flows.py:greet", "--name", "now", "--pool", "main").code == 0
    (project / "broken.py").write_text(
        "from transom import flow\n\n@flow\ndef broken():\n    raise ValueError('no input')\n",
        encoding="utf-8")
    assert transom("deploy", "broken.py:broken", "--name", "bad", "--pool", "main").code == 0
    worker = subprocess.Popen([sys.executable, "-m", "transom", "worker", "start", "--pool",
                               "main"], cwd=project,
                              env={**clean_environ(home), "TRANSOM_WORKER_POLL_INTERVAL": "0.2"},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        watched = transom("deployment", "run", "greet/now", "--watch", timeout=120)
        assert watched.code == 0, watched.stdout + watched.stderr
        lines = watched.stdout.splitlines()
        assert "is scheduled for now." in lines[0]
        states = [line.split()[3] for line in lines[1:] if " UTC " in line]
        assert states[0] == "Scheduled" and states[-1] == "Completed"  # and those seen between
        failed = transom("deployment", "run", "broken/bad", "--watch", timeout=120)
        assert failed.code == 1 and "Failed" in failed.stdout.splitlines()[-1]
        assert "no input" in failed.stdout
    finally:
        worker.terminate()
        worker.wait(30)
