"""The repository's promises: README commands, CI script, a valid GitHub Actions workflow,
and a public API that is complete and sorted."""

from __future__ import annotations

import re
import subprocess
import sys
import types
from pathlib import Path

import transom

ROOT = Path(__file__).resolve().parent.parent


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```\n(.+?)\n```", text, flags=re.S)[:2]


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
