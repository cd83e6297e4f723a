"""Blocks: block types by slug (their schema replaced by each save) and block documents by
type and name. Secrets arrive here encrypted already (services/blocks.py)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from transom.core.states import now_utc
from transom.exceptions import AlreadyExists, NotFound
from transom.schemas import BlockTypeIn, BlockTypeRead
from transom.store import models as m
from transom.store.sink import insert_ignore

__all__ = [
    "StoredBlock",
    "delete_block_document",
    "list_block_documents",
    "list_block_types",
    "read_block_document",
    "read_block_type",
    "save_block_document",
    "save_block_type",
]

t = m.block_types.c
d = m.block_documents.c


@dataclass(frozen=True)
class StoredBlock:
    """A block document as stored: its data without the secrets, and their encrypted token."""

    id: uuid.UUID
    name: str
    block_type_slug: str
    block_type_name: str
    data: dict[str, Any]
    secret_fields: list[str]
    secrets: str | None
    created: datetime
    updated: datetime


def _not_found(slug: str, name: str) -> NotFound:
    return NotFound(f"no block named {slug}/{name} (`transom block ls` lists them)")


def save_block_type(conn: Connection, body: BlockTypeIn, *,
                    now: datetime | None = None) -> uuid.UUID:
    """The block type's id; made if new, else its name and schema replaced by these."""
    now = now or now_utc()
    conn.execute(insert_ignore(conn, m.block_types).values(
        id=uuid.uuid4(), slug=body.slug, name=body.name, block_schema=body.block_schema,
        created=now, updated=now))
    conn.execute(sa.update(m.block_types).where(t.slug == body.slug).values(
        name=body.name, block_schema=body.block_schema, updated=now))
    type_id: uuid.UUID = conn.execute(sa.select(t.id).where(t.slug == body.slug)).scalar_one()
    return type_id


def _type(row: Any) -> BlockTypeRead:
    return BlockTypeRead(id=row.id, slug=row.slug, name=row.name,
                         block_schema=row.block_schema or {}, created=row.created,
                         updated=row.updated)


def read_block_type(conn: Connection, slug: str) -> BlockTypeRead:
    row = conn.execute(sa.select(m.block_types).where(t.slug == slug)).first()
    if row is None:
        raise NotFound(f"no block type {slug!r} (`transom block types` lists them)")
    return _type(row)


def list_block_types(conn: Connection) -> list[BlockTypeRead]:
    return [_type(row) for row in conn.execute(sa.select(m.block_types).order_by(t.slug))]


def save_block_document(conn: Connection, type_id: uuid.UUID, slug: str, name: str, *,
                        data: dict[str, Any], secret_fields: list[str], secrets: str | None,
                        overwrite: bool = False, now: datetime | None = None) -> StoredBlock:
    """Create the block document; with `overwrite`, replace one of that type and name.
    AlreadyExists without it (also when another writer saved it a moment ago)."""
    now = now or now_utc()
    values = {"data": data, "secret_fields": secret_fields, "secrets": secrets, "updated": now}
    replace = sa.update(m.block_documents).where(
        d.block_type_id == type_id, d.name == name).values(**values)
    if not (overwrite and conn.execute(replace).rowcount):
        inserted = conn.execute(insert_ignore(conn, m.block_documents).values(
            id=uuid.uuid4(), block_type_id=type_id, name=name, created=now, **values,
        ).returning(d.id)).first()
        if inserted is None:
            if not overwrite:
                raise AlreadyExists(f"a block named {slug}/{name} already exists; save it with "
                                    "overwrite=True to replace it")
            conn.execute(replace)
    return read_block_document(conn, slug, name)


def _select() -> sa.Select[Any]:
    return sa.select(m.block_documents, t.slug.label("block_type_slug"),
                     t.name.label("block_type_name")).join(
        m.block_types, t.id == d.block_type_id)


def _stored(row: Any) -> StoredBlock:
    return StoredBlock(id=row.id, name=row.name, block_type_slug=row.block_type_slug,
                       block_type_name=row.block_type_name, data=dict(row.data or {}),
                       secret_fields=list(row.secret_fields or []), secrets=row.secrets,
                       created=row.created, updated=row.updated)


def read_block_document(conn: Connection, slug: str, name: str) -> StoredBlock:
    row = conn.execute(_select().where(t.slug == slug, d.name == name)).first()
    if row is None:
        raise _not_found(slug, name)
    return _stored(row)


def list_block_documents(conn: Connection, *, slug: str | None = None, limit: int = 200,
                         offset: int = 0) -> list[StoredBlock]:
    """By type slug, then name."""
    query = _select()
    if slug is not None:
        query = query.where(t.slug == slug)
    rows = conn.execute(query.order_by(t.slug, d.name).limit(limit).offset(offset))
    return [_stored(row) for row in rows]


def delete_block_document(conn: Connection, slug: str, name: str) -> None:
    """NotFound if there is no block of that type and name."""
    type_id = conn.execute(sa.select(t.id).where(t.slug == slug)).scalar()
    if type_id is None or conn.execute(sa.delete(m.block_documents).where(
            d.block_type_id == type_id, d.name == name)).rowcount == 0:
        raise _not_found(slug, name)
