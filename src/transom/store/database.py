"""Opening the database: engine, SQLite pragmas, migrations, and errors in one sentence.

SQLite runs in WAL mode with a busy timeout; writes take the lock up front (`BEGIN IMMEDIATE`) so
two writers queue instead of failing half-way. Migrations run on first use; the common case (the
schema is current) costs one query and does not import Alembic.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from transom.exceptions import DatabaseError

__all__ = ["HEAD_REVISION", "Database", "open_database", "reset", "upgrade"]

HEAD_REVISION = "0001"
_MIGRATIONS = Path(__file__).parent / "migrations"
_migrate_lock = threading.Lock()


def normalise_url(url: str) -> str:
    """Plain `postgresql://` URLs use psycopg 3 (wheels on Windows, Linux and macOS)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


class Database:
    """An open database: the SQLAlchemy engine plus how to read from and write to it."""

    def __init__(self, engine: Engine, where: str) -> None:
        self.engine = engine
        self.where = where  # the file or host, for messages

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with _translate_errors(self.where), self.engine.connect() as conn:
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction that holds the write lock from its start (SQLite: BEGIN IMMEDIATE)."""
        with _translate_errors(self.where), self.engine.connect() as conn:
            conn = conn.execution_options(transom_write=True)
            with conn.begin():
                yield conn

    def revision(self) -> str | None:
        with self.read() as conn:
            try:
                return conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
            except sa.exc.OperationalError:
                return None  # SQLite: no such table
            except sa.exc.ProgrammingError:
                conn.rollback()  # PostgreSQL: undefined table
                return None

    def close(self) -> None:
        self.engine.dispose()


def open_database(url: str, *, busy_timeout: float = 30.0, migrate: bool = True) -> Database:
    """Open (creating and migrating if needed) the database at `url`."""
    url = normalise_url(url)
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError:
        raise DatabaseError(f"the database URL {url!r} is not valid; expected e.g. "
                            "sqlite:///path/to/transom.db or postgresql://user:pw@host:5432/db",
                            permanent=True) from None
    if parsed.get_backend_name() == "sqlite":
        engine, where = _sqlite_engine(parsed, busy_timeout)
    else:
        where = f"{parsed.host or 'localhost'}:{parsed.port or 5432}/{parsed.database or ''}"
        try:
            engine = sa.create_engine(parsed, pool_pre_ping=True)
        except ModuleNotFoundError as exc:
            raise DatabaseError(f"the database driver for {parsed.drivername} is not installed "
                                f"({exc.name}); install it with: pip install \"psycopg[binary]\"",
                                permanent=True) from None
    db = Database(engine, where)
    if migrate and db.revision() != HEAD_REVISION:
        upgrade(db)
    return db


def _sqlite_engine(parsed: sa.engine.URL, busy_timeout: float) -> tuple[Engine, str]:
    database = parsed.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        path = Path(database)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise DatabaseError(f"cannot create the database at {path}: {reason.lower()}; set "
                                "TRANSOM_HOME to a writable folder", permanent=True) from None
        where = str(path)
    else:
        where = database or ":memory:"
    engine = sa.create_engine(parsed, connect_args={"timeout": busy_timeout,
                                                    "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (see _on_begin)
        cursor = dbapi_conn.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            if cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get("transom_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine, where


def upgrade(db: Database, *, fresh_fast_path: bool = True) -> None:
    """Bring the schema to the newest revision (safe when several processes do it at once).

    An empty database gets the current tables straight from the models and is stamped with the
    head revision (what the migrations would produce, as a test checks), which spares a new
    user's first run the import of Alembic; a database with tables is upgraded by Alembic.
    """
    # One write transaction around the whole upgrade: on SQLite a second process waits for the
    # lock, then finds the schema current and does nothing.
    with _migrate_lock, _translate_errors(db.where), db.engine.connect() as conn:
        conn = conn.execution_options(transom_write=True)
        with conn.begin():
            if db.dialect == "postgresql":
                conn.exec_driver_sql("SELECT pg_advisory_xact_lock(4200)")
            if fresh_fast_path and not sa.inspect(conn).get_table_names():
                _create_current_schema(conn)
                return
            from alembic import command
            from alembic.config import Config

            config = Config()
            config.set_main_option("script_location", str(_MIGRATIONS))
            config.attributes["connection"] = conn
            command.upgrade(config, "head")


def _create_current_schema(conn: Connection) -> None:
    from transom.store.models import metadata

    metadata.create_all(conn)
    conn.exec_driver_sql(
        "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
        "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))")
    conn.exec_driver_sql(f"INSERT INTO alembic_version (version_num) VALUES ('{HEAD_REVISION}')")


def reset(db: Database) -> None:
    """Drop every table and migrate again: an empty database."""
    from transom.store.models import metadata

    with db.write() as conn:
        metadata.drop_all(conn)
        conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    upgrade(db)


@contextmanager
def _translate_errors(where: str) -> Iterator[None]:
    try:
        yield
    except sa.exc.DBAPIError as exc:
        message, permanent = describe_error(exc, where)
        raise DatabaseError(message, permanent=permanent) from exc


def describe_error(exc: sa.exc.DBAPIError, where: str) -> tuple[str, bool]:
    """One sentence for a database failure a user can act on, and whether retrying is futile."""
    text = str(exc.orig) if exc.orig is not None else str(exc)
    low = text.lower()
    if "file is not a database" in low or "malformed" in low:
        return (f"{where} is not a SQLite database (corrupt, or another kind of file); move it "
                "away or point TRANSOM_DATABASE_URL elsewhere"), True
    if "database is locked" in low or "database table is locked" in low:
        return (f"the database {where} is locked by another process and stayed locked past the "
                "busy timeout; close the other program or raise TRANSOM_SQLITE_BUSY_TIMEOUT"), False
    if "unable to open database" in low or "readonly database" in low or "read-only" in low:
        return (f"cannot write the database {where}; check the folder's permissions or set "
                "TRANSOM_HOME"), True
    if "disk i/o error" in low or "disk is full" in low:
        return f"the disk holding {where} failed or is full ({text})", False
    if "password authentication failed" in low:
        return f"the database server at {where} refused the user name or password", True
    if "connection refused" in low or "could not connect" in low or "connection failed" in low:
        return f"cannot reach the database server at {where}: connection refused; is it running?", False
    if "does not exist" in low and "database" in low:
        return f"the database at {where} does not exist; create it first ({_first_line(text)})", True
    if "timeout" in low or "timed out" in low:
        return f"the database server at {where} did not answer in time", False
    return f"database error at {where}: {_first_line(text)}", False


def _first_line(text: str) -> str:
    return re.split(r"[\r\n]", text.strip(), maxsplit=1)[0]
