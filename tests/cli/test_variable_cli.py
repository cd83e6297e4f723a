"""`transom variable ls/get/set/unset/inspect` in a real subprocess: with no server (the
embedded database of a fresh home) and against a live server (TRANSOM_API_URL)."""

from __future__ import annotations

import json

from tests.cli.conftest import Transom

from transom.schemas import VariableRead


def test_set_get_ls_inspect_unset(transom: Transom, backend_env: dict[str, str]) -> None:
    assert "No variables yet" in transom("variable", "ls", env=backend_env).stdout
    done = transom("variable", "set", "answer", "42", "--tag", "prod", "--tag", "eu", env=backend_env)
    assert done.code == 0 and "Variable answer set to 42." in done.stdout, done.stderr
    assert transom("variable", "set", "greeting", "hello world", env=backend_env).code == 0
    assert transom("variable", "set", "quoted", '"42"', env=backend_env).code == 0
    assert transom("variable", "set", "crew", '["zaphod", "arthur"]', env=backend_env).code == 0

    # VALUE is JSON when it parses as JSON, else the text: get prints strings as they are, one
    # line (ended by \r\n on Windows, as every line a console program prints there).
    assert transom("variable", "get", "answer", env=backend_env).stdout.splitlines() == ["42"]
    assert transom("variable", "get", "greeting", env=backend_env).stdout.splitlines() == ["hello world"]
    assert transom("variable", "get", "quoted", env=backend_env).stdout.splitlines() == ["42"]
    listed = json.loads(transom("variable", "ls", "--output", "json", env=backend_env).stdout)
    variables = [VariableRead.model_validate(v) for v in listed]
    assert [(v.name, v.value) for v in variables] == [
        ("answer", 42), ("crew", ["zaphod", "arthur"]), ("greeting", "hello world"),
        ("quoted", "42")]
    assert variables[0].tags == ["prod", "eu"]
    table = transom("variable", "ls", env=backend_env).stdout
    assert "Variables (4)" in table and "prod, eu" in table

    transom("variable", "set", "answer", "43", env=backend_env).assert_user_error(
        "'answer' already exists", "--overwrite")
    assert transom("variable", "set", "answer", "43", "--overwrite", env=backend_env).code == 0
    inspected = json.loads(transom("variable", "inspect", "answer", "-o", "json", env=backend_env).stdout)
    assert (inspected["value"], inspected["tags"]) == (43, [])  # overwrite replaces the tags
    shown = transom("variable", "inspect", "crew", env=backend_env).stdout
    assert "Variable crew" in shown and '"zaphod"' in shown and "Tags:    none" in shown

    assert "Variable answer unset." in transom("variable", "unset", "answer", env=backend_env).stdout
    transom("variable", "unset", "answer", env=backend_env).assert_user_error("no variable named 'answer'")
    transom("variable", "get", "answer", env=backend_env).assert_user_error("no variable named 'answer'")
    transom("variable", "inspect", "nope", env=backend_env).assert_user_error("no variable named 'nope'")


def test_bad_names_and_values_are_one_sentence(transom: Transom) -> None:
    transom("variable", "set", "Bad Name", "1").assert_user_error(
        "'Bad Name' cannot be a variable name", "lowercase letters")
    transom("variable", "set", "big", "x" * 5001).assert_user_error(
        "at most 5000 characters as JSON")
    transom("variable", "set", "ok", "1", "--tag", "").assert_user_error("tags.0")
