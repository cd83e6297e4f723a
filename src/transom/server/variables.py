"""The /api routes of variables: thin adapters over `services/variables.py`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from transom.schemas import VariableCreate, VariableRead
from transom.server.routes import ERRORS, Api, Limit, Offset

__all__ = ["router"]

router = APIRouter(responses=ERRORS, tags=["variables"])


@router.post("/variables", status_code=status.HTTP_201_CREATED)
def set_variable(
    body: VariableCreate, api: Api,
    overwrite: Annotated[bool, Query(description="Replace the value and tags of a variable "
                                                 "of that name (else: 409).")] = False,
) -> VariableRead:
    """Create a variable (409 if one has that name), or replace it with `overwrite=true`."""
    return api.set_variable(body, overwrite=overwrite)


@router.get("/variables")
def list_variables(api: Api, limit: Limit = 200, offset: Offset = 0) -> list[VariableRead]:
    """Variables by name."""
    return api.list_variables(limit=limit, offset=offset)


@router.get("/variables/{name}")
def read_variable(name: str, api: Api) -> VariableRead:
    return api.read_variable(name)


@router.delete("/variables/{name}", status_code=status.HTTP_204_NO_CONTENT)
def delete_variable(name: str, api: Api) -> Response:
    api.delete_variable(name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
