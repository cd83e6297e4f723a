"""Users' type checkers see through @flow and @task: a call takes the function's parameters and
returns its type, `.submit()` a TaskFuture of it. mypy checks tests/typing/user_flows.py, a file
written as a user would, and every `# reveal:` and `# error:` mark in it is asserted here."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
USER_FILE = ROOT / "tests" / "typing" / "user_flows.py"

# mypy over the whole of transom with a cold cache: about 40 s alone, several minutes on a
# machine busy with the rest of the suite (the module's first test pays for it).
pytestmark = pytest.mark.timeout(600)

REVEALED = {
    "flow call": "list[str]",
    "async flow call": "typing.Coroutine[Any, Any, float]",
    "awaited async flow": "float",
    "task call": "int",
    "task with options call": "str",
    "async task call": "typing.Coroutine[Any, Any, bytes]",
    "submit": "transom.core.runners.TaskFuture[int]",
    "async submit": "transom.core.runners.TaskFuture[bytes]",
    "map": "transom.core.runners.TaskFutureList[int]",
    "map result": "list[int]",
    "submit return_state": "transom.core.states.State[Any]",
    "map return_state": "list[transom.core.states.State[Any]]",
    "submit wait_for": "transom.core.runners.TaskFuture[int]",
    "task wait_for": "int",
    "flow return_state": "transom.core.states.State[Any]",
    "async flow return_state": "typing.Coroutine[Any, Any, transom.core.states.State[Any]]",
    "task return_state": "transom.core.states.State[Any]",
    "with_options": "transom.core.flows.Flow[[n: int, name: str =], list[str]]",
    "flow object": "transom.core.flows.Flow[[n: int, name: str =], list[str]]",
    "task object": "transom.core.tasks.Task[[x: int], int]",
}

# What mypy says about each wrong line. A call is an overloaded __call__ (return_state has
# overloads of its own), so a wrong argument reads "No overload variant" and the variants listed
# under it show the function's own signature.
ERRORS = {
    "flow argument type": 'No overload variant of "__call__" of "Flow" matches argument type "str"',
    "flow unknown keyword": 'No overload variant of "__call__" of "Flow" matches argument types '
                            '"int", "str"',
    "task argument type": 'No overload variant of "__call__" of "Task" matches argument type "str"',
    # (submit has overloads for return_state= and wait_for=, as __call__ has)
    "submit argument type": 'No overload variant of "submit" of "Task" matches argument type '
                            '"str"',
    "task return type": 'Incompatible types in assignment (expression has type "int", variable '
                        'has type "str")',
}


def _marks(kind: str) -> dict[int, str]:
    lines = USER_FILE.read_text(encoding="utf-8").splitlines()
    return {number: m.group(1) for number, line in enumerate(lines, start=1)
            if (m := re.search(rf"\S  # {kind}: (.+)$", line))}


@pytest.fixture(scope="module")
def mypy_output(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[str]]:
    from mypy import api

    here = os.getcwd()
    os.chdir(ROOT)  # the config's mypy_path ("src") is relative to the working directory
    try:
        stdout, stderr, _ = api.run([
            "--config-file", str(ROOT / "pyproject.toml"),
            "--cache-dir", str(tmp_path_factory.mktemp("mypy-cache")),
            # transom's own errors are the `mypy` CI step's business, not this test's
            "--follow-imports=silent",
            # `reveal_type(nightly(2))` leaves a coroutine unawaited, on purpose
            "--disable-error-code=unused-coroutine",
            "--no-error-summary", "--show-error-codes", "--no-pretty",
            str(USER_FILE),
        ])
    finally:
        os.chdir(here)
    assert not stderr, stderr
    yield [line for line in stdout.splitlines() if line.strip()]


def _by_line(output: list[str], severity: str) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for line in output:
        m = re.match(rf".*user_flows\.py:(\d+): {severity}: (.*)$", line)
        if m:
            found.setdefault(int(m.group(1)), []).append(m.group(2))
    return found


def test_the_user_file_marks_every_case_asserted_here() -> None:
    assert sorted(_marks("reveal").values()) == sorted(REVEALED)
    assert sorted(_marks("error").values()) == sorted(ERRORS)


def test_calls_submit_and_map_have_the_functions_types(mypy_output: list[str]) -> None:
    notes = _by_line(mypy_output, "note")
    for line, label in _marks("reveal").items():
        revealed = [n for n in notes.get(line, []) if n.startswith("Revealed type is")]
        assert revealed == [f'Revealed type is "{REVEALED[label]}"'], (label, mypy_output)


def test_a_wrong_call_is_an_error_and_only_wrong_calls_are(mypy_output: list[str]) -> None:
    errors = _by_line(mypy_output, "error")
    marked = _marks("error")
    assert set(errors) == set(marked), mypy_output
    for line, label in marked.items():
        assert any(ERRORS[label] in e for e in errors[line]), (label, errors[line])


def test_a_wrong_call_shows_the_functions_signature(mypy_output: list[str]) -> None:
    notes = _by_line(mypy_output, "note")
    line = next(n for n, label in _marks("error").items() if label == "flow argument type")
    assert any("def __call__(self, n: int, name: str = ...) -> list[str]" in note
               for note in notes[line]), notes[line]


def test_the_package_says_it_is_typed() -> None:
    import transom

    # PEP 561: without this marker a user's mypy treats every transom import as Any.
    assert (Path(transom.__file__).parent / "py.typed").is_file()
