"""The lane's own logic, on any OS: the dependency list, the ProcessPrng shim, the plugin's
report and the verdict drawn from it (skips are never passes; nothing ran is a failure)."""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import struct
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scripts" / "windows_lane"


def lane(name: str) -> ModuleType:
    """A module of scripts/windows_lane (not an installed package), imported by path."""
    if "windows_lane" not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            "windows_lane", SCRIPTS / "__init__.py", submodule_search_locations=[str(SCRIPTS)])
        assert spec is not None and spec.loader is not None
        package = importlib.util.module_from_spec(spec)
        sys.modules["windows_lane"] = package
        spec.loader.exec_module(package)
    return importlib.import_module(f"windows_lane.{name}")


def test_dependencies_are_picked_for_windows_from_pyproject(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(textwrap.dedent("""
        [project]
        name = "Transom"
        dependencies = [
            "psutil>=5.9",
            "tomli>=2.0; python_version < '3.11'",
            "colorama>=0.4.6; sys_platform == 'win32'",
            "uvloop; sys_platform != 'win32'",
            "transom[server]",
        ]
        [project.optional-dependencies]
        test = ["pytest>=8"]
        server = ["uvicorn>=0.29", "psycopg[binary]>=3.1"]
        docs = ["sphinx"]
    """), encoding="utf-8")
    config = lane("config")
    found = lane("requirements").windows_requirements(
        pyproject, config.WINDOWS_MARKER_ENVIRONMENT, ["psutil<8", "httpx"])
    assert found == ["colorama>=0.4.6", "httpx", "psutil<8,>=5.9", "psycopg[binary]>=3.1",
                     "pytest>=8", "uvicorn>=0.29"]


def test_the_requirements_hash_follows_the_list_not_its_order() -> None:
    digest = lane("requirements").requirements_hash
    assert digest(["a", "b"], "py311") == digest(["b", "a"], "py311")
    assert digest(["a", "b"], "py311") != digest(["a", "b>1"], "py311")
    assert digest(["a"], "py311") != digest(["a"], "py312")


def test_the_prng_shim_is_a_dll_exporting_processprng_as_a_forwarder() -> None:
    shim = lane("prng_shim").build_prng_shim()
    assert shim[:2] == b"MZ" and shim[0x40:0x44] == b"PE\0\0"
    machine, sections = struct.unpack_from("<HH", shim, 0x44)
    characteristics = struct.unpack_from("<H", shim, 0x44 + 18)[0]
    assert (machine, sections) == (0x8664, 1) and characteristics & 0x2000  # x64 DLL
    export_rva, export_size = struct.unpack_from("<II", shim, 0x58 + 112)
    raw = export_rva - 0x1000 + 0x200  # one section: RVA 0x1000 is file offset 0x200

    def text_at(rva: int) -> bytes:
        start = rva - 0x1000 + 0x200
        return bytes(shim[start:shim.index(b"\0", start)])

    name_rva, _base, functions, names, eat, name_table = struct.unpack_from("<IIIIII", shim, raw + 12)
    assert text_at(name_rva) == b"bcryptprimitives.dll" and (functions, names) == (1, 1)
    assert text_at(struct.unpack_from("<I", shim, name_table - 0x1000 + 0x200)[0]) == b"ProcessPrng"
    function_rva = struct.unpack_from("<I", shim, eat - 0x1000 + 0x200)[0]
    assert export_rva <= function_rva < export_rva + export_size  # inside exports: a forwarder
    assert text_at(function_rva) == b"advapi32.SystemFunction036"


def report(tests: dict[str, Any], exitstatus: int = 0, errors: list[Any] | None = None,
           tmp_path: Path | None = None) -> Any:
    assert tmp_path is not None
    path = tmp_path / "report.json"
    path.write_text(json.dumps({"exitstatus": exitstatus, "tests": tests,
                                "collection_errors": errors or [], "python": "3.11.9 (x)",
                                "platform": "win32", "wine": "8.0"}), encoding="utf-8")
    return lane("summary").read_summary(path)


def test_skips_are_counted_apart_and_wine_gaps_named(tmp_path: Path) -> None:
    summary = report({
        "a": {"outcome": "passed"},
        "b": {"outcome": "skipped", "reason": "Wine cannot: PowerShell (a stub)"},
        "c": {"outcome": "skipped", "reason": "Wine cannot: PowerShell (a stub)"},
        "d": {"outcome": "skipped", "reason": "sessions are POSIX"},
        "e": {"outcome": "xfailed", "reason": "known"},
    }, tmp_path=tmp_path)
    assert (summary.ran, summary.passed, summary.failed, summary.skipped) == (2, 1, 0, 3)
    assert summary.ok
    lines = summary.lines()
    assert "windows-lane: skipped 2: Wine cannot: PowerShell (a stub)" in lines
    assert lines[-2].startswith("windows-lane: 2 ran, 1 passed, 0 failed, 3 skipped "
                                "(Wine cannot: PowerShell x2; other skips: 1), 1 xfailed")
    assert lines[-1] == "windows-lane: 1 passed, 0 failed, 3 skipped"


def test_only_skips_is_a_failure(tmp_path: Path) -> None:
    summary = report({"a": {"outcome": "skipped", "reason": "Wine cannot: x"}}, tmp_path=tmp_path)
    assert summary.ran == 0 and not summary.ok
    assert "windows-lane: no test ran: that is a failure, not a pass" in summary.lines()


def test_failures_and_collection_errors_fail(tmp_path: Path) -> None:
    failed = report({"a": {"outcome": "passed"}, "b": {"outcome": "failed", "reason": "call: E"}},
                    exitstatus=1, tmp_path=tmp_path)
    assert not failed.ok and "windows-lane: FAILED b (call: E)" in failed.lines()
    broken = report({"a": {"outcome": "passed"}}, exitstatus=2, tmp_path=tmp_path,
                    errors=[{"nodeid": "tests/x.py", "error": "ImportError: fcntl"}])
    assert not broken.ok
    assert broken.lines()[-1] == "windows-lane: 1 passed, 1 failed, 0 skipped"


def test_plugin_selects_paths_and_markers_and_reports_each_outcome(tmp_path: Path) -> None:
    """The plugin in a real pytest run: selection, wine_lacks off Wine, the JSON report."""
    picked = tmp_path / "picked"
    other = tmp_path / "other"
    picked.mkdir()
    other.mkdir()
    (picked / "test_a.py").write_text(textwrap.dedent("""
        import pytest

        def test_pass():
            pass

        def test_fail():
            assert 1 == 2, "boom"

        def test_skip():
            pytest.skip("Wine cannot: something")

        @pytest.mark.wine_lacks("process_names")
        def test_needs_names():
            pass
    """), encoding="utf-8")
    (other / "test_b.py").write_text(textwrap.dedent("""
        import pytest

        def test_left_out():
            pass

        @pytest.mark.wine
        def test_marked_in():
            pass
    """), encoding="utf-8")
    out = tmp_path / "report.json"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "src")])}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.wine.plugin", "-p", "no:cacheprovider",
         "--rootdir", str(tmp_path), "-c", os.devnull, f"--windows-lane-report={out}",
         "--windows-lane-select=picked", str(tmp_path)],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    data = json.loads(out.read_text(encoding="utf-8"))
    outcomes = {nodeid.split("::")[-1]: test["outcome"] for nodeid, test in data["tests"].items()}
    running_wine = data["wine"] is not None
    assert outcomes == {"test_pass": "passed", "test_fail": "failed", "test_skip": "skipped",
                        "test_marked_in": "passed",
                        "test_needs_names": "skipped" if running_wine else "passed"}
    fail = next(t for n, t in data["tests"].items() if n.endswith("test_fail"))
    assert fail["reason"].startswith("call: AssertionError: boom")
    assert data["exitstatus"] == 1 and data["collection_errors"] == []


def test_plugin_rejects_an_unknown_capability(tmp_path: Path) -> None:
    (tmp_path / "test_c.py").write_text(
        "import pytest\n\n@pytest.mark.wine_lacks('pwsh')\ndef test_x():\n    pass\n",
        encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "src")])}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.wine.plugin", "-p", "no:cacheprovider",
         "--rootdir", str(tmp_path), "-c", os.devnull, str(tmp_path)],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, done.stdout + done.stderr
    assert "wine_lacks takes one of" in done.stdout + done.stderr
