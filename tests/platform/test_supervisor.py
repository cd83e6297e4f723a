"""The service wrapper with real child processes: output into a rotating UTF-8 log, exit codes
passed on, graceful stop then kill, the stop-request environment."""

from __future__ import annotations

import os
import signal
import sys
import textwrap
import threading
import time
from pathlib import Path

import psutil
import pytest

from transom.exceptions import UserInputError
from transom.platform.supervisor import (
    SUPERVISED_ENV,
    RunOptions,
    install_stop_signals,
    parse_run_arguments,
    supervise,
)

TEXT = "Отчёт 数据 ✓"


def python(code: str) -> list[str]:
    return [sys.executable, "-c", textwrap.dedent(code)]


def read_log(path: Path) -> str:
    return path.read_text(encoding="utf-8")  # strict: the log must be valid UTF-8


def test_output_goes_to_the_log_as_utf8_and_the_exit_code_is_passed_on(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "svc.log"
    code = supervise(python(f"""
        import os, sys
        print({TEXT!r})
        print("env", os.environ["{SUPERVISED_ENV}"], os.environ["PYTHONIOENCODING"])
        sys.stdout.flush()
        sys.stderr.buffer.write(b"caf\\xe9 latin-1\\n")  # not UTF-8: decoded, never fatal
        sys.exit(3)
    """), log_file=str(log), stop=threading.Event())
    assert code == 3
    text = read_log(log)
    assert f"stdout {TEXT}" in text
    assert "stdout env 1 utf-8" in text
    assert "stderr caf" in text
    assert "service exited on its own (exit code 3)" in text
    assert "service started" in text.splitlines()[0]


def test_the_log_rotates_by_size(tmp_path: Path) -> None:
    log = tmp_path / "svc.log"
    code = supervise(python("""
        for i in range(400):
            print(f"line {i:04d} " + "x" * 40)
    """), log_file=str(log), stop=threading.Event(), max_bytes=4096, backups=2)
    assert code == 0
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["svc.log", "svc.log.1", "svc.log.2"]
    assert all(p.stat().st_size <= 4096 for p in tmp_path.iterdir())
    assert "line 0399" in read_log(log)  # the newest lines are in the current file


@pytest.mark.wine_lacks("ctrl_break")
def test_stop_asks_the_child_politely(tmp_path: Path) -> None:
    log = tmp_path / "svc.log"
    stop = threading.Event()
    ready = tmp_path / "ready"
    child = python(f"""
        import signal, sys, time
        def bye(signum, frame):
            print("bye from the child", flush=True)
            sys.exit(0)
        signal.signal(signal.SIGTERM, bye)
        if hasattr(signal, "SIGBREAK"):
            signal.signal(signal.SIGBREAK, bye)
        open({str(ready)!r}, "w").close()
        while True:
            time.sleep(0.05)
    """)
    threading.Thread(target=_set_when, args=(ready, stop), daemon=True).start()
    assert supervise(child, log_file=str(log), stop=stop, grace=10) == 0
    text = read_log(log)
    assert "bye from the child" in text and "service stopping pid" in text


def test_a_child_that_ignores_the_stop_is_killed_with_its_tree(tmp_path: Path) -> None:
    log = tmp_path / "svc.log"
    stop = threading.Event()
    ready = tmp_path / "ready"
    child = python(f"""
        import signal, subprocess, sys, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        print("grandchild", grandchild.pid, flush=True)
        open({str(ready)!r}, "w").close()
        while True:
            time.sleep(0.05)
    """)
    threading.Thread(target=_set_when, args=(ready, stop), daemon=True).start()
    started = time.monotonic()
    assert supervise(child, log_file=str(log), stop=stop, grace=0.5) == 0
    assert time.monotonic() - started < 15
    grandchild = int(next(line for line in read_log(log).splitlines()
                          if "stdout grandchild" in line).split()[-1])
    deadline = time.monotonic() + 5
    while _alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(grandchild)


def test_a_program_that_cannot_start_is_logged(tmp_path: Path) -> None:
    log = tmp_path / "svc.log"
    assert supervise([str(tmp_path / "no-such-program")], log_file=str(log),
                     stop=threading.Event()) == 2
    assert "cannot start" in read_log(log)


def test_an_unwritable_log_is_one_sentence(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(UserInputError, match="cannot write the service log"):
        supervise(python("pass"), log_file=str(blocker / "svc.log"), stop=threading.Event())


def test_run_arguments_round_trip() -> None:
    options = parse_run_arguments(["worker", "--pool", "nightly etl", "--log-file", "C:\\l\\w.log",
                                   "--max-bytes", "2048", "--backups", "3"])
    assert options == RunOptions("worker", "nightly etl", "C:\\l\\w.log", 2048, 3)
    assert options.command("py") == ["py", "-m", "transom", "worker", "start", "--pool",
                                     "nightly etl"]
    assert parse_run_arguments(["server", "--log-file", "s.log"]).command("py")[-2:] == [
        "server", "start"]
    with pytest.raises(UserInputError, match="needs its pool"):
        parse_run_arguments(["worker", "--log-file", "w.log"])
    with pytest.raises(UserInputError, match="ROLE"):
        parse_run_arguments(["scheduler", "--log-file", "w.log"])
    with pytest.raises(UserInputError, match="at least 1024"):
        parse_run_arguments(["server", "--log-file", "w.log", "--max-bytes", "10"])


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_termination_signals_become_a_stop_request() -> None:
    stop = threading.Event()
    before = signal.getsignal(signal.SIGTERM)
    restore = install_stop_signals(stop)
    try:
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.wait(5)
    finally:
        restore()
    assert signal.getsignal(signal.SIGTERM) == before


def _set_when(path: Path, event: threading.Event) -> None:
    deadline = time.monotonic() + 30
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    event.set()


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
