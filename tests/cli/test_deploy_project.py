"""`transom deploy --all` / `--name N` over a project file (transom.yaml, else prefect.yaml) as a
user runs it (the real command, the embedded database), the mistakes it refuses, and a worker
running a deployment whose pull steps clone its code from a git repository."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest
from tests.cli.conftest import Transom

from transom.projects import read_project
from transom.schemas import DeploymentRunCreate
from transom.services import Context, EmbeddedBackend
from transom.settings import Settings
from transom.store import open_database
from transom.worker import Worker

FLOWS = '''
import os
from transom import flow
from transom.runtime import deployment

@flow
def greet(name: str = "world", times: int = 1):
    return f"hello {name}" * times

@flow
def where(marker: str):
    with open(marker, "w", encoding="utf-8") as out:
        out.write(f"{os.getcwd()}\\n{deployment.version}")
    return os.getcwd()
'''

PROJECT = '''
name: my-project
prefect-version: 3.1.0
build: null
push: null
deployments:
  - name: nightly
    entrypoint: flows.py:greet
    description: Greets at night.
    version: "1.2"
    parameters: {name: ada}
    tags: [etl, nightly]
    concurrency_limit: 2
    work_pool: {name: main, work_queue_name: high}
    schedules:
      - cron: "0 2 * * *"
        timezone: Europe/Paris
      - rrule: FREQ=WEEKLY;BYDAY=MO
        active: false
  - name: hourly
    entrypoint: flows.py:greet
    work_pool: {name: main}
    schedules:
      - interval: 3600
'''


def _backend(home: Path) -> EmbeddedBackend:
    settings = Settings.load({}, home=home)
    return EmbeddedBackend(Context(open_database(settings.database_url_resolved), settings))


@pytest.fixture
def project(tmp_path: Path, transom: Transom) -> Path:
    (tmp_path / "flows.py").write_text(FLOWS, encoding="utf-8")
    assert transom("work-pool", "create", "main").code == 0
    return tmp_path


def test_deploy_all_registers_every_deployment_of_transom_yaml(
        transom: Transom, project: Path, home: Path) -> None:
    (project / "transom.yaml").write_text(PROJECT, encoding="utf-8")
    (project / "prefect.yaml").write_text("deployments: oops", encoding="utf-8")  # not read
    done = transom("deploy", "--all")
    assert done.code == 0, done.stderr
    assert "Read 2 deployments from transom.yaml." in done.stdout
    assert "Deployment greet/nightly registered in work pool 'main'." in done.stdout
    assert "Deployment greet/hourly registered in work pool 'main'." in done.stdout
    # Next runs in the schedule's zone, labelled: 02:00 in Paris (CET in winter, CEST in summer)
    nightly_next = next(line for line in done.stdout.splitlines() if "Next runs" in line)
    assert "02:00:00 CE" in nightly_next, done.stdout
    assert "UTC" in done.stdout.split("greet/hourly", 1)[1]
    backend = _backend(home)
    try:
        nightly = backend.read_deployment("greet/nightly")
        assert nightly.parameters == {"name": "ada"} and nightly.tags == ["etl", "nightly"]
        assert nightly.concurrency_limit == 2 and nightly.description == "Greets at night."
        assert nightly.version == "1.2" and nightly.work_queue_name == "high"
        assert nightly.path == str(project.resolve()) and nightly.pull_steps == []
        assert [(s.cron, s.rrule, s.timezone, s.active) for s in nightly.schedules] == [
            ("0 2 * * *", None, "Europe/Paris", True), (None, "FREQ=WEEKLY;BYDAY=MO", None, False)]
        hourly = backend.read_deployment("greet/hourly")
        assert [s.interval for s in hourly.schedules] == [3600]
    finally:
        backend.close()


def test_deploy_name_registers_only_the_named_ones(transom: Transom, project: Path,
                                                   home: Path) -> None:
    (project / "transom.yaml").write_text(PROJECT, encoding="utf-8")
    done = transom("deploy", "--name", "greet/hourly")
    assert done.code == 0, done.stderr
    assert "greet/hourly" in done.stdout and "greet/nightly" not in done.stdout
    backend = _backend(home)
    try:
        assert [d.full_name for d in backend.list_deployments()] == ["greet/hourly"]
    finally:
        backend.close()
    transom("deploy", "--name", "weekly").assert_user_error(
        "transom.yaml has no deployment named 'weekly' (it has: nightly, hourly)")


@pytest.mark.parametrize(("text", "fragments"), [
    (PROJECT.replace("  - name: hourly\n", "  - name: hourly\n    shedule: []\n"),
     ["transom.yaml: deployments[1]: unknown key 'shedule' (did you mean 'schedules'?)"]),
    (PROJECT.replace("timezone: Europe/Paris", "timezon: Europe/Paris"),
     ["transom.yaml: deployments[0] (nightly): schedules[0]: unknown key 'timezon' "
      "(did you mean 'timezone'?)"]),
    (PROJECT.replace("work_queue_name: high", "queue: high"),
     ["deployments[0] (nightly): work_pool: unknown key 'queue'"]),
    ("pul: []\n" + PROJECT, ["transom.yaml: unknown key 'pul' (did you mean 'pull'?)"]),
    ("pull:\n  - prefect.deployments.steps.git_clone: {repo: x}\n" + PROJECT,
     ["transom.yaml: pull[0]: git_clone has no option 'repo'"]),
    ("pull:\n  - prefect.deployments.steps.pip_install_requirements: {}\n" + PROJECT,
     ["transom.yaml: pull[0]: unknown step 'prefect.deployments.steps.pip_install_requirements'"]),
    (PROJECT.replace("cron: \"0 2 * * *\"", "cron: \"0 2 * *\""),
     ["deployments[0] (nightly): schedules[0]:", "cron"]),
    (PROJECT.replace("parameters: {name: ada}", "parameters: {nme: ada}"),
     ["deployments[0] (nightly):", "has no parameter 'nme'"]),
    (PROJECT.replace("    work_pool: {name: main}\n", ""),
     ["deployments[1] (hourly): needs work_pool"]),
    ("deployments:\n  - name: x\n    entrypoint: [flows.py:greet\n",
     ["transom.yaml is not valid YAML at line"]),
    ("- just a list\n", ["transom.yaml: must be a mapping"]),
])
def test_mistakes_in_the_project_file_are_one_sentence_naming_where(
        transom: Transom, project: Path, home: Path, text: str, fragments: list[str]) -> None:
    (project / "transom.yaml").write_text(text, encoding="utf-8")
    transom("deploy", "--all").assert_user_error(*fragments)
    backend = _backend(home)
    try:
        assert backend.list_deployments() == []  # nothing half-registered
    finally:
        backend.close()


def test_a_missing_pool_or_file_is_one_sentence(transom: Transom, project: Path,
                                                home: Path) -> None:
    transom("deploy", "--all").assert_user_error("no transom.yaml or prefect.yaml in")
    (project / "transom.yaml").write_text(
        PROJECT.replace("work_pool: {name: main}", "work_pool: {name: gpu}"), encoding="utf-8")
    transom("deploy", "--all").assert_user_error(
        "no work pool named 'gpu'; create it with `transom work-pool create gpu`")
    backend = _backend(home)
    try:
        assert backend.list_deployments() == []  # the good one waits for the pool too
    finally:
        backend.close()
    transom("deploy").assert_user_error("transom deploy --all")
    transom("deploy", "--all", "--cron", "0 9 * * *").assert_user_error(
        "--cron applies to `transom deploy path/file.py:flow_fn`")


def test_a_deployment_s_own_pull_steps_replace_the_project_s(tmp_path: Path) -> None:
    (tmp_path / "flows.py").write_text(FLOWS, encoding="utf-8")
    (tmp_path / "prefect.yaml").write_text("""
pull:
  - prefect.deployments.steps.set_working_directory: {directory: /srv/flows}
deployments:
  - {name: a, entrypoint: "flows.py:greet", work_pool: {name: main}}
  - name: b
    entrypoint: flows.py:greet
    work_pool: {name: main}
    pull:
      - transom.deployments.steps.git_clone: {repository: "https://example.com/r.git"}
  - {name: c, entrypoint: "flows.py:greet", work_pool: {name: main}, pull: []}
""", encoding="utf-8")
    a, b, c = read_project(tmp_path / "prefect.yaml")
    assert a.body.pull_steps == [
        {"transom.deployments.steps.set_working_directory": {"directory": "/srv/flows"}}]
    assert b.body.pull_steps == [
        {"transom.deployments.steps.git_clone": {"repository": "https://example.com/r.git"}}]
    assert c.body.pull_steps == [] and c.body.path == str(tmp_path.resolve())
    assert a.body.path is None  # the worker finds the code where the pull steps leave it


def _git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com",
                    "-c", "init.defaultBranch=main", *args], cwd=cwd, check=True,
                   capture_output=True)


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_a_worker_runs_the_pull_steps_of_a_prefect_yaml_deployment(
        transom: Transom, tmp_path: Path, home: Path) -> None:
    bare = tmp_path / "repo.git"
    _git("init", "--bare", str(bare), cwd=tmp_path)
    work = tmp_path / "checkout"
    _git("clone", str(bare), str(work), cwd=tmp_path)
    (work / "project").mkdir()
    (work / "project" / "flows.py").write_text(FLOWS, encoding="utf-8")
    _git("checkout", "-b", "release", cwd=work)
    _git("add", ".", cwd=work)
    _git("commit", "-m", "flows", cwd=work)
    _git("push", "origin", "release", cwd=work)
    # What the user deploys from: the project folder of their checkout, with a prefect.yaml.
    (work / "project" / "prefect.yaml").write_text(f'''
pull:
  - prefect.deployments.steps.git_clone:
      repository: {bare.as_posix()}
      branch: release
  - transom.deployments.steps.set_working_directory:
      directory: project
deployments:
  - name: from-git
    version: 7
    entrypoint: flows.py:where
    work_pool:
      name: main
''', encoding="utf-8")
    assert transom("work-pool", "create", "main").code == 0
    done = transom("deploy", "--all", cwd=work / "project")
    assert done.code == 0, done.stderr
    assert "Read 1 deployment from prefect.yaml." in done.stdout
    assert "Pull step: git_clone" in done.stdout and "branch=release" in done.stdout
    shutil.rmtree(work)  # the run must get its code from the repository, not from here

    settings = Settings.load({}, home=home, worker_poll_interval=0.1)
    backend = EmbeddedBackend(Context(open_database(settings.database_url_resolved), settings))
    lines: list[str] = []
    marker = tmp_path / "cwd.txt"
    try:
        deployment = backend.read_deployment("where/from-git")
        assert deployment.path is None and [list(s) for s in deployment.pull_steps] == [
            ["transom.deployments.steps.git_clone"],
            ["transom.deployments.steps.set_working_directory"]]
        run = backend.create_deployment_run("where/from-git", DeploymentRunCreate(
            parameters={"marker": str(marker)}))
        worker = Worker(backend, settings, work_pool="main", echo=lines.append, limit=1)
        thread = threading.Thread(target=worker.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 60
        while backend.read_flow_run(run.id).state_name not in ("Completed", "Failed", "Crashed"):
            assert time.monotonic() < deadline, "\n".join(lines)
            time.sleep(0.1)
        worker.stop()
        thread.join(30)
        assert backend.read_flow_run(run.id).state_name == "Completed", "\n".join(lines)
    finally:
        backend.close()
    cwd, version = marker.read_text(encoding="utf-8").splitlines()
    assert version == "7"  # transom.runtime.deployment.version, from the project file
    ran_in = Path(cwd)
    assert ran_in.name == "project" and ran_in.parent.parent == home / "sources"
    assert any("pull steps done" in line for line in lines), "\n".join(lines)
    assert os.path.isfile(ran_in / "flows.py")
