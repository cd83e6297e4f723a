"""Opening SQLite databases: migrations, pragmas, concurrency, and the errors users meet."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from transom.exceptions import DatabaseError
from transom.store import open_database
from transom.store.database import HEAD_REVISION, WriteWouldWait, normalise_url


def test_a_fresh_file_is_migrated_and_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "folder" / "transom.db"
    db = open_database(f"sqlite:///{path}")
    assert db.revision() == HEAD_REVISION
    db.close()
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"flows", "flow_runs", "task_runs", "states", "logs", "alembic_version"} <= tables


def test_an_up_to_date_database_does_not_load_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'transom.db'}"
    open_database(url).close()
    code = textwrap.dedent(f"""
        import sys
        from transom.store import open_database
        open_database({url!r}).close()
        print('alembic' in sys.modules)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_two_processes_creating_the_same_database_at_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'race' / 'transom.db'}"
    code = f"from transom.store import open_database; open_database({url!r}).close(); print('ok')"
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    results = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], "\n".join(r[1] for r in results)
    assert open_database(url).revision() == HEAD_REVISION


def test_unwritable_location_is_one_sentence(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(DatabaseError, match=r"cannot create the database at .*a-file.*TRANSOM_HOME"):
        open_database(f"sqlite:///{blocker / 'sub' / 'transom.db'}")


def test_a_corrupt_file_is_named_as_such(tmp_path: Path) -> None:
    path = tmp_path / "transom.db"
    path.write_bytes(b"this is not a database, just some bytes" * 100)
    with pytest.raises(DatabaseError, match="is not a SQLite database"):
        open_database(f"sqlite:///{path}")


def test_a_database_file_emptied_under_us_is_reported_not_made_anew(tmp_path: Path) -> None:
    path = tmp_path / "transom.db"
    open_database(f"sqlite:///{path}").close()
    path.write_bytes(b"")  # truncated: SQLite alone would take it for a brand-new database
    with pytest.raises(DatabaseError, match=r"transom\.db is empty \(0 bytes\) although Transom "
                       r"made a database there on .*restore .* or delete transom\.db\.created"):
        open_database(f"sqlite:///{path}")
    assert path.stat().st_size == 0  # nothing written over what a backup could restore
    # A new empty file Transom never made a database in is simply a new database.
    other = tmp_path / "new.db"
    other.write_bytes(b"")
    open_database(f"sqlite:///{other}").close()
    # And after the user deletes the marker, the emptied file becomes a new database.
    (tmp_path / "transom.db.created").unlink()
    open_database(f"sqlite:///{path}").close()
    assert path.stat().st_size > 0


def test_a_locked_database_says_who_to_blame(tmp_path: Path) -> None:
    path = tmp_path / "transom.db"
    open_database(f"sqlite:///{path}").close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        db = open_database(f"sqlite:///{path}", busy_timeout=0.2, migrate=False)
        with pytest.raises(DatabaseError, match="locked by another process"):
            with db.write() as conn:
                conn.exec_driver_sql("DELETE FROM logs")
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_bad_urls_and_postgres_driver_mapping() -> None:
    assert normalise_url("postgresql://u:p@h:5432/d") == "postgresql+psycopg://u:p@h:5432/d"
    assert normalise_url("sqlite:///x.db") == "sqlite:///x.db"
    with pytest.raises(DatabaseError, match="is not valid"):
        open_database("not a url at all")


def _schema(url: str) -> dict[str, object]:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    inspector = sa.inspect(engine)
    schema: dict[str, object] = {}
    for table in sorted(inspector.get_table_names()):
        schema[table] = {
            "columns": [(c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)],
            "pk": inspector.get_pk_constraint(table)["constrained_columns"],
            "indexes": sorted((i["name"], tuple(i["column_names"])) for i in inspector.get_indexes(table)),
            "unique": sorted(tuple(u["column_names"]) for u in inspector.get_unique_constraints(table)),
            "fks": sorted((tuple(f["constrained_columns"]), f["referred_table"])
                          for f in inspector.get_foreign_keys(table)),
        }
    engine.dispose()
    return schema


def test_fresh_schema_from_models_equals_the_migrations(tmp_path: Path) -> None:
    from transom.store import upgrade

    fast = f"sqlite:///{tmp_path / 'fast.db'}"
    open_database(fast).close()
    migrated_url = f"sqlite:///{tmp_path / 'migrated.db'}"
    migrated = open_database(migrated_url, migrate=False)
    upgrade(migrated, fresh_fast_path=False)
    migrated.close()
    assert _schema(fast) == _schema(migrated_url)

    def triggers_and_expression_indexes(path: Path) -> list[tuple[str, str]]:
        with sqlite3.connect(path) as raw:
            return sorted(raw.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
                                      "OR (type = 'index' AND sql LIKE '%COLLATE%')"))

    made = triggers_and_expression_indexes(tmp_path / "fast.db")
    assert made == triggers_and_expression_indexes(tmp_path / "migrated.db")
    assert {name for name, _ in made} == {"flow_run_tags_insert", "flow_run_tags_update",
                                          "flow_run_tags_delete", "ix_flow_runs_name_nocase"}


def test_postgresql_wrong_password_is_one_sentence(postgres_server: object) -> None:
    from sqlalchemy.engine import make_url

    right = make_url(postgres_server.url("postgres"))  # type: ignore[attr-defined]
    url = right.set(password="wrong-" + str(right.password)).render_as_string(hide_password=False)
    with pytest.raises(DatabaseError, match=r"at 127\.0\.0\.1:\d+/postgres refused the password "
                       r"for user transom; check the user name and password"):
        open_database(url)


def test_postgresql_no_password_is_its_own_sentence(postgres_server: object) -> None:
    from sqlalchemy.engine import make_url

    right = make_url(postgres_server.url("postgres"))  # type: ignore[attr-defined]
    url = f"postgresql://{right.username}@{right.host}:{right.port}/postgres"  # no password
    with pytest.raises(DatabaseError) as caught:
        open_database(url)
    message = str(caught.value)
    assert "asks for a password and TRANSOM_DATABASE_URL gives none" in message, message
    assert "refused" not in message and "cannot reach" not in message


@pytest.mark.parametrize(("url", "fragment"), [
    ("mysql://u:p@127.0.0.1/x", "Transom keeps its runs in SQLite or PostgreSQL, not mysql"),
    ("mongodb://u:p@127.0.0.1/x", "Transom keeps its runs in SQLite or PostgreSQL, not mongodb"),
    ("oracle+nodriver://u:p@h/x", "not oracle"),
    ("postgresql+psycopg2://u:p@127.0.0.1/x", 'pip install "psycopg2-binary"'),
    ("postgresql+asyncpg://u:p@127.0.0.1/x", "use postgresql:// (psycopg)"),
])
def test_database_urls_transom_cannot_use_are_each_named(url: str, fragment: str) -> None:
    import importlib.util

    if "psycopg2" in url and importlib.util.find_spec("psycopg2") is not None:
        pytest.skip("psycopg2 is installed here")
    with pytest.raises(DatabaseError) as caught:
        open_database(url)
    message = str(caught.value)
    assert fragment in message, message
    assert "NoSuchModuleError" not in message and "sqlalchemy" not in message.lower(), message
    if "psycopg2" not in url:
        assert "psycopg[binary]" not in message, message


def test_postgresql_unreachable_names_the_host() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once the socket closes
    with pytest.raises(DatabaseError, match=rf"cannot reach the database server at 127\.0\.0\.1:{port}/x"):
        open_database(f"postgresql://u:p@127.0.0.1:{port}/x")


def test_every_connection_gets_the_pragmas(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'transom.db'}", busy_timeout=2.5)
    try:
        for _ in range(2):
            with db.read() as conn:
                pragma = conn.exec_driver_sql
                assert pragma("PRAGMA journal_mode").scalar() == "wal"
                assert pragma("PRAGMA synchronous").scalar() == 1  # NORMAL
                assert pragma("PRAGMA foreign_keys").scalar() == 1
                assert pragma("PRAGMA busy_timeout").scalar() == 2500
        assert db.dialect == "sqlite" and db.url.startswith("sqlite:///")
    finally:
        db.close()


def test_a_write_transaction_takes_the_lock_when_it_begins(tmp_path: Path) -> None:
    path = tmp_path / "transom.db"
    db = open_database(f"sqlite:///{path}")
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        with db.write() as conn:
            conn.exec_driver_sql("SELECT 1")  # reads nothing, yet the write lock is already held
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        other.execute("BEGIN IMMEDIATE")  # free again once the transaction ended
        other.execute("ROLLBACK")
    finally:
        other.close()
        db.close()


def test_write_now_never_waits_and_leaves_the_connection_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "transom.db"
    db = open_database(f"sqlite:///{path}", busy_timeout=5)
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        with db.write_now() as conn:  # nothing holds the lock: it writes
            conn.exec_driver_sql("INSERT INTO flows (id, name, created) VALUES "
                                 "('00000000000000000000000000000001', 'a', '2026-01-01')")
        # Another writer (a flow recording into the file) holds SQLite's lock: WriteWouldWait
        # at once, not a wait of the busy timeout ending in a "locked" error.
        holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(WriteWouldWait):
            with db.write_now():
                raise AssertionError("must not begin")
        holder.execute("ROLLBACK")
        # A write of this process (in another thread) holds it: the same.
        inside, release = threading.Event(), threading.Event()

        def writing() -> None:
            with db.write():
                inside.set()
                release.wait(10)

        thread = threading.Thread(target=writing)
        thread.start()
        inside.wait(10)
        with pytest.raises(WriteWouldWait):
            with db.write_now():
                raise AssertionError("must not begin")
        release.set()
        thread.join(10)
        # Only its BEGIN does not wait: then, and for `write`, the busy timeout is as configured.
        with db.write_now() as conn:
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
        with db.write() as conn:
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
            conn.exec_driver_sql("INSERT INTO flows (id, name, created) VALUES "
                                 "('00000000000000000000000000000002', 'b', '2026-01-01')")
        with db.read() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM flows").scalar() == 2
    finally:
        holder.close()
        db.close()


def test_two_processes_recording_into_one_file_at_once(tmp_path: Path) -> None:
    path = tmp_path / "shared" / "transom.db"
    go = tmp_path / "go"
    code = textwrap.dedent(f"""
        import pathlib, sys, time, uuid
        from transom.core import states as st
        from transom.core.recorder import FlowRunCreated, LogRecorded, StateChanged, TaskRunCreated
        from transom.store.sink import StoreSink

        sink = StoreSink({f"sqlite:///{path}"!r}, busy_timeout=30)
        while not pathlib.Path({str(go)!r}).exists():
            time.sleep(0.005)
        for _ in range(40):
            run = FlowRunCreated(uuid.uuid4(), sys.argv[1], "r")
            batch = [run, StateChanged(run.id, False, st.Running(), 1)]
            for i in range(10):
                task = uuid.uuid4()
                batch += [TaskRunCreated(task, run.id, "k", f"t-{{i}}", i),
                          StateChanged(task, True, st.Completed(), 1),
                          LogRecorded(run.id, task, 20, "x", "hi")]
            sink.write(batch + [StateChanged(run.id, False, st.Completed(), 1)])
        sink.close()
    """)
    procs = [subprocess.Popen([sys.executable, "-c", code, name], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for name in ("left", "right")]
    go.touch()
    results = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    with sqlite3.connect(path) as raw:
        per_flow = dict(raw.execute(
            "SELECT f.name, COUNT(*) FROM flow_runs r JOIN flows f ON f.id = r.flow_id "
            "WHERE r.state_type = 'COMPLETED' GROUP BY f.name").fetchall())
        counts = [raw.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                  for t in ("task_runs", "logs", "states")]
    assert per_flow == {"left": 40, "right": 40}
    assert counts == [800, 800, 80 * 2 + 800]


def test_a_database_from_a_newer_transom_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'transom.db'}"
    open_database(url).close()
    with sqlite3.connect(tmp_path / "transom.db") as raw:
        raw.execute("UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(DatabaseError, match="schema revision '9999', made by a newer Transom") as info:
        open_database(url)
    assert info.value.permanent


def test_reset_empties_the_database(tmp_path: Path) -> None:
    import uuid

    from transom.core.recorder import FlowRunCreated
    from transom.store import queries, reset
    from transom.store.sink import StoreSink

    db = open_database(f"sqlite:///{tmp_path / 'transom.db'}")
    try:
        StoreSink("unused", database=db).write([FlowRunCreated(uuid.uuid4(), "f", "r")])
        reset(db)
        assert db.revision() == HEAD_REVISION
        with db.read() as conn:
            assert queries.count_flow_runs(conn) == 0 and queries.list_flows(conn) == []
    finally:
        db.close()


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux /proc")
def test_a_folder_where_no_file_can_be_created(tmp_path: Path) -> None:
    # /proc/self exists but takes no new files, even for root (unlike a chmod-ed folder).
    with pytest.raises(DatabaseError, match=r"^cannot create the database at /proc/self/transom\.db: "
                                            r"[^;]+; set TRANSOM_HOME to a writable folder$") as info:
        open_database("sqlite:////proc/self/transom.db")
    assert info.value.permanent


def test_error_sentences_are_single_lines() -> None:
    import sqlalchemy as sa

    from transom.store.database import describe_error

    def sentence(text: str) -> str:
        return describe_error(sa.exc.OperationalError("SELECT 1", {}, Exception(text)), "db.example:5432/t")[0]

    refused = sentence('connection failed: connection to server at "10.0.0.1", port 5432 failed: '
                       "Connection refused\n\tIs the server running on that host?")
    assert refused == "cannot reach the database server at db.example:5432/t: connection refused; is it running?"
    unknown = sentence("failed to resolve host 'db.example': [Errno -2] Name or service not known")
    assert "its host name is unknown" in unknown
    other = sentence("server closed the connection unexpectedly\nThis probably means...")
    assert "\n" not in other and other.endswith("server closed the connection unexpectedly")
