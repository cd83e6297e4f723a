"""The pages make a few SQL statements each, however many rows they show (no query per row):
counted on the server's own engine while each page is loaded, over SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import sqlalchemy as sa
from tests.server.conftest import LiveServer
from tests.support.seed import flow_run, seed

from transom.schemas import (
    ArtifactCreate,
    BlockDocumentCreate,
    BlockTypeIn,
    ConcurrencyLimitCreate,
    DeploymentCreate,
    DeploymentRunCreate,
    ScheduleIn,
    SlotsAcquire,
    VariableCreate,
    WorkerPoll,
    WorkPoolCreate,
)
from transom.services.embedded import EmbeddedBackend

PAGES_MAX = 13
"""Statements one page may take (the busiest, a failed run's page, takes 13: each of its reads
checks the run exists again, and it reads the states of the task it failed in; the dashboard
7)."""


@contextmanager
def _counted(engine: sa.engine.Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT",
                                                      "RELEASE", "SET", "SHOW")):
            seen.append(statement)

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)


def _fill(backend: EmbeddedBackend, scale: int) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:
    """Rows for every page, `scale` times over, under names of their own (`main{scale}`)."""
    now = datetime.now(timezone.utc)
    main = f"main{scale}"
    seed(backend, 20 * scale, flow=f"etl{scale}", start=now - timedelta(hours=3))
    backend.create_work_pool(WorkPoolCreate(name=main))
    for i in range(3 * scale):
        backend.create_work_pool(WorkPoolCreate(name=f"pool-{scale}-{i}", paused=i % 2 == 0))
    first = None
    for i in range(5 * scale):
        deployment = backend.upsert_deployment(DeploymentCreate(
            flow_name=f"etl{scale}", name=f"d{i}", entrypoint="flows/etl.py:etl", work_pool=main,
            schedules=[ScheduleIn(cron="0 9 * * *")], parameter_schema={
                "type": "object", "properties": {"n": {"type": "integer"}}}))
        first = first or deployment.id
        for _ in range(3):
            backend.create_deployment_run(deployment.id, DeploymentRunCreate())
    for i in range(4 * scale):
        backend.poll_worker(WorkerPoll(name=f"w{scale}-{i}", instance=uuid.uuid4(),
                                       work_pool=main, limit=2))
    run_id, events = flow_run("etl", "big", created=now - timedelta(hours=1), failed=True,
                              tasks=30 * scale, logs=50 * scale)
    backend.send_events(events)
    for i in range(10 * scale):
        backend.create_artifact(ArtifactCreate(key=f"a{scale}-{i}", type="table", data=[{"n": i}],
                                               flow_run_id=run_id))
        backend.create_artifact(ArtifactCreate(key=f"many{scale}", type="markdown", data=f"# {i}",
                                               flow_run_id=run_id))
        backend.set_variable(VariableCreate(name=f"v{scale}_{i}", value={"i": i}, tags=["t"]))
        backend.save_block(BlockDocumentCreate(
            name=f"b{scale}-{i}", block_type=BlockTypeIn(slug=f"kind{scale}-{i % 3}", name="Kind"),
            data={"value": i, "key": "k"}, secret_fields=["key"]))
        backend.create_concurrency_limit(ConcurrencyLimitCreate(name=f"limit{scale}-{i}", limit=5))
        backend.acquire_concurrency_slots(SlotsAcquire(names=[f"limit{scale}-{i}", f"big{scale}"]
                                                       if i else [f"limit{scale}-{i}"]))
        if i == 0:
            backend.create_concurrency_limit(ConcurrencyLimitCreate(name=f"big{scale}",
                                                                    limit=100))
    assert first is not None
    return first, run_id, backend.flow_run_task_runs(run_id)[0].id


def test_each_page_takes_a_few_statements_whatever_it_shows(
        start_server: Callable[..., LiveServer]) -> None:
    server = start_server(server_services=False)
    backend: EmbeddedBackend = server.server.config.app.state.backend
    counts: list[dict[str, int]] = []
    with httpx.Client(base_url=server.url.removesuffix("/api"), timeout=10) as web:
        for scale in (1, 3):  # the second time, four times the rows in all
            deployment_id, run_id, task_id = _fill(backend, scale)
            scheduled = backend.deployment_runs(deployment_id)[0].id
            pages = {"/": "/", "/?window=30d": "/?window=30d", "/runs": "/runs",
                     "{run}": f"/runs/{run_id}", "{scheduled run}": f"/runs/{scheduled}",
                     "{task run}": f"/task-runs/{task_id}", "/deployments": "/deployments",
                     "{deployment}": f"/deployments/{deployment_id}",
                     "/work-pools": "/work-pools", "{pool}": f"/work-pools/main{scale}",
                     "/artifacts": "/artifacts", "{artifact}": f"/artifacts/many{scale}",
                     "/variables": "/variables", "/blocks": "/blocks",
                     "{block}": f"/blocks/kind{scale}-0/b{scale}-0",
                     "/concurrency-limits": "/concurrency-limits",
                     "{limit}": f"/concurrency-limits/big{scale}", "/settings": "/settings"}
            found = {}
            for name, path in pages.items():
                with _counted(backend.ctx.db.engine) as seen:
                    assert web.get(path).status_code == 200, path
                found[name] = len(seen)
            counts.append(found)
    small, big = counts
    assert all(n <= PAGES_MAX for n in big.values()), big
    assert small == big, (small, big)
