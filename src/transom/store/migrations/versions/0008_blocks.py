"""Blocks: block types (a class's slug, name and schema) and block documents (saved blocks,
their secret fields encrypted).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from transom.store.types import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "block_types",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("slug", sa.String(255), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("block_schema", sa.JSON, nullable=False),
        sa.Column("created", UTCDateTime, nullable=False),
        sa.Column("updated", UTCDateTime, nullable=False),
        sa.UniqueConstraint("slug", name="uq_block_types_slug"),
    )
    op.create_table(
        "block_documents",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("block_type_id", sa.Uuid,
                  sa.ForeignKey("block_types.id", name="fk_block_documents_block_type_id_block_types"),
                  nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("secret_fields", sa.JSON, nullable=False),
        sa.Column("secrets", sa.Text),
        sa.Column("created", UTCDateTime, nullable=False),
        sa.Column("updated", UTCDateTime, nullable=False),
        sa.UniqueConstraint("block_type_id", "name", name="uq_block_documents_type_name"),
    )


def downgrade() -> None:
    op.drop_table("block_documents")
    op.drop_table("block_types")
