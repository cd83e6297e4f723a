"""Revision 0011: the indexes behind the runs list (keyset by created, filtered by state, flow or
deployment), the dashboard's counts and history and the live log tail. A database of revision
0010 with runs in it is upgraded, on SQLite and PostgreSQL: the reads answer as before, the new
indexes exist and the ones they replace are gone, and SQLite's plans use them (a page of a
filtered list is a range of an index, not a sort of every matching run)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from tests.support.seed import T0, flow_run, many_runs

from transom.schemas import DeploymentCreate, DeploymentRunCreate, RunCursor, WorkPoolCreate
from transom.services import Context, EmbeddedBackend
from transom.settings import Settings
from transom.store import Database, open_database, overview, queries, upgrade
from transom.store import models as m
from transom.store.database import _MIGRATIONS, HEAD_REVISION, normalise_url

NEW = {
    "flow_runs": {"ix_flow_runs_flow_id_created": ("flow_id", "created"),
                  "ix_flow_runs_state_type_created": ("state_type", "created"),
                  "ix_flow_runs_deployment_id_created": ("deployment_id", "created"),
                  "ix_flow_runs_created_state_type": ("created", "state_type"),
                  "ix_flow_runs_state_type_state_timestamp": ("state_type", "state_timestamp")},
    "logs": {"ix_logs_flow_run_id_id": ("flow_run_id", "id")},
}
GONE = {"ix_flow_runs_flow_id", "ix_flow_runs_state_type", "ix_flow_runs_created"}


def _at_revision(url: str, revision: str) -> Database:
    from alembic import command
    from alembic.config import Config

    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(normalise_url(url))
    with engine.begin() as conn:
        config = Config()
        config.set_main_option("script_location", str(_MIGRATIONS))
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
    engine.dispose()
    return open_database(url, migrate=False)


def _indexes(db: Database, table: str) -> dict[str, tuple[str, ...]]:
    with db.read() as conn:
        return {str(i["name"]): tuple(str(c) for c in i["column_names"])
                for i in sa.inspect(conn).get_indexes(table)}


def _reads(db: Database, deployment_id: uuid.UUID, run_id: uuid.UUID) -> dict[str, Any]:
    """What the runs list, the dashboard and the tail read, as plain values."""
    with db.read() as conn:
        first = queries.list_flow_runs(conn, state="COMPLETED", limit=20)
        cursor = RunCursor.of(first[-1])
        _, ended = overview.bucket_counts(conn, since=T0, until=T0 + timedelta(hours=6),
                                          size=timedelta(hours=1))
        return {
            "completed": [r.id for r in first],
            "completed_next": [r.id for r in queries.list_flow_runs(
                conn, state="COMPLETED", limit=20, after=cursor)],
            "of_flow": [r.id for r in queries.list_flow_runs(conn, flow_name="other", limit=5)],
            "of_deployment": [r.id for r in overview.runs_of(conn, deployment_id, limit=10)],
            "counts": overview.state_counts(conn, since=T0, until=T0 + timedelta(hours=3)),
            "ended": ended,
            "failures": [f.run.id for f in overview.recent_failures(conn, since=T0)],
            "tail": [line.id for line in queries.list_logs(conn, run_id, after_id=0)],
        }


def _plan(db: Database, query: sa.Select[Any]) -> str:
    with db.read() as conn:
        sql = str(query.compile(conn, compile_kwargs={"literal_binds": True}))
        return " / ".join(str(row[-1]) for row in conn.exec_driver_sql(
            "EXPLAIN QUERY PLAN " + sql))


def test_revision_0011_upgrades_a_0010_database_with_its_runs(database_url: str) -> None:
    db = _at_revision(database_url, "0010")
    try:
        assert db.revision() == "0010"
        backend = EmbeddedBackend(Context(db, Settings.load({})), owns_database=False)
        for batch in many_runs(300, start=T0):  # a minute apart, every 7th Failed
            backend.send_events(batch)
        run_id, events = flow_run("other", "chatty", created=T0, logs=50)
        backend.send_events(events)
        backend.create_work_pool(WorkPoolCreate(name="main"))
        deployment = backend.upsert_deployment(DeploymentCreate(
            flow_name="etl", name="nightly", entrypoint="flows/etl.py:etl", work_pool="main"))
        for _ in range(3):
            backend.create_deployment_run(deployment.id, DeploymentRunCreate())
        before = _reads(db, deployment.id, run_id)
        assert set(GONE) <= set(_indexes(db, "flow_runs"))

        upgrade(db)
        assert db.revision() == HEAD_REVISION
        for table, wanted in NEW.items():
            found = _indexes(db, table)
            assert {name: found.get(name) for name in wanted} == wanted
        assert not GONE & set(_indexes(db, "flow_runs"))
        after = _reads(db, deployment.id, run_id)
        assert after == before
        assert len(after["completed"]) == 20 and len(after["of_deployment"]) == 3
        assert len(after["tail"]) == 50 and after["failures"]
    finally:
        db.close()


def test_sqlite_reads_the_lists_and_the_dashboard_from_the_new_indexes(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'plans.db'}")
    fr = m.flow_runs.c
    try:
        cursor = RunCursor(T0, uuid.uuid4())
        page = queries._FLOW_RUN_SELECT.where(
            fr.state_type == "COMPLETED", fr.created <= cursor.created,
        ).order_by(fr.created.desc(), fr.id).limit(51)
        assert "USING INDEX ix_flow_runs_state_type_created (state_type=? AND created<?)" \
            in _plan(db, page)
        assert "ix_flow_runs_deployment_id_created" in _plan(db, queries._FLOW_RUN_SELECT.where(
            fr.deployment_id == uuid.uuid4()).order_by(fr.created.desc(), fr.id).limit(10))
        counts = (sa.select(fr.state_type, sa.func.count())
                  .where(fr.created >= T0, fr.created <= T0 + timedelta(days=1))
                  .group_by(fr.state_type))
        assert "COVERING INDEX ix_flow_runs_created_state_type (created>? AND created<?)" \
            in _plan(db, counts)
        history = (sa.select(fr.state_type, sa.func.count())
                   .where(fr.state_type.in_(["COMPLETED", "FAILED"]), fr.state_timestamp >= T0,
                          fr.state_timestamp <= T0 + timedelta(days=1))
                   .group_by(fr.state_type))
        assert "COVERING INDEX ix_flow_runs_state_type_state_timestamp" in _plan(db, history)
        tail = sa.select(m.logs).where(m.logs.c.flow_run_id == uuid.uuid4(), m.logs.c.id > 5)
        assert "ix_logs_flow_run_id_id (flow_run_id=? AND id>?)" in _plan(db, tail)
    finally:
        db.close()


def test_revision_0012_indexes_a_0011_databases_runs_by_work_pool(database_url: str) -> None:
    """A 0011 database with runs in two pools upgrades to 0012: the pool filter answers as
    before, from the new (work pool, created) index (SQLite's plan says so)."""
    db = _at_revision(database_url, "0011")
    try:
        backend = EmbeddedBackend(Context(db, Settings.load({})), owns_database=False)
        backend.send_events(next(many_runs(20, start=T0)))
        for pool in ("main", "gpu"):
            backend.create_work_pool(WorkPoolCreate(name=pool))
            deployment = backend.upsert_deployment(DeploymentCreate(
                flow_name="etl", name=f"on-{pool}", entrypoint="flows/etl.py:etl",
                work_pool=pool))
            for _ in range(3 if pool == "main" else 2):
                backend.create_deployment_run(deployment.id, DeploymentRunCreate())

        def of_pool() -> dict[str, list[uuid.UUID]]:
            return {pool: [r.id for r in backend.list_flow_runs(work_pool=pool).items]
                    for pool in ("main", "gpu")}

        before = of_pool()
        assert [len(ids) for ids in before.values()] == [3, 2]
        assert "ix_flow_runs_work_pool_id_created" not in _indexes(db, "flow_runs")
        upgrade(db)
        assert db.revision() == HEAD_REVISION
        assert _indexes(db, "flow_runs")["ix_flow_runs_work_pool_id_created"] == (
            "work_pool_id", "created")
        assert of_pool() == before
        if db.url.startswith("sqlite"):
            fr = m.flow_runs.c
            page = queries._FLOW_RUN_SELECT.where(fr.work_pool_id == uuid.uuid4()).order_by(
                fr.created.desc(), fr.id).limit(51)
            assert "USING INDEX ix_flow_runs_work_pool_id_created (work_pool_id=?)" \
                in _plan(db, page)
    finally:
        db.close()


def test_revision_0013_indexes_a_0012_databases_deployment_runs_by_when_they_are_due(
        database_url: str) -> None:
    """A 0012 database with deployment runs upgrades to 0013: each deployment's last run (the
    deployments list's column) answers as before, from the new (deployment, expected start
    time) index, one short walk of it per deployment (SQLite's plan says so)."""
    db = _at_revision(database_url, "0012")
    try:
        backend = EmbeddedBackend(Context(db, Settings.load({})), owns_database=False)
        backend.create_work_pool(WorkPoolCreate(name="main"))
        ids = []
        for name in ("a", "b", "c"):
            deployment = backend.upsert_deployment(DeploymentCreate(
                flow_name="etl", name=name, entrypoint="flows/etl.py:etl", work_pool="main"))
            ids.append(deployment.id)
            for hours in (3, 1, 2) if name != "c" else ():
                backend.create_deployment_run(deployment.id, DeploymentRunCreate(
                    scheduled_time=T0 + timedelta(hours=hours)))
        now = T0 + timedelta(hours=2, minutes=30)

        def last() -> dict[uuid.UUID, Any]:
            with db.read() as conn:
                return {k: v.expected_start_time for k, v in
                        overview.last_runs(conn, ids, now=now).items()}

        before = last()  # the one due at +2 h: +3 h is not due yet, +1 h is older
        assert before == {ids[0]: T0 + timedelta(hours=2), ids[1]: T0 + timedelta(hours=2)}
        assert "ix_flow_runs_deployment_id_expected_start_time" not in _indexes(db, "flow_runs")
        upgrade(db)
        assert db.revision() == HEAD_REVISION
        assert _indexes(db, "flow_runs")["ix_flow_runs_deployment_id_expected_start_time"] == (
            "deployment_id", "expected_start_time")
        assert last() == before
        if db.url.startswith("sqlite"):
            query = overview.last_runs_query(ids, now=now)
            assert "USING INDEX ix_flow_runs_deployment_id_expected_start_time (deployment_id=?" \
                in _plan(db, query)
    finally:
        db.close()


def _tagged(db: Database, **filters: Any) -> list[str]:
    where = queries.RunFilter(**filters)
    with db.read() as conn:
        n = queries.count_flow_runs(conn, where=where)
        # Both ways a page may be read (the filter's index leading, or each run checked as the
        # created index is walked: FEW_MATCHES decides by the count) give the same runs.
        led = [r.name for r in queries.list_flow_runs(conn, where=where, limit=100, matches=0)]
        walked = [r.name for r in queries.list_flow_runs(conn, where=where, limit=100,
                                                         matches=10**9)]
    assert led == walked and len(led) == min(n, 100), (filters, led, walked, n)
    return led


def test_revision_0014_indexes_tags_and_names_for_the_runs_filters(database_url: str) -> None:
    """A 0013 database with tagged runs upgrades to 0014: its runs' tags are in flow_run_tags,
    runs written after (the sink's batch inserts, the API's create, a deployment's runs) are
    added by the triggers and deleted ones leave, tags no filter can name are left out and a
    run whose tags are not a JSON list still writes; the tag and prefix filters answer the same
    both ways a page is read, and SQLite's plans read the new indexes."""
    db = _at_revision(database_url, "0013")
    try:
        backend = EmbeddedBackend(Context(db, Settings.load({})), owns_database=False)
        from transom.schemas import FlowRunCreate

        for i, tags in enumerate((["blue"], ["blue", "red"], [], ["x" * 300, "red"])):
            backend.create_flow_run(FlowRunCreate(flow_name="etl", name=f"old-{i}", tags=tags))
        assert "flow_run_tags" not in sa.inspect(db.engine).get_table_names()
        upgrade(db)
        assert db.revision() == HEAD_REVISION
        assert _tagged(db, tag="blue") == ["old-1", "old-0"]  # filled from the runs there were
        assert _tagged(db, tag="red") == ["old-3", "old-1"]
        with db.read() as conn:  # the 300-character tag is not indexed (no filter names it)
            assert conn.execute(sa.select(sa.func.max(sa.func.length(m.flow_run_tags.c.tag))
                                          )).scalar_one() == 4
        # Written after: through the sink (a flow's own run), the API, a deployment.
        from transom.core.recorder import FlowRunCreated

        sunk = uuid.uuid4()
        backend.send_events([FlowRunCreated(sunk, "etl", "sunk", {}, tags=["blue", "green"],
                                            created=T0 + timedelta(days=400), process=None)])
        backend.create_work_pool(WorkPoolCreate(name="main"))
        deployment = backend.upsert_deployment(DeploymentCreate(
            flow_name="etl", name="nightly", entrypoint="flows/etl.py:etl", work_pool="main"))
        backend.create_deployment_run(deployment.id, DeploymentRunCreate(name="deployed",
                                                                         tags=["green"]))
        assert sorted(_tagged(db, tag="green")) == ["deployed", "sunk"]
        assert _tagged(db, tag="blue", prefix="SUN") == ["sunk"]
        backend.delete_flow_run(str(sunk))
        assert _tagged(db, tag="green") == ["deployed"]
        with db.read() as conn:
            assert conn.execute(sa.select(sa.func.count()).where(
                m.flow_run_tags.c.flow_run_id == sunk)).scalar_one() == 0
        # Tags that are not a JSON list of strings write their run all the same.
        odd = uuid.uuid4()
        with db.write() as conn:
            flow_id = conn.execute(sa.select(m.flows.c.id)).scalars().first()
            conn.execute(m.flow_runs.insert().values(
                id=odd, flow_id=flow_id, name="odd-tags", parameters={}, tags={"not": "a list"},
                run_count=0, created=T0, updated=T0))
        with db.write() as conn:  # written, with no tag rows; then gone (no reader takes it)
            assert conn.execute(sa.select(sa.func.count()).where(
                m.flow_run_tags.c.flow_run_id == odd)).scalar_one() == 0
            conn.execute(m.flow_runs.delete().where(m.flow_runs.c.id == odd))
        # Name and id prefixes, any case, LIKE's wildcards as characters, both ways.
        assert _tagged(db, prefix="OLD-") == ["old-3", "old-2", "old-1", "old-0"]
        assert _tagged(db, prefix="old_") == []
        some = backend.list_flow_runs(prefix="deployed").items[0]
        assert _tagged(db, prefix=some.id.hex[:6]) == ["deployed"]
        assert _tagged(db, prefix=str(some.id)[:13]) == ["deployed"]  # with its dash
        if db.url.startswith("sqlite"):
            with db.read() as conn:
                led = queries._filtered(conn, queries._FLOW_RUN_SELECT,
                                        queries.RunFilter(tag="blue", prefix="old"))
            plan = _plan(db, led)
            assert "flow_run_tags" in plan and "USING COVERING INDEX" in plan, plan
            with db.read() as conn:
                named = queries._filtered(conn, sa.select(sa.func.count()).select_from(
                    m.flow_runs), queries.RunFilter(prefix="old"))
            assert "ix_flow_runs_name_nocase" in _plan(db, named)
    finally:
        db.close()
