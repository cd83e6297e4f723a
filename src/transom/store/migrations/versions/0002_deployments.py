"""Deployments, schedules, work pools and workers; flow runs learn their pool, queue and worker.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from transom.store.types import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "work_pools",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("concurrency_limit", sa.Integer),
        sa.Column("paused", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created", UTCDateTime, nullable=False),
        sa.Column("updated", UTCDateTime, nullable=False),
        sa.UniqueConstraint("name", name="uq_work_pools_name"),
    )
    op.create_table(
        "deployments",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("flow_id", sa.Uuid, sa.ForeignKey("flows.id", ondelete="CASCADE",
                                                     name="fk_deployments_flow_id_flows"),
                  nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("entrypoint", sa.Text, nullable=False),
        sa.Column("path", sa.Text),
        sa.Column("parameters", sa.JSON, nullable=False),
        sa.Column("parameter_schema", sa.JSON),
        sa.Column("work_pool_id", sa.Uuid,
                  sa.ForeignKey("work_pools.id", name="fk_deployments_work_pool_id_work_pools")),
        sa.Column("work_queue_name", sa.String(255)),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("paused", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("concurrency_limit", sa.Integer),
        sa.Column("created", UTCDateTime, nullable=False),
        sa.Column("updated", UTCDateTime, nullable=False),
        sa.UniqueConstraint("flow_id", "name", name="uq_deployments_flow_id_name"),
    )
    op.create_index("ix_deployments_work_pool_id", "deployments", ["work_pool_id"])
    op.create_table(
        "deployment_schedules",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("deployment_id", sa.Uuid,
                  sa.ForeignKey("deployments.id", ondelete="CASCADE",
                                name="fk_deployment_schedules_deployment_id_deployments"),
                  nullable=False),
        sa.Column("cron", sa.String(255)),
        sa.Column("interval", sa.Float),
        sa.Column("anchor_date", UTCDateTime),
        sa.Column("rrule", sa.Text),
        sa.Column("timezone", sa.String(64)),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("created", UTCDateTime, nullable=False),
    )
    op.create_index("ix_deployment_schedules_deployment_id", "deployment_schedules",
                    ["deployment_id"])
    op.create_table(
        "workers",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("work_pool_id", sa.Uuid,
                  sa.ForeignKey("work_pools.id", ondelete="CASCADE",
                                name="fk_workers_work_pool_id_work_pools")),
        sa.Column("instance", sa.Uuid, nullable=False),
        sa.Column("hostname", sa.String(255)),
        sa.Column("pid", sa.Integer),
        sa.Column("run_limit", sa.Integer),
        sa.Column("last_heartbeat", UTCDateTime, nullable=False),
        sa.Column("created", UTCDateTime, nullable=False),
        sa.UniqueConstraint("name", name="uq_workers_name"),
    )
    op.create_index("ix_workers_work_pool_id", "workers", ["work_pool_id"])
    # Plain columns on flow_runs (no foreign keys: SQLite could only add those by copying the
    # table, and history must outlive a deleted pool or worker).
    op.add_column("flow_runs", sa.Column("work_pool_id", sa.Uuid))
    op.add_column("flow_runs", sa.Column("work_queue_name", sa.String(255)))
    op.add_column("flow_runs", sa.Column("worker_id", sa.Uuid))
    op.add_column("flow_runs", sa.Column("idempotency_key", sa.String(255)))
    op.create_index("ix_flow_runs_deployment_id_idempotency_key", "flow_runs",
                    ["deployment_id", "idempotency_key"], unique=True)
    op.create_index("ix_flow_runs_state_type_expected_start_time", "flow_runs",
                    ["state_type", "expected_start_time"])
    op.create_index("ix_flow_runs_worker_id", "flow_runs", ["worker_id"])


def downgrade() -> None:
    op.drop_index("ix_flow_runs_worker_id", "flow_runs")
    op.drop_index("ix_flow_runs_state_type_expected_start_time", "flow_runs")
    op.drop_index("ix_flow_runs_deployment_id_idempotency_key", "flow_runs")
    with op.batch_alter_table("flow_runs") as batch:
        for column in ("idempotency_key", "worker_id", "work_queue_name", "work_pool_id"):
            batch.drop_column(column)
    for table in ("workers", "deployment_schedules", "deployments", "work_pools"):
        op.drop_table(table)
