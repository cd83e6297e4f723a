"""Flows, flow runs, task runs, state history and logs.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from transom.store.types import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _state_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("state_type", sa.String(16)),
        sa.Column("state_name", sa.String(32)),
        sa.Column("state_message", sa.Text),
        sa.Column("state_timestamp", UTCDateTime),
        sa.Column("start_time", UTCDateTime),
        sa.Column("end_time", UTCDateTime),
        sa.Column("run_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("result_ref", sa.Text),
        sa.Column("created", UTCDateTime, nullable=False),
        sa.Column("updated", UTCDateTime, nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "flows",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("created", UTCDateTime, nullable=False),
        sa.UniqueConstraint("name", name="uq_flows_name"),
    )
    op.create_table(
        "flow_runs",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("flow_id", sa.Uuid, sa.ForeignKey("flows.id", ondelete="CASCADE",
                                                     name="fk_flow_runs_flow_id_flows"),
                  nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("parameters", sa.JSON, nullable=False),
        sa.Column("parent_flow_run_id", sa.Uuid),
        sa.Column("parent_task_run_id", sa.Uuid),
        sa.Column("deployment_id", sa.Uuid),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("expected_start_time", UTCDateTime),
        *_state_columns(),
    )
    op.create_index("ix_flow_runs_flow_id", "flow_runs", ["flow_id"])
    op.create_index("ix_flow_runs_state_type", "flow_runs", ["state_type"])
    op.create_index("ix_flow_runs_created", "flow_runs", ["created"])
    op.create_index("ix_flow_runs_start_time", "flow_runs", ["start_time"])
    op.create_index("ix_flow_runs_parent_flow_run_id", "flow_runs", ["parent_flow_run_id"])
    op.create_table(
        "task_runs",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("flow_run_id", sa.Uuid),
        sa.Column("task_key", sa.String(512), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("dynamic_key", sa.Integer, nullable=False),
        sa.Column("cache_key", sa.String(255)),
        sa.Column("upstream", sa.JSON, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        *_state_columns(),
    )
    op.create_index("ix_task_runs_flow_run_id", "task_runs", ["flow_run_id"])
    op.create_index("ix_task_runs_state_type", "task_runs", ["state_type"])
    op.create_table(
        "states",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("flow_run_id", sa.Uuid),
        sa.Column("task_run_id", sa.Uuid),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("timestamp", UTCDateTime, nullable=False),
        sa.Column("message", sa.Text),
        sa.Column("error", sa.JSON),
        sa.Column("scheduled_time", UTCDateTime),
    )
    op.create_index("ix_states_flow_run_id", "states", ["flow_run_id"])
    op.create_index("ix_states_task_run_id", "states", ["task_run_id"])
    op.create_table(
        "logs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("flow_run_id", sa.Uuid),
        sa.Column("task_run_id", sa.Uuid),
        sa.Column("level", sa.Integer, nullable=False),
        sa.Column("logger", sa.String(255), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("timestamp", UTCDateTime, nullable=False),
    )
    op.create_index("ix_logs_flow_run_id_timestamp", "logs", ["flow_run_id", "timestamp"])
    op.create_index("ix_logs_task_run_id", "logs", ["task_run_id"])


def downgrade() -> None:
    for table in ("logs", "states", "task_runs", "flow_runs", "flows"):
        op.drop_table(table)
