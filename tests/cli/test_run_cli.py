"""`transom run file.py:flow_fn` in real subprocesses, each with a fresh TRANSOM_HOME."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.cli.conftest import clean_environ

Transom = Callable[..., Any]  # the `transom` fixture of conftest.py
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"

FLOWS = '''
import asyncio

from transom import flow, task
from helper import SUFFIX


@task
def shout(text: str) -> str:
    return text.upper() + SUFFIX


@flow
def greet(n: int, name: str = "world") -> str:
    return f"{n!r}:{shout(name)}"


@flow
def broken() -> None:
    raise ValueError("the source is down: Запуск")


@flow
async def later(x: float = 1.5) -> float:
    await asyncio.sleep(0)
    return x * 2


def plain() -> None:
    pass
'''


@pytest.fixture
def flows(tmp_path: Path) -> Path:
    """flows in a folder with a space and non-ASCII letters, next to a helper module."""
    folder = tmp_path / "my flows" / "données"
    folder.mkdir(parents=True)
    (folder / "helper.py").write_text('SUFFIX = "!"\n', encoding="utf-8")
    (folder / "etl.py").write_text(textwrap.dedent(FLOWS), encoding="utf-8")
    return folder / "etl.py"


def test_run_completes_and_prints_the_next_step(transom: Transom, flows: Path, home: Path) -> None:
    result = transom("run", f"{flows}:greet", "--param", "n=3", "-p", "name=abc")
    assert result.code == 0, result.stderr
    assert re.search(rf"Flow run ({UUID}) ended Completed after \d+\.\d\ds\.", result.stdout), result.stdout
    run_id = re.search(UUID, result.stdout).group(0)  # type: ignore[union-attr]
    assert "Result: '3:ABC!'" in result.stdout  # n parsed as JSON (int), name kept as text
    assert f"Next: transom runs show {run_id}" in result.stdout
    assert (home / "transom.db").exists()


def test_params_json_and_windows_style_relative_path(transom: Transom, flows: Path) -> None:
    relative = "données\\etl.py:greet"  # written on Windows, run here
    result = transom("run", relative, "--params", '{"n": 7, "name": "json"}', "-p", "name=cli",
                     cwd=flows.parent.parent)
    assert result.code == 0, result.stderr
    assert "Result: '7:CLI!'" in result.stdout


def test_async_flow(transom: Transom, flows: Path) -> None:
    result = transom("run", f"{flows}:later", "-p", "x=2")
    assert result.code == 0, result.stderr
    assert "Result: 4.0" in result.stdout


def test_failed_flow_exits_1_with_its_error(transom: Transom, flows: Path) -> None:
    result = transom("run", f"{flows}:broken")
    assert result.code == 1
    assert "ended Failed" in result.stdout and "Next: transom runs show" in result.stdout
    assert "Error: ValueError: the source is down: Запуск" in result.messages
    assert "Traceback" not in result.stderr


def test_failed_flow_with_debug_shows_the_traceback(transom: Transom, flows: Path) -> None:
    result = transom("run", f"{flows}:broken", "--debug")
    assert result.code == 1
    assert "Traceback" in result.stderr and 'raise ValueError("the source is down' in result.stderr


def test_missing_file(transom: Transom, tmp_path: Path) -> None:
    transom("run", "nowhere/etl.py:main").assert_user_error(
        f"no file at {tmp_path / 'nowhere' / 'etl.py'}")


def test_syntax_error_in_the_file(transom: Transom, tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from transom import flow\n@flow\ndef main(:\n    pass\n", encoding="utf-8")
    transom("run", f"{bad}:main").assert_user_error(f"syntax error in {bad}, line 3")


def test_unknown_flow_name_lists_the_flows(transom: Transom, flows: Path) -> None:
    transom("run", f"{flows}:gret").assert_user_error(
        "has no 'gret' (did you mean 'greet'?)", "the flows it defines are: broken, greet, later")


def test_object_that_is_not_a_flow(transom: Transom, flows: Path) -> None:
    transom("run", f"{flows}:plain").assert_user_error(
        "etl.py:plain is a function, not a flow; decorate it with @flow")


def test_bad_param_syntax(transom: Transom, flows: Path) -> None:
    transom("run", f"{flows}:greet", "--param", "n3").assert_user_error(
        "--param 'n3' is not NAME=VALUE")


def test_bad_params_json(transom: Transom, flows: Path) -> None:
    transom("run", f"{flows}:greet", "--params", "[1]").assert_user_error("--params must be a JSON object")


def test_parameter_failing_validation(transom: Transom, flows: Path) -> None:
    transom("run", f"{flows}:greet", "-p", "n=abc").assert_user_error(
        "flow 'greet': parameter 'n' is invalid")


def test_missing_and_unknown_parameters(transom: Transom, flows: Path) -> None:
    transom("run", f"{flows}:greet").assert_user_error("missing the parameter 'n'")


def test_unwritable_transom_home(transom: Transom, flows: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "a file"
    blocker.write_text("not a folder", encoding="utf-8")
    result = transom("run", f"{flows}:greet", "-p", "n=1", env={"TRANSOM_HOME": str(blocker / "home")})
    result.assert_user_error(f"TRANSOM_HOME {blocker / 'home'} is not writable")


def test_a_corrupt_database_stops_the_run_before_it_starts(transom: Any, home: Path, tmp_path: Path) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "transom.db").write_bytes(b"not sqlite" * 500)
    script = tmp_path / "hello.py"
    script.write_text("from transom import flow\n@flow\ndef hello():\n    print('ran')\n",
                      encoding="utf-8")
    result = transom("run", f"{script}:hello")
    result.assert_user_error("is not a SQLite database")
    assert "ran" not in result.stdout


# -- a file with one flow, and a run stopped from outside ----------------------------------------
ONE_FLOW = '''
from transom import flow, task

@task
def double(x: int) -> int:
    return 2 * x

@flow
def only(x: int = 2) -> int:
    return double(x)
'''


def test_a_file_with_one_flow_needs_no_flow_name(transom: Transom, tmp_path: Path) -> None:
    (tmp_path / "etl.py").write_text(ONE_FLOW, encoding="utf-8")
    result = transom("run", "etl.py", "-p", "x=21")
    assert result.code == 0, result.stderr
    assert "Result: 42" in result.stdout
    assert "Running etl.py:only, the one flow in etl.py." in result.messages  # on stderr


def test_a_file_with_several_flows_lists_them(transom: Transom, flows: Path) -> None:
    transom("run", str(flows)).assert_user_error(
        "defines 3 flows (broken, greet, later); name the one to run", f"{flows}:broken")


def test_a_file_with_no_flow(transom: Transom, tmp_path: Path) -> None:
    (tmp_path / "empty.py").write_text("x = 1\n", encoding="utf-8")
    transom("run", "empty.py").assert_user_error("empty.py defines no flows")


SLOW = '''
import sys, time
from transom import flow, task

@task
def nap() -> None:
    print("napping", file=sys.stderr, flush=True)
    time.sleep(60)

@flow
def slow() -> None:
    nap()
'''


@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM; Windows stops a run with CTRL_BREAK")
def test_sigterm_ends_the_run_with_one_line_and_no_traceback(home: Path, tmp_path: Path) -> None:
    (tmp_path / "slow.py").write_text(SLOW, encoding="utf-8")
    child = subprocess.Popen([sys.executable, "-m", "transom", "run", "slow.py"], cwd=tmp_path,
                             env=clean_environ(home), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
    assert child.stderr is not None
    seen = []
    for line in iter(child.stderr.readline, b""):  # wait until the task runs
        seen.append(line.decode("utf-8"))
        if "napping" in seen[-1]:
            break
    child.send_signal(signal.SIGTERM)
    out, err = child.communicate(timeout=60)
    stdout, stderr = out.decode("utf-8"), "".join(seen) + err.decode("utf-8")
    assert child.returncode == 1, stdout + stderr
    assert "Traceback" not in stderr and "RunInterrupted" not in stdout + stderr
    lines = stdout.splitlines()
    assert len(lines) == 1, stdout
    assert re.fullmatch(rf"Flow run {UUID} ended Crashed after \d+\.\d\ds: stopped by signal "
                        "SIGTERM\\.", lines[0]), lines[0]
