"""Loading `file.py:flow_fn` and `pkg.module:flow_fn` from real files, and every way it can fail."""

from __future__ import annotations

import os
import pickle
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import cloudpickle
import pytest

from transom import Flow
from transom.entrypoints import load_entrypoint, load_flow, module_name_for
from transom.exceptions import EntrypointError

FLOWS = '''
from transom import flow, task
import helper_{tag}

@task
def double(x: int) -> int:
    return x * 2

@flow
def main(n: int = 1) -> int:
    return double(n) + helper_{tag}.ONE

@flow(name="nightly-report")
def nightly() -> str:
    return "ok"

def plain() -> None:
    pass

class Pipelines:
    weekly = nightly

VALUE = 3
'''


@pytest.fixture(autouse=True)
def _restore_import_state() -> Iterator[None]:
    """Loading user files adds folders to sys.path and modules to sys.modules: undo it."""
    path, modules = list(sys.path), set(sys.modules)
    yield
    sys.path[:] = path
    for name in set(sys.modules) - modules:
        del sys.modules[name]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture
def project(tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    """A flows folder with spaces and non-ASCII in its path, and a sibling helper module."""
    tag = re.sub(r"\W", "_", request.node.name)
    folder = tmp_path / "my flows" / "données"
    write(folder / f"helper_{tag}.py", "ONE = 1\n")
    write(folder / "etl.py", FLOWS.format(tag=tag))
    return folder


def test_load_flow_by_path_with_spaces_and_sibling_import(project: Path) -> None:
    flow = load_flow(f"{project / 'etl.py'}:main")
    assert isinstance(flow, Flow) and flow.name == "main"
    module = sys.modules[module_name_for(project / "etl.py")]
    assert module.helper_test_load_flow_by_path_with_spaces_and_sibling_import.ONE == 1


def test_relative_path_against_cwd_and_windows_separators(project: Path) -> None:
    flow = load_flow("données\\etl.py:nightly", cwd=project.parent)
    assert flow.name == "nightly-report"
    assert load_flow("./données/etl.py:nightly", cwd=project.parent).name == "nightly-report"


def test_dotted_attribute_and_plain_objects(project: Path) -> None:
    assert load_flow(f"{project / 'etl.py'}:Pipelines.weekly").name == "nightly-report"
    assert load_entrypoint(f"{project / 'etl.py'}:VALUE") == 3


def test_module_is_registered_and_pickles(project: Path) -> None:
    flow = load_flow(f"{project / 'etl.py'}:nightly")
    name = module_name_for(project / "etl.py")
    assert flow.fn.__module__ == name and name in sys.modules
    plain = load_entrypoint(f"{project / 'etl.py'}:plain")
    assert pickle.loads(pickle.dumps(plain)) is plain  # by reference, in this process
    instance = load_entrypoint(f"{project / 'etl.py'}:Pipelines")()
    assert type(pickle.loads(pickle.dumps(instance))) is type(instance)


def test_flow_pickled_by_value_runs_in_a_process_that_cannot_import_the_file(project: Path, tmp_path: Path) -> None:
    flow = load_flow(f"{project / 'etl.py'}:nightly")
    blob = tmp_path / "flow.pickle"
    blob.write_bytes(cloudpickle.dumps(flow.fn))
    code = f"import pickle; print(pickle.loads(open({str(blob)!r}, 'rb').read())())"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=tmp_path, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_each_load_runs_the_file_again(tmp_path: Path) -> None:
    counter = tmp_path / "count.txt"
    write(tmp_path / "counted.py", f"""
        from pathlib import Path
        p = Path({str(counter)!r})
        p.write_text(str(int(p.read_text()) + 1 if p.exists() else 1))
        VALUE = 1
    """)
    load_entrypoint(f"{tmp_path / 'counted.py'}:VALUE")
    load_entrypoint(f"{tmp_path / 'counted.py'}:VALUE")
    assert counter.read_text() == "2"


def test_module_reference(tmp_path: Path) -> None:
    write(tmp_path / "entry_pkg_t1" / "__init__.py", "")
    write(tmp_path / "entry_pkg_t1" / "flows.py", """
        from transom import flow

        @flow
        def hello() -> str:
            return "hi"
    """)
    flow = load_flow("entry_pkg_t1.flows:hello", cwd=tmp_path)
    assert flow.fn() == "hi"


def error_of(entrypoint: str, **kwargs: object) -> str:
    with pytest.raises(EntrypointError) as info:
        load_flow(entrypoint, **kwargs)  # type: ignore[arg-type]
    message = str(info.value)
    assert "\n" not in message and "Traceback" not in message
    return message


def test_missing_file(tmp_path: Path) -> None:
    message = error_of("nope.py:main", cwd=tmp_path)
    assert message.startswith(f"no file at {tmp_path / 'nope.py'}")


def test_folder_instead_of_file(project: Path) -> None:
    assert "is a folder, not a Python file" in error_of(f"{project}:main")


def test_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    bad = write(tmp_path / "bad.py", "from transom import flow\n\n@flow\ndef main(:\n    pass\n")
    message = error_of(f"{bad}:main")
    assert message.startswith(f"syntax error in {bad}, line 4:")
    assert module_name_for(bad) not in sys.modules


def test_import_error_names_the_missing_module(tmp_path: Path) -> None:
    bad = write(tmp_path / "imports.py", "import surely_not_installed_xyz\n")
    message = error_of(f"{bad}:main")
    assert "imports 'surely_not_installed_xyz'" in message and "not installed" in message


def test_exception_while_importing(tmp_path: Path) -> None:
    bad = write(tmp_path / "raises.py", "x = 1\nraise RuntimeError('no database')\n")
    message = error_of(f"{bad}:main")
    assert "raised RuntimeError: no database while being imported (line 2)" in message


def test_sys_exit_while_importing(tmp_path: Path) -> None:
    bad = write(tmp_path / "exits.py", "import sys\nsys.exit(2)\n")
    assert 'move that code under `if __name__ == "__main__":`' in error_of(f"{bad}:main")


def test_missing_name_lists_the_flows(project: Path) -> None:
    message = error_of(f"{project / 'etl.py'}:mian")
    assert "has no 'mian' (did you mean 'main'?)" in message
    assert message.endswith("the flows it defines are: main, nightly")


def test_missing_name_in_a_file_without_flows(tmp_path: Path) -> None:
    empty = write(tmp_path / "empty.py", "def main():\n    pass\n")
    message = error_of(f"{empty}:run")
    assert "defines no flows; decorate a function with @flow" in message


@pytest.mark.parametrize(("name", "expected"), [
    ("plain", "is a function, not a flow; decorate it with @flow"),
    ("double", "is a task, not a flow; decorate it with @flow instead of @task"),
    ("Pipelines", "is a class, not a flow"),
    ("VALUE", "is an int, not a flow"),
])
def test_objects_that_are_not_flows(project: Path, name: str, expected: str) -> None:
    message = error_of(f"{project / 'etl.py'}:{name}")
    assert message.startswith(f"{project / 'etl.py'}:{name} ")
    assert expected in message


def test_unknown_module(tmp_path: Path) -> None:
    message = error_of("no_such_module_xyz.flows:main", cwd=tmp_path)
    assert message.startswith("no module named 'no_such_module_xyz.flows'")


def test_module_that_is_not_a_flow() -> None:
    assert error_of("json:dumps").startswith("json:dumps is a function, not a flow")


def test_windows_absolute_path_on_posix(tmp_path: Path) -> None:
    if sys.platform == "win32":
        pytest.skip("the path is valid on Windows")
    assert "is a Windows path" in error_of(r"C:\work\etl.py:main", cwd=tmp_path)


def test_entrypoint_without_function_name(project: Path) -> None:
    assert "names no flow function" in error_of(str(project / "etl.py"))


def test_module_name_is_stable_and_distinct(tmp_path: Path) -> None:
    a, b = tmp_path / "a" / "etl.py", tmp_path / "b" / "etl.py"
    assert module_name_for(a) == module_name_for(a)
    assert module_name_for(a) != module_name_for(b)
    assert module_name_for(tmp_path / "my flow-1.py").isidentifier()
    assert os.sep not in module_name_for(a)
