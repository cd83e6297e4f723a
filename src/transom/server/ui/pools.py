"""The work pool pages: every pool with its limit, queued and running counts and whether it is
paused; one pool with its workers (last heartbeat, the runs they hold) and its deployments."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from transom.exceptions import NotFound
from transom.server.routes import Api
from transom.server.ui.render import error_page, render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


@router.get("/work-pools")
def work_pools(request: Request, api: Api) -> Response:
    pools = api.list_work_pools()
    workers = api.list_workers()
    return render(request, "work_pools.html", pools=pools, workers=workers, nav="pools")


@router.get("/work-pools/{name}")
def work_pool(name: str, request: Request, api: Api) -> Response:
    try:
        pool = api.read_work_pool(name)
    except NotFound as exc:
        return error_page(request, 404, "No such work pool", str(exc))
    workers = api.list_workers(work_pool=name)
    held = api.worker_runs(workers)
    used_by = api.list_deployments(work_pool=name, limit=500)
    return render(request, "work_pool.html", pool=pool, workers=workers, held=held,
                  deployments=used_by, nav="pools")
