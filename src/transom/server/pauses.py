"""The /api routes of pauses: thin adapters over `services/pauses.py`."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from transom.schemas import PauseCreate, PauseRead, ResumeIn, StateRecord
from transom.server.routes import ERRORS, Api, RunRef

__all__ = ["router"]

router = APIRouter(responses=ERRORS, tags=["flow runs"])


@router.post("/flow_runs/{run_id}/pause", status_code=status.HTTP_201_CREATED)
def pause_flow_run(run_id: uuid.UUID, body: PauseCreate, api: Api) -> StateRecord:
    """A Running run pauses (its process waits) or, with `reschedule`, suspends (a deployment's
    run: its process ends, a worker starts it again on resume); 409 if it is not Running."""
    return api.pause_flow_run(run_id, body)


@router.get("/flow_runs/{run_id}/pauses/{key}")
def read_pause(run_id: uuid.UUID, key: str, api: Api) -> PauseRead:
    """A run's pause by its key, with its resume's input once resumed."""
    return api.read_pause(run_id, key)


@router.post("/flow_runs/{run_id}/resume", status_code=status.HTTP_201_CREATED)
def resume_flow_run(run_id: RunRef, body: ResumeIn, api: Api) -> StateRecord:
    """Resume a paused run (by id or a unique prefix of one) with the input it waits for: 409 if
    it is not paused, 400 if the input does not match the pause's schema (it stays paused)."""
    return api.resume_flow_run(run_id, body)
