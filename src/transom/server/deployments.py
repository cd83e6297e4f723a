"""The /api routes of work pools, deployments and workers: thin calls into `store/`.

A deployment is named in paths by its id or `flow/name` (or a name only one flow uses), so the
deployment routes take the rest of the path.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from transom.schemas import (
    DeploymentCreate,
    DeploymentRead,
    DeploymentRunCreate,
    DeploymentUpdate,
    FlowRunRead,
    PollResult,
    WorkerPoll,
    WorkerRead,
    WorkPoolCreate,
    WorkPoolRead,
    WorkPoolUpdate,
)
from transom.settings import Settings
from transom.store import Database, workers
from transom.store import deployments as store

__all__ = ["router"]

router = APIRouter()


async def _db(request: Request) -> Database:  # async: no thread pool trip (see routes.py)
    db: Database = request.app.state.db
    return db


async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


DB = Annotated[Database, Depends(_db)]
Config = Annotated[Settings, Depends(_settings)]


# -- work pools -----------------------------------------------------------------------------------
@router.post("/work_pools", status_code=status.HTTP_201_CREATED, tags=["work pools"])
def create_work_pool(body: WorkPoolCreate, db: DB) -> WorkPoolRead:
    with db.write() as conn:
        return store.create_work_pool(conn, body)


@router.get("/work_pools", tags=["work pools"])
def list_work_pools(db: DB, settings: Config) -> list[WorkPoolRead]:
    with db.read() as conn:
        return store.list_work_pools(conn, worker_timeout=settings.server_worker_timeout)


@router.get("/work_pools/{name}", tags=["work pools"])
def read_work_pool(name: str, db: DB, settings: Config) -> WorkPoolRead:
    with db.read() as conn:
        return store.read_work_pool(conn, name, worker_timeout=settings.server_worker_timeout)


@router.patch("/work_pools/{name}", tags=["work pools"])
def update_work_pool(name: str, body: WorkPoolUpdate, db: DB) -> WorkPoolRead:
    """Pause or resume a pool, change its concurrency limit (null removes it)."""
    with db.write() as conn:
        return store.update_work_pool(conn, name, body)


@router.delete("/work_pools/{name}", status_code=status.HTTP_204_NO_CONTENT, tags=["work pools"])
def delete_work_pool(name: str, db: DB) -> Response:
    with db.write() as conn:
        store.delete_work_pool(conn, name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# -- deployments ----------------------------------------------------------------------------------
@router.post("/deployments", status_code=status.HTTP_201_CREATED, tags=["deployments"])
def upsert_deployment(body: DeploymentCreate, db: DB, settings: Config) -> DeploymentRead:
    """Create a deployment, or replace the flow's deployment of that name."""
    with db.write() as conn:
        return store.upsert_deployment(conn, body, window=settings.server_scheduler_window)


@router.get("/deployments", tags=["deployments"])
def list_deployments(
    db: DB,
    flow: Annotated[str | None, Query(description="Only deployments of this flow.")] = None,
    work_pool: Annotated[str | None, Query(description="Only deployments of this pool.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[DeploymentRead]:
    with db.read() as conn:
        return store.list_deployments(conn, flow_name=flow, work_pool=work_pool, limit=limit,
                                      offset=offset)


@router.post("/deployments/{ref:path}/runs", status_code=status.HTTP_201_CREATED,
             tags=["deployments"])
def create_deployment_run(ref: str, body: DeploymentRunCreate, db: DB) -> FlowRunRead:
    """A Scheduled run of the deployment (now, unless `scheduled_time` says when)."""
    with db.write() as conn:
        return store.create_deployment_run(conn, ref, body)


@router.get("/deployments/{ref:path}", tags=["deployments"])
def read_deployment(ref: str, db: DB) -> DeploymentRead:
    with db.read() as conn:
        return store.read_deployment(conn, ref)


@router.patch("/deployments/{ref:path}", tags=["deployments"])
def update_deployment(ref: str, body: DeploymentUpdate, db: DB, settings: Config) -> DeploymentRead:
    """Pause or resume, change default parameters, tags, queue or the concurrency limit."""
    with db.write() as conn:
        return store.update_deployment(conn, ref, body, window=settings.server_scheduler_window)


@router.delete("/deployments/{ref:path}", tags=["deployments"])
def delete_deployment(ref: str, db: DB) -> DeploymentRead:
    """Delete a deployment and its runs that have not started; returns what was deleted."""
    with db.write() as conn:
        return store.delete_deployment(conn, ref)


# -- workers --------------------------------------------------------------------------------------
@router.post("/workers/poll", tags=["workers"])
def poll(body: WorkerPoll, db: DB, settings: Config) -> PollResult:
    """A worker's heartbeat: settles runs it no longer has, names its runs to cancel, and
    claims up to `limit` due runs for it, atomically."""
    with db.write() as conn:
        return workers.poll(conn, body, worker_timeout=settings.server_worker_timeout)


@router.get("/workers", tags=["workers"])
def list_workers(
    db: DB, settings: Config,
    work_pool: Annotated[str | None, Query(description="Only workers of this pool.")] = None,
) -> list[WorkerRead]:
    with db.read() as conn:
        return workers.list_workers(conn, work_pool=work_pool,
                                    worker_timeout=settings.server_worker_timeout)
