"""Flow runs learn the process that runs them, when no worker does, and its last heartbeat.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from transom.store.types import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("flow_runs") as batch:
        batch.add_column(sa.Column("process", sa.Uuid))
        batch.add_column(sa.Column("pid", sa.Integer))
        batch.add_column(sa.Column("hostname", sa.String(255)))
        batch.add_column(sa.Column("heartbeat", UTCDateTime))
    op.create_index("ix_flow_runs_process", "flow_runs", ["process"])


def downgrade() -> None:
    op.drop_index("ix_flow_runs_process", table_name="flow_runs")
    with op.batch_alter_table("flow_runs") as batch:
        for column in ("heartbeat", "hostname", "pid", "process"):
            batch.drop_column(column)
