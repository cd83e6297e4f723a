"""Variables: named JSON values shared by flows (`transom.variables.Variable`).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from transom.store.types import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "variables",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("value", sa.JSON(none_as_null=False)),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("created", UTCDateTime, nullable=False),
        sa.Column("updated", UTCDateTime, nullable=False),
        sa.UniqueConstraint("name", name="uq_variables_name"),
    )


def downgrade() -> None:
    op.drop_table("variables")
