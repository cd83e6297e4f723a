"""An index for the runs list filtered by work pool.

The runs list pages newest first by `created` (keyset) and may be filtered by work pool: as
for flow, state type and deployment (revision 0011), an index of the pool ending in `created`
makes a page of a pool's runs a range of it, not a walk of every run in created order.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_flow_runs_work_pool_id_created", "flow_runs", ["work_pool_id", "created"])


def downgrade() -> None:
    op.drop_index("ix_flow_runs_work_pool_id_created", table_name="flow_runs")
