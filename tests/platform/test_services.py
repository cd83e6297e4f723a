"""Service definitions for every manager, built on Linux through the platform parameter; the
systemd unit is also checked by systemd itself (`systemd-analyze verify`) where it exists."""

from __future__ import annotations

import plistlib
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from transom.exceptions import UserInputError
from transom.platform.services import (
    PythonRuntime,
    ServiceSpec,
    build_spec,
    control_plan,
    default_name,
    exists_probe,
    install_plan,
    is_missing,
    launchd_plist,
    needs_password,
    run_arguments,
    service_environment,
    service_program,
    systemd_unit,
    uninstall_plan,
    with_password,
)

POSIX_PY = PythonRuntime("/opt/venvs/transom/bin/python", "/usr/bin/python3.12", in_venv=True)
WIN_PY = PythonRuntime(r"C:\work\venv\Scripts\python.exe",
                       r"C:\Program Files\Python312\python.exe", in_venv=True)
WIN_HOME = r"C:\Users\Zoë\.transom"


def linux(role: str = "server", **options: Any) -> ServiceSpec:
    options.setdefault("home", "/home/zoë/.transom")
    options.setdefault("config_home", "/home/zoë/.config")
    return build_spec(role, platform="linux", python=POSIX_PY, **options)


def windows(role: str = "server", **options: Any) -> ServiceSpec:
    options.setdefault("home", WIN_HOME)
    return build_spec(role, platform="win32", python=WIN_PY, **options)


def mac(role: str = "server", **options: Any) -> ServiceSpec:
    options.setdefault("home", "/Users/zoe/.transom")
    options.setdefault("config_home", "/Users/zoe/Library")
    options.setdefault("uid", 501)
    return build_spec(role, platform="darwin", python=POSIX_PY, **options)


# -- specs ----------------------------------------------------------------------------------------
def test_default_names_are_safe_for_every_manager() -> None:
    assert default_name("server") == "transom-server"
    assert default_name("worker", "nightly") == "transom-worker-nightly"
    assert default_name("worker", "ETL / données 2") == "transom-worker-ETL-donn-es-2"


@pytest.mark.parametrize(("call", "fragment"), [
    (lambda: linux("scheduler"), "unknown service 'scheduler'"),
    (lambda: linux("worker"), "needs its pool: add --pool"),
    (lambda: linux("server", pool="p"), "--pool is for a worker"),
    (lambda: linux(manager="nssm"), "--manager nssm is not available on linux; use systemd"),
    (lambda: windows(manager="systemd"), "use windows or nssm"),
    (lambda: linux(name="my service"), "may hold only letters"),
    (lambda: linux(user="svc"), "--user needs --scope system"),
    (lambda: linux(scope="global"), "--scope must be 'user' or 'system'"),
    (lambda: linux(env=["NOEQUALS"]), "must look like KEY=VALUE"),
    (lambda: linux(env=["1BAD=x"]), "name '1BAD' is not valid"),
    (lambda: linux(env=["A=two\nlines"]), "line break"),
    (lambda: mac(uid=None), "user id"),
])
def test_mistakes_are_one_sentence(call: Any, fragment: str) -> None:
    with pytest.raises(UserInputError, match=None) as caught:
        call()
    assert fragment in str(caught.value)


def test_store_python_cannot_be_a_windows_service() -> None:
    store = PythonRuntime(r"C:\Users\a\AppData\Local\Microsoft\WindowsApps\python.exe",
                          r"C:\Users\a\AppData\Local\Microsoft\WindowsApps\python.exe")
    with pytest.raises(UserInputError, match="Microsoft Store"):
        build_spec("server", platform="win32", python=store, home=WIN_HOME)


def test_scope_defaults_to_system_for_root_and_user_otherwise() -> None:
    assert linux().scope == "user"
    assert linux(is_root=True).scope == "system"
    assert windows().scope == "system"


def test_worker_runs_transom_worker_start_with_its_pool_through_the_wrapper() -> None:
    spec = linux("worker", pool="nightly etl")
    assert spec.name == "transom-worker-nightly-etl"
    assert run_arguments(spec) == [
        "worker", "--pool", "nightly etl", "--log-file",
        "/home/zoë/.transom/logs/transom-worker-nightly-etl.log", "--max-bytes", "10485760",
        "--backups", "5"]
    assert service_program(spec)[:5] == [POSIX_PY.executable, "-m", "transom", "service", "run"]
    assert "transom worker start --pool 'nightly etl'" in spec.description


def test_environment_has_home_and_utf8_and_the_users_values_win() -> None:
    spec = linux(env=["TRANSOM_API_URL=http://10.0.0.5:4200/api", "PYTHONIOENCODING=utf-8:strict"])
    env = dict(service_environment(spec))
    assert env["TRANSOM_HOME"] == "/home/zoë/.transom"
    assert env["PYTHONIOENCODING"] == "utf-8:strict"
    assert env["TRANSOM_API_URL"] == "http://10.0.0.5:4200/api"
    assert "__PYVENV_LAUNCHER__" not in env


# -- systemd --------------------------------------------------------------------------------------
def test_system_unit() -> None:
    spec = linux("server", is_root=True, user="transom")
    unit = systemd_unit(spec)
    assert "After=network-online.target" in unit
    assert ("ExecStart=/opt/venvs/transom/bin/python -m transom service run server --log-file "
            "/home/zoë/.transom/logs/transom-server.log --max-bytes 10485760 --backups 5") in unit
    for line in ("Restart=on-failure", "KillMode=mixed", "User=transom",
                 "WantedBy=multi-user.target", 'Environment="TRANSOM_HOME=/home/zoë/.transom"'):
        assert line in unit.splitlines()
    plan = install_plan(spec)
    assert plan.files[0].path == "/etc/systemd/system/transom-server.service"
    assert [s.shown for s in plan.steps] == [
        "systemctl daemon-reload", "systemctl enable transom-server.service",
        "systemctl restart transom-server.service"]
    assert plan.needs_admin


def test_user_unit_lives_in_the_users_config_and_lingers() -> None:
    spec = linux("worker", pool="p1")
    unit = systemd_unit(spec)
    assert "network-online" not in unit  # a user manager has no such target
    assert "WantedBy=default.target" in unit and "User=" not in unit
    plan = install_plan(spec)
    assert plan.files[0].path == "/home/zoë/.config/systemd/user/transom-worker-p1.service"
    assert [s.shown for s in plan.steps] == [
        "systemctl --user daemon-reload", "systemctl --user enable transom-worker-p1.service",
        "systemctl --user restart transom-worker-p1.service", "loginctl enable-linger"]
    assert not plan.steps[-1].check and not plan.needs_admin
    assert any("enable-linger" in note for note in plan.notes)


def test_unit_quotes_spaces_percent_dollar_and_quotes() -> None:
    spec = linux(home='/srv/my "odd" 100%$HOME', env=["A=b c", 'B=say "hi" \\ 5%'],
                 is_root=True)
    unit = systemd_unit(spec)
    assert ('--log-file "/srv/my \\"odd\\" 100%%$$HOME/logs/transom-server.log"' in unit)
    assert "WorkingDirectory=/srv/my \"odd\" 100%%$HOME" in unit
    assert 'Environment="A=b c"' in unit
    assert 'Environment="B=say \\"hi\\" \\\\ 5%%"' in unit


def _verify(unit_file: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["systemd-analyze", "verify", str(unit_file)], capture_output=True,
                          text=True, timeout=60)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                    reason="systemd-analyze is not installed here")
@pytest.mark.parametrize("role", ["server", "worker"])
def test_systemd_accepts_the_unit(tmp_path: Path, role: str) -> None:
    runtime = PythonRuntime(sys.executable, sys.executable)
    home = tmp_path / "home with spaces, ünïcode & 100%"
    spec = build_spec(role, platform="linux", python=runtime, home=str(home),
                      pool="nightly etl" if role == "worker" else None, is_root=True,
                      env=['GREETING=say "hi" $USER 50%'])
    unit_file = tmp_path / spec.unit_name
    unit_file.write_text(systemd_unit(spec), encoding="utf-8")
    done = _verify(unit_file)
    assert done.returncode == 0, done.stderr
    assert spec.unit_name not in done.stdout + done.stderr, done.stderr  # not even a warning
    # The same check fails for a broken unit, so it can tell.
    broken = tmp_path / "broken.service"
    broken.write_text(systemd_unit(spec).replace("Restart=on-failure", "Restart=sometimes"),
                      encoding="utf-8")
    complaint = _verify(broken)
    assert "broken.service" in complaint.stdout + complaint.stderr


def test_systemd_uninstall_and_control() -> None:
    spec = linux()
    plan = uninstall_plan(spec)
    assert plan.remove == ("/home/zoë/.config/systemd/user/transom-server.service",)
    assert [s.shown for s in plan.steps] == [
        "systemctl --user disable --now transom-server.service", "systemctl --user daemon-reload"]
    assert control_plan(spec, "status").steps[0].shown == (
        "systemctl --user status transom-server.service --no-pager --lines=0")
    assert control_plan(spec, "stop").steps[0].argv == (
        "systemctl", "--user", "stop", "transom-server.service")
    with pytest.raises(UserInputError, match="start, stop or status"):
        control_plan(spec, "restart-all")
    assert exists_probe(spec) is None


# -- launchd --------------------------------------------------------------------------------------
def test_launchd_agent() -> None:
    spec = mac("worker", pool="p")
    job = plistlib.loads(launchd_plist(spec).encode("utf-8"))
    assert job["Label"] == "org.transom.transom-worker-p"
    assert job["ProgramArguments"] == service_program(spec)
    assert job["ProgramArguments"][:5] == [POSIX_PY.executable, "-m", "transom", "service", "run"]
    assert job["RunAtLoad"] is True and job["KeepAlive"] == {"SuccessfulExit": False}
    assert job["EnvironmentVariables"]["TRANSOM_HOME"] == "/Users/zoe/.transom"
    assert job["StandardErrorPath"] == "/Users/zoe/.transom/logs/transom-worker-p.launchd.log"
    assert "UserName" not in job
    plan = install_plan(spec)
    assert plan.files[0].path == "/Users/zoe/Library/LaunchAgents/org.transom.transom-worker-p.plist"
    assert [s.argv for s in plan.steps] == [
        ("launchctl", "bootout", "gui/501/org.transom.transom-worker-p"),
        ("launchctl", "enable", "gui/501/org.transom.transom-worker-p"),
        ("launchctl", "bootstrap", "gui/501", plan.files[0].path)]
    assert not plan.steps[0].check  # nothing to boot out on a first install


def test_launchd_daemon_runs_as_the_given_user() -> None:
    spec = mac(scope="system", user="_transom")
    job = plistlib.loads(launchd_plist(spec).encode("utf-8"))
    assert job["UserName"] == "_transom"
    plan = install_plan(spec)
    assert plan.files[0].path == "/Library/LaunchDaemons/org.transom.transom-server.plist"
    assert plan.steps[-1].argv == ("launchctl", "bootstrap", "system", plan.files[0].path)
    assert control_plan(spec, "stop").steps[0].argv == (
        "launchctl", "kill", "SIGTERM", "system/org.transom.transom-server")
    assert uninstall_plan(spec).remove == (plan.files[0].path,)


# -- Windows --------------------------------------------------------------------------------------
def test_the_windows_service_host_is_windows_only() -> None:
    import importlib

    if sys.platform != "win32":
        with pytest.raises(ImportError, match="runs only on Windows"):
            importlib.import_module("transom.platform.winservice")
        return
    host = importlib.import_module("transom.platform.winservice")  # pywin32 is a dependency there
    import win32serviceutil

    assert issubclass(host.TransomService, win32serviceutil.ServiceFramework)


def test_native_service_runs_the_base_interpreter_as_the_venv() -> None:
    spec = windows()
    program = service_program(spec)
    assert program[:3] == [WIN_PY.base_executable, "-m", "transom.platform.winservice"]
    assert program[3:] == ["server", "--log-file", WIN_HOME + r"\logs\transom-server.log",
                           "--max-bytes", "10485760", "--backups", "5"]
    env = dict(service_environment(spec))
    assert env["__PYVENV_LAUNCHER__"] == WIN_PY.executable  # what the venv launcher would set
    assert env["TRANSOM_HOME"] == WIN_HOME


def test_native_install_commands() -> None:
    spec = windows("worker", pool="etl", env=["TRANSOM_API_URL=http://srv:4200/api"])
    steps = install_plan(spec).steps
    create = steps[0].argv
    assert create[:3] == ("sc.exe", "create", "transom-worker-etl")
    bin_path = create[create.index("binPath=") + 1]
    assert bin_path == subprocess.list2cmdline(service_program(spec))
    assert bin_path.startswith('"C:\\Program Files\\Python312\\python.exe" -m transom.platform.winservice')
    assert create[create.index("start=") + 1] == "auto"
    assert ("sc.exe", "failureflag", "transom-worker-etl", "1") in [s.argv for s in steps]
    failure = next(s.argv for s in steps if s.argv[1] == "failure")
    assert "restart/5000/restart/10000/restart/30000" in failure
    reg = next(s.argv for s in steps if s.argv[0] == "reg.exe")
    separator = reg[reg.index("/s") + 1]
    values = reg[reg.index("/d") + 1].split(separator)
    shown = next(s.shown for s in steps if s.argv[0] == "reg.exe")
    assert f'/s "{separator}"' in shown  # typed into cmd.exe, a bare | would be a pipe
    assert "TRANSOM_API_URL=http://srv:4200/api" in values
    assert f"__PYVENV_LAUNCHER__={WIN_PY.executable}" in values
    assert steps[-1].argv == ("net", "start", "transom-worker-etl")


def test_display_names_stay_unique() -> None:
    assert windows().display_name == "Transom server"
    assert windows(name="transom-b").display_name == "Transom server - transom-b"
    assert windows("worker", pool="etl").display_name == "Transom worker (etl)"
    assert windows("worker", pool="etl", name="etl-2").display_name == "Transom worker (etl) - etl-2"


def test_reg_separator_avoids_characters_in_the_values() -> None:
    spec = windows(env=["A=x|y", "B=^"])
    reg = next(s.argv for s in install_plan(spec).steps if s.argv[0] == "reg.exe")
    assert reg[reg.index("/s") + 1] == "~"


def test_reinstall_reconfigures_instead_of_creating() -> None:
    steps = install_plan(windows(), exists=True).steps
    assert steps[0].argv == ("net", "stop", "transom-server") and not steps[0].check
    assert steps[1].argv[:3] == ("sc.exe", "config", "transom-server")


def test_windows_accounts_and_passwords() -> None:
    spec = windows(user="svc-transom")
    assert needs_password(spec)
    spec = with_password(spec, "s3cret!")
    create = install_plan(spec).steps[0]
    assert create.argv[-4:] == ("obj=", ".\\svc-transom", "password=", "s3cret!")
    assert "s3cret!" not in create.shown and "********" in create.shown
    builtin = windows(user="NT AUTHORITY\\NetworkService")
    assert not needs_password(builtin)
    assert install_plan(builtin).steps[0].argv[-2:] == ("obj=", "NT AUTHORITY\\NetworkService")
    assert not needs_password(windows(user="CORP\\gmsa-transom$"))


def test_nssm_install_commands() -> None:
    spec = windows(manager="nssm", nssm=r"C:\tools\nssm.exe", user="CORP\\svc",
                   password="pw", env=["A=1"])
    steps = install_plan(spec).steps
    argv = [s.argv for s in steps]
    assert argv[0] == (r"C:\tools\nssm.exe", "install", "transom-server", WIN_PY.base_executable)
    params = next(a for a in argv if a[2:4] == ("transom-server", "AppParameters"))[4]
    assert params == subprocess.list2cmdline(service_program(spec)[1:])
    assert params.startswith("-m transom service run server --log-file")
    extra = next(a for a in argv if a[3] == "AppEnvironmentExtra")
    assert "A=1" in extra and f"__PYVENV_LAUNCHER__={WIN_PY.executable}" in extra
    assert (r"C:\tools\nssm.exe", "set", "transom-server", "AppExit", "Default", "Restart") in argv
    account = next(s for s in steps if s.argv[3] == "ObjectName")
    assert account.argv[-2:] == ("CORP\\svc", "pw") and "pw" not in account.shown.split()
    assert argv[-1] == (r"C:\tools\nssm.exe", "start", "transom-server")
    again = install_plan(spec, exists=True).steps
    assert again[0].argv[1] == "stop" and "install" not in [s.argv[1] for s in again]


def test_windows_uninstall_control_and_missing() -> None:
    spec = windows()
    assert [s.argv for s in uninstall_plan(spec).steps] == [
        ("net", "stop", "transom-server"), ("sc.exe", "delete", "transom-server")]
    assert control_plan(spec, "status").steps[0].argv == ("sc.exe", "query", "transom-server")
    assert control_plan(spec, "start").needs_admin
    assert is_missing(spec, 1060, "[SC] EnumQueryServicesStatus:OpenService FAILED 1060:")
    assert not is_missing(spec, 0, "STATE : 4 RUNNING")
    nssm = windows(manager="nssm")
    assert is_missing(nssm, 3, "Can't open service!")
    assert is_missing(linux(), 4, "Unit transom-server.service could not be found.")
    assert is_missing(mac(), 113, 'Could not find service "org.transom.transom-server"')


def test_user_service_definitions_go_under_library_on_macos_and_xdg_elsewhere() -> None:
    from transom.platform.services import user_config_home

    assert user_config_home("darwin", {"XDG_CONFIG_HOME": "/x"}, "/Users/zoe") == "/Users/zoe/Library"
    assert user_config_home("linux", {}, "/home/zoë") == "/home/zoë/.config"
    assert user_config_home("linux", {"XDG_CONFIG_HOME": "/cfg"}, "/home/zoë") == "/cfg"
    assert user_config_home("linux", {"XDG_CONFIG_HOME": ""}, "/home/zoë") == "/home/zoë/.config"
