"""The /api routes of work pools, deployments and workers: thin adapters over `services/`.

A deployment is named in paths by its id or `flow/name` (or a name only one flow uses), so the
deployment routes take the rest of the path.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

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
from transom.server.routes import ERRORS, Api, Limit, Offset

__all__ = ["router"]

router = APIRouter(responses=ERRORS)


# -- work pools -----------------------------------------------------------------------------------
@router.post("/work_pools", status_code=status.HTTP_201_CREATED, tags=["work pools"])
def create_work_pool(body: WorkPoolCreate, api: Api) -> WorkPoolRead:
    return api.create_work_pool(body)


@router.get("/work_pools", tags=["work pools"])
def list_work_pools(api: Api) -> list[WorkPoolRead]:
    return api.list_work_pools()


@router.get("/work_pools/{name}", tags=["work pools"])
def read_work_pool(name: str, api: Api) -> WorkPoolRead:
    return api.read_work_pool(name)


@router.patch("/work_pools/{name}", tags=["work pools"])
def update_work_pool(name: str, body: WorkPoolUpdate, api: Api) -> WorkPoolRead:
    """Pause or resume a pool, change its concurrency limit (null removes it)."""
    return api.update_work_pool(name, body)


@router.delete("/work_pools/{name}", status_code=status.HTTP_204_NO_CONTENT, tags=["work pools"])
def delete_work_pool(name: str, api: Api) -> Response:
    api.delete_work_pool(name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# -- deployments ----------------------------------------------------------------------------------
@router.post("/deployments", status_code=status.HTTP_201_CREATED, tags=["deployments"])
def upsert_deployment(body: DeploymentCreate, api: Api) -> DeploymentRead:
    """Create a deployment, or replace the flow's deployment of that name."""
    return api.upsert_deployment(body)


@router.get("/deployments", tags=["deployments"])
def list_deployments(
    api: Api,
    flow: Annotated[str | None, Query(description="Only deployments of this flow.")] = None,
    work_pool: Annotated[str | None, Query(description="Only deployments of this pool.")] = None,
    limit: Limit = 200,
    offset: Offset = 0,
) -> list[DeploymentRead]:
    return api.list_deployments(flow_name=flow, work_pool=work_pool, limit=limit, offset=offset)


@router.post("/deployments/{ref:path}/runs", status_code=status.HTTP_201_CREATED,
             tags=["deployments"])
def create_deployment_run(ref: str, body: DeploymentRunCreate, api: Api) -> FlowRunRead:
    """A Scheduled run of the deployment (now, unless `scheduled_time` says when)."""
    return api.create_deployment_run(ref, body)


@router.get("/deployments/{ref:path}", tags=["deployments"])
def read_deployment(ref: str, api: Api) -> DeploymentRead:
    return api.read_deployment(ref)


@router.patch("/deployments/{ref:path}", tags=["deployments"])
def update_deployment(ref: str, body: DeploymentUpdate, api: Api) -> DeploymentRead:
    """Pause or resume, change default parameters, tags, queue or the concurrency limit."""
    return api.update_deployment(ref, body)


@router.delete("/deployments/{ref:path}", tags=["deployments"])
def delete_deployment(ref: str, api: Api) -> DeploymentRead:
    """Delete a deployment and its runs that have not started; returns what was deleted."""
    return api.delete_deployment(ref)


# -- workers --------------------------------------------------------------------------------------
@router.post("/workers/poll", tags=["workers"])
def poll(body: WorkerPoll, api: Api) -> PollResult:
    """A worker's heartbeat: settles runs it no longer has, names its runs to cancel, and
    claims up to `limit` due runs for it, atomically."""
    return api.poll_worker(body)


@router.get("/workers", tags=["workers"])
def list_workers(
    api: Api,
    work_pool: Annotated[str | None, Query(description="Only workers of this pool.")] = None,
) -> list[WorkerRead]:
    return api.list_workers(work_pool=work_pool)
