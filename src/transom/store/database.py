"""Opening the database: engine, SQLite pragmas, migrations, and errors in one sentence.

SQLite runs in WAL mode with a busy timeout; writes take the lock up front (`BEGIN IMMEDIATE`) so
two writers queue instead of failing half-way. Migrations run on first use; the common case (the
schema is current) costs one query and does not import Alembic.
"""

from __future__ import annotations

import json
import re
import sqlite3
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from transom.exceptions import DatabaseError, ValueRefused, WriteConflict

__all__ = ["HEAD_REVISION", "Database", "WriteWouldWait", "open_database", "reset", "upgrade"]

HEAD_REVISION = "0014"
# Every revision this version knows, oldest first: a database stamped with anything else was
# migrated by a newer Transom, and Alembic must not be let loose on it.
KNOWN_REVISIONS: tuple[str, ...] = ("0001", "0002", "0003", "0004", "0005", "0006", "0007",
                                    "0008", "0009", "0010", "0011", "0012", "0013", "0014")
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

    def __init__(self, engine: Engine, where: str, path: Path | None = None, *,
                 busy_timeout: float = 30.0) -> None:
        self.engine = engine
        self.busy_timeout = busy_timeout
        self.where = where  # the file or host, for messages
        self.path = path  # the SQLite file, if it is one
        # Flow name -> id, for flows known to be committed here. Saves a lookup per run created
        # through the API. Add to it only after the transaction committed; a write that fails on
        # a cached id (`transom db reset` by another process) forgets it and looks again.
        self.flow_ids: dict[str, uuid.UUID] = {}
        self._write_lock = threading.Lock()  # SQLite only: PostgreSQL writes run side by side
        # SQLite: the one connection this process writes with (its writes queue on the lock
        # anyway), kept open rather than taken from the pool for every write.
        self._writer: Connection | None = None

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection for reading; database errors come out as one-sentence DatabaseErrors."""
        with _translate_errors(self.where, self.path), self.engine.connect() as conn:
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction that holds the write lock from its start (SQLite: BEGIN IMMEDIATE),
        committed when the block ends and rolled back if it raises."""
        # SQLite has one writer at a time; queueing this process's writers on a lock is fairer
        # and much faster than SQLite's busy handler, which sleeps in steps of up to 100 ms.
        if self.engine.dialect.name != "sqlite":
            with _translate_errors(self.where, self.path), self.engine.connect() as conn:
                conn = conn.execution_options(transom_write=True)
                with conn.begin():
                    yield conn
            return
        with self._write_lock, _translate_errors(self.where, self.path):
            conn = self._writer_connection()
            try:
                with conn.begin():
                    yield conn
            except sa.exc.DBAPIError:
                self._drop_writer()  # whatever went wrong, the next write starts afresh
                raise

    @contextmanager
    def write_now(self) -> Iterator[Connection]:
        """`write`'s transaction, only if it can begin without waiting: SQLite, and no write of
        this process or of another one holds the lock. Otherwise WriteWouldWait, with nothing
        done, and the caller uses `write` where waiting does no harm (a thread).

        For the server's event loop: a short write done there costs less than the trip through
        the thread pool, but the loop must never sit in a lock wait."""
        if self.engine.dialect.name != "sqlite" or not self._write_lock.acquire(blocking=False):
            raise WriteWouldWait
        try:
            with _translate_errors(self.where, self.path):
                conn = self._writer_connection()
                raw = conn.connection.dbapi_connection
                assert raw is not None
                raw.execute("PRAGMA busy_timeout = 0")  # another process's lock: fail at once
                try:
                    transaction = conn.begin()
                except sa.exc.OperationalError as exc:
                    self._drop_writer()  # a failed BEGIN leaves no state worth keeping
                    if "locked" in str(exc.orig).lower() or "busy" in str(exc.orig).lower():
                        raise WriteWouldWait from None
                    raise
                finally:  # the connection (kept, or back in the pool) waits as usual again
                    raw.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
                try:
                    with transaction:
                        yield conn
                except sa.exc.DBAPIError:
                    self._drop_writer()
                    raise
        finally:
            self._write_lock.release()

    def _writer_connection(self) -> Connection:
        conn = self._writer
        if conn is None or conn.closed or conn.invalidated:
            conn = self._writer = self.engine.connect().execution_options(transom_write=True)
        return conn

    def _drop_writer(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def revision(self) -> str | None:
        """The schema revision stamped in the database; None for an empty database."""
        with self.read() as conn:
            return _revision(conn)

    def close(self) -> None:
        with self._write_lock:
            self._drop_writer()
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
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise DatabaseError(
            f"Transom keeps its runs in SQLite or PostgreSQL, not {backend}; set "
            "TRANSOM_DATABASE_URL to sqlite:///path/to/transom.db or "
            "postgresql://user:password@host:5432/db", permanent=True)
    if backend == "sqlite":
        engine, where = _sqlite_engine(parsed, busy_timeout)
    else:
        where = f"{parsed.host or 'localhost'}:{parsed.port or 5432}/{parsed.database or ''}"
        _check_postgresql_driver(parsed.get_driver_name())
        try:
            engine = sa.create_engine(parsed, pool_pre_ping=True, json_serializer=_json_dumps)
        except (ModuleNotFoundError, sa.exc.NoSuchModuleError) as exc:
            raise DatabaseError(_missing_driver(parsed.get_driver_name(), exc),
                                permanent=True) from None
    db = Database(engine, where, _sqlite_path(parsed), busy_timeout=busy_timeout)
    if migrate:
        try:
            _migrate_on_open(db, busy_timeout)
        except BaseException:
            db.close()
            raise
        if db.path is not None:
            _record_created(db.path)
    return db


def created_marker(path: Path) -> Path:
    """The file beside a SQLite database that says Transom made a database there (and when)."""
    return path.with_name(path.name + ".created")


def check_not_emptied(path: Path) -> None:
    """DatabaseError if `path` is an empty file where Transom had made a database: SQLite would
    take it for a new database and the lost history would go unnoticed. Nothing is written."""
    marker = created_marker(path)
    try:
        if path.stat().st_size != 0 or not marker.is_file():
            return
        created = marker.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return
    when = f" on {created}" if created else ""
    raise DatabaseError(
        f"the database file {path} is empty (0 bytes) although Transom made a database there"
        f"{when}, so its history is gone from that file; restore the file from a backup, or "
        f"delete {marker.name} beside it to start a new empty database", permanent=True)


def _record_created(path: Path) -> None:
    marker = created_marker(path)
    if marker.exists():
        return
    try:
        marker.write_text(time.strftime("%Y-%m-%d %H:%M:%S %z") + "\n", encoding="utf-8")
    except OSError:
        pass  # a read-only folder: the check above just has nothing to go by


_POSTGRESQL_DRIVERS = {"psycopg": "psycopg[binary]", "psycopg2": "psycopg2-binary",
                       "pg8000": "pg8000"}
"""The synchronous PostgreSQL drivers SQLAlchemy knows, and the package each comes in."""


def _check_postgresql_driver(driver: str) -> None:
    if driver not in _POSTGRESQL_DRIVERS:
        kind = "an asynchronous driver" if driver in ("asyncpg", "psycopg_async") else \
            "not a driver Transom can use"
        raise DatabaseError(f"postgresql+{driver} is {kind}; use postgresql:// (psycopg) in "
                            "TRANSOM_DATABASE_URL", permanent=True)


def _missing_driver(driver: str, exc: BaseException) -> str:
    package = _POSTGRESQL_DRIVERS.get(driver, "psycopg[binary]")
    module = getattr(exc, "name", None) or driver
    return (f"the PostgreSQL driver {driver} is not installed (no module {module}); install it "
            f"with: pip install \"{package}\"")


def _migrate_on_open(db: Database, busy_timeout: float) -> None:
    # Processes creating one fresh SQLite file at once can meet a SQLITE_BUSY that SQLite
    # returns at once instead of waiting (while the first one switches the new file to WAL):
    # such passing failures are retried for up to the busy timeout, then reported.
    deadline = time.monotonic() + max(busy_timeout, 1.0)
    delay = 0.02
    while True:
        try:
            if db.revision() != HEAD_REVISION:  # the common case costs this one query
                upgrade(db)
            return
        except DatabaseError as exc:
            if not _is_busy(exc) or time.monotonic() + delay > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.5)


def _is_busy(exc: DatabaseError) -> bool:
    cause = exc.__cause__
    return isinstance(cause, sa.exc.OperationalError) and isinstance(cause.orig, sqlite3.Error) \
        and "locked" in str(cause.orig).lower()


def _sqlite_path(parsed: sa.engine.URL) -> Path | None:
    database = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or database in ("", ":memory:") \
            or database.startswith("file:"):
        return None
    return Path(database)


def _revision(conn: Connection) -> str | None:
    try:
        value = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    except sa.exc.OperationalError as exc:  # SQLite
        if "no such table" not in str(exc.orig).lower():
            raise  # locked, corrupt, ...: not a missing schema
        return None
    except sa.exc.ProgrammingError as exc:  # PostgreSQL
        if getattr(exc.orig, "sqlstate", None) != "42P01":  # undefined_table
            raise
        conn.rollback()
        return None
    return None if value is None else str(value)


def _check_known(revision: str | None, where: str) -> None:
    if revision is not None and revision not in KNOWN_REVISIONS:
        raise DatabaseError(
            f"the database {where} has schema revision {revision!r}, made by a newer Transom; "
            "upgrade Transom (pip install -U transom) or point TRANSOM_DATABASE_URL elsewhere",
            permanent=True)


def _sqlite_engine(parsed: sa.engine.URL, busy_timeout: float) -> tuple[Engine, str]:
    path = _sqlite_path(parsed)
    if path is not None:
        check_not_emptied(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DatabaseError(f"cannot create the database at {path}: {_reason(exc)}; set "
                                "TRANSOM_HOME to a writable folder", permanent=True) from None
        where = str(path)
    else:
        where = parsed.database or ":memory:"
    engine = sa.create_engine(parsed, json_serializer=_json_dumps,
                              connect_args={"timeout": busy_timeout, "check_same_thread": False})

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
    try:
        _upgrade_locked(db, fresh_fast_path)
    except DatabaseError:
        # Another process may have won a race we lost in a way no lock covers (e.g. two
        # PostgreSQL servers creating tables at once): if the schema is current now, all is well.
        try:
            current = db.revision()
        except DatabaseError:
            current = None
        if current != HEAD_REVISION:
            raise


def _upgrade_locked(db: Database, fresh_fast_path: bool) -> None:
    # One write transaction around the whole upgrade: on SQLite (BEGIN IMMEDIATE) and on
    # PostgreSQL (an advisory lock) a second process waits, then finds the schema current.
    with _migrate_lock, _translate_errors(db.where, db.path), db.engine.connect() as conn:
        conn = conn.execution_options(transom_write=True)
        with conn.begin():
            if db.dialect == "postgresql":
                conn.exec_driver_sql("SELECT pg_advisory_xact_lock(4200)")
            tables = set(sa.inspect(conn).get_table_names())
            current = _revision(conn) if "alembic_version" in tables else None
            _check_known(current, db.where)
            if current == HEAD_REVISION:
                return  # done by another process while we waited for the lock
            if fresh_fast_path and not tables:
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


class WriteWouldWait(Exception):
    """`Database.write_now` could not begin without waiting (the caller waits elsewhere)."""


@contextmanager
def _translate_errors(where: str, path: Path | None = None) -> Iterator[None]:
    try:
        yield
    except (sa.exc.IntegrityError, sa.exc.DataError) as exc:
        # A value or a write the database refuses for good: the caller's, 409/422, not a 503.
        text = _first_line(str(exc.orig) if exc.orig is not None else str(exc))
        low = text.lower()
        if isinstance(exc, sa.exc.IntegrityError) and ("unique" in low or "foreign key" in low
                                                       or "duplicate" in low):
            raise WriteConflict(f"the write conflicts with what {where} holds: {text}") from exc
        raise ValueRefused(f"{where} refused a value: {text}") from exc
    except sa.exc.DBAPIError as exc:
        message, permanent = describe_error(exc, where, path)
        raise DatabaseError(message, permanent=permanent) from exc


def describe_error(exc: sa.exc.DBAPIError, where: str,
                   path: Path | None = None) -> tuple[str, bool]:
    """One sentence for a database failure a user can act on, and whether retrying is futile."""
    text = str(exc.orig) if exc.orig is not None else str(exc)
    low = text.lower()
    if "file is not a database" in low or "malformed" in low:
        return (f"{where} is not a SQLite database (corrupt, or another kind of file); move it "
                "away or point TRANSOM_DATABASE_URL elsewhere"), True
    if "database is locked" in low or "database table is locked" in low:
        return (f"the database {where} is locked by another process and stayed locked past the "
                "busy timeout; close the other program or raise TRANSOM_SQLITE_BUSY_TIMEOUT"), False
    if "unable to open database" in low:
        return (f"cannot create the database at {where}: {_unopenable_reason(path)}; set "
                "TRANSOM_HOME to a writable folder"), True
    if "readonly database" in low or "read-only" in low:
        return (f"cannot write the database {where}: it is read-only; make the file and its "
                "folder writable or set TRANSOM_HOME"), True
    if "disk i/o error" in low or "disk is full" in low or "database or disk is full" in low:
        return f"cannot write the database {where}: the disk failed or is full ({_first_line(text)})", False
    if "password authentication failed" in low:
        user = re.search(r'for user "([^"]*)"', text)
        whom = f" for user {user.group(1)}" if user else ""
        return (f"the database server at {where} refused the password{whom}; check the user "
                "name and password in TRANSOM_DATABASE_URL"), True
    if "no password supplied" in low:
        return (f"the database server at {where} asks for a password and TRANSOM_DATABASE_URL "
                "gives none; add it as postgresql://user:password@host:port/db"), True
    if "does not exist" in low and "database" in low:
        return f"the database at {where} does not exist; create it first ({_first_line(text)})", True
    if "connection refused" in low:
        return f"cannot reach the database server at {where}: connection refused; is it running?", False
    if "resolve host" in low or "translate host name" in low or "name or service not known" in low:
        return (f"cannot reach the database server at {where}: its host name is unknown; check "
                "the host in TRANSOM_DATABASE_URL"), False
    if "could not connect" in low or "connection failed" in low:
        return f"cannot reach the database server at {where}: {_first_line(text)}", False
    if "timeout" in low or "timed out" in low:
        return f"the database server at {where} did not answer in time", False
    return f"database error at {where}: {_first_line(text)}", False


def _unopenable_reason(path: Path | None) -> str:
    """Why SQLite could not open `path`, in the operating system's words where it has some."""
    if path is None:
        return "SQLite cannot open it"
    if path.is_dir():
        return "it is a folder"
    try:
        # SQLite needs to create the file and, in WAL mode, two more beside it.
        with tempfile.TemporaryFile(dir=path.parent, prefix=".transom-write-test-"):
            pass
    except OSError as exc:
        return _reason(exc)
    return "SQLite cannot open it"


def _reason(exc: OSError) -> str:
    return (exc.strerror or type(exc).__name__).lower()


def _json_dumps(value: object) -> str:
    # A value JSON cannot hold is stored as its str() rather than failing the whole batch.
    return json.dumps(value, default=str)


def _first_line(text: str) -> str:
    return re.split(r"[\r\n]", text.strip(), maxsplit=1)[0]
