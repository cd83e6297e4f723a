"""Artifacts: what runs publish (markdown, tables, links, progress, images), versioned by key.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from transom.store.types import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "artifacts",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("key", sa.String(255)),
        sa.Column("version", sa.Integer),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("data", sa.JSON(none_as_null=False)),
        sa.Column("description", sa.Text),
        sa.Column("flow_run_id", sa.Uuid),
        sa.Column("task_run_id", sa.Uuid),
        sa.Column("created", UTCDateTime, nullable=False),
        sa.Column("updated", UTCDateTime, nullable=False),
    )
    op.create_index("ix_artifacts_key_version", "artifacts", ["key", "version"], unique=True)
    op.create_index("ix_artifacts_flow_run_id", "artifacts", ["flow_run_id"])


def downgrade() -> None:
    op.drop_table("artifacts")
