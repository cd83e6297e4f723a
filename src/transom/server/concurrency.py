"""The /api routes of concurrency limits and their slots: thin adapters over
`services/concurrency.py`."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status

from transom.schemas import (
    ConcurrencyLimitCreate,
    ConcurrencyLimitRead,
    ConcurrencyLimitUpdate,
    LeaseRenew,
    SlotsAcquire,
    SlotsAnswer,
)
from transom.server.routes import ERRORS, Api, Limit, Offset

__all__ = ["router"]

router = APIRouter(responses=ERRORS, tags=["concurrency limits"])


@router.post("/concurrency_limits", status_code=status.HTTP_201_CREATED)
def create_concurrency_limit(body: ConcurrencyLimitCreate, api: Api) -> ConcurrencyLimitRead:
    """A new limit (409 if one has that name)."""
    return api.create_concurrency_limit(body)


@router.get("/concurrency_limits")
def list_concurrency_limits(api: Api, limit: Limit = 200,
                            offset: Offset = 0) -> list[ConcurrencyLimitRead]:
    """Limits by name, with the slots in use and who holds them."""
    return api.list_concurrency_limits(limit=limit, offset=offset)


@router.get("/concurrency_limits/names")
def concurrency_limit_names(api: Api) -> list[str]:
    """The names of the active limits (what a process checks a task's tags against)."""
    return api.concurrency_limit_names()


@router.get("/concurrency_limits/name/{name}")
def read_concurrency_limit(name: str, api: Api) -> ConcurrencyLimitRead:
    return api.read_concurrency_limit(name)


@router.patch("/concurrency_limits/name/{name}")
def update_concurrency_limit(name: str, body: ConcurrencyLimitUpdate,
                             api: Api) -> ConcurrencyLimitRead:
    return api.update_concurrency_limit(name, body)


@router.delete("/concurrency_limits/name/{name}", status_code=status.HTTP_204_NO_CONTENT)
def delete_concurrency_limit(name: str, api: Api) -> Response:
    api.delete_concurrency_limit(name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/concurrency_limits/acquire")
def acquire_concurrency_slots(body: SlotsAcquire, api: Api) -> SlotsAnswer:
    """Take slots of every named limit at once, or none: `granted` false says how full they
    are (ask again later). A name with no limit limits nothing (404 with `strict`)."""
    return api.acquire_concurrency_slots(body)


@router.post("/concurrency_limits/renew")
def renew_concurrency_leases(body: LeaseRenew, api: Api) -> list[uuid.UUID]:
    """Extend the leases; the ids of those that had expired already."""
    return api.renew_concurrency_leases(body)


@router.delete("/concurrency_limits/leases/{lease_id}", status_code=status.HTTP_204_NO_CONTENT)
def release_concurrency_lease(lease_id: uuid.UUID, api: Api) -> Response:
    """Free a lease's slots (nothing to do for one that expired)."""
    api.release_concurrency_lease(lease_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
