"""Deployments keep the pull steps a worker runs before loading their flow, and a version.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deployments") as batch:
        batch.add_column(sa.Column("pull_steps", sa.JSON(none_as_null=True)))
        batch.add_column(sa.Column("version", sa.String(255)))


def downgrade() -> None:
    with op.batch_alter_table("deployments") as batch:
        batch.drop_column("version")
        batch.drop_column("pull_steps")
