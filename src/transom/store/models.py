"""The tables. Alembic migrations (store/migrations) create them; this is what queries use."""

from __future__ import annotations

import sqlalchemy as sa

from transom.store.types import UTCDateTime

__all__ = [
    "RUN_FILTER_DDL",
    "artifacts",
    "block_documents",
    "block_types",
    "concurrency_leases",
    "concurrency_limits",
    "deployment_schedules",
    "deployments",
    "flow_run_tags",
    "flow_runs",
    "flows",
    "logs",
    "metadata",
    "run_inputs",
    "states",
    "task_runs",
    "variables",
    "work_pools",
    "workers",
]

metadata = sa.MetaData(naming_convention={
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})


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


flows = sa.Table(
    "flows", metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("name", sa.String(255), nullable=False, unique=True),
    sa.Column("created", UTCDateTime, nullable=False),
)

flow_runs = sa.Table(
    "flow_runs", metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("flow_id", sa.Uuid, sa.ForeignKey("flows.id", ondelete="CASCADE"), nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("parameters", sa.JSON, nullable=False),
    sa.Column("parent_flow_run_id", sa.Uuid),
    sa.Column("parent_task_run_id", sa.Uuid),
    sa.Column("deployment_id", sa.Uuid),
    sa.Column("tags", sa.JSON, nullable=False),
    sa.Column("expected_start_time", UTCDateTime),
    *_state_columns(),
    # Deployments and workers (revision 0002): where a run may be picked up, who picked it up,
    # and the key that makes a deployment's scheduled run for a given time exist once.
    sa.Column("work_pool_id", sa.Uuid),
    sa.Column("work_queue_name", sa.String(255)),
    sa.Column("worker_id", sa.Uuid),
    sa.Column("idempotency_key", sa.String(255)),
    # The process that runs it (revision 0003), when no worker does: it heart-beats, and a run
    # whose heartbeats stop ends Crashed.
    sa.Column("process", sa.Uuid),
    sa.Column("pid", sa.Integer),
    sa.Column("hostname", sa.String(255)),
    sa.Column("heartbeat", UTCDateTime),
    # The runs list pages newest first by keyset (created), filtered by flow, state type,
    # deployment or work pool: each filter's index ends in `created` (revision 0011), so a page is a range,
    # never a sort of every matching run; the single-column indexes of flow, state type and
    # created went (the composites serve their lookups too).
    sa.Index("ix_flow_runs_flow_id_created", "flow_id", "created"),
    sa.Index("ix_flow_runs_state_type_created", "state_type", "created"),
    sa.Index("ix_flow_runs_deployment_id_created", "deployment_id", "created"),
    sa.Index("ix_flow_runs_work_pool_id_created", "work_pool_id", "created"),  # revision 0012
    # A deployment's last run (the one due latest by now): the deployments list (revision 0013).
    sa.Index("ix_flow_runs_deployment_id_expected_start_time", "deployment_id",
             "expected_start_time"),
    # The list unfiltered; counts by state for a window read this index only (revision 0011).
    sa.Index("ix_flow_runs_created_state_type", "created", "state_type"),
    # The runs that ended per bucket, recent failures (revision 0011).
    sa.Index("ix_flow_runs_state_type_state_timestamp", "state_type", "state_timestamp"),
    sa.Index("ix_flow_runs_start_time", "start_time"),
    sa.Index("ix_flow_runs_parent_flow_run_id", "parent_flow_run_id"),
    sa.Index("ix_flow_runs_deployment_id_idempotency_key", "deployment_id", "idempotency_key",
             unique=True),
    sa.Index("ix_flow_runs_state_type_expected_start_time", "state_type", "expected_start_time"),
    sa.Index("ix_flow_runs_worker_id", "worker_id"),
    sa.Index("ix_flow_runs_process", "process"),
)

# A run's tags, one row each, for the runs list's tag filter: a JSON list cannot be indexed on
# SQLite, and reading every run's list was most of a filtered page's time at 100,000 runs
# (revision 0014). Triggers on flow_runs keep it (every write path, the sink's raw inserts
# too); tags over 255 characters (which no filter can name) and non-text ones are left out.
flow_run_tags = sa.Table(
    "flow_run_tags", metadata,
    sa.Column("tag", sa.String(255), nullable=False),
    sa.Column("flow_run_id", sa.Uuid, nullable=False),
    sa.PrimaryKeyConstraint("tag", "flow_run_id"),
    sa.Index("ix_flow_run_tags_flow_run_id", "flow_run_id"),
)

_SQLITE_TAG_ROWS = """    INSERT OR IGNORE INTO flow_run_tags (tag, flow_run_id)
    SELECT value, NEW.id FROM json_each(CASE WHEN NOT json_valid(NEW.tags) THEN '[]'
        WHEN json_type(NEW.tags) = 'array' THEN NEW.tags ELSE '[]' END)
    WHERE type = 'text' AND length(value) <= 255;
END"""  # a run's tag rows, as the insert and update triggers write them

RUN_FILTER_DDL: dict[str, tuple[str, ...]] = {
    # A name-prefix filter (any case) reads an index: SQLite's LIKE is case-blind (ASCII) and
    # uses a NOCASE index; PostgreSQL's lower(name) LIKE uses a pattern-ops index.
    "sqlite": (
        "CREATE INDEX ix_flow_runs_name_nocase ON flow_runs (name COLLATE NOCASE)",
        "CREATE TRIGGER flow_run_tags_insert AFTER INSERT ON flow_runs BEGIN\n" + _SQLITE_TAG_ROWS,
        "CREATE TRIGGER flow_run_tags_update AFTER UPDATE OF tags ON flow_runs BEGIN\n"
        "    DELETE FROM flow_run_tags WHERE flow_run_id = OLD.id;\n" + _SQLITE_TAG_ROWS,
        """CREATE TRIGGER flow_run_tags_delete AFTER DELETE ON flow_runs BEGIN
    DELETE FROM flow_run_tags WHERE flow_run_id = OLD.id;
END""",
    ),
    "postgresql": (
        "CREATE INDEX ix_flow_runs_name_lower ON flow_runs (lower(name) text_pattern_ops)",
        """CREATE OR REPLACE FUNCTION transom_flow_run_tags() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        DELETE FROM flow_run_tags WHERE flow_run_id = OLD.id;
    END IF;
    IF TG_OP <> 'DELETE' AND json_typeof(NEW.tags) = 'array' THEN
        INSERT INTO flow_run_tags (tag, flow_run_id)
        SELECT DISTINCT e #>> '{}', NEW.id FROM json_array_elements(NEW.tags) AS e
        WHERE json_typeof(e) = 'string' AND length(e #>> '{}') <= 255
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END $$""",
        """CREATE TRIGGER flow_run_tags AFTER INSERT OR DELETE OR UPDATE OF tags ON flow_runs
FOR EACH ROW EXECUTE FUNCTION transom_flow_run_tags()""",
    ),
}
"""What revision 0014 adds besides flow_run_tags, per dialect; a new database gets it too."""
for _dialect, _statements in RUN_FILTER_DDL.items():
    for _sql in _statements:
        sa.event.listen(metadata, "after_create",  # once every table is there
                        sa.DDL(_sql.replace("%", "%%")).execute_if(  # type: ignore[no-untyped-call]
                            dialect=_dialect))

task_runs = sa.Table(
    "task_runs", metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("flow_run_id", sa.Uuid),
    sa.Column("task_key", sa.String(512), nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("dynamic_key", sa.Integer, nullable=False),
    sa.Column("cache_key", sa.String(255)),
    sa.Column("upstream", sa.JSON, nullable=False),
    sa.Column("tags", sa.JSON, nullable=False),
    *_state_columns(),
    sa.Index("ix_task_runs_flow_run_id", "flow_run_id"),
    sa.Index("ix_task_runs_state_type", "state_type"),
)

states = sa.Table(
    "states", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("flow_run_id", sa.Uuid),
    sa.Column("task_run_id", sa.Uuid),
    sa.Column("type", sa.String(16), nullable=False),
    sa.Column("name", sa.String(32), nullable=False),
    sa.Column("timestamp", UTCDateTime, nullable=False),
    sa.Column("message", sa.Text),
    sa.Column("error", sa.JSON(none_as_null=True)),  # no error: SQL NULL, not JSON null
    sa.Column("scheduled_time", UTCDateTime),
    sa.Index("ix_states_flow_run_id", "flow_run_id"),
    sa.Index("ix_states_task_run_id", "task_run_id"),
)

logs = sa.Table(
    "logs", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("flow_run_id", sa.Uuid),
    sa.Column("task_run_id", sa.Uuid),
    sa.Column("level", sa.Integer, nullable=False),
    sa.Column("logger", sa.String(255), nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("timestamp", UTCDateTime, nullable=False),
    sa.Index("ix_logs_flow_run_id_timestamp", "flow_run_id", "timestamp"),
    sa.Index("ix_logs_flow_run_id_id", "flow_run_id", "id"),  # the live tail (revision 0011)
    sa.Index("ix_logs_task_run_id", "task_run_id"),
)


# -- deployments and workers (revision 0002) ------------------------------------------------------
work_pools = sa.Table(
    "work_pools", metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("name", sa.String(255), nullable=False, unique=True),
    sa.Column("description", sa.Text),
    sa.Column("concurrency_limit", sa.Integer),
    sa.Column("paused", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created", UTCDateTime, nullable=False),
    sa.Column("updated", UTCDateTime, nullable=False),
)

deployments = sa.Table(
    "deployments", metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("flow_id", sa.Uuid, sa.ForeignKey("flows.id", ondelete="CASCADE"), nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("description", sa.Text),
    sa.Column("entrypoint", sa.Text, nullable=False),
    sa.Column("path", sa.Text),
    sa.Column("parameters", sa.JSON, nullable=False),
    sa.Column("parameter_schema", sa.JSON(none_as_null=True)),
    sa.Column("work_pool_id", sa.Uuid, sa.ForeignKey("work_pools.id")),
    sa.Column("work_queue_name", sa.String(255)),
    sa.Column("tags", sa.JSON, nullable=False),
    sa.Column("paused", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("concurrency_limit", sa.Integer),
    sa.Column("created", UTCDateTime, nullable=False),
    sa.Column("updated", UTCDateTime, nullable=False),
    sa.Column("pull_steps", sa.JSON(none_as_null=True)),  # what a worker runs before loading it
    sa.Column("version", sa.String(255)),
    sa.UniqueConstraint("flow_id", "name"),
    sa.Index("ix_deployments_work_pool_id", "work_pool_id"),
)

deployment_schedules = sa.Table(
    "deployment_schedules", metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("deployment_id", sa.Uuid, sa.ForeignKey("deployments.id", ondelete="CASCADE"),
              nullable=False),
    sa.Column("cron", sa.String(255)),
    sa.Column("interval", sa.Float),
    sa.Column("anchor_date", UTCDateTime),
    sa.Column("rrule", sa.Text),
    sa.Column("timezone", sa.String(64)),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("created", UTCDateTime, nullable=False),
    sa.Index("ix_deployment_schedules_deployment_id", "deployment_id"),
)

workers = sa.Table(
    "workers", metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("name", sa.String(255), nullable=False, unique=True),
    sa.Column("work_pool_id", sa.Uuid, sa.ForeignKey("work_pools.id", ondelete="CASCADE")),
    sa.Column("instance", sa.Uuid, nullable=False),  # one per start: two live workers never share a name
    sa.Column("hostname", sa.String(255)),
    sa.Column("pid", sa.Integer),
    sa.Column("run_limit", sa.Integer),
    sa.Column("last_heartbeat", UTCDateTime, nullable=False),
    sa.Column("created", UTCDateTime, nullable=False),
    sa.Column("stopped", UTCDateTime),  # revision 0005: when it stopped gracefully (offline)
    sa.Index("ix_workers_work_pool_id", "work_pool_id"),
)


# -- variables (revision 0005) --------------------------------------------------------------------
variables = sa.Table(
    "variables", metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("name", sa.String(255), nullable=False, unique=True),
    sa.Column("value", sa.JSON(none_as_null=False)),  # None is the JSON value null
    sa.Column("tags", sa.JSON, nullable=False),
    sa.Column("created", UTCDateTime, nullable=False),
    sa.Column("updated", UTCDateTime, nullable=False),
)


# -- artifacts (revision 0006) --------------------------------------------------------------------
artifacts = sa.Table(
    "artifacts", metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("key", sa.String(255)),  # versions share a key; the newest is the key's artifact
    sa.Column("version", sa.Integer),  # 1, 2, ... per key (clocks tie; Windows' by 15 ms)
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("data", sa.JSON(none_as_null=False)),
    sa.Column("description", sa.Text),
    sa.Column("flow_run_id", sa.Uuid),  # no foreign key: a run's events may come after it
    sa.Column("task_run_id", sa.Uuid),
    sa.Column("created", UTCDateTime, nullable=False),
    sa.Column("updated", UTCDateTime, nullable=False),
    sa.Index("ix_artifacts_key_version", "key", "version", unique=True),
    sa.Index("ix_artifacts_flow_run_id", "flow_run_id"),
)


# -- pauses and their run input (revision 0010) --------------------------------------------------
run_inputs = sa.Table(
    "run_inputs", metadata,
    sa.Column("flow_run_id", sa.Uuid, primary_key=True),  # no foreign key, as artifacts
    sa.Column("key", sa.String(255), primary_key=True),  # the pause's key within its run
    sa.Column("schema", sa.JSON(none_as_null=True)),  # JSON Schema the input must match; NULL: none
    sa.Column("value", sa.JSON(none_as_null=True)),  # the resume's input (SQL NULL until resumed)
    sa.Column("timeout_seconds", sa.Float, nullable=False),
    sa.Column("reschedule", sa.Boolean, nullable=False, server_default=sa.false()),  # Suspended
    sa.Column("created", UTCDateTime, nullable=False),
    sa.Column("resumed", UTCDateTime),
)


# -- blocks (revision 0008) -----------------------------------------------------------------------
block_types = sa.Table(
    "block_types", metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("slug", sa.String(255), nullable=False, unique=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("block_schema", sa.JSON, nullable=False),  # the class's JSON schema, last saved
    sa.Column("created", UTCDateTime, nullable=False),
    sa.Column("updated", UTCDateTime, nullable=False),
)

block_documents = sa.Table(
    "block_documents", metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("block_type_id", sa.Uuid, sa.ForeignKey("block_types.id"), nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("data", sa.JSON, nullable=False),  # the fields, secret ones left out
    sa.Column("secret_fields", sa.JSON, nullable=False),  # their dotted paths
    sa.Column("secrets", sa.Text),  # {path: value} as JSON, Fernet-encrypted; None: no secrets
    sa.Column("created", UTCDateTime, nullable=False),
    sa.Column("updated", UTCDateTime, nullable=False),
    sa.UniqueConstraint("block_type_id", "name", name="uq_block_documents_type_name"),
)


# -- concurrency limits (revision 0009) -------------------------------------------------------------
concurrency_limits = sa.Table(
    "concurrency_limits", metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("name", sa.String(255), nullable=False, unique=True),
    sa.Column("limit", sa.Integer, nullable=False),
    sa.Column("slot_decay_per_second", sa.Float, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    # rate-limit slots: `decaying` slots at `decayed_at`, fewer by slot_decay_per_second since
    sa.Column("decaying", sa.Float, nullable=False),
    sa.Column("decayed_at", UTCDateTime, nullable=False),
    sa.Column("created", UTCDateTime, nullable=False),
    sa.Column("updated", UTCDateTime, nullable=False),
)

# One row per limit a lease holds slots of; the rows of one acquisition share lease_id.
concurrency_leases = sa.Table(
    "concurrency_leases", metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("lease_id", sa.Uuid, nullable=False),
    sa.Column("limit_id", sa.Uuid, sa.ForeignKey("concurrency_limits.id", ondelete="CASCADE"),
              nullable=False),
    sa.Column("slots", sa.Integer, nullable=False),
    sa.Column("holder", sa.String(255), nullable=False),
    sa.Column("created", UTCDateTime, nullable=False),
    sa.Column("expires", UTCDateTime, nullable=False),
    sa.Index("ix_concurrency_leases_lease_id", "lease_id"),
    sa.Index("ix_concurrency_leases_limit_id", "limit_id"),
)
