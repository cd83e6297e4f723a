"""Concurrency limits and the leases of their slots (`transom.concurrency`, tag limits).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from transom.store.types import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "concurrency_limits",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("limit", sa.Integer, nullable=False),
        sa.Column("slot_decay_per_second", sa.Float, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("decaying", sa.Float, nullable=False),
        sa.Column("decayed_at", UTCDateTime, nullable=False),
        sa.Column("created", UTCDateTime, nullable=False),
        sa.Column("updated", UTCDateTime, nullable=False),
        sa.UniqueConstraint("name", name="uq_concurrency_limits_name"),
    )
    op.create_table(
        "concurrency_leases",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("lease_id", sa.Uuid, nullable=False),
        sa.Column("limit_id", sa.Uuid, sa.ForeignKey(
            "concurrency_limits.id", ondelete="CASCADE",
            name="fk_concurrency_leases_limit_id_concurrency_limits"), nullable=False),
        sa.Column("slots", sa.Integer, nullable=False),
        sa.Column("holder", sa.String(255), nullable=False),
        sa.Column("created", UTCDateTime, nullable=False),
        sa.Column("expires", UTCDateTime, nullable=False),
    )
    op.create_index("ix_concurrency_leases_lease_id", "concurrency_leases", ["lease_id"])
    op.create_index("ix_concurrency_leases_limit_id", "concurrency_leases", ["limit_id"])


def downgrade() -> None:
    op.drop_table("concurrency_leases")
    op.drop_table("concurrency_limits")
