"""Actions on many flow runs at once, from the runs list: cancel, delete, run again (runs of a
deployment: a new run with the same parameters) or mark as Completed / Failed / Cancelled (an
operator's override). Each run goes through the same operation the API and the CLI use, so
each is refused or done for the same reasons; the list then says how many were done and why
the others were not.

The form is a plain POST from this server's own page: refused when its Origin is another site
(a session cookie is SameSite=Strict, but a browser may also hold basic-auth credentials).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from transom.core.states import StateType
from transom.exceptions import TransomError, UserInputError
from transom.schemas import DeploymentRunCreate, StateIn, StateRecord
from transom.server.routes import Api
from transom.server.ui.login import read_form, safe_next, same_origin
from transom.services.backend import Backend

__all__ = ["ACTIONS", "MAX_RUNS", "mark", "router"]

MAX_RUNS = 200
"""Runs one bulk action takes (a page of the list at most)."""
MAX_FORM = 64 * 1024

router = APIRouter(include_in_schema=False)


def mark(api: Backend, run_id: uuid.UUID, kind: StateType,
         message: str | None = None) -> StateRecord:
    """Set a run's state by hand (forced: an operator's override), with why."""
    return api.set_flow_run_state(run_id, StateIn(
        type=kind, force=True, message=message or "set by hand in the web UI"))


def _mark(kind: StateType) -> Callable[[Backend, uuid.UUID], object]:
    return lambda api, run_id: mark(api, run_id, kind)


def _again(api: Backend, run_id: uuid.UUID) -> object:
    run = api.read_flow_run(run_id)
    if run.deployment_id is None:
        raise UserInputError("only a run of a deployment can run again from here (nothing else "
                             "knows how to start its flow)")
    return api.create_deployment_run(run.deployment_id, DeploymentRunCreate(
        parameters=run.parameters, tags=list(run.tags)))


ACTIONS: dict[str, tuple[str, Callable[[Backend, uuid.UUID], object]]] = {
    "cancel": ("cancelled", lambda api, run_id: api.cancel_flow_run(run_id, "cancelled in the web UI")),
    "delete": ("deleted", lambda api, run_id: api.delete_flow_run(run_id)),
    "rerun": ("started again", _again),
    "completed": ("marked Completed", _mark(StateType.COMPLETED)),
    "failed": ("marked Failed", _mark(StateType.FAILED)),
    "cancelled": ("marked Cancelled", _mark(StateType.CANCELLED)),
}


def _apply(api: Backend, action: str, ids: list[uuid.UUID]) -> tuple[int, list[str]]:
    _, operation = ACTIONS[action]
    done, problems = 0, []
    for run_id in ids:
        try:
            operation(api, run_id)
            done += 1
        except TransomError as exc:
            problems.append(f"{str(run_id)[:8]}: {exc}")
    return done, problems


@router.post("/runs/bulk")
async def bulk(request: Request, api: Api) -> Response:
    fields = await read_form(request, max_bytes=MAX_FORM, max_fields=MAX_RUNS + 5)
    if fields is None:
        return _refuse("send the form of the runs page (urlencoded, at most "
                       f"{MAX_RUNS} runs)", 400)
    back = safe_next((fields.get("back") or ["/runs"])[0])
    if not same_origin(request):
        return _refuse("this action came from another site; use this server's own page", 403)
    action = (fields.get("action") or [""])[0]
    if action not in ACTIONS:
        return _back(back, "Choose what to do with the runs you selected.")
    try:
        ids = [uuid.UUID(value) for value in fields.get("run", [])][:MAX_RUNS]
    except ValueError:
        return _refuse("a selected run is not a flow run id", 400)
    if not ids:
        return _back(back, "Select the runs first (the boxes on the left).")
    done, problems = await run_in_threadpool(_apply, api, action, ids)
    word = ACTIONS[action][0]
    notice = f"{done} run{'' if done == 1 else 's'} {word}."
    if problems:
        notice += f" {len(problems)} not: " + "; ".join(problems[:5])
        notice += " …" if len(problems) > 5 else ""
    return _back(back, notice)


def _back(back: str, notice: str) -> Response:
    path, _, query = back.partition("?")
    params = {k: v[0] for k, v in parse_qs(query).items() if k != "notice"}
    params["notice"] = notice[:1000]
    return RedirectResponse(f"{path}?{urlencode(params)}", status_code=303)


def _refuse(message: str, status: int) -> Response:
    return Response(message + "\n", status_code=status, media_type="text/plain; charset=utf-8")
