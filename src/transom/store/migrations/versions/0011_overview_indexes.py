"""Indexes for the runs list, the dashboard's counts and history, and the live log tail.

The runs list pages newest first by `created` (keyset), filtered by flow, state type or
deployment: an index of each filter ending in `created` makes a page a range scan instead of a
sort of every matching run. The runs that ended per bucket (and recent failures) read by state
type and state time; counts by state for a window read (created, state type) alone. The live
tail reads a run's lines after a line id. The single-column flow, state type and created
indexes are dropped: the composites begin with them.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_flow_runs_flow_id_created", "flow_runs", ["flow_id", "created"])
    op.create_index("ix_flow_runs_state_type_created", "flow_runs", ["state_type", "created"])
    op.create_index("ix_flow_runs_deployment_id_created", "flow_runs",
                    ["deployment_id", "created"])
    op.create_index("ix_flow_runs_state_type_state_timestamp", "flow_runs",
                    ["state_type", "state_timestamp"])
    op.create_index("ix_flow_runs_created_state_type", "flow_runs", ["created", "state_type"])
    op.create_index("ix_logs_flow_run_id_id", "logs", ["flow_run_id", "id"])
    op.drop_index("ix_flow_runs_flow_id", table_name="flow_runs")
    op.drop_index("ix_flow_runs_state_type", table_name="flow_runs")
    op.drop_index("ix_flow_runs_created", table_name="flow_runs")


def downgrade() -> None:
    op.create_index("ix_flow_runs_created", "flow_runs", ["created"])
    op.create_index("ix_flow_runs_state_type", "flow_runs", ["state_type"])
    op.create_index("ix_flow_runs_flow_id", "flow_runs", ["flow_id"])
    op.drop_index("ix_logs_flow_run_id_id", table_name="logs")
    op.drop_index("ix_flow_runs_created_state_type", table_name="flow_runs")
    op.drop_index("ix_flow_runs_state_type_state_timestamp", table_name="flow_runs")
    op.drop_index("ix_flow_runs_deployment_id_created", table_name="flow_runs")
    op.drop_index("ix_flow_runs_state_type_created", table_name="flow_runs")
    op.drop_index("ix_flow_runs_flow_id_created", table_name="flow_runs")
