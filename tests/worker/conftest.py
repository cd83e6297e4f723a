"""Worker tests: a real server on 127.0.0.1, real run processes, flows in a temp project."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.server.conftest import LiveServer, database_url, start_server  # noqa: F401 (fixtures)
from transom.client import TransomClient
from transom.schemas import DeploymentCreate, FlowRunRead, WorkPoolCreate
from transom.settings import Settings
from transom.worker import Worker

FLOWS = '''
import os, subprocess, sys, time
from pathlib import Path
from transom import flow, get_run_logger

@flow
def hello(name: str = "world"):
    get_run_logger().info("hello %s", name)
    print(f"printed {name}")
    return name

@flow(retries=2)
def flaky(marker: str):
    path = Path(marker)
    attempt = int(path.read_text()) if path.exists() else 0
    path.write_text(str(attempt + 1))
    if attempt < 2:
        raise ValueError(f"attempt {attempt} fails")
    return attempt

@flow
def sleepy(seconds: float = 60, pidfile: str = ""):
    if pidfile:
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        Path(pidfile).write_text(f"{os.getpid()} {child.pid}")
    time.sleep(seconds)

@flow
def doublefork(pidfile: str, seconds: float = 60):
    # The shell exits at once; its child left the session: an orphan nobody's tree holds.
    script = f"setsid sh -c 'echo $$ > {pidfile}; exec sleep 1000' &"
    subprocess.run(["bash", "-c", script], check=True)
    time.sleep(seconds)

@flow
async def waiting(seconds: float = 60):
    import asyncio
    await asyncio.sleep(seconds)

@flow
def stubborn(pidfile: str):
    Path(pidfile).write_text(str(os.getpid()))
    for _ in range(1200):
        try:
            time.sleep(0.1)
        except BaseException:
            pass

@flow
def measure(blob: str, out: str):
    Path(out).write_text(f"{len(blob)} {blob[:3]}{blob[-3:]}")

@flow
def record(log: str):
    from transom.core.context import current_flow_run
    with open(log, "a", encoding="utf-8") as out:
        out.write(f"{current_flow_run().flow_run_id}\\n")
'''


class Harness:
    def __init__(self, server: LiveServer, project: Path) -> None:
        self.server = server
        self.project = project
        self.client = TransomClient(server.url, retries=2)
        self.settings = Settings.load({}, home=project / "home", api_url=server.url,
                                      worker_poll_interval=0.1, worker_prefetch_seconds=0,
                                      worker_cancel_grace=2.0)
        self.lines: list[str] = []
        self.workers: list[tuple[Worker, threading.Thread]] = []

    def deploy(self, entrypoint: str, name: str | None = None, pool: str = "main",
               **extra: Any) -> None:
        flow = entrypoint.rsplit(":", 1)[1]
        try:
            self.client.create_work_pool(WorkPoolCreate(name=pool))
        except Exception:
            pass
        self.client.upsert_deployment(DeploymentCreate.model_validate({
            "flow_name": flow, "name": name or flow, "entrypoint": entrypoint,
            "path": str(self.project), "work_pool": pool, **extra}))

    def run(self, deployment: str, **parameters: Any) -> uuid.UUID:
        from transom.schemas import DeploymentRunCreate

        return self.client.create_deployment_run(
            deployment, DeploymentRunCreate(parameters=parameters)).id

    def start_worker(self, pool: str = "main", **options: Any) -> Worker:
        worker = Worker(TransomClient(self.server.url, retries=0), self.settings,
                        work_pool=pool, echo=self.lines.append, name=f"w-{uuid.uuid4().hex[:6]}",
                        **options)
        thread = threading.Thread(target=worker.run, daemon=True)
        thread.start()
        self.workers.append((worker, thread))
        return worker

    def wait(self, run_id: uuid.UUID, until: Callable[[FlowRunRead], bool],
             timeout: float = 30.0) -> FlowRunRead:
        deadline = time.monotonic() + timeout
        while True:
            run = self.client.read_flow_run(run_id)
            if until(run):
                return run
            if time.monotonic() > deadline:
                raise AssertionError(f"run {run.name} still {run.state_name}: "
                                     f"{run.state_message}\n" + "\n".join(self.lines[-30:]))
            time.sleep(0.05)

    def final(self, run_id: uuid.UUID, timeout: float = 30.0) -> FlowRunRead:
        return self.wait(run_id, lambda r: r.state_type is not None and
                         r.state_type.value in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"),
                         timeout)

    def close(self) -> None:
        for worker, _ in self.workers:
            worker.stop()
        for _, thread in self.workers:
            thread.join(30)
        self.client.close()


@pytest.fixture
def harness(start_server: Callable[..., LiveServer], tmp_path: Path) -> Iterator[Harness]:  # noqa: F811
    project = tmp_path / "project"
    project.mkdir()
    (project / "flows.py").write_text(FLOWS, encoding="utf-8")
    server = start_server(server_services_interval=0.5, server_worker_timeout=3)
    harness = Harness(server, project)
    try:
        yield harness
    finally:
        harness.close()
