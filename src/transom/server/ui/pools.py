"""The work pool pages: every pool with its limit, queued and running counts and whether it is
paused; one pool with its workers (last heartbeat, the runs they hold), its deployments (the
first page of them, and how many in all) and its pause / resume form, a CSRF-checked post that
calls the same operation as the API's PATCH and `transom work-pool pause`."""

from __future__ import annotations

from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from transom.exceptions import NotFound
from transom.schemas import WorkPoolUpdate
from transom.server.routes import Api
from transom.server.ui import csrf
from transom.server.ui.deployments import DEPLOYMENTS_PAGE
from transom.server.ui.render import error_page, render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
_DONE = {"paused": "Paused: no worker takes a run from this pool until it is resumed.",
         "resumed": "Resumed: its workers take its runs again."}


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
    used_by = api.deployments_page(work_pool=name, limit=DEPLOYMENTS_PAGE)
    token = csrf.token(request)
    response = render(request, "work_pool.html", pool=pool, workers=workers, held=held,
                      deployments=used_by.deployments, used_by=used_by,
                      all_deployments="/deployments?" + urlencode({"pool": pool.name}),
                      done=_DONE.get(request.query_params.get("done") or ""), csrf=token,
                      nav="pools")
    return csrf.with_cookie(request, response, token)


@router.post("/work-pools/{name}/pause")
async def pause_work_pool(name: str, request: Request, api: Api) -> Response:
    """The page's Pause / Resume form (`paused` true or false), then the page again."""
    try:
        await run_in_threadpool(api.read_work_pool, name)
    except NotFound as exc:
        return error_page(request, 404, "No such work pool", str(exc))
    try:
        paused = await csrf.checked_switch(request, "paused", "the pool")
    except csrf.Refused as exc:
        return error_page(request, exc.status, "Refused", str(exc))
    try:
        changed = await run_in_threadpool(api.update_work_pool, name,
                                          WorkPoolUpdate(paused=paused))
    except NotFound as exc:  # deleted meanwhile
        return error_page(request, 404, "No such work pool", str(exc))
    done = "paused" if changed.paused else "resumed"
    return RedirectResponse(f"/work-pools/{quote(changed.name, safe='')}?done={done}",
                            status_code=303)
