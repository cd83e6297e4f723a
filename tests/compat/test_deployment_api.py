"""Prefect's deployment API from Python: `flow.to_deployment`, module-level `serve(*...)` and
`deploy(*...)`, `flow.serve()` with a default name and a timedelta, `flow.deploy(work_pool_name=)`
and `Flow.from_source` (a folder, or a git repository)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

import transom
from tests.server.conftest import database_url, start_server  # noqa: F401 (fixtures)
from tests.worker.conftest import Harness, harness  # noqa: F401 (fixture)
from transom import Flow, flow
from transom.deployments import Deployment, to_deployment
from transom.exceptions import EntrypointError, ParameterError, UserInputError
from transom.schemas import DeploymentRunCreate

# The tests that use the live server and worker `harness` of tests/worker run it on SQLite.
on_sqlite = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed here")


@flow(name="nightly-report")
def nightly_report(day: str = "mon", pages: int = 1) -> str:
    return f"{day}:{pages}"


def _env(live: Harness) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRANSOM_")}
    env.update(TRANSOM_HOME=str(live.project / "home"), TRANSOM_API_URL=live.server.url,
               TRANSOM_WORKER_POLL_INTERVAL="0.1", PYTHONIOENCODING="utf-8")
    return env


def _git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", "-c", "user.name=Test", "-c", "user.email=test@example.com",
                    "-c", "init.defaultBranch=main", *args], cwd=cwd, check=True,
                   capture_output=True)


# -- to_deployment ---------------------------------------------------------------------------------
@on_sqlite
def test_to_deployment_is_checked_at_once_and_prints_short(harness: Harness) -> None:  # noqa: F811
    deployment = nightly_report.to_deployment("weekdays", cron="0 9 * * 1-5",
                                              timezone="Europe/Paris", parameters={"pages": 3})
    assert isinstance(deployment, Deployment) and deployment.full_name == "nightly-report/weekdays"
    assert repr(deployment) == \
        "Deployment('nightly-report/weekdays', cron 0 9 * * 1-5 (Europe/Paris))"
    assert deployment.body.entrypoint == "test_deployment_api.py:nightly_report"
    pooled = nightly_report.to_deployment("pooled", interval=timedelta(minutes=5),
                                          work_pool_name="main")
    assert repr(pooled) == \
        "Deployment('nightly-report/pooled', every 5m (UTC), work pool 'main')"
    with pytest.raises(ParameterError, match="has no parameter 'colour'"):
        nightly_report.to_deployment("bad", parameters={"colour": "red"})
    with pytest.raises(UserInputError, match="more than zero"):
        nightly_report.to_deployment("bad", interval=timedelta(0))
    with pytest.raises(UserInputError, match="disagree"):
        nightly_report.to_deployment("bad", work_pool_name="a", work_pool="b")
    # Nothing was registered: to_deployment only checks.
    assert harness.client.list_deployments(flow_name="nightly-report") == []


# -- deploy ----------------------------------------------------------------------------------------
@on_sqlite
def test_flow_deploy_takes_prefects_work_pool_name_and_ours(harness: Harness) -> None:  # noqa: F811
    harness.deploy("flows.py:hello")  # makes the pool "main"
    prefect_style = nightly_report.deploy("by-name", work_pool_name="main",
                                          settings=harness.settings)
    ours = nightly_report.deploy("by-alias", work_pool="main", work_queue_name="fast",
                                 settings=harness.settings)
    assert prefect_style.work_pool_name == ours.work_pool_name == "main"
    assert ours.work_queue_name == "fast"
    # What a prompt or print() shows: the deployment, its schedule and pool, in one short line.
    nightly = nightly_report.deploy("nightly", work_pool_name="main", cron="0 2 * * *",
                                    timezone="Europe/Paris", settings=harness.settings)
    shown = repr(nightly)
    assert shown == str(nightly) and len(shown) < 120, shown
    assert shown.startswith("DeploymentRead('nightly-report/nightly', ")
    assert "0 2 * * *" in shown and "Europe/Paris" in shown and "work pool 'main'" in shown
    assert "parameter_schema" not in shown and nightly.parameters == {}


@on_sqlite
def test_module_deploy_registers_several_with_one_work_pool(harness: Harness) -> None:  # noqa: F811
    harness.deploy("flows.py:hello")
    first = nightly_report.to_deployment("one", parameters={"day": "tue"})
    second = nightly_report.to_deployment("two", work_pool_name="main", interval=3600)
    stored = transom.deploy(first, second, work_pool_name="main", settings=harness.settings)
    assert [d.full_name for d in stored] == ["nightly-report/one", "nightly-report/two"]
    assert all(d.work_pool_name == "main" for d in stored)
    assert harness.client.read_deployment("nightly-report/one").parameters == {"day": "tue"}
    with pytest.raises(UserInputError, match="more than once"):
        transom.deploy(first, first, settings=harness.settings)
    with pytest.raises(UserInputError, match="at least one deployment"):
        transom.deploy(settings=harness.settings)
    with pytest.raises(UserInputError, match=r"made with flow\.to_deployment"):
        transom.deploy(nightly_report, settings=harness.settings)  # type: ignore[arg-type]


# -- serve -----------------------------------------------------------------------------------------
SERVE_SCRIPT = '''
import sys
from datetime import timedelta
from transom import flow, serve

@flow
def tick(n: int = 1):
    print("tick", n)
    return n

@flow(log_prints=True)
def tock():
    from transom.runtime import deployment, flow_run
    print("tock", deployment.name, flow_run.name)

if __name__ == "__main__":
    if sys.argv[1] == "one":
        tick.serve(interval=timedelta(seconds=1), parameters={"n": 4})
    else:
        serve(tick.to_deployment("fast", interval=1, parameters={"n": 2}),
              tock.to_deployment("slow", interval=timedelta(seconds=1)))
'''


def _serve(live: Harness, which: str, until: list[str]) -> str:
    script = live.project / "served.py"
    script.write_text(SERVE_SCRIPT, encoding="utf-8")
    process = subprocess.Popen([sys.executable, str(script), which], env=_env(live),
                               cwd=live.project, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, encoding="utf-8",
                               creationflags=getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0))
    try:
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            if all(live.client.list_flow_runs(flow_name=f, state="COMPLETED").total >= 1
                   for f in until):
                break
            time.sleep(0.2)
        for f in until:
            assert live.client.list_flow_runs(flow_name=f, state="COMPLETED").total >= 1, f
    finally:
        process.send_signal(signal.SIGTERM if sys.platform != "win32" else signal.CTRL_BREAK_EVENT)
        output, _ = process.communicate(timeout=30)
    return output


@on_sqlite
@pytest.mark.wine_lacks("ctrl_break")
def test_flow_serve_names_the_deployment_after_the_flow_and_takes_a_timedelta(
        harness: Harness) -> None:  # noqa: F811
    output = _serve(harness, "one", ["tick"])
    assert "Serving tick/tick (every 1s (UTC))" in output
    deployment = harness.client.read_deployment("tick/tick")
    assert deployment.schedules[0].interval == 1 and deployment.paused
    runs = harness.client.list_flow_runs(flow_name="tick", state="COMPLETED").items
    assert all(run.parameters == {"n": 4} for run in runs)


@on_sqlite
@pytest.mark.wine_lacks("ctrl_break")
def test_module_serve_runs_several_deployments_from_one_process(
        harness: Harness) -> None:  # noqa: F811
    output = _serve(harness, "many", ["tick", "tock"])
    assert "Serving tick/fast (every 1s (UTC)), tock/slow (every 1s (UTC))" in output
    assert "Paused tick/fast" in output and "Paused tock/slow" in output
    for name in ("tick/fast", "tock/slow"):
        deployment = harness.client.read_deployment(name)
        assert deployment.paused and deployment.work_pool_name is None
    tock = harness.client.list_flow_runs(flow_name="tock", state="COMPLETED").items[0]
    logs = [line.message for line in harness.client.flow_run_logs(tock.id).items]
    assert f"tock slow {tock.name}" in logs  # transom.runtime knows the deployment it runs


# -- from_source -----------------------------------------------------------------------------------
SOURCE = '''
from transom import flow

@flow(log_prints=True)
def hello(name: str = "world") -> str:
    message = "hello " + name + " VERSION"
    print(message)
    return message
'''


@on_sqlite
def test_from_source_loads_a_flow_from_a_folder_and_its_deployment_runs_there(
        harness: Harness, tmp_path: Path) -> None:  # noqa: F811
    source = tmp_path / "repo"
    (source / "flows").mkdir(parents=True)
    (source / "flows" / "hello.py").write_text(SOURCE.replace("VERSION", "v1"), encoding="utf-8")
    loaded = Flow.from_source(str(source), entrypoint="flows/hello.py:hello")
    assert isinstance(loaded, Flow) and loaded("you") == "hello you v1"
    deployment = loaded.to_deployment("from-folder", work_pool_name="main")
    assert deployment.body.entrypoint == "flows/hello.py:hello"
    assert deployment.body.path == str(source.resolve())

    harness.deploy("flows.py:hello")  # the pool
    deployment.apply(settings=harness.settings)
    run_id = harness.client.create_deployment_run("hello/from-folder",
                                                  DeploymentRunCreate(parameters={"name": "w"})).id
    harness.start_worker()
    assert harness.final(run_id).state_name == "Completed"
    logs = [line.message for line in harness.client.flow_run_logs(run_id).items]
    assert "hello w v1" in logs


@needs_git
def test_from_source_clones_a_git_repository_into_transom_home_and_updates_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("TRANSOM_HOME", str(home))
    bare = tmp_path / "flows.git"
    _git("init", "--bare", str(bare), cwd=tmp_path)
    work = tmp_path / "work"
    _git("clone", str(bare), str(work), cwd=tmp_path)
    (work / "hello.py").write_text(SOURCE.replace("VERSION", "v1"), encoding="utf-8")
    _git("add", "hello.py", cwd=work)
    _git("commit", "-m", "first", cwd=work)
    _git("push", "origin", "HEAD", cwd=work)

    loaded = transom.Flow.from_source(str(bare), "hello.py:hello")
    assert loaded("git") == "hello git v1"
    (clone,) = (home / "sources").iterdir()
    assert clone.name.startswith("flows-") and (clone / "hello.py").is_file()
    assert nightly_report.name == "nightly-report"  # (loading a source leaves others alone)

    (work / "hello.py").write_text(SOURCE.replace("VERSION", "v2"), encoding="utf-8")
    _git("commit", "-am", "second", cwd=work)
    _git("push", "origin", "HEAD", cwd=work)
    updated = transom.Flow.from_source(str(bare), "hello.py:hello")
    assert updated("git") == "hello git v2"
    assert [p.name for p in (home / "sources").iterdir()] == [clone.name]  # updated in place
    assert updated.to_deployment("from-git").body.path == str(clone)


@needs_git
def test_from_source_errors_are_one_sentence(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRANSOM_HOME", str(tmp_path / "home"))
    with pytest.raises(UserInputError, match="neither a folder nor a git repository"):
        Flow.from_source(str(tmp_path / "nowhere"), "hello.py:hello")
    with pytest.raises(UserInputError, match=r"git clone of .*missing\.git failed: "):
        Flow.from_source(str(tmp_path / "missing.git"), "hello.py:hello")
    (tmp_path / "folder").mkdir()
    with pytest.raises(EntrypointError, match="no file at"):
        Flow.from_source(tmp_path / "folder", "hello.py:hello")
    assert not list((tmp_path / "home" / "sources").glob(".*"))  # no half-made clone left


@on_sqlite
def test_runtime_deployment_names_the_deployment_in_a_worker_run(
        harness: Harness) -> None:  # noqa: F811
    (harness.project / "probe.py").write_text('''
import json
from transom import flow
from transom.runtime import deployment, flow_run

@flow
def probe(out: str, day: str = "mon"):
    with open(out, "w", encoding="utf-8") as f:
        json.dump({"id": deployment.id, "name": deployment.name,
                   "flow_run_id": deployment.flow_run_id,
                   "parameters": deployment.parameters, "run": flow_run.id,
                   "scheduled": flow_run.scheduled_start_time.isoformat()}, f)
''', encoding="utf-8")
    harness.deploy("probe.py:probe", name="daily", parameters={"day": "fri"})
    out = harness.project / "runtime.json"
    run = harness.client.create_deployment_run("probe/daily",
                                               DeploymentRunCreate(parameters={"out": str(out)}))
    harness.start_worker()
    assert harness.final(run.id).state_name == "Completed"
    seen = json.loads(out.read_text(encoding="utf-8"))
    deployment = harness.client.read_deployment("probe/daily")
    assert seen["id"] == str(deployment.id) and seen["name"] == "daily"
    assert seen["flow_run_id"] == seen["run"] == str(run.id)
    assert seen["parameters"] == {"day": "fri", "out": str(out)}
    assert run.expected_start_time is not None
    assert seen["scheduled"] == run.expected_start_time.isoformat()


def test_to_deployment_module_function_is_the_flow_method() -> None:
    assert repr(to_deployment(nightly_report, "x")) == repr(nightly_report.to_deployment("x"))


def test_prefects_container_options_are_taken_and_said_to_be_unused(
        caplog: pytest.LogCaptureFixture) -> None:
    # A Prefect file deploying to a Docker pool: build/push have nothing to do, the image is
    # noted as unused (a worker runs the flow as a process), and the version is kept.
    with caplog.at_level("WARNING", logger="transom.deployments"):
        deployment = nightly_report.to_deployment(
            "dockered", work_pool_name="docker-pool", image="registry.example/etl:1",
            build=False, push=False, version="2.1")
    assert deployment.body.version == "2.1" and deployment.body.work_pool == "docker-pool"
    assert "image='registry.example/etl:1' is not used" in caplog.text
    assert to_deployment(nightly_report, "plain").body.version == nightly_report.version
    with pytest.raises(UserInputError, match=r"job_variables \(env\) are not supported"):
        nightly_report.to_deployment("env", job_variables={"env": {"X": "1"}})


# -- run_deployment ----------------------------------------------------------------------------
@on_sqlite
def test_run_deployment_in_a_flow_waits_for_the_run_and_links_it_as_a_subflow(
        harness: Harness) -> None:  # noqa: F811
    from transom.deployments import run_deployment
    from transom.runtime import flow_run

    harness.deploy("flows.py:hello", name="greet", parameters={"name": "default"})
    harness.start_worker()

    @flow(name="starts-another")
    def starts_another() -> tuple[Any, str]:
        run = run_deployment("hello/greet", parameters={"name": "ada"}, poll_interval=0.1,
                             tags=["from-code"], settings=harness.settings)
        return run, str(flow_run.id)

    run, caller = starts_another()
    assert run.state is not None and run.state.is_completed() and run.state_name == "Completed"
    assert run.parameters == {"name": "ada"} and "from-code" in run.tags
    assert str(run.parent_flow_run_id) == caller and run.parent_task_run_id is None
    logs = [line.message for line in harness.client.flow_run_logs(run.id).items]
    assert "hello ada" in logs

    # timeout=0 returns at once, whatever the run's state; as_subflow=False links nothing.
    @flow(name="fires-and-forgets")
    def fires_and_forgets() -> Any:
        return run_deployment("hello/greet", timeout=0, as_subflow=False,
                              settings=harness.settings)

    started = fires_and_forgets()
    assert started.state_type is not None and started.parent_flow_run_id is None
    assert harness.final(started.id).state_name == "Completed"


@on_sqlite
def test_run_deployment_is_awaited_in_an_async_flow(harness: Harness) -> None:  # noqa: F811
    import asyncio

    from transom.deployments import arun_deployment, run_deployment

    harness.deploy("flows.py:hello", name="greet")
    harness.start_worker()

    @flow(name="async-starter")
    async def async_starter() -> tuple[Any, Any]:
        first = await run_deployment("hello/greet", poll_interval=0.1, settings=harness.settings)
        second = await arun_deployment("hello/greet", parameters={"name": "bo"},
                                       poll_interval=0.1, settings=harness.settings,
                                       timeout=30)
        return first, second

    first, second = asyncio.run(async_starter())
    assert first.state_name == second.state_name == "Completed"
    assert second.parameters == {"name": "bo"}


def test_run_deployment_says_what_is_wrong_in_one_sentence() -> None:
    from transom.deployments import run_deployment

    with pytest.raises(UserInputError, match="poll_interval > 0"):
        run_deployment("hello/greet", poll_interval=0)
    with pytest.raises(UserInputError, match=r"job_variables \(image\) are not supported"):
        run_deployment("hello/greet", job_variables={"image": "x"})


@on_sqlite
def test_wait_for_flow_run_returns_the_ended_run_or_times_out(
        harness: Harness, caplog: pytest.LogCaptureFixture) -> None:  # noqa: F811
    import asyncio

    from transom.exceptions import FlowRunWaitTimeout
    from transom.flow_runs import wait_for_flow_run

    harness.deploy("flows.py:hello", name="greet")
    run = harness.client.create_deployment_run("hello/greet", DeploymentRunCreate())
    with pytest.raises(FlowRunWaitTimeout, match=r"had not ended after 0.2 s; it is Scheduled"):
        asyncio.run(wait_for_flow_run(run.id, timeout=0.2, poll_interval=0.05,
                                      settings=harness.settings))
    harness.start_worker()
    with caplog.at_level("INFO", logger="transom.flow_runs"):
        ended = asyncio.run(wait_for_flow_run(run.id, poll_interval=0.05, log_states=True,
                                              settings=harness.settings))
    assert ended.state is not None and ended.state.is_completed()
    assert f"flow run {run.name!r} is Completed" in caplog.text
