"""Workers record when they stopped gracefully, so they show offline at once.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from transom.store.types import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("workers") as batch:
        batch.add_column(sa.Column("stopped", UTCDateTime))


def downgrade() -> None:
    with op.batch_alter_table("workers") as batch:
        batch.drop_column("stopped")
