"""The Windows lane from start to verdict: set up (or reuse) everything, run the tests, report."""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import io
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import IO

from .config import (
    DEFAULT_TIMEOUT,
    EXTRA_REQUIREMENTS,
    LANE_IGNORE,
    LANE_PATHS,
    PYTHON,
    TIMEOUT_ENV,
    WINDOWS_MARKER_ENVIRONMENT,
    WORKERS,
    cache_dir,
)
from .provision import (
    build_project_wheel,
    download_interpreter,
    download_wheels,
    install_interpreter,
    install_project,
)
from .requirements import requirements_hash, windows_requirements
from .summary import read_summary
from .wine import LaneError, Wine, ensure_wine_installed

__all__ = ["main"]

CHECKOUT = Path(__file__).resolve().parents[2]
PLUGIN = "tests.wine.plugin"


def log(message: str) -> None:
    print(message, flush=True)


class Timings:
    """How long each phase took, printed at the end (the lane's time budget is watched)."""

    def __init__(self) -> None:
        self.phases: list[tuple[str, float]] = []
        self.started = time.monotonic()

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            self.phases.append((name, time.monotonic() - started))

    def line(self) -> str:
        parts = ", ".join(f"{name} {seconds:.1f}s" for name, seconds in self.phases)
        return f"windows-lane: took {time.monotonic() - self.started:.1f}s ({parts})"


def _parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="scripts/windows-lane",
        description="Run the Windows-relevant tests with a real Windows CPython under Wine.",
        epilog="Without PYTEST_ARGS the lane's fixed selection runs (see scripts/windows_lane/"
               "config.py); with them, pytest gets exactly those (e.g. tests/platform -x).")
    parser.add_argument("--cache", type=Path, default=None,
                        help="cache folder (default: $TRANSOM_WINDOWS_LANE_CACHE or "
                             "~/.cache/transom-windows-lane)")
    parser.add_argument("--timeout", type=float,
                        default=float(os.environ.get(TIMEOUT_ENV) or DEFAULT_TIMEOUT),
                        help=f"seconds the test run may take (default: ${TIMEOUT_ENV} or "
                             f"{DEFAULT_TIMEOUT:.0f})")
    parser.add_argument("--workers", type=int, default=WORKERS,
                        help=f"test processes side by side for the fixed selection (default "
                             f"{WORKERS}; 0 runs them in one process)")
    parser.add_argument("pytest_args", nargs=argparse.REMAINDER, metavar="PYTEST_ARGS")
    return parser.parse_args(argv)


def _raise_on_term(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # so `finally` stops Wine on a CI cancel too


@contextlib.contextmanager
def _linux_postgres() -> Iterator[str | None]:
    """The suite's throwaway PostgreSQL server, started on the Linux side for the Windows tests
    (so the store and API tests run with psycopg's Windows wheel against a real server); None
    when PostgreSQL is not installed here, and those tests are skipped with that reason."""
    sys.path.insert(0, str(CHECKOUT))
    from tests.support.postgres import PostgresServer, find_pg_bin

    bin_dir = find_pg_bin()
    if bin_dir is None:
        log("windows-lane: PostgreSQL is not installed on this machine: its tests are skipped")
        yield None
        return
    server = PostgresServer(bin_dir)
    server.start()
    log(f"windows-lane: PostgreSQL for the Windows tests on 127.0.0.1:{server.port}")
    try:
        yield server.url("postgres")
    finally:
        server.stop()


def _run_tests(wine: Wine, report: Path, pytest_args: Sequence[str], timeout: float,
               postgres_url: str | None, workers: int) -> int:
    """pytest with the Windows Python over the checkout (D:\\...), its output streamed."""
    # Tests marked slow (hundreds of runs through the database's claim, the same code on every
    # OS) stay on Linux: under Wine, where starting a process takes a second, they alone would
    # outlast the lane.
    selection = list(pytest_args) or [
        "tests", *(f"--windows-lane-select={path}" for path in LANE_PATHS),
        *(f"--ignore={path}" for path in LANE_IGNORE), "-m", "not slow",
        "--durations=10", *(["-n", str(workers), "--dist", "load"] if workers > 0 else ["-n", "0"])]
    args = ["-m", "pytest", "-p", PLUGIN, "-p", "no:cacheprovider",
            f"--windows-lane-report={wine.windows_path(report)}", *selection]
    env = {
        "TRANSOM_WINDOWS_LANE": "1",  # tests/wine's smoke test runs only here
        "PYTHONUTF8": "0",  # as in the GitHub windows job: Transom must not rely on UTF-8 mode
        # Windows' .pyc files must not land next to the Linux ones in the checkout.
        "PYTHONPYCACHEPREFIX": wine.windows_path(wine.cache / "pycache"),
    }
    if postgres_url:
        env["TRANSOM_TEST_POSTGRES_URL"] = postgres_url
        env["TRANSOM_TEST_REQUIRE_POSTGRES"] = "1"
    log(f"windows-lane: python {' '.join(args)}")
    process = wine.popen(PYTHON.install_dir + r"\python.exe", *args, env=env, cwd=CHECKOUT)
    assert process.stdout is not None
    reader = threading.Thread(target=_copy_output, args=(process.stdout,), daemon=True)
    reader.start()
    try:
        code = process.wait(timeout)
    except subprocess.TimeoutExpired:
        wine.stop_server()  # ends every Windows process of the prefix, pytest's children too
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        raise LaneError(f"the tests did not finish within {timeout:.0f}s and were killed "
                        f"(raise it with --timeout or ${TIMEOUT_ENV})") from None
    reader.join(5)
    if reader.is_alive():
        # Only a Windows process that outlived pytest can still hold its output pipe open.
        log("windows-lane: warning: a process started by the tests was still running after "
            "pytest ended (a test leaked it); stopping it")
        wine.stop_server()
        reader.join(10)
    return code


def _copy_output(stream: IO[bytes]) -> None:
    """Windows' Python writes its pipes in the ANSI code page (cp1252 here), with \\r\\n."""
    for line in io.TextIOWrapper(stream, encoding="cp1252", errors="replace"):
        sys.stdout.write(line)
        sys.stdout.flush()


def main(argv: Sequence[str]) -> int:
    args = _parse(argv)
    cache = (args.cache.expanduser().resolve() if args.cache else cache_dir())
    cache.mkdir(parents=True, exist_ok=True)
    timings = Timings()
    signal.signal(signal.SIGTERM, _raise_on_term)
    with open(cache / "lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"windows-lane: waiting for another run that uses {cache}")
            fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return _lane(cache, args, timings)
        except LaneError as exc:
            log(f"windows-lane: error: {exc}")
            return 1
        finally:
            log(timings.line())


def _lane(cache: Path, args: argparse.Namespace, timings: Timings) -> int:
    with timings.phase("apt wine"):
        seconds = ensure_wine_installed(log)
    if seconds:
        log(f"windows-lane: installed Wine from Debian in {seconds:.1f}s")
    wine = Wine(cache, CHECKOUT)
    log(f"windows-lane: {wine.version()}, cache {cache}, checkout {CHECKOUT}")
    try:
        with timings.phase("prefix"):
            if not wine.ready():
                log(f"windows-lane: creating the Wine prefix {wine.prefix}")
                wine.create_prefix()
            wine.map_drives()
            wine.start_server()
        with timings.phase("downloads"):
            sdist = download_interpreter(cache)
            requirements = windows_requirements(CHECKOUT / "pyproject.toml",
                                                WINDOWS_MARKER_ENVIRONMENT, EXTRA_REQUIREMENTS)
            digest = requirements_hash(requirements, sdist.name, "win_amd64")
            wheels = download_wheels(cache, requirements, digest)
        with timings.phase("python+deps"):
            if install_interpreter(wine, sdist, requirements, digest, wheels, log):
                log(f"windows-lane: installed {len(requirements)} requirements (hash {digest})")
        with timings.phase("project"):
            if install_project(wine, build_project_wheel(CHECKOUT, cache)):
                log("windows-lane: installed the project wheel")
        report = cache / "run" / "report.json"
        report.parent.mkdir(exist_ok=True)
        report.unlink(missing_ok=True)
        with timings.phase("tests"), _linux_postgres() as postgres_url:
            code = _run_tests(wine, report, args.pytest_args, args.timeout, postgres_url,
                              args.workers)
    finally:
        wine.stop_server()
    if not report.exists():
        raise LaneError(f"pytest under Wine ended ({code}) without writing {report}: it crashed "
                        "or could not start; its output is above")
    summary = read_summary(report)
    for line in summary.lines():
        log(line)
    return 0 if summary.ok else 1
