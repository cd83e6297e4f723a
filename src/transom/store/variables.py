"""Variables: named JSON values, set once or overwritten, read by name."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from transom.core.states import now_utc
from transom.exceptions import AlreadyExists, NotFound
from transom.schemas import VariableCreate, VariableRead
from transom.store import models as m
from transom.store.sink import insert_ignore

__all__ = ["delete_variable", "list_variables", "read_variable", "set_variable"]

v = m.variables.c


def _read(row: Any) -> VariableRead:
    return VariableRead(id=row.id, name=row.name, value=row.value, tags=list(row.tags or []),
                        created=row.created, updated=row.updated)


def set_variable(conn: Connection, body: VariableCreate, *, overwrite: bool = False,
                 now: datetime | None = None) -> VariableRead:
    """Create the variable; with `overwrite`, replace the value and tags of one that exists.
    AlreadyExists without it (also when another writer created it a moment ago)."""
    now = now or now_utc()
    tags = list(body.tags)
    replace = sa.update(m.variables).where(v.name == body.name).values(
        value=body.value, tags=tags, updated=now)
    # Replacing is what `overwrite` is for, so it goes first: one statement when it exists.
    if not (overwrite and conn.execute(replace).rowcount):
        inserted = conn.execute(insert_ignore(conn, m.variables).values(
            id=uuid.uuid4(), name=body.name, value=body.value, tags=tags, created=now,
            updated=now).returning(v.id)).first()  # (rowcount is -1 on PostgreSQL here)
        if inserted is None:  # it exists (or another writer created it a moment ago)
            if not overwrite:
                raise AlreadyExists(f"a variable named {body.name!r} already exists; set it "
                                    "with overwrite=True (`--overwrite`) to replace its value")
            conn.execute(replace)
    return read_variable(conn, body.name)


def read_variable(conn: Connection, name: str) -> VariableRead:
    row = conn.execute(sa.select(m.variables).where(v.name == name)).first()
    if row is None:
        raise NotFound(f"no variable named {name!r} (`transom variable ls` lists them)")
    return _read(row)


def list_variables(conn: Connection, *, limit: int = 200, offset: int = 0) -> list[VariableRead]:
    rows = conn.execute(sa.select(m.variables).order_by(v.name).limit(limit).offset(offset))
    return [_read(row) for row in rows]


def delete_variable(conn: Connection, name: str) -> None:
    """NotFound if there is no variable of that name."""
    if conn.execute(sa.delete(m.variables).where(v.name == name)).rowcount == 0:
        raise NotFound(f"no variable named {name!r} (`transom variable ls` lists them)")
