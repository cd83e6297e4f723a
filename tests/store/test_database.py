"""Opening SQLite databases: migrations, pragmas, concurrency, and the errors users meet."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from transom.exceptions import DatabaseError
from transom.store import open_database
from transom.store.database import HEAD_REVISION, normalise_url


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
    assert [p.returncode for p in procs] == [0, 0, 0], results
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


def test_postgresql_wrong_password_is_one_sentence(postgres_server: object) -> None:
    url = postgres_server.url("postgres").replace("transom-test@", "wrong@")  # type: ignore[attr-defined]
    with pytest.raises(DatabaseError, match=r"at 127\.0\.0\.1:\d+/postgres refused the user name or password"):
        open_database(url)


def test_postgresql_unreachable_names_the_host() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once the socket closes
    with pytest.raises(DatabaseError, match=rf"cannot reach the database server at 127\.0\.0\.1:{port}/x"):
        open_database(f"postgresql://u:p@127.0.0.1:{port}/x")
