"""The /api routes of artifacts: thin adapters over `services/artifacts.py`."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from transom.schemas import CURSOR_PATTERN, ArtifactCreate, ArtifactRead, ArtifactUpdate
from transom.server.routes import ERRORS, Api, Limit, Offset

__all__ = ["router"]

router = APIRouter(responses=ERRORS, tags=["artifacts"])


@router.post("/artifacts", status_code=201)
def create_artifact(body: ArtifactCreate, api: Api) -> ArtifactRead:
    """A new artifact; with a key seen before, that key's next version."""
    return api.create_artifact(body)


@router.patch("/artifacts/{artifact_id}")
def update_artifact(artifact_id: uuid.UUID, body: ArtifactUpdate, api: Api) -> ArtifactRead:
    """A progress artifact's new value (400 for any other type)."""
    return api.update_artifact(artifact_id, body)


@router.get("/artifacts")
def list_artifacts(
    api: Api,
    key: Annotated[str | None, Query(description="Every version of this key.")] = None,
    flow_run_id: Annotated[uuid.UUID | None, Query(description="A flow run's artifacts.")] = None,
    key_prefix: Annotated[str | None, Query(
        max_length=255, description="Only keys that start with this.")] = None,
    limit: Limit = 200,
    offset: Offset = 0,
    after: Annotated[str | None, Query(pattern=CURSOR_PATTERN, description=(
        "Keyset paging of the newest versions: the cursor of the last artifact of a page "
        "(`<created, µs since 1970>_<id hex>`), for the older ones after it.")),] = None,
    before: Annotated[str | None, Query(pattern=CURSOR_PATTERN, description=(
        "Keyset paging of the newest versions: the cursor of the first artifact of a page, "
        "for the newer ones before it.")),] = None,
) -> list[ArtifactRead]:
    """Newest first; with neither `key` nor `flow_run_id`, the newest version of every key,
    paged by `after` / `before` (400 with `key` or `flow_run_id`: page those by offset)."""
    return api.list_artifacts(key=key, flow_run_id=flow_run_id, key_prefix=key_prefix,
                              limit=limit, offset=offset, after=after, before=before)


@router.get("/artifacts/key/{key}")
def read_artifact(key: str, api: Api) -> ArtifactRead:
    """The key's newest version."""
    return api.read_artifact(key)


@router.delete("/artifacts/key/{key}")
def delete_artifact(key: str, api: Api) -> dict[str, int]:
    """Every version of the key; how many were deleted."""
    return {"deleted": api.delete_artifact(key)}
