"""Work pools: where deployments send their runs and workers take them from."""

from __future__ import annotations

from transom.schemas import WorkPoolCreate, WorkPoolRead, WorkPoolUpdate
from transom.services.context import Context
from transom.store import deployments as store

__all__ = ["WorkPools"]


class WorkPools:
    ctx: Context

    def create_work_pool(self, body: WorkPoolCreate) -> WorkPoolRead:
        """AlreadyExists if a pool of that name exists."""
        with self.ctx.db.write() as conn:
            return store.create_work_pool(conn, body, now=self.ctx.clock(),
                                          worker_timeout=self.ctx.worker_timeout)

    def list_work_pools(self) -> list[WorkPoolRead]:
        with self.ctx.db.read() as conn:
            return store.list_work_pools(conn, now=self.ctx.clock(),
                                         worker_timeout=self.ctx.worker_timeout)

    def read_work_pool(self, name: str) -> WorkPoolRead:
        with self.ctx.db.read() as conn:
            return store.read_work_pool(conn, name, now=self.ctx.clock(),
                                        worker_timeout=self.ctx.worker_timeout)

    def update_work_pool(self, name: str, body: WorkPoolUpdate) -> WorkPoolRead:
        """Pause or resume a pool, change its concurrency limit (None removes it)."""
        with self.ctx.db.write() as conn:
            return store.update_work_pool(conn, name, body, now=self.ctx.clock(),
                                          worker_timeout=self.ctx.worker_timeout)

    def delete_work_pool(self, name: str) -> None:
        """Delete a pool and its workers; refused while deployments use it."""
        with self.ctx.db.write() as conn:
            store.delete_work_pool(conn, name)
