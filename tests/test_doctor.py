"""`transom doctor`'s checks: real files, databases, sockets and servers where this machine has
them; Windows and macOS branches through the platform parameter and a runner that answers like
PowerShell, ufw or socketfilterfw."""

from __future__ import annotations

import io
import json
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tests.support.network import free_port
from tests.support.runner import FakeRunner, ok
from transom import doctor
from transom.doctor import (
    Check,
    Machine,
    PythonInfo,
    add_to_path_command,
    check_antivirus,
    check_api,
    check_database,
    check_encoding,
    check_firewall,
    check_home,
    check_port,
    check_powershell,
    check_python,
    check_settings,
    check_storage_location,
    check_transom_command,
    exit_code,
    python_command,
    run_checks,
    set_env_command,
    summary,
    user_shell,
)
from transom.platform.console import setup_utf8_console
from transom.platform.network import PortOwner
from transom.platform.system import CommandResult
from transom.settings import Settings
from transom.store import open_database

POSIX_PY = PythonInfo("/opt/venv/bin/python", "3.12.3", "/opt/venv", "/usr", "/opt/venv/bin",
                      "/home/zoe/.local/bin")
WIN_PY = PythonInfo(r"C:\Program Files\Python312\python.exe", "3.12.3",
                    r"C:\Program Files\Python312", r"C:\Program Files\Python312",
                    r"C:\Program Files\Python312\Scripts",
                    r"C:\Users\zoe\AppData\Roaming\Python\Python312\Scripts")
PWSH = r"C:\Program Files\PowerShell\7\pwsh.exe"


def finds(**table: str):  # type: ignore[no-untyped-def]
    return table.get


# -- shells and the commands written for them -----------------------------------------------------
def test_user_shell_from_parents_then_environment() -> None:
    assert user_shell("win32", {}, ["python.exe", "transom.exe", "pwsh.exe"]) == "powershell"
    assert user_shell("win32", {}, ["python.exe", "cmd.exe", "explorer.exe"]) == "cmd"
    assert user_shell("win32", {}, ["services.exe"]) == "powershell"
    assert user_shell("linux", {"SHELL": "/usr/bin/zsh"}, ["python3", "fish"]) == "fish"
    assert user_shell("linux", {"SHELL": "/usr/bin/zsh"}, ["python3", "sshd"]) == "zsh"
    assert user_shell("darwin", {}, []) == "sh"


def test_set_env_commands_per_shell() -> None:
    assert set_env_command("powershell", "PYTHONUTF8", "1") == (
        "[Environment]::SetEnvironmentVariable('PYTHONUTF8', '1', 'User'); $env:PYTHONUTF8 = '1'")
    assert set_env_command("cmd", "PYTHONUTF8", "1") == 'setx PYTHONUTF8 "1" && set "PYTHONUTF8=1"'
    assert set_env_command("fish", "A", "b c") == "set -Ux A 'b c'"
    assert "~/.zshrc" in set_env_command("zsh", "A", "1")


def test_bash_commands_really_work(tmp_path: Path) -> None:
    """The bash fixes are run by a real bash: the variable and PATH hold in new shells too."""
    bash = "/bin/bash"
    if sys.platform == "win32" or not Path(bash).exists():
        pytest.skip("needs a POSIX bash")
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    folder = str(tmp_path / "my tools")
    setup = (f"{set_env_command('bash', 'TRANSOM_API_URL', 'http://h:1/api?a=1&b=$x')} && "
             f"{add_to_path_command('bash', folder)}")
    subprocess.run([bash, "-c", setup], env=env, check=True, timeout=30)
    later = subprocess.run([bash, "-c", "source ~/.bashrc; echo \"$TRANSOM_API_URL\"; echo \"$PATH\""],
                           env=env, capture_output=True, text=True, check=True, timeout=30)
    url, path = later.stdout.splitlines()
    assert url == "http://h:1/api?a=1&b=$x"
    assert path.split(":")[0] == folder


def test_python_command_quotes_paths_with_spaces() -> None:
    assert python_command("powershell", WIN_PY.executable, "-m", "transom") == (
        "& 'C:\\Program Files\\Python312\\python.exe' -m transom")
    assert python_command("cmd", WIN_PY.executable, "-m", "transom") == (
        '"C:\\Program Files\\Python312\\python.exe" -m transom')
    assert python_command("bash", "/usr/bin/python3", "-m", "transom") == "/usr/bin/python3 -m transom"


def test_add_to_path_on_windows() -> None:
    folder = WIN_PY.user_scripts_dir or ""
    command = add_to_path_command("powershell", folder)
    assert "GetEnvironmentVariable('Path', 'User')" in command
    assert command.endswith(f"$env:Path += ';{folder}'")
    assert add_to_path_command("cmd", folder).startswith("powershell -NoProfile -Command")


# -- the transom script and Python ------------------------------------------------------------------
def test_transom_on_path() -> None:
    exists = {"/opt/venv/bin/transom"}.__contains__
    check = check_transom_command("linux", {}, finds(transom="/opt/venv/bin/transom"), POSIX_PY,
                                  "bash", exists=exists)
    assert check.status == "ok" and "/opt/venv/bin/transom" in check.finding


def test_transom_not_on_path_shows_the_path_line_and_the_fallback() -> None:
    script = WIN_PY.user_scripts_dir + "\\transom.exe"  # type: ignore[operator]
    check = check_transom_command("win32", {}, finds(), WIN_PY, "powershell",
                                  exists={script}.__contains__)
    assert check.status == "warn"
    assert WIN_PY.user_scripts_dir in check.finding  # type: ignore[operator]
    assert check.fix == add_to_path_command("powershell", WIN_PY.user_scripts_dir or "")
    assert "& 'C:\\Program Files\\Python312\\python.exe' -m transom" in check.details[0]


def test_another_installations_transom_first_on_path() -> None:
    check = check_transom_command("linux", {}, finds(transom="/usr/local/bin/transom"), POSIX_PY,
                                  "bash", exists={"/opt/venv/bin/transom"}.__contains__)
    assert check.status == "warn" and "not this installation's" in check.finding
    assert "/opt/venv/bin" in (check.fix or "")


def test_no_script_at_all_suggests_python_m_transom() -> None:
    check = check_transom_command("linux", {}, finds(), POSIX_PY, "bash", exists=lambda p: False)
    assert check.status == "warn" and "/opt/venv/bin/python -m transom" in check.details[0]


def test_python_check() -> None:
    check = check_python(POSIX_PY, "linux", "bash")
    assert check.status == "ok" and "3.12.3" in check.finding and "/opt/venv" in check.finding
    store = PythonInfo(r"C:\Users\z\AppData\Local\Microsoft\WindowsApps\python.exe", "3.12.3",
                       "p", "p", "s")
    assert check_python(store, "win32", "powershell").status == "warn"


# -- encoding -----------------------------------------------------------------------------------------
def legacy_report(platform: str = "linux") -> Any:
    streams = [io.TextIOWrapper(io.BytesIO(), encoding="cp1252") for _ in range(2)]
    return setup_utf8_console(*streams, platform)  # type: ignore[arg-type]


def test_encoding_ok_when_the_setup_ran_and_files_default_to_utf8() -> None:
    check = check_encoding("linux", {}, "bash", console=legacy_report(),
                           preferred_encoding="UTF-8", utf8_mode=False)
    assert check.status == "ok"
    assert any("cp1252 -> utf-8" in d for d in check.details)


def test_legacy_default_encoding_suggests_utf8_mode() -> None:
    check = check_encoding("win32", {"PYTHONIOENCODING": "cp1252"}, "powershell",
                           console=legacy_report("win32"), preferred_encoding="cp1252",
                           utf8_mode=False)
    assert check.status == "warn" and "cp1252" in check.finding
    assert check.fix == set_env_command("powershell", "PYTHONUTF8", "1")
    assert "PYTHONIOENCODING=cp1252" in check.details
    utf8_mode = check_encoding("win32", {}, "powershell", console=legacy_report("win32"),
                               preferred_encoding="cp1252", utf8_mode=True)
    assert utf8_mode.status == "ok"


def test_encoding_without_the_setup_warns() -> None:
    check = check_encoding("linux", {}, "bash", console=None, preferred_encoding="utf-8",
                           utf8_mode=False)
    assert check.status == "warn" and "has not run" in check.finding


def test_a_stream_that_stays_legacy_warns() -> None:
    report = setup_utf8_console(io.StringIO(), io.StringIO(), "linux")  # type: ignore[arg-type]
    object.__setattr__(report.streams[0], "encoding_before", "cp437")
    check = check_encoding("linux", {}, "bash", console=report, preferred_encoding="utf-8",
                           utf8_mode=False)
    assert check.status == "warn" and "stdout (cp437)" in check.finding


# -- settings, home, storage --------------------------------------------------------------------------
def test_settings_failure_is_reported_and_the_rest_goes_on(tmp_path: Path) -> None:
    check, settings = check_settings({"TRANSOM_HOME": str(tmp_path), "TRANSOM_SERVER_API_PORT": "x"})
    assert check.status == "fail" and "TRANSOM_SERVER_API_PORT must be a whole number" in check.finding
    assert settings.home == tmp_path
    check, _ = check_settings({"TRANSOM_HOME": str(tmp_path), "TRANSOM_SERVR_API_PORT": "1"})
    assert check.status == "warn" and "TRANSOM_SERVER_API_PORT" in check.finding
    assert check_settings({"TRANSOM_HOME": str(tmp_path)})[0].status == "ok"


def test_home_states(tmp_path: Path) -> None:
    assert check_home(str(tmp_path), "linux", "bash", {}).status == "ok"
    later = check_home(str(tmp_path / "new" / "home"), "linux", "bash", {})
    assert later.status == "ok" and "created on first use" in later.finding
    a_file = tmp_path / "file"
    a_file.write_text("x")
    assert check_home(str(a_file), "linux", "bash", {}).status == "fail"
    locked = check_home(str(tmp_path), "linux", "bash", {"HOME": "/home/zoe"},
                        writable=lambda folder: "Permission denied")
    assert locked.status == "fail" and "not writable (Permission denied)" in locked.finding
    assert locked.fix == set_env_command("bash", "TRANSOM_HOME", "/home/zoe/.transom")


@pytest.mark.parametrize(("free", "status"), [(50 * 1024 ** 2, "fail"), (500 * 1024 ** 2, "warn"),
                                              (20 * 1024 ** 3, "ok")])
def test_home_free_space(tmp_path: Path, free: int, status: str) -> None:
    check = check_home(str(tmp_path), "linux", "bash", {},
                       disk_usage=lambda path: SimpleNamespace(free=free))
    assert check.status == status


def test_sqlite_on_a_unc_share_warns_with_the_postgresql_setting() -> None:
    settings = Settings.model_validate({"home": r"\\fileserver\team\transom"})
    check = check_storage_location(settings, "win32", "powershell")
    assert check.status == "warn" and "WAL" in check.finding
    assert check.fix == set_env_command("powershell", "TRANSOM_DATABASE_URL",
                                        "postgresql://USER:PASSWORD@HOST:5432/transom")


def test_sqlite_on_a_mapped_drive_or_nfs_mount_warns() -> None:
    mapped = Settings.model_validate({"home": r"Z:\transom"})
    assert check_storage_location(mapped, "win32", "cmd",
                                  is_network=lambda p: p.startswith("Z:")).status == "warn"
    nfs = Settings.model_validate({"home": "/mnt/nfs/transom"})
    on_nfs = check_storage_location(nfs, "linux", "bash",
                                    is_network=lambda p: p.replace("\\", "/").startswith("/mnt/nfs"))
    assert on_nfs.status == "warn"


def test_network_home_with_postgresql_is_fine() -> None:
    settings = Settings.model_validate({"home": r"\\fileserver\team\transom",
                                        "database_url": "postgresql://u:p@db:5432/transom"})
    check = check_storage_location(settings, "win32", "powershell")
    assert check.status == "ok" and "network share" in check.finding


def test_local_storage(tmp_path: Path) -> None:
    settings = Settings.model_validate({"home": tmp_path})
    assert check_storage_location(settings, "linux", "bash").status == "ok"


# -- database --------------------------------------------------------------------------------------------
def test_database_not_created_yet(tmp_path: Path) -> None:
    check = check_database(f"sqlite:///{tmp_path / 'transom.db'}")
    assert check.status == "ok" and "does not exist yet" in check.finding
    assert not (tmp_path / "transom.db").exists()  # the doctor does not create it


def test_database_current_empty_old_and_newer(tmp_path: Path) -> None:
    path = tmp_path / "transom.db"
    url = f"sqlite:///{path}"
    sqlite3.connect(path).close()
    empty = check_database(url)
    assert empty.status == "warn" and empty.fix == "transom db upgrade"
    open_database(url).close()
    current = check_database(url)
    assert current.status == "ok" and "(current)" in current.finding
    with sqlite3.connect(path) as db:
        db.execute("UPDATE alembic_version SET version_num = '9999'")
    newer = check_database(url)
    assert newer.status == "fail" and "newer Transom" in newer.finding


def test_corrupt_database_fails(tmp_path: Path) -> None:
    path = tmp_path / "transom.db"
    path.write_bytes(b"this is not a database" * 100)
    check = check_database(f"sqlite:///{path}")
    assert check.status == "fail" and "not a SQLite database" in check.finding


def test_postgresql_database(postgres_url: str) -> None:
    assert check_database(postgres_url).status == "warn"  # reachable, no tables yet
    open_database(postgres_url).close()
    check = check_database(postgres_url)
    assert check.status == "ok" and check.finding.startswith("postgresql ")


def test_unreachable_postgresql_fails() -> None:
    port = free_port()
    check = check_database(f"postgresql://u:p@127.0.0.1:{port}/transom")
    assert check.status == "fail" and "cannot reach" in check.finding


# -- port and API ------------------------------------------------------------------------------------------
@pytest.fixture
def held_port() -> Iterator[int]:
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
        sock.listen()
        yield port


def test_free_port() -> None:
    port = free_port()
    assert check_port("127.0.0.1", port, "linux", "bash").status == "ok"


def test_port_held_by_another_program(held_port: int) -> None:
    check = check_port("127.0.0.1", held_port, "linux", "bash")
    assert check.status == "fail" and f"127.0.0.1:{held_port} is in use" in check.finding
    assert check.fix is not None and "TRANSOM_SERVER_API_PORT" in check.fix
    windows = check_port("127.0.0.1", held_port, "win32", "powershell",
                         owner=lambda port: PortOwner(4242, "java.exe"),
                         is_transom=lambda host, port: False)
    assert "java.exe (pid 4242)" in windows.finding
    assert windows.details == ("or stop that program: Stop-Process -Id 4242",)
    assert "$env:TRANSOM_SERVER_API_PORT" in (windows.fix or "")


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[str]:
    """A real Transom server in a thread, on a socket bound before it starts (no port race)."""
    import threading
    import time

    import uvicorn

    from transom.server import create_app

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(Settings.load({}, home=tmp_path)), log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}/api"
    server.should_exit = True
    thread.join(10)
    sock.close()


def test_port_held_by_a_transom_server(live_server: str, tmp_path: Path) -> None:
    port = int(live_server.rsplit(":", 1)[1].split("/")[0])
    check = check_port("127.0.0.1", port, "linux", "bash")
    assert check.status == "ok" and "Transom server" in check.finding
    answered = check_api(Settings.load({}, home=tmp_path, api_url=live_server), "bash")
    assert answered.status == "ok" and "sqlite" in answered.finding


def test_a_port_held_by_transom_is_not_looked_up_further() -> None:
    # Finding a port's owner reads every process's sockets (seconds on a busy desktop): not
    # needed when a Transom server answers there, the usual case.
    def owner(port: int) -> PortOwner | None:
        raise AssertionError("the owner of a port Transom answers on was looked up")

    check = check_port("127.0.0.1", 4200, "linux", "bash", is_free=lambda h, p: False,
                       owner=owner, is_transom=lambda h, p: True)
    assert check.status == "ok" and "Transom server" in check.finding


def _settings(tmp_path: Path, api_url: str | None, server_port: int | None = None) -> Settings:
    """Settings whose own server port is the OS's pick (nothing listens there) unless given."""
    return Settings.load({}, home=tmp_path, api_url=api_url,
                         server_api_port=server_port or free_port())


def test_api_url_that_does_not_answer(tmp_path: Path) -> None:
    port = free_port()
    check = check_api(_settings(tmp_path, f"http://127.0.0.1:{port}/api"), "bash")
    assert check.status == "fail" and "cannot reach the Transom server" in check.finding
    assert check.fix == "transom server start"
    assert check_api(Settings.load({}, home=tmp_path), "bash").status == "ok"


def test_a_wrong_api_url_while_a_server_answers_here(live_server: str, tmp_path: Path) -> None:
    server_port = int(live_server.rsplit(":", 1)[1].split("/")[0])
    wrong = f"http://127.0.0.1:{free_port()}/api"
    check = check_api(_settings(tmp_path, wrong, server_port), "bash")
    assert check.status == "fail", check
    assert f"TRANSOM_API_URL {wrong} is wrong" in check.finding
    assert f"a Transom server answers at {live_server}" in check.finding
    assert check.fix == set_env_command("bash", "TRANSOM_API_URL", live_server)
    assert "server start" not in repr(check)


def test_an_api_url_without_its_api_path(live_server: str, tmp_path: Path) -> None:
    server_port = int(live_server.rsplit(":", 1)[1].split("/")[0])
    root = live_server.removesuffix("/api")
    check = check_api(_settings(tmp_path, root, server_port), "bash")
    assert check.status == "fail" and "is wrong (it is not Transom's API)" in check.finding
    assert check.fix == set_env_command("bash", "TRANSOM_API_URL", live_server)
    alone = check_api(_settings(tmp_path, root), "bash")  # no server on its own port
    assert alone.status == "fail" and "not as Transom's API" in alone.finding
    assert "ends in /api" in alone.finding and alone.fix is None


def test_an_unreachable_remote_api_url_does_not_suggest_starting_a_server(tmp_path: Path) -> None:
    check = check_api(_settings(tmp_path, "http://transom.invalid:4200/api"), "bash")
    assert check.status == "fail" and "cannot reach" in check.finding
    assert check.fix is None and "server start" not in " ".join(check.details)


# -- firewall, PowerShell, antivirus ------------------------------------------------------------------
def test_firewall_on_loopback_needs_no_rule() -> None:
    runner = FakeRunner()
    check = check_firewall("win32", "127.0.0.1", 4200, "powershell", which=finds(pwsh=PWSH),
                           run=runner, python="python")
    assert check.status == "ok" and runner.calls == []


def test_windows_firewall_without_a_rule() -> None:
    runner = FakeRunner({"Get-NetFirewallPortFilter": ok("profile\tPrivate\tTrue\n")})
    check = check_firewall("win32", "0.0.0.0", 4300, "powershell", which=finds(pwsh=PWSH),
                           run=runner, python="python")
    assert check.status == "warn"
    assert check.fix and check.fix.startswith("New-NetFirewallRule -DisplayName "
                                              "'Transom server (TCP 4300)'")
    in_cmd = check_firewall("win32", "0.0.0.0", 4300, "cmd", which=finds(pwsh=PWSH), run=runner,
                            python="python")
    assert in_cmd.fix and in_cmd.fix.startswith("netsh advfirewall firewall add rule")


def test_windows_firewall_with_a_rule() -> None:
    runner = FakeRunner({"Get-NetFirewallPortFilter": ok(
        "profile\tPrivate\tTrue\nrule\tTransom server (TCP 4200)\n")})
    check = check_firewall("win32", "0.0.0.0", 4200, "powershell", which=finds(pwsh=PWSH),
                           run=runner, python="python")
    assert check.status == "ok" and "Transom server (TCP 4200)" in check.finding


def test_linux_firewall_without_a_rule() -> None:
    runner = FakeRunner({"ufw status": ok("Status: active\n")})
    check = check_firewall("linux", "0.0.0.0", 4200, "bash", which=finds(ufw="/usr/sbin/ufw"),
                           run=runner, python="python")
    assert check.status == "warn" and check.fix == "sudo ufw allow 4200/tcp comment 'Transom server'"


POLICIES = "Get-ExecutionPolicy -List"


def test_powershell_policy_reported() -> None:
    runner = FakeRunner({POLICIES: ok("MachinePolicy=Undefined\nUserPolicy=Undefined\n"
                                      "Process=Undefined\nCurrentUser=RemoteSigned\n"
                                      "LocalMachine=Restricted\n")})
    check = check_powershell("win32", {}, finds(pwsh=PWSH), runner)
    assert check.status == "ok"
    assert "CurrentUser=RemoteSigned, LocalMachine=Restricted" in check.finding
    assert "-ExecutionPolicy Bypass" in check.finding


def test_group_policy_that_overrides_bypass_warns() -> None:
    runner = FakeRunner({POLICIES: ok("MachinePolicy=AllSigned\nUserPolicy=Undefined\n")})
    check = check_powershell("win32", {}, finds(pwsh=PWSH), runner)
    assert check.status == "warn" and "Group Policy (MachinePolicy) enforces AllSigned" in check.finding


def test_no_powershell_on_windows() -> None:
    environ = {"COMSPEC": r"C:\Windows\System32\cmd.exe"}
    check = check_powershell("win32", environ, finds(**{environ["COMSPEC"]: environ["COMSPEC"]}),
                             FakeRunner())
    assert check.status == "warn" and check.fix == "winget install --id Microsoft.PowerShell -e"


def test_posix_shell() -> None:
    check = check_powershell("linux", {}, finds(bash="/bin/bash", pwsh="/usr/bin/pwsh"),
                             FakeRunner())
    assert check.status == "ok" and "bash at /bin/bash" in check.finding and "pwsh" in check.finding


FOLDERS = [r"C:\Users\zoe\.transom", r"C:\Program Files\Python312", r"C:\Users\zoe\AppData\Local\Temp"]
DEFENDER = "Get-MpComputerStatus"


@pytest.mark.parametrize(("answer", "status", "fragment"), [
    (ok("rtp\tTrue\n"), "warn", "scans 3 of Transom's folders"),
    (ok("rtp\tTrue\nexclusion\tC:\\Users\\zoe\\.transom\nexclusion\tC:\\Program Files\\Python312\n"),
     "warn", "scans 1 of"),
    (ok("rtp\tTrue\nexclusion\tC:\\Users\nexclusion\tc:\\program files\\python312\\\n"),
     "ok", "excludes Transom's folders"),
    (ok("rtp\tTrue\nexclusion\tN/A: Must be and administrator to view exclusions\n"),
     "ok", "only be read as Administrator"),
    (ok("rtp\tFalse\n"), "ok", "real-time protection is off"),
    (CommandResult(1, "", "Get-MpComputerStatus : Invalid class"), "ok", "does not answer"),
])
def test_defender(answer: CommandResult, status: str, fragment: str) -> None:
    check = check_antivirus("win32", "powershell", FOLDERS, which=finds(pwsh=PWSH),
                            run=FakeRunner({DEFENDER: answer}))
    assert check.status == status and fragment in check.finding, check
    if status == "warn":
        assert check.fix and check.fix.startswith("Add-MpPreference -ExclusionPath ")
        assert "'C:\\Users\\zoe\\AppData\\Local\\Temp'" in check.fix


def test_defender_command_for_cmd_and_other_systems() -> None:
    check = check_antivirus("win32", "cmd", FOLDERS, which=finds(pwsh=PWSH),
                            run=FakeRunner({DEFENDER: ok("rtp\tTrue\n")}))
    assert check.fix and check.fix.startswith('powershell -NoProfile -Command "Add-MpPreference')
    assert check_antivirus("linux", "bash", FOLDERS, which=finds(), run=FakeRunner()).status == "ok"


# -- all of them ---------------------------------------------------------------------------------------
def windows_machine(tmp_path: Path) -> Machine:
    runner = FakeRunner({
        POLICIES: ok("MachinePolicy=Undefined\nCurrentUser=RemoteSigned\n"),
        DEFENDER: ok("rtp\tTrue\n"),
    })
    # The server port is the OS's pick: the check binds it, and 4200 may be busy on this machine.
    environ = {"TRANSOM_HOME": str(tmp_path / "home"), "USERPROFILE": r"C:\Users\zoe",
               "TRANSOM_SERVER_API_PORT": str(free_port())}
    return Machine("win32", environ, finds(pwsh=PWSH), runner, "powershell", WIN_PY,
                   exists=lambda path: False, console=legacy_report("win32"),
                   preferred_encoding="cp1252")


def test_every_check_runs_for_windows_on_linux(tmp_path: Path) -> None:
    checks = run_checks(windows_machine(tmp_path))
    assert [c.name for c in checks] == ["command", "python", "encoding", "settings", "home",
                                        "network", "database", "port", "api", "firewall",
                                        "shell", "antivirus"]
    assert {c.status for c in checks} <= {"ok", "warn", "fail"}
    by_name = {c.name: c for c in checks}
    assert by_name["antivirus"].status == "warn"
    assert str(tmp_path / "home") in (by_name["antivirus"].fix or "")
    assert by_name["encoding"].fix == set_env_command("powershell", "PYTHONUTF8", "1")
    json.dumps([c.as_dict() for c in checks])  # --json can carry every check
    assert exit_code(checks) == 0 and summary(checks)["fail"] == 0


def test_exit_code_is_one_only_when_something_fails() -> None:
    warn = Check("a", "A", "warn", "x")
    fail = Check("b", "B", "fail", "y")
    assert exit_code([warn]) == 0 and exit_code([warn, fail]) == 1
    assert summary([warn, fail]) == {"ok": 0, "warn": 1, "fail": 1}


def test_the_real_machine() -> None:
    machine = Machine.current()
    assert machine.platform == sys.platform and machine.python.executable == sys.executable
    assert machine.shell in doctor.SHELLS
