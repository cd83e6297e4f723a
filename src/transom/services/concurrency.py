"""Concurrency limits: create, read, list, update, delete; take, renew and release slots."""

from __future__ import annotations

import uuid

from transom.schemas import (
    ConcurrencyLimitCreate,
    ConcurrencyLimitRead,
    ConcurrencyLimitUpdate,
    LeaseRenew,
    SlotsAcquire,
    SlotsAnswer,
)
from transom.services.context import Context
from transom.store import concurrency as store

__all__ = ["ConcurrencyLimits"]


class ConcurrencyLimits:
    ctx: Context

    def create_concurrency_limit(self, body: ConcurrencyLimitCreate) -> ConcurrencyLimitRead:
        """AlreadyExists if one has that name."""
        with self.ctx.db.write() as conn:
            return store.create_limit(conn, body, now=self.ctx.clock())

    def read_concurrency_limit(self, name: str) -> ConcurrencyLimitRead:
        with self.ctx.db.read() as conn:
            return store.read_limit(conn, name, now=self.ctx.clock())

    def list_concurrency_limits(self, *, limit: int = 200,
                                offset: int = 0) -> list[ConcurrencyLimitRead]:
        """By name."""
        with self.ctx.db.read() as conn:
            return store.list_limits(conn, limit=limit, offset=offset, now=self.ctx.clock())

    def concurrency_limit_names(self) -> list[str]:
        """The names of the active limits, sorted."""
        with self.ctx.db.read() as conn:
            return sorted(store.limit_names(conn))

    def update_concurrency_limit(self, name: str,
                                 body: ConcurrencyLimitUpdate) -> ConcurrencyLimitRead:
        with self.ctx.db.write() as conn:
            return store.update_limit(conn, name, body, now=self.ctx.clock())

    def delete_concurrency_limit(self, name: str) -> None:
        """NotFound if there is none of that name."""
        with self.ctx.db.write() as conn:
            store.delete_limit(conn, name)

    def acquire_concurrency_slots(self, body: SlotsAcquire) -> SlotsAnswer:
        """Granted, or how full the limits are (the caller waits and asks again)."""
        with self.ctx.db.write() as conn:
            return store.acquire_slots(conn, body, now=self.ctx.clock())

    def renew_concurrency_leases(self, body: LeaseRenew) -> list[uuid.UUID]:
        """The leases that had expired already (their slots may be someone else's now)."""
        with self.ctx.db.write() as conn:
            return store.renew_leases(conn, body.lease_ids, body.lease_seconds,
                                      now=self.ctx.clock())

    def release_concurrency_lease(self, lease_id: uuid.UUID) -> None:
        with self.ctx.db.write() as conn:
            store.release_lease(conn, lease_id)
