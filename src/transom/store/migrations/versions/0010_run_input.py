"""Pauses of flow runs and the input their resume carries (`transom.flow_runs.pause_flow_run`).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from transom.store.types import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "run_inputs",
        sa.Column("flow_run_id", sa.Uuid, primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("schema", sa.JSON(none_as_null=True)),
        sa.Column("value", sa.JSON(none_as_null=True)),
        sa.Column("timeout_seconds", sa.Float, nullable=False),
        sa.Column("reschedule", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created", UTCDateTime, nullable=False),
        sa.Column("resumed", UTCDateTime),
    )


def downgrade() -> None:
    op.drop_table("run_inputs")
