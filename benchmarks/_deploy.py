"""Shared by the worker benchmarks: a project with a trivial flow, its pool and deployment, and
`transom worker start` processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from transom.client import TransomClient
from transom.schemas import DeploymentCreate, FlowRunRead, WorkPoolCreate

FLOW = '''
from transom import flow

@flow
def trivial(i: int = 0):
    return i
'''


def project(home: Path, client: TransomClient) -> Path:
    folder = home / "project"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "bench_flows.py").write_text(FLOW, encoding="utf-8")
    client.create_work_pool(WorkPoolCreate(name="bench"))
    client.upsert_deployment(DeploymentCreate(
        flow_name="trivial", name="bench", entrypoint="bench_flows.py:trivial",
        path=str(folder), work_pool="bench"))
    return folder


def start_worker(home: Path, url: str, name: str, *options: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRANSOM_")}
    env.update(TRANSOM_HOME=str(home), TRANSOM_API_URL=url, TRANSOM_LOGGING_LEVEL="WARNING")
    return subprocess.Popen([sys.executable, "-m", "transom", "worker", "start", "--pool", "bench",
                             "--name", name, *options], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        process.send_signal(signal.SIGTERM)
    for process in processes:
        process.wait(30)


def wait_final(client: TransomClient, ids: list[uuid.UUID], timeout: float) -> list[FlowRunRead]:
    deadline = time.monotonic() + timeout
    pending = set(ids)
    done: dict[uuid.UUID, FlowRunRead] = {}
    while pending:
        page = client.list_flow_runs(flow_name="trivial", limit=1000)
        for run in page.items:
            if run.id in pending and run.end_time is not None:
                done[run.id] = run
                pending.discard(run.id)
        if pending and time.monotonic() > deadline:
            raise SystemExit(f"{len(pending)} runs did not finish in {timeout}s")
        time.sleep(0.2)
    return [done[i] for i in ids]
