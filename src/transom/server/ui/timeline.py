"""A flow run's timeline (Gantt) of its task runs, as compact gzipped JSON that a canvas in
transom.js draws in milliseconds, zoomed and panned without a request. The layout is
services/timeline.py's, the same the API's `/api/flow_runs/{id}/timeline` answers."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from transom.exceptions import NotFound, UserInputError
from transom.server.overview import compact_json
from transom.server.routes import Api
from transom.services.timeline import layout

__all__ = ["layout", "router"]

router = APIRouter(include_in_schema=False)


@router.get("/runs/{run_id}/timeline.json")
def timeline(run_id: str, request: Request, api: Api) -> Response:
    try:
        run = api.read_flow_run(run_id)
    except (NotFound, UserInputError) as exc:
        return JSONResponse({"detail": str(exc)}, status_code=404)
    return compact_json(request, api.flow_run_timeline(run.id))
