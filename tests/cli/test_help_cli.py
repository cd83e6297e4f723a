"""The help of every command reads like other Click tools' (a flag shows no type, a value its
Click name, the usage line `NAME`), and `transom --version` / `transom version` say what a bug
report needs."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from tests.cli.conftest import Transom
from typer.testing import CliRunner

from transom._version import __version__
from transom.cli import app
from transom.cli.help import click_type_name
from transom.cli.output import console, error_console

# Typer's own type labels, which make a flag look as if it took a value.
TYPER_TYPE = re.compile(r"<(?:bool|str|int|float|path|file|dir|datetime|uuid|list\[)[^>]*>",
                        re.IGNORECASE)


def _commands(group: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    yield path, group
    for name, command in getattr(group, "commands", {}).items():
        yield from _commands(command, (*path, name))


ROOT = typer.main.get_command(app)
COMMANDS = list(_commands(ROOT))


def _help(path: tuple[str, ...]) -> Any:
    console.cache_clear()
    error_console.cache_clear()
    try:
        return CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "200", "NO_COLOR": "1"})
    finally:
        console.cache_clear()
        error_console.cache_clear()


def test_every_command_is_walked() -> None:
    paths = {" ".join(path) for path, _ in COMMANDS}
    assert {"", "runs ls", "deployment inspect", "work-pool create", "doctor", "version",
            "service install", "profile ls"} <= paths
    assert len(paths) > 40


@pytest.mark.parametrize("path", [path for path, _ in COMMANDS], ids=lambda p: " ".join(p) or "transom")
def test_help_reads_like_click(path: tuple[str, ...]) -> None:
    done = _help(path)
    assert done.exit_code == 0, done.output
    text = done.output
    assert "<bool>" not in text and not TYPER_TYPE.search(text), text
    command = dict(COMMANDS)[path]
    for param in command.get_params(command.context_class(command)):
        if getattr(param, "is_flag", False):
            for flag in param.opts:  # nothing after a flag but its help
                row = next(line for line in text.splitlines() if re.search(rf"{flag}\b", line))
                after = row.split(flag, 1)[1].strip(" │")
                assert not re.match(r"(BOOLEAN|<|\w+ RANGE)", after), row
    usage = next(line for line in text.splitlines() if "Usage:" in line)
    assert "{" not in usage, usage  # `NAME`, as Click writes a required argument


def test_values_show_their_click_type() -> None:
    text = _help(("work-pool", "create")).output
    assert re.search(r"--limit\s+-l\s+INTEGER RANGE \[x>=0\]", text), text
    assert re.search(r"--description\s+TEXT", text) and "Usage: transom work-pool create [OPTIONS] NAME" in text
    assert re.search(r"--paused\s+Create it paused", text), text
    assert re.search(r"--output\s+-o\s+\[table\|json\|csv\]", _help(("runs", "ls")).output)
    assert "KEY=VALUE..." in _help(("config", "set")).output


@pytest.mark.parametrize(("typer_label", "click"), [
    ("<str>", "TEXT"), ("<int range>", "INTEGER RANGE"), ("<list[str]>", "TEXT"),
    ("<table|json>", "[table|json]"), ("<float>", "FLOAT"), ("<path>", "PATH"),
])
def test_click_type_names(typer_label: str, click: str) -> None:
    assert click_type_name(typer_label) == click


def test_the_real_help_command(transom: Transom) -> None:
    done = transom("--help")
    assert done.code == 0 and "--version" in done.stdout and "<bool>" not in done.stdout
    assert transom("deployment", "ls", "--help").code == 0


def test_version(transom: Transom, home: Path) -> None:
    short = transom("--version")
    assert short.code == 0, short.stderr
    lines = short.stdout.splitlines()
    assert lines[0] == f"Transom {__version__}"
    assert any(line.startswith("Python:   3.") for line in lines)
    assert any(line.startswith("Platform: ") for line in lines)
    assert f"Database: SQLite ({home / 'transom.db'})" in lines
    assert not any(line.startswith("API URL") for line in lines)
    assert not home.exists()  # saying the version opens nothing
    full = transom("version", env={"TRANSOM_API_URL": "http://127.0.0.1:9/api"})
    assert full.code == 0 and "API URL:  http://127.0.0.1:9/api" in full.stdout
    info = json.loads(transom("version", "--output", "json",
                              env={"TRANSOM_DATABASE_URL": "postgresql://u:p@db/transom"}).stdout)
    assert info["transom"] == __version__ and info["database"] == "PostgreSQL"
    assert info["api_url"] is None and "p@db" not in json.dumps(info)
