"""`transom.blocks` as Prefect 3 documents it (docs: "Blocks", api-ref prefect.blocks.core and
prefect.blocks.system): a Block subclass saved and loaded by name, `Block.load("slug/name")`,
the built-in Secret, JSON, String and DateTime, nested blocks, the async forms; with no server
and against one. Beyond Prefect: secrets encrypted in the database and redacted from run logs."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretBytes, SecretStr

from tests.compat.conftest import Where
from transom import flow, get_run_logger, runtime
from transom.blocks import SecretDict
from transom.blocks.core import Block
from transom.blocks.system import JSON, DateTime, Secret, String
from transom.core.context import reset_runtime
from transom.services import open_backend


class Credentials(Block):
    user: str
    password: SecretStr


class Warehouse(Block):
    """A block with a nested one (saved inline) and secrets of every kind."""

    host: str
    port: int = 5432
    credentials: Credentials
    certificate: SecretBytes | None = None
    options: SecretDict | None = None


def _database_bytes(folder: Path) -> bytes:
    return b"".join(file.read_bytes() for file in sorted(folder.glob("transom.db*")))


def test_the_documented_secret_lifecycle(where: Where) -> None:
    secret_id = Secret(value="sk-live-8d1e5fb2").save("stripe-key")
    assert isinstance(secret_id, uuid.UUID)
    loaded = Secret.load("stripe-key")
    assert loaded.get() == "sk-live-8d1e5fb2" and isinstance(loaded.value, SecretStr)
    assert "sk-live" not in repr(loaded) and "sk-live" not in str(loaded.model_dump())
    assert Block.load("secret/stripe-key").get() == "sk-live-8d1e5fb2"  # on the base class
    with pytest.raises(ValueError, match=r"secret/stripe-key already exists.*overwrite=True"):
        Secret(value="other").save("stripe-key")
    Secret(value="sk-live-rotated").save("stripe-key", overwrite=True)
    assert Secret.load("stripe-key").get() == "sk-live-rotated"
    Secret.delete("stripe-key")
    with pytest.raises(ValueError, match="no block named secret/stripe-key"):
        Secret.load("stripe-key")
    with pytest.raises(ValueError, match="no block named secret/stripe-key"):
        Secret.delete("stripe-key")


def test_a_dict_secret_comes_back_as_a_dict(where: Where) -> None:
    Secret(value={"api_key": "k-91ab", "region": "eu"}).save("aws")
    loaded = Secret.load("aws")
    assert isinstance(loaded.value, SecretDict) and loaded.get() == {"api_key": "k-91ab",
                                                                      "region": "eu"}


def test_the_other_system_blocks_and_their_slugs(where: Where) -> None:
    when = datetime(2026, 12, 1, 9, 30, tzinfo=timezone.utc)
    JSON(value={"a": [1, 2.5, None]}).save("settings")
    String(value="hello").save("greeting")
    DateTime(value=when).save("launch")
    assert JSON.load("settings").value == {"a": [1, 2.5, None]}
    assert String.load("greeting").value == "hello"
    assert DateTime.load("launch").value == when
    assert Block.load("date-time/launch").value == when
    assert [JSON.get_block_type_slug(), String.get_block_type_slug(),
            DateTime.get_block_type_slug(), Secret.get_block_type_slug(),
            Warehouse.get_block_type_slug()] == ["json", "string", "date-time", "secret",
                                                 "warehouse"]
    with open_backend() as backend:
        kinds = {kind.slug: kind for kind in backend.list_block_types()}
    assert set(kinds) == {"json", "string", "date-time"}
    assert kinds["date-time"].name == "Date Time"
    assert kinds["string"].block_schema["properties"]["value"]["type"] == "string"


def test_a_block_with_a_nested_block_and_secrets_round_trips(where: Where) -> None:
    block = Warehouse(host="db.internal", credentials=Credentials(user="etl",
                                                                  password="pw-7c2e91"),
                      certificate=b"-----CERT-4b1d-----", options={"sslmode": "verify-full"})
    block.save("prod")
    loaded = Warehouse.load("prod")
    assert loaded.credentials.password.get_secret_value() == "pw-7c2e91"
    assert loaded.certificate is not None
    assert loaded.certificate.get_secret_value() == b"-----CERT-4b1d-----"
    assert loaded.options is not None
    assert loaded.options.get_secret_value() == {"sslmode": "verify-full"}
    assert (loaded.host, loaded.port, loaded.credentials.user) == ("db.internal", 5432, "etl")
    with open_backend() as backend:
        shown = backend.read_block("warehouse", "prod")
        [kind] = [k for k in backend.list_block_types() if k.slug == "warehouse"]
    assert shown.secret_fields == ["certificate", "options", "credentials.password"]
    assert shown.data["credentials"] == {"user": "etl", "password": "**********"}
    assert "credentials" in kind.block_schema["properties"]  # the class's JSON schema
    data = _database_bytes(where.folder)
    assert b"db.internal" in data  # the file holds the block
    for secret in (b"pw-7c2e91", b"CERT-4b1d", b"verify-full"):
        assert secret not in data
    loaded.port = 6432
    loaded.save(overwrite=True)  # a loaded block saves under its own name
    assert Warehouse.load("prod").port == 6432
    loaded.delete()
    with pytest.raises(ValueError, match="no block named warehouse/prod"):
        Block.load("warehouse/prod")


def test_names_and_types_are_checked(where: Where) -> None:
    with pytest.raises(ValueError, match="cannot be a block name: use lowercase letters"):
        String(value="x").save("Not A Name")
    with pytest.raises(ValueError, match="names no block type: load it as 'type-slug/plain'"):
        Block.load("plain")
    with pytest.raises(ValueError, match="no Block class of type 'nothing'"):
        Block.load("nothing/x")
    String(value="x").save("s")
    with pytest.raises(ValueError, match="string/s is a String, not a Secret"):
        Secret.load("string/s")
    with pytest.raises(ValueError, match="needs the block's name"):
        String(value="never saved").delete()


def test_in_async_code_the_methods_are_awaited(where: Where) -> None:
    @flow
    async def rotate() -> list[Any]:
        await Secret(value="async-secret-1").save("rotating")
        first = (await Secret.load("rotating")).get()
        await Secret(value="async-secret-2").asave("rotating", overwrite=True)
        second = (await Secret.aload("rotating")).get()
        await Secret.adelete("rotating")
        try:
            await Secret.aload("rotating")
        except ValueError:
            gone = True
        return [first, second, gone]

    assert asyncio.run(rotate()) == ["async-secret-1", "async-secret-2", True]


def test_a_flow_that_logs_a_loaded_secret_records_it_redacted(
        where: Where, capfd: pytest.CaptureFixture[str]) -> None:
    value = "pg-pass-5e3a0c77"

    @flow(log_prints=True)
    def uses_a_secret() -> uuid.UUID:
        Secret(value=value).save("warehouse-password", overwrite=True)
        password = Secret.load("warehouse-password").get()
        get_run_logger().info("connecting with %s", password)
        print(f"password={password}")
        logging.getLogger("transom.flow_runs").info("nothing secret here")
        assert password == value  # the flow has the value itself
        return uuid.UUID(runtime.flow_run.id)

    run_id = uses_a_secret()
    reset_runtime()  # every log line written
    with open_backend() as backend:
        logs = [line.message for line in backend.flow_run_logs(run_id).items]
        assert backend.read_flow_run(run_id).state_type == "COMPLETED"
    assert "connecting with **********" in logs and "password=**********" in logs
    assert not [line for line in logs if value in line]
    console = capfd.readouterr()
    assert "connecting with **********" in console.err and value not in console.err + console.out
    assert value.encode() not in _database_bytes(where.folder)


def test_a_block_type_registers_without_a_block(where: Where) -> None:
    class Cube(Block):
        edge_length_inches: float

    Cube.register_type_and_schema()
    with open_backend() as backend:
        [kind] = backend.list_block_types()
        assert backend.list_blocks() == []
    assert (kind.slug, kind.name) == ("cube", "Cube")
    assert kind.block_schema["properties"]["edge_length_inches"]["type"] == "number"

    class Bad(Block):
        _block_type_slug = "Not A Slug"

    with pytest.raises(ValueError, match=r"Bad cannot be a block type: .*cannot be a block type"):
        Bad.register_type_and_schema()


def test_a_secret_inside_a_list_is_refused_rather_than_lost(where: Where) -> None:
    class Keys(Block):
        keys: list[SecretStr]

    with pytest.raises(ValueError, match=r"keys holds a secret inside a list or dict.*SecretDict"):
        Keys(keys=[SecretStr("k-1"), SecretStr("k-2")]).save("many")
    with open_backend() as backend:
        assert backend.list_blocks() == []


def test_blocks_in_a_list_are_kept_when_they_hold_no_secret(where: Where) -> None:
    class Hosts(Block):
        hosts: list[String]

    Hosts(hosts=[String(value="a"), String(value="b")]).save("pair")
    assert [h.value for h in Hosts.load("pair").hosts] == ["a", "b"]


@pytest.mark.parametrize("value", [["k-1", "k-2"], 123456, 2.5, True])
def test_a_secret_of_any_other_json_value_comes_back_as_it_was(where: Where, value: Any) -> None:
    Secret(value=value).save("other-json")
    got = Secret.load("other-json").get()
    assert got == value and type(got) is type(value)
    with open_backend() as backend:
        assert backend.read_block("secret", "other-json").data == {"value": "**********"}
