"""Concurrency limits and the leases of their slots.

A slot taken by `concurrency(...)` or a tag limit is a lease row: its holder, its slots and when
it expires unless renewed; a lease not renewed (its process died) stops counting once it
expires. Slots taken by `rate_limit(...)` go into the limit's `decaying` count, which falls by
slot_decay_per_second. Taking slots is one write transaction that locks the limits' rows first
(PostgreSQL: SELECT ... FOR UPDATE, in name order; SQLite: the write lock of BEGIN IMMEDIATE),
so two holders never both see the last free slot.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from transom.core.states import now_utc
from transom.exceptions import AlreadyExists, NotAllowedFor, NotFound
from transom.schemas import (
    ConcurrencyLeaseRead,
    ConcurrencyLimitCreate,
    ConcurrencyLimitRead,
    ConcurrencyLimitUpdate,
    LimitUsage,
    SlotsAcquire,
    SlotsAnswer,
)
from transom.store import models as m
from transom.store.sink import insert_ignore

__all__ = ["acquire_slots", "create_limit", "delete_limit", "limit_names", "list_limits",
           "read_limit", "release_lease", "renew_leases", "update_limit"]

c = m.concurrency_limits.c
lease = m.concurrency_leases.c


def _not_found(name: str) -> NotFound:
    return NotFound(f"no concurrency limit named {name!r} (`transom concurrency-limit ls` "
                    "lists them)")


def _decayed(row: Any, now: datetime) -> float:
    """The limit's rate-limit slots still taken at `now`."""
    if not row.decaying:
        return 0.0
    elapsed = max(0.0, (now - row.decayed_at).total_seconds())
    return max(0.0, float(row.decaying - row.slot_decay_per_second * elapsed))


def _held(conn: Connection, limit_ids: Sequence[uuid.UUID], now: datetime) -> dict[uuid.UUID, int]:
    rows = conn.execute(sa.select(lease.limit_id, sa.func.sum(lease.slots)).where(
        lease.limit_id.in_(limit_ids), lease.expires > now).group_by(lease.limit_id))
    return {limit_id: int(total or 0) for limit_id, total in rows}


def _leases(conn: Connection, limit_ids: Sequence[uuid.UUID],
            now: datetime) -> dict[uuid.UUID, list[ConcurrencyLeaseRead]]:
    """The unexpired leases of each limit, oldest first: one query for a whole list."""
    found: dict[uuid.UUID, list[ConcurrencyLeaseRead]] = {limit_id: [] for limit_id in limit_ids}
    if limit_ids:
        for r in conn.execute(sa.select(m.concurrency_leases).where(
                lease.limit_id.in_(limit_ids), lease.expires > now).order_by(lease.created)):
            found[r.limit_id].append(ConcurrencyLeaseRead(
                id=r.lease_id, slots=r.slots, holder=r.holder, created=r.created,
                expires=r.expires))
    return found


def _read(row: Any, leases: list[ConcurrencyLeaseRead], now: datetime) -> ConcurrencyLimitRead:
    active = sum(r.slots for r in leases) + _decayed(row, now)
    return ConcurrencyLimitRead(
        id=row.id, name=row.name, limit=row.limit, slot_decay_per_second=row.slot_decay_per_second,
        active=row.active, active_slots=round(active, 6), leases=leases, created=row.created,
        updated=row.updated)


def create_limit(conn: Connection, body: ConcurrencyLimitCreate, *,
                 now: datetime | None = None) -> ConcurrencyLimitRead:
    """AlreadyExists if a limit has that name."""
    now = now or now_utc()
    inserted = conn.execute(insert_ignore(conn, m.concurrency_limits).values(
        id=uuid.uuid4(), name=body.name, limit=body.limit,
        slot_decay_per_second=body.slot_decay_per_second, active=body.active, decaying=0.0,
        decayed_at=now, created=now, updated=now).returning(c.id)).first()
    if inserted is None:
        raise AlreadyExists(f"a concurrency limit named {body.name!r} already exists; change it "
                            "with `transom concurrency-limit update`")
    return read_limit(conn, body.name, now=now)


def read_limit(conn: Connection, name: str, *, now: datetime | None = None) -> ConcurrencyLimitRead:
    row = conn.execute(sa.select(m.concurrency_limits).where(c.name == name)).first()
    if row is None:
        raise _not_found(name)
    now = now or now_utc()
    return _read(row, _leases(conn, [row.id], now)[row.id], now)


def list_limits(conn: Connection, *, limit: int = 200, offset: int = 0,
                now: datetime | None = None) -> list[ConcurrencyLimitRead]:
    now = now or now_utc()
    rows = conn.execute(sa.select(m.concurrency_limits).order_by(c.name).limit(limit)
                        .offset(offset)).all()
    leases = _leases(conn, [row.id for row in rows], now)
    return [_read(row, leases[row.id], now) for row in rows]


def limit_names(conn: Connection) -> set[str]:
    """The names of the active limits (what a process caches to skip untouched tags)."""
    return set(conn.execute(sa.select(c.name).where(c.active.is_(True))).scalars())


def update_limit(conn: Connection, name: str, body: ConcurrencyLimitUpdate, *,
                 now: datetime | None = None) -> ConcurrencyLimitRead:
    now = now or now_utc()
    row = conn.execute(_locked(conn, sa.select(m.concurrency_limits).where(c.name == name))).first()
    if row is None:
        raise _not_found(name)
    values: dict[str, Any] = {k: v for k, v in body.model_dump().items() if v is not None}
    if "slot_decay_per_second" in values:  # the slots taken so far decay at the new rate from now
        values.update(decaying=_decayed(row, now), decayed_at=now)
    conn.execute(sa.update(m.concurrency_limits).where(c.id == row.id).values(updated=now,
                                                                             **values))
    return read_limit(conn, name, now=now)


def delete_limit(conn: Connection, name: str) -> None:
    """NotFound if there is none; its leases go with it."""
    row = conn.execute(sa.select(c.id).where(c.name == name)).first()
    if row is None:
        raise _not_found(name)
    conn.execute(sa.delete(m.concurrency_leases).where(lease.limit_id == row.id))
    conn.execute(sa.delete(m.concurrency_limits).where(c.id == row.id))


def _locked(conn: Connection, query: Any) -> Any:
    # PostgreSQL: the limit rows are locked until commit. SQLite: the transaction holds the
    # database's write lock from BEGIN IMMEDIATE (Database.write), so there is nothing to add.
    return query.with_for_update() if conn.dialect.name == "postgresql" else query


def acquire_slots(conn: Connection, body: SlotsAcquire, *,
                  now: datetime | None = None) -> SlotsAnswer:
    """Take `occupy` slots of every named (active) limit, or none; see the module's docstring.

    A name with no limit limits nothing (NotFound with `strict`). NotAllowedFor slots no limit
    could ever grant (more than its limit; a limit of 0) and for a rate limit asked of a limit
    without slot decay."""
    now = now or now_utc()
    names = sorted(set(body.names))
    rows = conn.execute(_locked(conn, sa.select(m.concurrency_limits).where(
        c.name.in_(names)).order_by(c.name))).all()
    found = {row.name for row in rows}
    missing = [name for name in names if name not in found]
    if missing and body.strict:
        raise _not_found(missing[0])
    if body.mode == "rate_limit":
        for row in rows:
            if row.slot_decay_per_second <= 0:
                raise NotAllowedFor(
                    f"rate_limit needs a limit with slot decay, and {row.name!r} has none; "
                    f"set one with `transom concurrency-limit update {row.name} "
                    "--slot-decay-per-second R`")
    rows = [row for row in rows if row.active]
    for row in rows:
        if body.occupy > row.limit:
            raise NotAllowedFor(
                f"{body.occupy} slot{'s' if body.occupy != 1 else ''} of concurrency limit "
                f"{row.name!r} can never be taken: its limit is {row.limit}")
    if not rows:
        return SlotsAnswer(granted=True, missing=missing)
    ids = [row.id for row in rows]
    conn.execute(sa.delete(m.concurrency_leases).where(lease.limit_id.in_(ids),
                                                       lease.expires <= now))
    held = _held(conn, ids, now)
    usage = [LimitUsage(name=row.name, active_slots=round(held.get(row.id, 0) + _decayed(row, now),
                                                           6), limit=row.limit) for row in rows]
    if any(u.active_slots + body.occupy > u.limit + 1e-9 for u in usage):
        return SlotsAnswer(granted=False, limits=usage, missing=missing)
    if body.mode == "rate_limit":
        for row in rows:
            conn.execute(sa.update(m.concurrency_limits).where(c.id == row.id).values(
                decaying=_decayed(row, now) + body.occupy, decayed_at=now))
        return SlotsAnswer(granted=True, limits=usage, missing=missing)
    lease_id = uuid.uuid4()
    expires = now + timedelta(seconds=body.lease_seconds)
    conn.execute(sa.insert(m.concurrency_leases), [
        {"id": uuid.uuid4(), "lease_id": lease_id, "limit_id": row.id, "slots": body.occupy,
         "holder": body.holder, "created": now, "expires": expires} for row in rows])
    return SlotsAnswer(granted=True, lease_id=lease_id, limits=usage, missing=missing)


def renew_leases(conn: Connection, lease_ids: Sequence[uuid.UUID], seconds: float, *,
                 now: datetime | None = None) -> list[uuid.UUID]:
    """Extend the leases that have not expired; the ids of those that had (now lost)."""
    now = now or now_utc()
    if not lease_ids:
        return []
    ids = list(lease_ids)
    kept = set(conn.execute(sa.update(m.concurrency_leases).where(
        lease.lease_id.in_(ids), lease.expires > now).values(
        expires=now + timedelta(seconds=seconds)).returning(lease.lease_id)).scalars())
    return [i for i in ids if i not in kept]


def release_lease(conn: Connection, lease_id: uuid.UUID) -> None:
    """Free the lease's slots (nothing if it expired and was cleared already)."""
    conn.execute(sa.delete(m.concurrency_leases).where(lease.lease_id == lease_id))
