"""`transom service install|uninstall|start|stop|status server|worker` and `transom service run`.

`install` makes the server, or a worker of one pool, a service of the OS: a native Windows
service (or NSSM with `--manager nssm`), a systemd unit on Linux (your user's, or the system's
when run as root or with `--scope system`), a launchd job on macOS. It starts at boot, restarts
on failure and logs to `TRANSOM_HOME/logs/NAME.log` with rotation. `--dry-run` prints the files
and commands without touching the system. The plans come from `platform.services`; this module
only asks the questions (which user, which scope, does it exist) and carries them out.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

import typer
from rich.text import Text

from transom.cli.help import Typer
from transom.cli.output import console, error_console
from transom.exceptions import ServiceError, UserInputError

if TYPE_CHECKING:
    from transom.platform.services import ServicePlan, ServiceSpec

__all__ = ["app"]

app = Typer(no_args_is_help=True)

_ROLE = typer.Argument(..., help="server, or worker (with --pool).", show_default=False)
_POOL = typer.Option(None, "--pool", help="The work pool a worker serves.")
_NAME = typer.Option(None, "--name", help="Service name (default transom-server or "
                     "transom-worker-POOL).")
_MANAGER = typer.Option(None, "--manager", help="windows or nssm on Windows; systemd on Linux; "
                        "launchd on macOS (default: the native one).")
_SCOPE = typer.Option(None, "--scope", help="systemd/launchd: user or system (default: system "
                      "as root, else user).")
_DRY_RUN = typer.Option(False, "--dry-run", help="Print the files and commands; change nothing.")


def _spec(role: str, pool: str | None, name: str | None, manager: str | None, scope: str | None,
          env: Sequence[str] = (), user: str | None = None,
          password: str | None = None) -> tuple[ServiceSpec, list[str]]:
    """The spec for this machine, and notes about settings that were not carried over."""
    from transom.platform.paths import unc_for_mapped_drive
    from transom.platform.services import PythonRuntime, build_spec, user_config_home
    from transom.platform.system import current_platform, is_admin
    from transom.settings import SECRET_SETTINGS, Settings, env_var

    settings = Settings.load()
    platform = current_platform()
    home = str(settings.home)
    notes: list[str] = []
    if platform == "win32":
        unc = unc_for_mapped_drive(home, platform)
        if unc:  # a service's logon session has no mapped drives
            notes.append(f"TRANSOM_HOME {home} is a mapped drive; the service uses {unc}.")
            home = unc
    carried: list[str] = []
    for setting, source in settings.sources().items():
        if source != "env" or setting == "home":
            continue
        variable = env_var(setting)
        if setting in SECRET_SETTINGS:
            notes.append(f"{variable} is set here but not copied into the service definition, "
                         "which others may read; keep it in the profile (`transom config set "
                         f"{setting}=...`) or pass --env {variable}=...")
        elif os.environ.get(variable):
            carried.append(f"{variable}={os.environ[variable]}")
    config_home = user_config_home(platform, os.environ,
                                   os.environ.get("HOME") or os.path.expanduser("~"))
    spec = build_spec(
        role, platform=platform, python=PythonRuntime.current(), home=home, pool=pool, name=name,
        env=[*carried, *env], user=user, password=password, manager=manager, scope=scope,
        is_root=is_admin(platform), config_home=config_home,
        uid=os.getuid() if hasattr(os, "getuid") else None, nssm=shutil.which("nssm") or "nssm")
    return spec, notes


def _show(plan: ServicePlan, heading: str) -> None:
    out = console()
    spec = plan.spec
    scope = f", {spec.scope} scope" if spec.manager in ("systemd", "launchd") else ""
    out.print(Text(f"{heading} {spec.name} ({spec.manager}{scope}): {spec.description}",
                   style="bold"))
    for file in plan.files:
        out.print(Text(f"--- write {file.path} ---", style="bold"))
        out.print(Text(file.content.rstrip("\n")))
    for path in plan.remove:
        out.print(Text(f"--- remove {path} ---", style="bold"))
    if plan.steps:
        out.print(Text("--- run ---", style="bold"))
        for step in plan.steps:
            out.print(Text(step.shown))
    for note in plan.notes:
        out.print(Text(note, style="dim"))


def _require_admin(plan: ServicePlan, command: str) -> None:
    from transom.platform.system import is_admin

    if not plan.needs_admin or is_admin(plan.spec.platform):
        return
    if plan.spec.windows:
        raise UserInputError(f"`transom service {command}` needs an Administrator terminal; open "
                             "PowerShell with 'Run as administrator' and run it again (add "
                             "--dry-run to see what it does)")
    raise UserInputError(f"a system-wide {plan.spec.manager} service needs root; run it with "
                         f"sudo ({sys.executable} -m transom service {command} ...) or use "
                         "--scope user")


def _carry_out(plan: ServicePlan) -> None:
    from transom.platform.system import run_system_command

    say = console()  # what was done is the command's output; only errors go to stderr
    for file in plan.files:
        try:
            os.makedirs(os.path.dirname(file.path), exist_ok=True)
            with open(file.path, "w", encoding="utf-8", newline="\n") as handle:
                handle.write(file.content)
        except OSError as exc:
            raise ServiceError(f"cannot write {file.path}: {exc.strerror or exc}") from None
        say.print(Text(f"wrote {file.path}"))
    for path in plan.remove:
        try:
            os.remove(path)
            say.print(Text(f"removed {path}"))
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise ServiceError(f"cannot remove {path}: {exc.strerror or exc}") from None
    for step in plan.steps:
        say.print(Text(f"$ {step.shown}", style="dim"))
        result = run_system_command(step.argv, timeout=120)
        if step.check and not result.ok:
            raise ServiceError(f"`{step.shown}` failed: {result.reason()}")


def _exists(spec: ServiceSpec) -> bool:
    from transom.platform.services import exists_probe
    from transom.platform.system import run_system_command

    probe = exists_probe(spec)
    # `sc.exe query` and `nssm status` succeed exactly when the service exists.
    return probe is not None and run_system_command(probe.argv, timeout=30).ok


@app.command("install")
def install(
    role: str = _ROLE,
    pool: str | None = _POOL,
    name: str | None = _NAME,
    env: list[str] = typer.Option([], "--env", help="KEY=VALUE for the service's environment "
                                  "(repeatable)."),
    user: str | None = typer.Option(None, "--user", help="Account the service runs as (Windows: "
                                    "asks for its password; systemd/launchd: --scope system)."),
    password: str | None = typer.Option(None, "--password", envvar="TRANSOM_SERVICE_PASSWORD",
                                        help="Windows: the --user account's password (else "
                                        "asked for).", show_envvar=False),
    manager: str | None = _MANAGER,
    scope: str | None = _SCOPE,
    dry_run: bool = _DRY_RUN,
) -> None:
    """Install the server, or a worker, as a service that starts at boot and restarts on failure."""
    from transom.platform.services import install_plan, needs_password, with_password

    spec, notes = _spec(role, pool, name, manager, scope, env, user, password)
    if spec.windows and not dry_run and needs_password(spec):
        spec = with_password(spec, typer.prompt(f"Password of {spec.user}", hide_input=True))
    plan = install_plan(spec, exists=False if dry_run else _exists(spec))
    for note in notes:
        error_console().print(Text(note, style="yellow"))
    if dry_run:
        _show(plan, "Would install")
        return
    if spec.manager == "nssm" and shutil.which("nssm") is None:
        _show(plan, "To install")
        raise UserInputError("nssm.exe is not on PATH; install it (winget install NSSM.NSSM, or "
                             "choco install nssm) and run the commands above, or leave out "
                             "--manager nssm for a native Windows service")
    if spec.manager == "windows":
        import importlib.util

        if importlib.util.find_spec("win32serviceutil") is None:
            raise UserInputError("pywin32 is not installed, and the Windows service host needs "
                                 f"it; run `{sys.executable} -m pip install pywin32`")
    _require_admin(plan, "install")
    os.makedirs(spec.log_dir, exist_ok=True)
    _carry_out(plan)
    console().print(Text(f"Installed and started {spec.name}. Logs: {spec.log_file}"))
    for note in plan.notes[1:]:
        console().print(Text(note, style="dim"))


@app.command("uninstall")
def uninstall(role: str = _ROLE, pool: str | None = _POOL, name: str | None = _NAME,
              manager: str | None = _MANAGER, scope: str | None = _SCOPE,
              dry_run: bool = _DRY_RUN) -> None:
    """Stop the service and remove it (its log files stay)."""
    from transom.platform.services import uninstall_plan

    spec, _ = _spec(role, pool, name, manager, scope)
    plan = uninstall_plan(spec)
    if dry_run:
        _show(plan, "Would uninstall")
        return
    _require_admin(plan, "uninstall")
    _carry_out(plan)
    console().print(Text(f"Removed {spec.name}. Its logs stay in {spec.log_dir}."))


def _control(action: str, role: str, pool: str | None, name: str | None, manager: str | None,
             scope: str | None, dry_run: bool) -> None:
    from transom.platform.services import control_plan, is_missing
    from transom.platform.system import run_system_command

    spec, _ = _spec(role, pool, name, manager, scope)
    plan = control_plan(spec, action)
    if dry_run:
        _show(plan, f"Would {action}")
        return
    if action != "status":
        _require_admin(plan, action)
        _carry_out(plan)
        console().print(Text(f"{'Started' if action == 'start' else 'Stopped'} {spec.name}."))
        return
    step = plan.steps[0]
    result = run_system_command(step.argv, timeout=60)
    if not result.started:
        raise ServiceError(f"cannot run `{step.shown}`: {result.reason()}")
    if is_missing(spec, result.exit_code, result.stdout + "\n" + result.stderr):
        hint = f" --pool {spec.pool}" if spec.pool else ""
        raise UserInputError(f"service {spec.name} is not installed; install it with "
                             f"`transom service install {spec.role}{hint}`")
    if result.exit_code != 0 and not result.stdout.strip():
        raise ServiceError(f"`{step.shown}` failed: {result.reason()}")
    out = console()
    out.print(Text(result.stdout.rstrip() or result.stderr.rstrip()))
    out.print(Text(f"Log: {spec.log_file}", style="bold"))
    for line in _tail(spec.log_file, 5):
        out.print(Text(f"  {line}", style="dim"))


def _tail(path: str, count: int) -> list[str]:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return [line.rstrip("\n") for line in handle.readlines()[-count:]]
    except OSError:
        return []


@app.command("start")
def start(role: str = _ROLE, pool: str | None = _POOL, name: str | None = _NAME,
          manager: str | None = _MANAGER, scope: str | None = _SCOPE,
          dry_run: bool = _DRY_RUN) -> None:
    """Start an installed service."""
    _control("start", role, pool, name, manager, scope, dry_run)


@app.command("stop")
def stop(role: str = _ROLE, pool: str | None = _POOL, name: str | None = _NAME,
         manager: str | None = _MANAGER, scope: str | None = _SCOPE,
         dry_run: bool = _DRY_RUN) -> None:
    """Stop a running service (it starts again at the next boot)."""
    _control("stop", role, pool, name, manager, scope, dry_run)


@app.command("status")
def status(role: str = _ROLE, pool: str | None = _POOL, name: str | None = _NAME,
           manager: str | None = _MANAGER, scope: str | None = _SCOPE,
           dry_run: bool = _DRY_RUN) -> None:
    """What the service manager says about the service, and the end of its log."""
    _control("status", role, pool, name, manager, scope, dry_run)


@app.command("run")
def run(
    role: str = _ROLE,
    pool: str | None = _POOL,
    log_file: str | None = typer.Option(None, "--log-file", help="Default "
                                        "TRANSOM_HOME/logs/NAME.log."),
    max_bytes: int = typer.Option(10 * 1024 * 1024, "--max-bytes", help="Rotate the log at this "
                                  "size."),
    backups: int = typer.Option(5, "--backups", help="Rotated log files to keep."),
) -> None:
    """What an installed service runs: `transom server start` (or `transom worker start --pool P`)
    kept as a child, its output in a rotating UTF-8 log, stopped gracefully on Ctrl+C/SIGTERM."""
    from transom.platform.services import ROLES, default_name
    from transom.platform.supervisor import (
        RunOptions,
        check_options,
        install_stop_signals,
        supervise,
    )
    from transom.settings import Settings

    if role not in ROLES:
        raise UserInputError(f"unknown service {role!r}; run 'server' or 'worker'")
    if log_file is None:
        name = default_name(role, pool)
        log_file = os.path.join(str(Settings.load().home), "logs", f"{name}.log")
    options = RunOptions(role, pool, log_file, max_bytes, backups)
    check_options(options)
    stop_event = threading.Event()
    restore = install_stop_signals(stop_event)
    interactive = sys.stdout is not None and sys.stdout.isatty()
    try:
        code = supervise(options.command(sys.executable), log_file=options.log_file,
                         stop=stop_event, max_bytes=options.max_bytes, backups=options.backups,
                         echo=(lambda text: console().print(Text(text))) if interactive else None)
    finally:
        restore()
    raise typer.Exit(code)
