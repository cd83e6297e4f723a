"""`transom service ...` and `transom server firewall` as real commands.

The service manager's own tools are the I/O seam: where a test needs systemctl or ufw to say
something, a small script of that name on PATH records its arguments and answers like the real
one. `service run` and the stop-on-stdin path run the real server. On a real Windows (the CI
windows job, as Administrator) a real Windows service is installed, started, stopped, removed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.cli.conftest import clean_environ
from tests.support.network import free_port
from tests.wine.plugin import WINE_CANNOT

from transom.platform.network import port_is_free
from transom.platform.processes import spawn
from transom.platform.system import is_admin
from transom.platform.wine import running_under_wine

Transom = Any  # the `transom` fixture of tests/cli/conftest.py
WINDOWS = sys.platform == "win32"
posix_only = pytest.mark.skipif(WINDOWS, reason="fake systemctl/ufw are POSIX shell scripts")


def fake_tool(bin_dir: Path, name: str, body: str = "") -> Path:
    """A stand-in for a system tool: records `name ARGS` in bin_dir/calls.log, then `body`."""
    bin_dir.mkdir(exist_ok=True)
    tool = bin_dir / name
    tool.write_text(f'#!/bin/sh\necho "{name} $*" >> "{bin_dir / "calls.log"}"\n{body}\n',
                    encoding="utf-8")
    tool.chmod(0o755)
    return tool


def calls(bin_dir: Path) -> list[str]:
    log = bin_dir / "calls.log"
    return log.read_text(encoding="utf-8").splitlines() if log.exists() else []


@pytest.fixture
def user_env(tmp_path: Path) -> dict[str, str]:
    """A user whose home is a temporary folder and whose PATH starts with fake tools."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    return {"HOME": str(tmp_path / "user"), "XDG_CONFIG_HOME": "",
            "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}


# -- dry runs -------------------------------------------------------------------------------------------
@posix_only
def test_install_server_dry_run_prints_the_unit_and_changes_nothing(
        transom: Transom, home: Path, user_env: dict[str, str], tmp_path: Path) -> None:
    manager = "launchd" if sys.platform == "darwin" else "systemd"
    done = transom("service", "install", "server", "--scope", "user", "--dry-run", env=user_env)
    assert done.code == 0, done.stderr
    out = done.stdout
    assert out.startswith(f"Would install transom-server ({manager}, user scope)")
    assert str(home / "logs" / "transom-server.log") in out
    assert sys.executable in out and "service run server" in out.replace('"', "")
    assert "--- run ---" in out
    assert not (tmp_path / "user").exists() and not home.exists()


@posix_only
def test_install_worker_dry_run(transom: Transom, user_env: dict[str, str]) -> None:
    done = transom("service", "install", "worker", "--pool", "nightly", "--scope", "user",
                   "--env", "TRANSOM_API_URL=http://10.1.2.3:4200/api", "--dry-run", env=user_env)
    assert done.code == 0, done.stderr
    assert "transom worker start --pool nightly" in done.stdout
    assert "transom-worker-nightly" in done.stdout
    assert "TRANSOM_API_URL=http://10.1.2.3:4200/api" in done.stdout


@posix_only
def test_settings_from_the_environment_are_carried_but_not_secrets(
        transom: Transom, user_env: dict[str, str]) -> None:
    env = {**user_env, "TRANSOM_API_URL": "http://10.9.9.9:4200/api",
           "TRANSOM_API_KEY": "very-secret-key"}
    done = transom("service", "install", "worker", "--pool", "p", "--scope", "user", "--dry-run",
                   env=env)
    assert done.code == 0, done.stderr
    assert "TRANSOM_API_URL=http://10.9.9.9:4200/api" in done.stdout
    assert "very-secret-key" not in done.stdout
    assert "TRANSOM_API_KEY is set here but not copied" in done.stderr


@pytest.mark.parametrize(("args", "fragment"), [
    (("install", "worker", "--dry-run"), "needs its pool: add --pool"),
    (("install", "database", "--dry-run"), "unknown service 'database'"),
    (("install", "server", "--name", "bad name", "--dry-run"), "may hold only letters"),
    (("status", "server", "--manager", "launchd" if WINDOWS else "nssm"), "is not available on"),
    (("run", "worker"), "needs its pool"),
])
def test_mistakes_are_one_sentence(transom: Transom, args: tuple[str, ...], fragment: str) -> None:
    transom("service", *args).assert_user_error(fragment)


# -- carrying out a plan with the service manager's tools ---------------------------------------------
@posix_only
@pytest.mark.skipif(sys.platform == "darwin", reason="the systemd flow (launchctl on macOS)")
def test_install_status_uninstall_through_systemctl(transom: Transom, home: Path,
                                                     user_env: dict[str, str],
                                                     tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    fake_tool(bin_dir, "systemctl", textwrap.dedent("""\
        case "$*" in
          *status*) echo "* transom-server.service - Transom API server"; echo "   Active: active (running)"; exit 0;;
        esac"""))
    fake_tool(bin_dir, "loginctl")
    done = transom("service", "install", "server", "--scope", "user", env=user_env)
    assert done.code == 0, done.stderr
    unit = tmp_path / "user" / ".config" / "systemd" / "user" / "transom-server.service"
    text = unit.read_text(encoding="utf-8")
    assert "Restart=on-failure" in text and f'Environment="TRANSOM_HOME={home}"' in text
    assert (home / "logs").is_dir()
    assert calls(bin_dir) == ["systemctl --user daemon-reload",
                              "systemctl --user enable transom-server.service",
                              "systemctl --user restart transom-server.service",
                              "loginctl enable-linger"]
    assert f"Logs: {home / 'logs' / 'transom-server.log'}" in done.stdout
    (home / "logs" / "transom-server.log").write_text("2026-01-01 stdout Transom server on ✓\n",
                                                      encoding="utf-8")
    status = transom("service", "status", "server", "--scope", "user", env=user_env)
    assert status.code == 0, status.stderr
    assert "Active: active (running)" in status.stdout and "Transom server on ✓" in status.stdout
    removed = transom("service", "uninstall", "server", "--scope", "user", env=user_env)
    assert removed.code == 0, removed.stderr
    assert not unit.exists()
    assert calls(bin_dir)[-2:] == ["systemctl --user disable --now transom-server.service",
                                   "systemctl --user daemon-reload"]


@posix_only
@pytest.mark.skipif(sys.platform == "darwin", reason="the systemd flow (launchctl on macOS)")
def test_a_failing_service_manager_is_one_sentence(transom: Transom, user_env: dict[str, str],
                                                  tmp_path: Path) -> None:
    fake_tool(tmp_path / "bin", "systemctl",
              'echo "Failed to connect to bus: No such file or directory" >&2; exit 1')
    transom("service", "install", "server", "--scope", "user", env=user_env).assert_user_error(
        "`systemctl --user daemon-reload` failed: Failed to connect to bus")
    fake_tool(tmp_path / "bin", "systemctl",
              'echo "Unit transom-server.service could not be found." >&2; exit 4')
    transom("service", "status", "server", "--scope", "user", env=user_env).assert_user_error(
        "service transom-server is not installed; install it with `transom service install server`")


# -- what the service runs ------------------------------------------------------------------------------
def _wait_for_health(port: int, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"no server answered on port {port}")


def _wait_free(port: int, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while not port_is_free("127.0.0.1", port):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.mark.skipif(WINDOWS, reason="SIGTERM to the wrapper; Windows runs it as a real service")
def test_service_run_keeps_the_server_and_stops_it_on_sigterm(home: Path, tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "logs" / "сервер.log"
    env = clean_environ(home)
    env["TRANSOM_SERVER_API_PORT"] = str(port)
    wrapper = subprocess.Popen([sys.executable, "-m", "transom", "service", "run", "server",
                                "--log-file", str(log)], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    try:
        _wait_for_health(port)
        wrapper.send_signal(signal.SIGTERM)
        assert wrapper.wait(30) == 0
    finally:
        if wrapper.poll() is None:
            wrapper.kill()
        wrapper.communicate()
    assert _wait_free(port)
    text = log.read_text(encoding="utf-8")
    assert "service started" in text and f"Transom server on http://127.0.0.1:{port}" in text
    assert "service stopping pid" in text


def test_a_supervised_server_stops_on_the_stdin_message(home: Path) -> None:
    """What a Windows service does without a console: the stop message on the child's stdin."""
    port = free_port()
    env = clean_environ(home)
    env.update({"TRANSOM_SERVER_API_PORT": str(port), "TRANSOM__SUPERVISED": "1"})
    server = spawn([sys.executable, "-m", "transom", "server", "start"], env=env, control=True)
    try:
        _wait_for_health(port)
        assert server.send_stop_message()
        assert server.wait(30) is not None
        lines = " ".join(line.text for line in server.drain(5))
    finally:
        server.close()
    assert _wait_free(port)
    assert "Traceback" not in lines


# -- firewall -------------------------------------------------------------------------------------------
def test_firewall_prints_the_rule_for_the_configured_port(transom: Transom) -> None:
    done = transom("server", "firewall", env={"TRANSOM_SERVER_API_PORT": "4321"})
    assert done.code == 0, done.stderr
    assert 'TCP port 4321 ("Transom server (TCP 4321)")' in done.stdout
    assert "listens on 127.0.0.1" in done.stdout
    if WINDOWS:
        assert "New-NetFirewallRule -DisplayName 'Transom server (TCP 4321)'" in done.stdout
        assert "netsh advfirewall firewall add rule" in done.stdout
    elif sys.platform == "darwin":
        assert "socketfilterfw --add" in done.stdout
    else:
        assert "sudo ufw allow 4321/tcp comment 'Transom server'" in done.stdout
        assert "sudo firewall-cmd --permanent --add-port=4321/tcp" in done.stdout


@posix_only
@pytest.mark.skipif(sys.platform == "darwin", reason="ufw and firewalld are Linux's")
def test_firewall_apply(transom: Transom, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    nothing = transom("server", "firewall", "--apply", env={"PATH": str(bin_dir)})
    nothing.assert_user_error("no firewall is running here")
    fake_tool(bin_dir, "ufw", 'case "$1" in status) echo "Status: active";; esac')
    done = transom("server", "firewall", "--apply", "--port", "4321", env={"PATH": str(bin_dir)})
    if not is_admin():
        done.assert_user_error("needs root rights", "sudo")
        return
    assert done.code == 0, done.stderr
    assert calls(bin_dir)[-1] == "ufw allow 4321/tcp comment Transom server"
    assert "Inbound TCP port 4321 is open (ufw)." in done.stdout


# -- a real Windows service ---------------------------------------------------------------------------
@pytest.mark.windows
@pytest.mark.skipif(not WINDOWS, reason="needs Windows")
def test_a_real_windows_service(transom: Transom, home: Path) -> None:
    if running_under_wine():
        pytest.skip(WINE_CANNOT + "run Windows services (its sc.exe lacks failure actions)")
    if not is_admin():
        pytest.skip("installing a Windows service needs an Administrator")
    name = f"transom-test-{uuid.uuid4().hex[:8]}"
    port = free_port()
    args = ("--name", name)
    try:
        done = transom("service", "install", "server", *args, "--env",
                       f"TRANSOM_SERVER_API_PORT={port}", timeout=120)
        assert done.code == 0, done.stdout + done.stderr
        _wait_for_health(port, within=60)
        status = transom("service", "status", "server", *args)
        assert status.code == 0 and "RUNNING" in status.stdout, status.stdout + status.stderr
        stopped = transom("service", "stop", "server", *args, timeout=120)
        assert stopped.code == 0, stopped.stderr
        assert _wait_free(port, within=30)
        log = (home / "logs" / f"{name}.log").read_text(encoding="utf-8")
        assert "Transom server on" in log and "service stopping pid" in log
    finally:
        removed = transom("service", "uninstall", "server", *args, timeout=120)
    assert removed.code == 0, removed.stderr
