"""The repository's promises: README commands, CI script, a valid GitHub Actions workflow,
and a public API that is complete and sorted."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import types
from pathlib import Path

import transom

ROOT = Path(__file__).resolve().parent.parent


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```[^\n]*\n(.+?)\n```", text, flags=re.S)[:2]


def test_readme_opens_with_the_run_and_test_commands() -> None:
    run, test = _readme_commands()
    assert "examples/etl.py" in run and "transom runs ls" in run
    assert "pytest" in test


def test_ci_runs_exactly_the_readme_test_command() -> None:
    _, test = _readme_commands()
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert test in script.splitlines()


def test_github_workflow_is_valid_and_covers_three_oses() -> None:
    workflow = ROOT / ".github" / "workflows" / "ci.yml"
    done = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows",
         str(workflow)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    text = workflow.read_text(encoding="utf-8")
    for needle in ("ubuntu-latest", "windows-latest", "macos-latest", '"3.10"', '"3.13"'):
        assert needle in text


def test_public_api_is_explicit_and_sorted() -> None:
    names = [n for n in transom.__all__ if n != "__version__"]
    assert names == sorted(names)
    for name in transom.__all__:
        assert hasattr(transom, name), name
    public = {n for n, v in vars(transom).items() if not n.startswith("_")
              and not isinstance(v, types.ModuleType)} - {"annotations"}
    assert public <= set(transom.__all__), public - set(transom.__all__)


def test_python_m_transom_is_the_transom_command() -> None:
    done = subprocess.run([sys.executable, "-m", "transom", "--help"], capture_output=True,
                          text=True, encoding="utf-8")
    assert done.returncode == 0
    for command in ("run", "runs", "config", "profile"):
        assert command in done.stdout


_OS_READS = {"sys.platform", "os.name", "platform.system"}


def _os_reads(tree: ast.Module) -> list[tuple[int, str]]:
    """Where a module asks which OS it is on: reads `sys.platform` or `os.name`, or calls
    `platform.system()` (also through `import sys as s` or `from os import name`)."""
    modules: dict[str, str] = {}  # local name -> the stdlib module it is
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                if top in ("sys", "os", "platform") and (alias.asname is None
                                                         or alias.name == top):
                    modules[alias.asname or top] = top
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names
                      if f"{node.module}.{alias.name}" in _OS_READS]
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                and node.value.id in modules:
            read = f"{modules[node.value.id]}.{node.attr}"
            if read in _OS_READS:
                found.append((node.lineno, read))
    return found


def test_only_platform_asks_which_os_it_is_on() -> None:
    """docs/ARCHITECTURE.md: the OS is a parameter everywhere else (platform.system's
    current_platform() is asked once at an entry point and passed on), so Linux tests exercise
    the Windows branches."""
    package = ROOT / "src" / "transom"
    offenders = [
        f"{path.relative_to(ROOT).as_posix()}:{line}: {read}"
        for path in sorted(package.rglob("*.py"))
        if (package / "platform") not in path.parents
        for line, read in _os_reads(ast.parse(path.read_text(encoding="utf-8"), str(path)))
    ]
    assert offenders == [], "\n".join(offenders)


def test_the_os_check_sees_every_spelling() -> None:
    source = """
import os
import platform as p
import sys as s
from os import name
if s.platform == "win32" or os.name == "nt" or p.system() == "Windows":
    platform = "linux"  # a local named platform is not the module
    platform.upper()
"""
    assert sorted(read for _, read in _os_reads(ast.parse(source))) == [
        "os.name", "os.name", "platform.system", "sys.platform"]
