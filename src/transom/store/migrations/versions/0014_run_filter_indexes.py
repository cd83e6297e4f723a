"""The runs list's tag and name-prefix filters read indexes.

A tag filter read every run's JSON list of tags, and a name-prefix filter every run's name, so
at 100,000 runs a filtered page (and its count) took hundreds of milliseconds. A run's tags now
also go in flow_run_tags, one row each, kept by triggers on flow_runs (whichever way a run is
written) and filled here from the runs there are; names get a case-blind index (SQLite: NOCASE,
whose LIKE is case-blind; PostgreSQL: lower(name) with pattern ops).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

# models.RUN_FILTER_DDL says the same for a new database; this copy is the revision's own (a
# migration is history: it must not change when the models do). A test compares the two.
_TAG_ROWS = """    INSERT OR IGNORE INTO flow_run_tags (tag, flow_run_id)
    SELECT value, NEW.id FROM json_each(CASE WHEN NOT json_valid(NEW.tags) THEN '[]'
        WHEN json_type(NEW.tags) = 'array' THEN NEW.tags ELSE '[]' END)
    WHERE type = 'text' AND length(value) <= 255;
END"""  # a run's tag rows, as the insert and update triggers write them

_SQLITE = (
    "CREATE INDEX ix_flow_runs_name_nocase ON flow_runs (name COLLATE NOCASE)",
    "CREATE TRIGGER flow_run_tags_insert AFTER INSERT ON flow_runs BEGIN\n" + _TAG_ROWS,
    "CREATE TRIGGER flow_run_tags_update AFTER UPDATE OF tags ON flow_runs BEGIN\n"
    "    DELETE FROM flow_run_tags WHERE flow_run_id = OLD.id;\n" + _TAG_ROWS,
    """CREATE TRIGGER flow_run_tags_delete AFTER DELETE ON flow_runs BEGIN
    DELETE FROM flow_run_tags WHERE flow_run_id = OLD.id;
END""",
    """INSERT OR IGNORE INTO flow_run_tags (tag, flow_run_id)
SELECT t.value, r.id FROM flow_runs AS r,
    json_each(CASE WHEN NOT json_valid(r.tags) THEN '[]'
        WHEN json_type(r.tags) = 'array' THEN r.tags ELSE '[]' END) AS t
WHERE t.type = 'text' AND length(t.value) <= 255""",
)
_POSTGRESQL = (
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
    """INSERT INTO flow_run_tags (tag, flow_run_id)
SELECT DISTINCT e #>> '{}', r.id FROM flow_runs AS r,
    json_array_elements(CASE WHEN json_typeof(r.tags) = 'array' THEN r.tags ELSE '[]'::json END) AS e
WHERE json_typeof(e) = 'string' AND length(e #>> '{}') <= 255
ON CONFLICT DO NOTHING""",
)


def upgrade() -> None:
    op.create_table(
        "flow_run_tags",
        sa.Column("tag", sa.String(255), nullable=False),
        sa.Column("flow_run_id", sa.Uuid, nullable=False),
        sa.PrimaryKeyConstraint("tag", "flow_run_id", name="pk_flow_run_tags"),
    )
    op.create_index("ix_flow_run_tags_flow_run_id", "flow_run_tags", ["flow_run_id"])
    statements = _POSTGRESQL if op.get_bind().dialect.name == "postgresql" else _SQLITE
    for sql in statements:
        op.execute(sql)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS flow_run_tags ON flow_runs")
        op.execute("DROP FUNCTION IF EXISTS transom_flow_run_tags()")
        op.drop_index("ix_flow_runs_name_lower", table_name="flow_runs")
    else:
        for name in ("flow_run_tags_insert", "flow_run_tags_update", "flow_run_tags_delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.drop_index("ix_flow_runs_name_nocase", table_name="flow_runs")
    op.drop_table("flow_run_tags")
