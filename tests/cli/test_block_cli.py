"""Blocks from a real `python flow.py` and `transom block ls/inspect/delete/types` in real
subprocesses: with no server (the embedded database of a fresh home) and against a live server
(TRANSOM_API_URL). The secret is never printed unless asked for, is redacted from the run's
logs, and is not in the database file's bytes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from tests.cli.conftest import Transom, clean_environ
from tests.server.conftest import LiveServer

from transom.schemas import BlockDocumentRead, BlockTypeRead
from transom.settings import Settings

# Each test runs a dozen commands, each a new process: more than the default 120 s under load.
pytestmark = pytest.mark.timeout(360)

VALUE = "s3cret-9f2b41d7"

FLOW = f'''
from transom import flow, get_run_logger
from transom.blocks.system import Secret

@flow(log_prints=True)
def uses_a_secret() -> str:
    Secret(value="{VALUE}").save("db-password")
    password = Secret.load("db-password").get()
    get_run_logger().info("connecting with %s", password)
    print("the password is", password)
    return password

if __name__ == "__main__":
    assert uses_a_secret() == "{VALUE}"
'''


def _database_bytes(folder: Path) -> bytes:
    return b"".join(f.read_bytes() for f in sorted(folder.glob("**/*.db*")) if f.is_file())


def test_a_flow_saves_and_loads_a_secret_and_the_cli_keeps_it_hidden(
        transom: Transom, backend_env: dict[str, str], home: Path, tmp_path: Path) -> None:
    script = tmp_path / "flow.py"
    script.write_text(FLOW, encoding="utf-8")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          env={**clean_environ(home), **backend_env}, cwd=tmp_path, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "connecting with **********" in done.stderr  # the console, redacted too
    assert "the password is **********" in done.stderr
    assert VALUE not in done.stdout + done.stderr

    [run] = json.loads(transom("runs", "ls", "-o", "json", env=backend_env).stdout)
    assert (run["flow_name"], run["state_type"]) == ("uses-a-secret", "COMPLETED")  # recorded
    logged = [line["message"] for line in json.loads(
        transom("runs", "logs", run["id"], "-o", "json", env=backend_env).stdout)]
    assert "connecting with **********" in logged and "the password is **********" in logged
    assert not [line for line in logged if VALUE in line]

    listed = transom("block", "ls", "-o", "json", env=backend_env)
    [block] = [BlockDocumentRead.model_validate(b) for b in json.loads(listed.stdout)]
    assert (block.block_type_slug, block.name, block.data) == (
        "secret", "db-password", {"value": "**********"})
    table = transom("block", "ls", env=backend_env).stdout
    assert "Blocks (1)" in table and "secret/db-password" in table and VALUE not in table
    shown = transom("block", "inspect", "secret/db-password", env=backend_env)
    assert shown.code == 0 and '"value": "**********"' in shown.stdout and VALUE not in shown.stdout
    hidden = json.loads(transom("block", "inspect", "secret/db-password", "-o", "json",
                                env=backend_env).stdout)
    assert hidden["data"] == {"value": "**********"} and hidden["secrets_included"] is False
    asked = transom("block", "inspect", "secret/db-password", "--show-secrets", "-o", "json",
                    env=backend_env)
    assert json.loads(asked.stdout)["data"] == {"value": VALUE}
    assert VALUE in transom("block", "inspect", "secret/db-password", "--show-secrets",
                            env=backend_env).stdout
    [kind] = [BlockTypeRead.model_validate(t) for t in json.loads(
        transom("block", "types", "-o", "json", env=backend_env).stdout)]
    assert (kind.slug, kind.name) == ("secret", "Secret")
    assert "secret" in transom("block", "types", env=backend_env).stdout

    stored = _database_bytes(tmp_path)  # the embedded home's file, or the server's
    assert b"db-password" in stored and VALUE.encode() not in stored

    done = transom("block", "delete", "secret/db-password", env=backend_env)
    assert done.code == 0 and "Block secret/db-password deleted." in done.stdout
    transom("block", "inspect", "secret/db-password", env=backend_env).assert_user_error(
        "no block named secret/db-password")
    transom("block", "delete", "secret/db-password", env=backend_env).assert_user_error(
        "no block named secret/db-password")
    assert "No blocks yet" in transom("block", "ls", env=backend_env).stdout


def test_a_wrong_or_malformed_key_is_one_sentence(transom: Transom, home: Path,
                                                 tmp_path: Path) -> None:
    script = tmp_path / "flow.py"
    script.write_text(FLOW, encoding="utf-8")
    key = {"TRANSOM_SECRETS_KEY": Fernet.generate_key().decode()}
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          env={**clean_environ(home), **key}, cwd=tmp_path, timeout=60)
    assert done.returncode == 0, done.stderr
    assert not (home / "secrets.key").exists()  # the key of the environment was used
    transom("block", "inspect", "secret/db-password", "--show-secrets", env={
        "TRANSOM_SECRETS_KEY": Fernet.generate_key().decode()}).assert_user_error(
        "the secrets of block secret/db-password cannot be decrypted with the key of "
        "TRANSOM_SECRETS_KEY", "not the key they were saved with")
    transom("block", "inspect", "secret/db-password", "--show-secrets").assert_user_error(
        "no secrets key at", "secrets.key")
    transom("block", "inspect", "secret/db-password", "--show-secrets", env={
        "TRANSOM_SECRETS_KEY": "not-a-key"}).assert_user_error("is not a Fernet key")
    assert transom("block", "inspect", "secret/db-password", env={
        "TRANSOM_SECRETS_KEY": "not-a-key"}).code == 0  # no secrets asked for: no key needed
    shown = transom("block", "inspect", "secret/db-password", "--show-secrets", env=key)
    assert shown.code == 0 and VALUE in shown.stdout
    transom("block", "inspect", "db-password").assert_user_error("give it as TYPE-SLUG/NAME")


def test_against_a_server_its_own_key_decides(transom: Transom, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'server.db'}"
    servers = [LiveServer(Settings.load({}, home=tmp_path / "server", database_url=url,
                                        server_services=False, secrets_key=key))
               for key in (Fernet.generate_key().decode(), Fernet.generate_key().decode())]
    for server in servers:
        server.start()
    try:
        script = tmp_path / "flow.py"
        script.write_text(FLOW, encoding="utf-8")
        done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                              env={**clean_environ(tmp_path / "client"),
                                   "TRANSOM_API_URL": servers[0].url}, timeout=60)
        assert done.returncode == 0, done.stderr
        assert not (tmp_path / "client" / "secrets.key").exists()  # the server's key it is
        assert VALUE in transom("block", "inspect", "secret/db-password", "--show-secrets",
                                env={"TRANSOM_API_URL": servers[0].url}).stdout
        transom("block", "inspect", "secret/db-password", "--show-secrets", env={
            "TRANSOM_API_URL": servers[1].url}).assert_user_error(
            "cannot be decrypted with the key of TRANSOM_SECRETS_KEY")
    finally:
        for server in servers:
            server.stop()
