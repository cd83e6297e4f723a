"""Deployments and a worker with no server: everything on the embedded database."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from tests.worker.conftest import FLOWS
from transom.schemas import DeploymentCreate, DeploymentRunCreate, ScheduleIn, WorkPoolCreate
from transom.services import Context, EmbeddedBackend
from transom.settings import Settings
from transom.store import open_database
from transom.worker import Worker


def test_a_worker_without_a_server_schedules_runs_and_records_them(tmp_path: Path) -> None:
    (tmp_path / "flows.py").write_text(FLOWS, encoding="utf-8")
    settings = Settings.load({}, home=tmp_path / "home", worker_poll_interval=0.1,
                             server_scheduler_interval=0.2, server_services_interval=0.2,
                             server_scheduler_window=5)
    backend = EmbeddedBackend(Context(open_database(settings.database_url_resolved), settings))
    lines: list[str] = []
    try:
        backend.create_work_pool(WorkPoolCreate(name="main"))
        backend.upsert_deployment(DeploymentCreate(
            flow_name="hello", name="every-second", entrypoint="flows.py:hello",
            path=str(tmp_path), work_pool="main", schedules=[ScheduleIn(interval=1)]))
        asked = backend.create_deployment_run("every-second", DeploymentRunCreate(
            parameters={"name": "ada"}))
        worker = Worker(backend, settings, work_pool="main", echo=lines.append, limit=2)
        thread = threading.Thread(target=worker.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while backend.read_flow_run(asked.id).state_name != "Completed":
            assert time.monotonic() < deadline, "\n".join(lines)
            time.sleep(0.1)
        while True:  # scheduled ones too: the worker did the scheduler's work
            if backend.list_flow_runs(state="COMPLETED").total >= 3:
                break
            assert time.monotonic() < deadline, "\n".join(lines)
            time.sleep(0.1)
        worker.stop()
        thread.join(30)
        (registered,) = backend.list_workers()
        assert registered.work_pool_name == "main" and registered.active_runs == 0
    finally:
        backend.close()
