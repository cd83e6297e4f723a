"""`transom server start` as a user meets it: the banner, a busy port, Ctrl+C, `transom db`."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.support.network import free_port

from transom.platform.network import port_is_free
from transom.server.serve import banner, is_loopback
from transom.settings import Settings
from transom.store.database import HEAD_REVISION


def _transom(home: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRANSOM_")}
    env["TRANSOM_HOME"] = str(home)
    return subprocess.run([sys.executable, "-m", "transom", *args], env=env, capture_output=True,
                          text=True, encoding="utf-8", timeout=timeout)


def test_loopback_detection_and_the_warning_without_auth() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.0.2.10")
    open_lines = banner(Settings.load({}), "0.0.0.0", 4200, "sqlite:///x.db")
    assert open_lines[0].startswith("Warning: listening on 0.0.0.0 without authentication")
    guarded = banner(Settings.load({}, server_api_key="k"), "0.0.0.0", 4200, "sqlite:///x.db")
    assert not guarded[0].startswith("Warning")
    local = banner(Settings.load({}), "127.0.0.1", 4300, "sqlite:///x.db")
    assert local[0] == "Transom server on http://127.0.0.1:4300"
    assert "  UI:   http://127.0.0.1:4300/runs" in local
    assert "TRANSOM_API_URL=http://127.0.0.1:4300/api" in local[-1]
    assert banner(Settings.load({}), "::1", 4200, "d")[0] == "Transom server on http://[::1]:4200"


@pytest.mark.wine_lacks("socket_owners")
def test_a_busy_port_names_the_holder_and_a_free_port(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        done = _transom(tmp_path, "server", "start", "--port", str(port))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    message = done.stderr.strip().splitlines()[-1]
    assert message.startswith(f"Error: port {port} on 127.0.0.1 is already in use by ")
    assert f"(pid {os.getpid()})" in message  # this test process holds it
    assert "transom server start --port " in message and "TRANSOM_SERVER_API_PORT=" in message


def _start_then_interrupt(tmp_path: Path, interrupt: Callable[[subprocess.Popen[str]], None],
                          **popen: Any) -> None:
    """Start `transom server start`, wait until it answers, interrupt it; it must stop cleanly
    and free its port at once."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRANSOM_")}
    env.update(TRANSOM_HOME=str(tmp_path), TRANSOM_SERVER_API_PORT=str(port))
    proc = subprocess.Popen([sys.executable, "-m", "transom", "server", "start"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            encoding="utf-8", **popen)
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.1)
    interrupt(proc)
    _, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "Transom server stopped." in err
    assert f"http://127.0.0.1:{port}/docs" in err
    assert port_is_free("127.0.0.1", port)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT is POSIX; Windows: the next test")
def test_ctrl_c_stops_the_server_and_frees_the_port_at_once(tmp_path: Path) -> None:
    _start_then_interrupt(tmp_path, lambda proc: proc.send_signal(signal.SIGINT))


@pytest.mark.windows
@pytest.mark.wine_lacks("ctrl_break")
@pytest.mark.skipif(sys.platform != "win32", reason="needs Windows")
def test_ctrl_break_stops_the_server_on_windows_and_frees_the_port(tmp_path: Path) -> None:
    # What a console's Ctrl+C/Ctrl+Break reaches on Windows: a console control event sent to the
    # server's own process group (so that this test process is not interrupted too).
    _start_then_interrupt(
        tmp_path, lambda proc: proc.send_signal(signal.CTRL_BREAK_EVENT),  # type: ignore[attr-defined,unused-ignore]
        creationflags=subprocess.CREATE_NEW_PROCESS_GROUP)  # type: ignore[attr-defined,unused-ignore]


def test_db_upgrade_and_reset(tmp_path: Path) -> None:
    upgraded = _transom(tmp_path, "db", "upgrade")
    assert upgraded.returncode == 0 and f"is at revision {HEAD_REVISION}" in upgraded.stdout
    refused = _transom(tmp_path, "db", "reset")
    assert refused.returncode == 1 and "transom db reset --yes" in refused.stderr
    script = tmp_path / "f.py"
    script.write_text("from transom import flow\n@flow\ndef f():\n    return 1\n", encoding="utf-8")
    assert _transom(tmp_path, "run", f"{script}:f").returncode == 0
    assert "f" in _transom(tmp_path, "runs", "ls").stdout
    reset = _transom(tmp_path, "db", "reset", "--yes")
    assert reset.returncode == 0 and "is empty" in reset.stdout
    assert "No runs recorded yet." in _transom(tmp_path, "runs", "ls").stdout


def test_a_database_that_cannot_open_stops_the_server_before_it_listens(tmp_path: Path) -> None:
    tmp_path.joinpath("transom.db").write_bytes(b"junk" * 1000)
    done = _transom(tmp_path, "server", "start", "--port", str(free_port()))
    assert done.returncode == 1 and "is not a SQLite database" in done.stderr
    assert "Traceback" not in done.stderr
