"""An index of a deployment's runs by when they are due.

The deployments list shows each deployment's last run: the one of its runs due latest by now
(not the one made latest, since a schedule makes its runs an hour ahead). (deployment,
expected start time) makes that one short backward walk of an index per deployment, however
many runs it has had.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_flow_runs_deployment_id_expected_start_time", "flow_runs",
                    ["deployment_id", "expected_start_time"])


def downgrade() -> None:
    op.drop_index("ix_flow_runs_deployment_id_expected_start_time", table_name="flow_runs")
