"""The /api routes of blocks: thin adapters over `services/blocks.py`. Secrets travel in
plaintext only in a save's body and in a read that asks `include_secrets=true`; the server
encrypts and decrypts them with its own key."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from transom.schemas import BlockDocumentCreate, BlockDocumentRead, BlockTypeIn, BlockTypeRead
from transom.server.routes import ERRORS, Api, Limit, Offset

__all__ = ["router"]

router = APIRouter(responses=ERRORS, tags=["blocks"])


@router.post("/blocks", status_code=status.HTTP_201_CREATED)
def save_block(
    body: BlockDocumentCreate, api: Api,
    overwrite: Annotated[bool, Query(description="Replace a block of that type and name "
                                                 "(else: 409).")] = False,
) -> BlockDocumentRead:
    """Save a block (409 if one of that type and name exists, unless `overwrite=true`); its
    type is made, or its schema updated. Answered with the secret fields obfuscated."""
    return api.save_block(body, overwrite=overwrite)


@router.get("/blocks")
def list_blocks(
    api: Api,
    block_type: Annotated[str | None, Query(description="Only blocks of this type slug.")] = None,
    limit: Limit = 200,
    offset: Offset = 0,
) -> list[BlockDocumentRead]:
    """Blocks by type slug, then name; secret fields always read `**********`."""
    return api.list_blocks(block_type=block_type, limit=limit, offset=offset)


@router.post("/block_types")
def register_block_type(body: BlockTypeIn, api: Api) -> BlockTypeRead:
    """Make a block type, or replace its name and schema (no block saved)."""
    return api.register_block_type(body)


@router.get("/block_types")
def list_block_types(api: Api) -> list[BlockTypeRead]:
    """Block types by slug, with the JSON schema of their fields."""
    return api.list_block_types()


@router.get("/blocks/{slug}/{name}")
def read_block(
    slug: str, name: str, api: Api,
    include_secrets: Annotated[bool, Query(description="The secret fields' values (else "
                                                       "`**********`); 409 if the server's "
                                                       "key cannot decrypt them.")] = False,
) -> BlockDocumentRead:
    return api.read_block(slug, name, include_secrets=include_secrets)


@router.delete("/blocks/{slug}/{name}", status_code=status.HTTP_204_NO_CONTENT)
def delete_block(slug: str, name: str, api: Api) -> Response:
    api.delete_block(slug, name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
