"""Deployments: a flow with its entrypoint, schedules and defaults, and the runs made of it."""

from __future__ import annotations

import uuid

from transom.schemas import (
    DeploymentCreate,
    DeploymentRead,
    DeploymentRunCreate,
    DeploymentUpdate,
    FlowRunRead,
)
from transom.services.context import Context
from transom.store import deployments as store

__all__ = ["Deployments"]


class Deployments:
    ctx: Context

    def upsert_deployment(self, body: DeploymentCreate) -> DeploymentRead:
        """Create a deployment, or replace the flow's deployment of that name (its not-started
        scheduled runs are made again from the new schedules)."""
        with self.ctx.db.write() as conn:
            return store.upsert_deployment(conn, body, now=self.ctx.clock(),
                                           window=self.ctx.scheduler_window)

    def list_deployments(self, *, flow_name: str | None = None, work_pool: str | None = None,
                         limit: int = 200, offset: int = 0) -> list[DeploymentRead]:
        with self.ctx.db.read() as conn:
            return store.list_deployments(conn, flow_name=flow_name, work_pool=work_pool,
                                          limit=limit, offset=offset)

    def read_deployment(self, ref: str | uuid.UUID) -> DeploymentRead:
        """By id, `flow/name`, or a name only one flow uses."""
        with self.ctx.db.read() as conn:
            return store.read_deployment(conn, ref)

    def update_deployment(self, ref: str | uuid.UUID, body: DeploymentUpdate) -> DeploymentRead:
        """Pause or resume, change default parameters, tags, queue or the concurrency limit."""
        with self.ctx.db.write() as conn:
            return store.update_deployment(conn, ref, body, now=self.ctx.clock(),
                                           window=self.ctx.scheduler_window)

    def delete_deployment(self, ref: str | uuid.UUID) -> DeploymentRead:
        """Delete a deployment and its runs that have not started; returns what was deleted."""
        with self.ctx.db.write() as conn:
            return store.delete_deployment(conn, ref)

    def create_deployment_run(self, ref: str | uuid.UUID,
                              body: DeploymentRunCreate) -> FlowRunRead:
        """A Scheduled run of the deployment (now, unless `scheduled_time` says when)."""
        with self.ctx.db.write() as conn:
            return store.create_deployment_run(conn, ref, body, now=self.ctx.clock())
