"""Blocks behind the one `Backend` protocol, embedded on SQLite and PostgreSQL and through the
HTTP client against a live server on both: saved, read with and without their secrets, listed,
deleted; the secrets encrypted in the database itself, with the storing side's key."""

from __future__ import annotations

import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.server.conftest import LiveServer
from tests.services.conftest import BACKENDS
from tests.services.test_contract import _raises
from transom.client import TransomClient
from transom.exceptions import AlreadyExists, NotFound, SecretsKeyError
from transom.schemas import BlockDocumentCreate, BlockTypeIn
from transom.services import Backend, Context, EmbeddedBackend
from transom.settings import Settings
from transom.store import open_database

PASSWORD = "correct-horse-battery-staple"
TOKEN = "tok-8f1c3b2a9d"


@pytest.fixture(params=BACKENDS)
def stored(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Backend, str, Path]]:
    """A backend, the URL of the database it stores in, and the storing side's home."""
    kind, _, database = request.param.partition("-")
    url = (str(request.getfixturevalue("postgres_url")) if database == "postgresql"
           else f"sqlite:///{tmp_path / 'transom.db'}")
    home = tmp_path / "home"
    settings = Settings.load({}, home=home, database_url=url, server_services=False)
    if kind == "embedded":
        with EmbeddedBackend(Context(open_database(url, busy_timeout=10), settings)) as embedded:
            yield embedded, url, home
        return
    server = LiveServer(settings)
    server.start()
    try:
        with TransomClient(server.url, retries=0) as client:
            yield client, url, home
    finally:
        server.stop()


def _warehouse(name: str = "prod", **data: Any) -> BlockDocumentCreate:
    return BlockDocumentCreate(
        name=name, block_type=BlockTypeIn(slug="warehouse", name="Warehouse",
                                          block_schema={"type": "object"}),
        data={"host": "db.internal", "port": 5432, "password": PASSWORD,
              "auth": {"user": "etl", "token": TOKEN}, **data},
        secret_fields=["password", "auth.token"])


def _raw_rows(url: str) -> str:
    """Everything the block tables hold, as the database returns it (no decryption)."""
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            rows = [*conn.execute(sa.text("SELECT * FROM block_documents")),
                    *conn.execute(sa.text("SELECT * FROM block_types"))]
    finally:
        engine.dispose()
    return repr(rows)


def test_a_block_saves_reads_lists_and_deletes(stored: tuple[Backend, str, Path]) -> None:
    backend, _, _ = stored
    saved = backend.save_block(_warehouse())
    assert (saved.block_type_slug, saved.block_type_name, saved.name) == (
        "warehouse", "Warehouse", "prod")
    assert saved.secret_fields == ["password", "auth.token"] and not saved.secrets_included
    hidden = {"host": "db.internal", "port": 5432, "password": "**********",
              "auth": {"user": "etl", "token": "**********"}}
    assert saved.data == hidden
    assert backend.read_block("warehouse", "prod").data == hidden
    full = backend.read_block("warehouse", "prod", include_secrets=True)
    assert full.secrets_included and full.data == {
        "host": "db.internal", "port": 5432, "password": PASSWORD,
        "auth": {"user": "etl", "token": TOKEN}}
    assert full.id == saved.id
    listed = backend.list_blocks()
    assert [(b.block_type_slug, b.name, b.data) for b in listed] == [
        ("warehouse", "prod", hidden)]
    assert backend.list_blocks(block_type="secret") == []
    [kind] = backend.list_block_types()
    assert (kind.slug, kind.name, kind.block_schema) == ("warehouse", "Warehouse",
                                                         {"type": "object"})

    error = _raises(AlreadyExists, backend.save_block, _warehouse(port=1))
    assert "warehouse/prod already exists" in str(error)
    assert backend.read_block("warehouse", "prod").data["port"] == 5432
    replaced = backend.save_block(_warehouse(port=6432), overwrite=True)
    assert replaced.id == saved.id and replaced.data["port"] == 6432
    fresh = backend.save_block(_warehouse("staging"), overwrite=True)  # overwrite creates too
    assert [b.name for b in backend.list_blocks(limit=1, offset=1)] == ["staging"]
    assert fresh.id != saved.id

    backend.delete_block("warehouse", "prod")
    _raises(NotFound, backend.read_block, "warehouse", "prod")
    _raises(NotFound, backend.delete_block, "warehouse", "prod")
    _raises(NotFound, backend.read_block, "nothing", "prod")
    _raises(NotFound, backend.read_block, "", "")
    plain = backend.save_block(BlockDocumentCreate(
        name="n", block_type=BlockTypeIn(slug="string", name="String"), data={"value": "x"}))
    assert plain.secret_fields == [] and backend.read_block(
        "string", "n", include_secrets=True).data == {"value": "x"}


def test_secrets_are_encrypted_in_the_database(stored: tuple[Backend, str, Path]) -> None:
    backend, url, home = stored
    backend.save_block(_warehouse())
    raw = _raw_rows(url)
    assert "db.internal" in raw  # the rows were read
    assert PASSWORD not in raw and TOKEN not in raw
    assert "gAAAAA" in raw  # a Fernet token
    if url.startswith("sqlite:///"):  # and not in the file's bytes either (nor its WAL)
        for file in Path(url.removeprefix("sqlite:///")).parent.glob("transom.db*"):
            assert PASSWORD.encode() not in file.read_bytes(), file
    assert backend.read_block("warehouse", "prod", include_secrets=True).data["password"] == (
        PASSWORD)
    key = home / "secrets.key"  # made by the storing side on its first secret
    assert key.is_file()
    if sys.platform != "win32":
        assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_another_key_cannot_read_the_secrets_and_says_so(tmp_path: Path) -> None:
    from cryptography.fernet import Fernet

    url = f"sqlite:///{tmp_path / 'transom.db'}"
    db = open_database(url)
    try:
        first = EmbeddedBackend(Context(db, Settings.load({}, home=tmp_path / "a")),
                                owns_database=False)
        first.save_block(_warehouse())
        other = EmbeddedBackend(Context(db, Settings.load(
            {}, home=tmp_path / "a", secrets_key=Fernet.generate_key().decode())),
            owns_database=False)
        assert other.read_block("warehouse", "prod").data["password"] == "**********"
        error = _raises(SecretsKeyError, other.read_block, "warehouse", "prod",
                        include_secrets=True)
        assert str(error).startswith("the secrets of block warehouse/prod cannot be decrypted")
        gone = EmbeddedBackend(Context(db, Settings.load({}, home=tmp_path / "b")),
                               owns_database=False)
        error = _raises(SecretsKeyError, gone.read_block, "warehouse", "prod",
                        include_secrets=True)
        assert "no secrets key at" in str(error) and not (tmp_path / "b" / "secrets.key").exists()
        assert first.read_block("warehouse", "prod", include_secrets=True).data["password"] == (
            PASSWORD)
    finally:
        db.close()


def test_a_secret_inside_another_secret_reads_back_whole(
        stored: tuple[Backend, str, Path]) -> None:
    backend, _, _ = stored
    data = {"auth": {"user": "etl", "token": TOKEN}, "note": "plain"}
    backend.save_block(BlockDocumentCreate(
        name="nested", block_type=BlockTypeIn(slug="service", name="Service"), data=data,
        secret_fields=["auth.token", "auth"]))  # the inner one first, then its holder
    assert backend.read_block("service", "nested", include_secrets=True).data == data
    hidden = backend.read_block("service", "nested")
    assert hidden.data == {"auth": "**********", "note": "plain"}
    assert hidden.secret_fields == ["auth"]


def test_a_block_type_registers_and_reregisters(stored: tuple[Backend, str, Path]) -> None:
    backend, _, _ = stored
    first = backend.register_block_type(BlockTypeIn(slug="cube", name="Cube",
                                                    block_schema={"title": "v1"}))
    again = backend.register_block_type(BlockTypeIn(slug="cube", name="Cube!",
                                                    block_schema={"title": "v2"}))
    assert again.id == first.id and (again.name, again.block_schema) == ("Cube!",
                                                                         {"title": "v2"})
    assert [(k.slug, k.block_schema) for k in backend.list_block_types()] == [
        ("cube", {"title": "v2"})]
    assert backend.list_blocks() == []
