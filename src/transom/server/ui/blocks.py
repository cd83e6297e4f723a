"""The blocks pages: the saved blocks (by type, then name; filtered by type) with the block
types, one block's fields, and its deletion (a CSRF-checked form post that must be confirmed).

A page never holds a secret: blocks are read with their secrets obfuscated (the backend never
decrypts them for these routes), and each secret field is shown as `SECRET_SHOWN`, whatever its
stored stand-in."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from transom.exceptions import NotFound
from transom.schemas import BlockDocumentRead
from transom.server.routes import Api
from transom.server.ui import csrf
from transom.server.ui.render import error_page, render

__all__ = ["BLOCKS_PAGE", "PAGES", "SECRET_SHOWN", "Shown", "fields_shown", "router"]

PAGES = ("/blocks",)
"""The paths (and their sub-paths) of this module's pages, which need the server's credentials."""
BLOCKS_PAGE = 100
"""Blocks on one page of the list."""
SECRET_SHOWN = "••••••••"
"""What a page shows for a secret field's value."""
_MAX_OFFSET = 1_000_000
_SLUG_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class Shown:
    """One field of a block as its page shows it: its dotted path and its value as text."""

    path: str
    value: str
    secret: bool = False


def fields_shown(block: BlockDocumentRead) -> list[Shown]:
    """The block's fields, nested ones by dotted path, each secret one as `SECRET_SHOWN` (the
    outermost secret path hides everything under it)."""
    secret = set(block.secret_fields)
    out: list[Shown] = []

    def walk(value: Any, path: str) -> None:
        if path in secret:
            out.append(Shown(path, SECRET_SHOWN, secret=True))
        elif isinstance(value, dict) and value:
            for key, inner in value.items():
                walk(inner, f"{path}.{key}" if path else str(key))
        else:
            text = value if isinstance(value, str) else json.dumps(
                value, indent=2, sort_keys=True, default=str, ensure_ascii=False)
            out.append(Shown(path, text))

    for key, value in block.data.items():
        walk(value, str(key))
    return out


def _slug(text: str) -> bool:
    return 0 < len(text) <= 255 and set(text) <= _SLUG_CHARS


def _block_path(slug: str, name: str) -> str:
    return f"/blocks/{quote(slug)}/{quote(name)}"


@router.get("/blocks")
def blocks(request: Request, api: Api) -> Response:
    """The blocks by type and name, a page at a time, `type` naming one type's only; then the
    block types with their fields."""
    kind = (request.query_params.get("type") or "").strip() or None
    raw_offset = request.query_params.get("offset") or "0"
    if kind is not None and not _slug(kind):
        return error_page(request, 400, "Bad page link", "type must be a block type's slug: "
                          "lowercase letters, digits and dashes")
    if not (raw_offset.isascii() and raw_offset.isdigit()) or int(raw_offset) > _MAX_OFFSET:
        return error_page(request, 400, "Bad page link",
                          f"offset must be a whole number from 0 to {_MAX_OFFSET}")
    offset = int(raw_offset)
    found = api.list_blocks(block_type=kind, limit=BLOCKS_PAGE + 1, offset=offset)
    types = api.list_block_types()
    filters = {"type": kind} if kind else {}
    more = urlencode({**filters, "offset": offset + BLOCKS_PAGE}) \
        if len(found) > BLOCKS_PAGE else None
    back = urlencode({**filters, **({"offset": offset - BLOCKS_PAGE}
                                    if offset > BLOCKS_PAGE else {})}) if offset else None
    deleted = request.query_params.get("deleted") or ""
    deleted_parts = deleted.split("/")
    return render(request, "blocks.html", nav="blocks", blocks=found[:BLOCKS_PAGE], types=types,
                  kind=kind, more=more, back=back, offset=offset,
                  deleted=deleted if len(deleted_parts) == 2 and all(map(_slug, deleted_parts))
                  else None)


def _block_page(request: Request, api: Api, slug: str, name: str, *, status: int = 200,
                problem: str | None = None) -> Response:
    try:
        block = api.read_block(slug, name) if _slug(slug) and _slug(name) else None
    except NotFound:
        block = None
    if block is None:
        return error_page(request, 404, "No such block",
                          f"There is no block {slug[:255]!r}/{name[:255]!r}.")
    schema = next((t.block_schema for t in api.list_block_types() if t.slug == slug), {})
    titles = {key: str(spec.get("title") or key)
              for key, spec in (schema.get("properties") or {}).items() if isinstance(spec, dict)}
    token = csrf.token(request)
    response = render(request, "block.html", status, nav="blocks", block=block,
                      fields=fields_shown(block), titles=titles, problem=problem, csrf=token,
                      action=_block_path(slug, name) + "/delete")
    return csrf.with_cookie(request, response, token)


@router.get("/blocks/{slug}/{name}")
def block(slug: str, name: str, request: Request, api: Api) -> Response:
    """A block's type, times and fields (secret ones never shown), and the form that deletes it."""
    return _block_page(request, api, slug, name)


@router.post("/blocks/{slug}/{name}/delete")
async def delete_block(slug: str, name: str, request: Request, api: Api) -> Response:
    """Delete the block once the form's box confirms it; then the list, saying so."""
    try:
        form = await csrf.checked_form(request)
    except csrf.Refused as exc:
        return error_page(request, exc.status, "Refused", str(exc))
    if form.get("confirm") != "yes":
        return _block_page(request, api, slug, name, status=422,
                           problem="Tick the box to confirm that the block is to be deleted.")
    try:
        if not (_slug(slug) and _slug(name)):
            raise NotFound(f"there is no block {slug[:255]!r}/{name[:255]!r}")
        api.delete_block(slug, name)
    except NotFound as exc:
        return error_page(request, 404, "No such block", str(exc))
    return RedirectResponse("/blocks?" + urlencode({"deleted": f"{slug}/{name}"}),
                            status_code=303)
