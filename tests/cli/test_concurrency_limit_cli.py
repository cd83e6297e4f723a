"""`transom concurrency-limit create/ls/inspect/update/delete` in a real subprocess: with no
server (the embedded database of a fresh home) and against a live server (TRANSOM_API_URL)."""

from __future__ import annotations

import json

import pytest
from tests.cli.conftest import Transom

from transom.schemas import ConcurrencyLimitRead

# Each test runs a dozen commands, each a new process: more than the default 120 s under load.
pytestmark = pytest.mark.timeout(360)


def test_create_ls_inspect_update_delete(transom: Transom, backend_env: dict[str, str]) -> None:
    assert "No concurrency limits yet" in transom("concurrency-limit", "ls", env=backend_env).stdout
    done = transom("concurrency-limit", "create", "db", "--limit", "2", "--tag", env=backend_env)
    assert done.code == 0 and "Concurrency limit tag:db created with 2 slots." in done.stdout, \
        done.stderr
    done = transom("concurrency-limit", "create", "api", "--limit", "5",
                   "--slot-decay-per-second", "0.5", env=backend_env)
    assert done.code == 0, done.stderr
    listed = [ConcurrencyLimitRead.model_validate(x) for x in json.loads(transom(
        "concurrency-limit", "ls", "--output", "json", env=backend_env).stdout)]
    assert [(x.name, x.limit, x.slot_decay_per_second, x.active) for x in listed] == [
        ("api", 5, 0.5, True), ("tag:db", 2, 0.0, True)]
    table = transom("concurrency-limit", "ls", env=backend_env).stdout
    assert "Concurrency limits (2)" in table and "0 of 2" in table

    # `tag:db` and `db --tag` name the same limit.
    shown = transom("concurrency-limit", "inspect", "tag:db", env=backend_env).stdout
    assert "Concurrency limit tag:db" in shown and "In use:      0 of 2" in shown
    inspected = json.loads(transom("concurrency-limit", "inspect", "db", "--tag", "-o", "json",
                                   env=backend_env).stdout)
    assert (inspected["name"], inspected["limit"], inspected["leases"]) == ("tag:db", 2, [])

    done = transom("concurrency-limit", "update", "db", "--tag", "--limit", "3", "--disable",
                   env=backend_env)
    assert done.code == 0 and "tag:db updated: 3 slots" in done.stdout and "inactive" in \
        done.stdout, done.stderr
    assert transom("concurrency-limit", "update", "api", "--slot-decay-per-second", "2",
                   env=backend_env).code == 0
    after = json.loads(transom("concurrency-limit", "inspect", "api", "-o", "json",
                               env=backend_env).stdout)
    assert after["slot_decay_per_second"] == 2.0

    done = transom("concurrency-limit", "delete", "tag:db", env=backend_env)
    assert done.code == 0 and "Concurrency limit tag:db deleted." in done.stdout
    assert [x["name"] for x in json.loads(transom("concurrency-limit", "ls", "-o", "json",
                                                  env=backend_env).stdout)] == ["api"]


def test_mistakes_are_one_sentence(transom: Transom, backend_env: dict[str, str]) -> None:
    assert transom("concurrency-limit", "create", "db", "--limit", "1", env=backend_env).code == 0
    transom("concurrency-limit", "create", "db", "--limit", "1",
            env=backend_env).assert_user_error("'db' already exists")
    transom("concurrency-limit", "create", "a/b", "--limit", "1",
            env=backend_env).assert_user_error("'a/b' cannot be a concurrency limit's name")
    transom("concurrency-limit", "inspect", "nope", env=backend_env).assert_user_error(
        "no concurrency limit named 'nope'", "transom concurrency-limit ls")
    transom("concurrency-limit", "update", "nope", "--limit", "2",
            env=backend_env).assert_user_error("'nope'")
    transom("concurrency-limit", "update", "db", env=backend_env).assert_user_error(
        "nothing to update")
    transom("concurrency-limit", "delete", "nope", env=backend_env).assert_user_error("'nope'")
    done = transom("concurrency-limit", "create", "x", "--limit", "-1", env=backend_env)
    assert done.code != 0 and "Traceback" not in done.stderr
