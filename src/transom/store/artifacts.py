"""Artifacts: each one a row; artifacts that share a key are its versions, the newest first."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from transom.core.states import now_utc
from transom.exceptions import NotAllowedFor, NotFound, UserInputError
from transom.schemas import ArtifactCreate, ArtifactRead, ArtifactUpdate, RunCursor
from transom.store import models as m

__all__ = ["create_artifact", "delete_artifact", "list_artifacts", "read_artifact",
           "update_artifact"]

a = m.artifacts.c
NEWEST = (a.created.desc(), a.version.desc())


def _read(row: Any) -> ArtifactRead:
    return ArtifactRead.model_validate(row._mapping)


def create_artifact(conn: Connection, body: ArtifactCreate, *,
                    now: datetime | None = None) -> ArtifactRead:
    """A new artifact; with a key seen before, the key's next version."""
    now = now or now_utc()
    artifact_id = uuid.uuid4()
    version = None
    if body.key is not None:
        if conn.dialect.name == "postgresql":  # SQLite's write lock already serialises this
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext(body.key))))
        last = conn.execute(sa.select(sa.func.max(a.version)).where(a.key == body.key)).scalar()
        version = (last or 0) + 1
    conn.execute(sa.insert(m.artifacts).values(id=artifact_id, version=version, created=now,
                                               updated=now, **body.model_dump()))
    return _by_id(conn, artifact_id)


def _by_id(conn: Connection, artifact_id: uuid.UUID) -> ArtifactRead:
    row = conn.execute(sa.select(m.artifacts).where(a.id == artifact_id)).first()
    if row is None:
        raise NotFound(f"no artifact with id {artifact_id}")
    return _read(row)


def update_artifact(conn: Connection, artifact_id: uuid.UUID, body: ArtifactUpdate, *,
                    now: datetime | None = None) -> ArtifactRead:
    """A progress artifact's new value; other types are written once."""
    current = _by_id(conn, artifact_id)
    if current.type != "progress":
        raise NotAllowedFor(f"artifact {artifact_id} is a {current.type} artifact; only "
                             "progress artifacts are updated (a new version is made with the "
                             "same key)")
    values: dict[str, Any] = {"data": body.data, "updated": now or now_utc()}
    if body.description is not None:
        values["description"] = body.description
    conn.execute(sa.update(m.artifacts).where(a.id == artifact_id).values(**values))
    return _by_id(conn, artifact_id)


def read_artifact(conn: Connection, key: str) -> ArtifactRead:
    """The key's newest version."""
    row = conn.execute(sa.select(m.artifacts).where(a.key == key)
                       .order_by(a.version.desc()).limit(1)).first()
    if row is None:
        raise NotFound(f"no artifact with key {key!r} (`transom artifact ls` lists them)")
    return _read(row)


def list_artifacts(conn: Connection, *, key: str | None = None,
                   flow_run_id: uuid.UUID | None = None, key_prefix: str | None = None,
                   limit: int = 200, offset: int = 0, after: RunCursor | None = None,
                   before: RunCursor | None = None) -> list[ArtifactRead]:
    """Newest first: the versions of `key`, the artifacts of a flow run, or else the newest
    version of every key (created, then id); only keys that start with `key_prefix` when it is
    given. The newest versions page by keyset as flow runs do: `after` a cursor (created, id)
    the older ones, `before` one the `limit` just newer, still newest first."""
    query = sa.select(m.artifacts)
    if key_prefix:
        query = query.where(a.key.startswith(key_prefix, autoescape=True))
    if (after is not None or before is not None) and (key is not None or flow_run_id is not None):
        raise UserInputError("after and before page the newest version of each key; page a "
                             "key's versions or a flow run's artifacts by offset")
    order: tuple[Any, ...] = NEWEST
    if key is not None:
        query, order = query.where(a.key == key), (a.version.desc(),)
    elif flow_run_id is not None:
        query = query.where(a.flow_run_id == flow_run_id)
    else:
        newer = m.artifacts.alias("newer")
        query = query.where(a.key.is_not(None), ~sa.exists().where(
            newer.c.key == a.key, newer.c.version > a.version))
        order = (a.created.desc(), a.id)  # one version per key: (created, id) is a keyset
        # `created <= c AND NOT (created = c AND id <= i)`: a range, as the runs list's.
        if after is not None:
            query = query.where(a.created <= after.created,
                                sa.not_(sa.and_(a.created == after.created, a.id <= after.id)))
        if before is not None:
            query = query.where(a.created >= before.created,
                                sa.not_(sa.and_(a.created == before.created, a.id >= before.id)))
            rows = conn.execute(query.order_by(a.created, a.id.desc()).limit(limit)
                                .offset(offset))
            return [_read(row) for row in rows][::-1]
    rows = conn.execute(query.order_by(*order).limit(limit).offset(offset))
    return [_read(row) for row in rows]


def delete_artifact(conn: Connection, key: str) -> int:
    """Every version of the key; NotFound if it has none."""
    deleted = conn.execute(sa.delete(m.artifacts).where(a.key == key)).rowcount
    if not deleted:
        raise NotFound(f"no artifact with key {key!r} (`transom artifact ls` lists them)")
    return int(deleted)
