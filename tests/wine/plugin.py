"""pytest plugin of the Windows lane (scripts/windows-lane): Wine's gaps, test selection, counts.

The lane loads it with `-p tests.wine.plugin`. It gives the two markers their meaning:

- `@pytest.mark.wine`: also run this test in the Windows lane (tests under the lane's fixed paths
  and tests marked `windows` are run there anyway).
- `@pytest.mark.wine_lacks(CAPABILITY)`: the test needs what Wine does not provide, one of
  "powershell" (a real PowerShell), "ctrl_break" (CTRL_BREAK_EVENT reaches a process group),
  "process_names" (psutil names a process), "socket_owners" (psutil says which pid holds a port).
  Under Wine the capability is probed for real (once per session) and the test is skipped with
  "Wine cannot: ..." only if it is really missing; on real Windows, Linux and macOS the marker
  does nothing, so a missing capability there is a failure, not a skip.

It also writes every test's outcome to the JSON file the lane reads for its summary.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from transom.platform.wine import is_wine_builtin, running_under_wine, wine_version

__all__ = ["CAPABILITIES", "MARKERS", "WINE_CANNOT", "missing_capability"]

WINE_CANNOT = "Wine cannot: "
"""How every skip reason given for a Wine gap starts; the lane's summary groups skips by it."""

MARKERS = (
    "wine: also run this test in the Windows lane (Windows CPython under Wine, scripts/windows-lane)",
    "wine_lacks(capability): needs what Wine lacks ('powershell', 'ctrl_break', 'process_names', "
    "'socket_owners'); "
    "under Wine it is probed and the test skipped if missing, elsewhere the marker does nothing",
)


def _powershell() -> str | None:
    found = [path for path in (shutil.which("pwsh"), shutil.which("powershell")) if path]
    if not found:
        return "PowerShell (neither pwsh nor powershell.exe is on PATH)"
    if all(is_wine_builtin(path) for path in found):
        return (f"PowerShell ({found[0]} is Wine's stub: it runs nothing, prints nothing and "
                "exits 0)")
    return None


def _ctrl_break() -> str | None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             creationflags=getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0))
    try:
        try:
            os.kill(child.pid, signal.CTRL_BREAK_EVENT)  # type: ignore[attr-defined,unused-ignore]
        except (OSError, SystemError) as exc:  # CPython 3.11 wraps the OSError in a SystemError
            cause = exc.__cause__ if isinstance(exc, SystemError) else exc
            return f"CTRL_BREAK_EVENT (GenerateConsoleCtrlEvent failed: {cause})"
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            return "CTRL_BREAK_EVENT (sent without error, but the child never received it)"
        return None
    finally:
        child.kill()
        child.wait()


def _process_names() -> str | None:
    import psutil

    try:
        psutil.Process().name()
    except Exception as exc:  # psutil raises OSError (WinError 87) under Wine
        return f"psutil process names (Process().name() failed: {exc})"
    return None


def _socket_owners() -> str | None:
    import psutil

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        try:
            owners = {c.pid for c in psutil.net_connections("tcp")
                      if c.laddr and c.laddr.port == port}
        except Exception as exc:
            return f"psutil socket owners (net_connections() failed: {exc})"
    if owners != {os.getpid()}:
        return (f"psutil socket owners (net_connections() says port {port} is held by pid "
                f"{sorted(owners, key=str)}, not by this process {os.getpid()})")
    return None


CAPABILITIES: dict[str, Callable[[], str | None]] = {
    "ctrl_break": _ctrl_break,
    "powershell": _powershell,
    "process_names": _process_names,
    "socket_owners": _socket_owners,
}
"""Each probe returns None when the capability works here, else what is missing and why."""

_probed: dict[str, str | None] = {}


def missing_capability(name: str) -> str | None:
    """What Wine lacks for `name` (a key of CAPABILITIES), probed once; None when it works.

    Off Wine this is always None without probing: a gap on real Windows must fail the test.
    """
    if name not in CAPABILITIES:
        raise ValueError(f"unknown wine_lacks capability {name!r}; use one of {sorted(CAPABILITIES)}")
    if not running_under_wine():
        return None
    if name not in _probed:
        _probed[name] = CAPABILITIES[name]()
    return _probed[name]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("windows-lane")
    group.addoption("--windows-lane-select", action="append", default=[], metavar="PATH",
                    help="keep only tests under PATH (repeatable) or marked wine/windows")
    group.addoption("--windows-lane-report", default=None, metavar="FILE",
                    help="write every test's outcome to FILE as JSON")


def pytest_configure(config: pytest.Config) -> None:
    global _results
    for line in MARKERS:
        config.addinivalue_line("markers", line)
    _results = _Results()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        for marker in item.iter_markers("wine_lacks"):
            if len(marker.args) != 1 or marker.args[0] not in CAPABILITIES:
                raise pytest.UsageError(f"{item.nodeid}: wine_lacks takes one of "
                                        f"{sorted(CAPABILITIES)}, got {marker.args!r}")
    select = [(config.rootpath / path).resolve() for path in config.getoption("windows_lane_select")]
    if not select:
        return
    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    for item in items:
        path = item.path.resolve()
        inside = any(path == root or root in path.parents for root in select)
        marked = item.get_closest_marker("wine") or item.get_closest_marker("windows")
        (keep if inside or marked else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    for marker in item.iter_markers("wine_lacks"):
        missing = missing_capability(marker.args[0])
        if missing:
            pytest.skip(WINE_CANNOT + missing)


class _Results:
    """Per-test outcome across the setup/call/teardown reports, plus collection errors."""

    def __init__(self) -> None:
        self.tests: dict[str, dict[str, str]] = {}
        self.collection_errors: list[dict[str, str]] = []

    def add(self, report: pytest.TestReport) -> None:
        entry = self.tests.setdefault(report.nodeid, {"outcome": "passed", "reason": ""})
        if entry["outcome"] == "failed":
            return
        if hasattr(report, "wasxfail"):
            entry["outcome"] = "xfailed" if report.skipped else "xpassed"
            entry["reason"] = str(report.wasxfail)
        elif report.failed:
            entry["outcome"] = "failed"
            entry["reason"] = f"{report.when}: {_first_line(report.longreprtext)}"
        elif report.skipped:
            entry["outcome"] = "skipped"
            entry["reason"] = _skip_reason(report.longrepr)

    def as_json(self, exitstatus: int) -> dict[str, Any]:
        return {"exitstatus": exitstatus, "tests": self.tests,
                "collection_errors": self.collection_errors, "python": sys.version,
                "platform": sys.platform, "wine": wine_version()}


_results = _Results()


def _first_line(text: str) -> str:
    """The first `E   ...` line of a failure (the exception), else its last line."""
    errors = [line[1:].strip() for line in text.splitlines() if line.startswith("E ")]
    lines = errors or text.strip().splitlines()[-1:] or [""]
    return lines[0][:300]


def _skip_reason(longrepr: Any) -> str:
    text = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
    return text.removeprefix("Skipped: ")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _results.add(report)


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if report.failed:
        _results.collection_errors.append(
            {"nodeid": report.nodeid, "error": _first_line(report.longreprtext)})


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    target = session.config.getoption("windows_lane_report")
    if target and not hasattr(session.config, "workerinput"):  # xdist workers report upstream
        data = _results.as_json(int(exitstatus))
        Path(target).write_text(json.dumps(data, indent=1, ensure_ascii=False), encoding="utf-8")
