"""Service definitions: the server or a worker as a Windows service (native or NSSM), a systemd
unit (user or system) or a launchd job, as files to write and commands to run.

Everything here is pure: the platform, the interpreter, the home folder and the user are inputs,
and the result is a `ServicePlan` (files + commands) that `transom service` prints (`--dry-run`)
or carries out. So every manager's output is tested on Linux.

One design on every OS: the service runs `python -m transom service run ROLE --log-file FILE`
(`platform.supervisor`). That wrapper starts the real command (`transom server start`, or
`transom worker start --pool P`) through `platform.processes`, copies its output, UTF-8, into
`TRANSOM_HOME/logs/NAME.log` rotated by size (10 MB, 5 files kept by default), stops it gracefully
when the service stops, and exits with its exit code, so that the manager restarts it on failure
(systemd `Restart=on-failure`, launchd `KeepAlive.SuccessfulExit=false`, Windows recovery actions,
NSSM `AppExit Restart`). The child needs no console: on Windows the wrapper stops it through its
stdin (see `processes.STOP_MESSAGE`), which is why the CLI watches stdin when `TRANSOM__SUPERVISED`
is set.

A Windows service started from a virtual environment must not run the venv's `python.exe`: that
file is a launcher that starts the real interpreter as a child, and only the process the Service
Control Manager started may talk to it. So the service runs the base interpreter with
`__PYVENV_LAUNCHER__` pointing at the venv's `python.exe`, which is exactly what the launcher does.
"""

from __future__ import annotations

import ntpath
import posixpath
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from transom.exceptions import UserInputError
from transom.platform.system import shown_command_line

__all__ = [
    "DEFAULT_LOG_BACKUPS",
    "DEFAULT_LOG_MAX_BYTES",
    "LAUNCHD_PREFIX",
    "MANAGERS",
    "ROLES",
    "SCOPES",
    "FileToWrite",
    "PythonRuntime",
    "ServicePlan",
    "ServiceSpec",
    "Step",
    "build_spec",
    "control_plan",
    "default_manager",
    "default_name",
    "exists_probe",
    "install_plan",
    "is_missing",
    "launchd_plist",
    "launchd_plist_path",
    "needs_password",
    "run_arguments",
    "service_environment",
    "service_program",
    "systemd_unit",
    "systemd_unit_path",
    "target_command",
    "uninstall_plan",
    "user_config_home",
    "with_password",
]

ROLES = ("server", "worker")
SCOPES = ("user", "system")
MANAGERS: dict[str, tuple[str, ...]] = {
    "win32": ("windows", "nssm"), "linux": ("systemd",), "darwin": ("launchd",)}
DEFAULT_LOG_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_LOG_BACKUPS = 5
LAUNCHD_PREFIX = "org.transom."
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$")
_BUILTIN_WINDOWS_ACCOUNTS = ("localsystem", "nt authority\\", "nt service\\")
_RESTART_DELAY = 5  # seconds before a failed service is started again
_STOP_TIMEOUT = 30  # seconds the manager waits for a graceful stop


@dataclass(frozen=True)
class PythonRuntime:
    """The interpreter Transom runs under: the one a service must start."""

    executable: str  # sys.executable (in a venv: the venv's python)
    base_executable: str  # the real interpreter behind a venv (sys._base_executable)
    in_venv: bool = False

    @classmethod
    def current(cls) -> PythonRuntime:
        base = getattr(sys, "_base_executable", None) or sys.executable
        return cls(sys.executable, base, sys.prefix != sys.base_prefix)


@dataclass(frozen=True)
class ServiceSpec:
    """What to install: which command, under which name and manager, with what environment."""

    role: str
    name: str
    platform: str
    manager: str
    python: PythonRuntime
    home: str
    pool: str | None = None
    env: tuple[tuple[str, str], ...] = ()
    user: str | None = None
    password: str | None = None
    scope: str = "system"  # systemd and launchd: "user" (the installing user's) or "system"
    config_home: str | None = None  # where user units/agents live: ~/.config or ~/Library
    uid: int | None = None  # launchd: the gui/<uid> domain of a user agent
    nssm: str = "nssm"  # nssm.exe's path, when found
    log_max_bytes: int = DEFAULT_LOG_MAX_BYTES
    log_backups: int = DEFAULT_LOG_BACKUPS

    @property
    def windows(self) -> bool:
        return self.platform == "win32"

    def join(self, *parts: str) -> str:
        return ntpath.join(*parts) if self.windows else posixpath.join(*parts)

    @property
    def log_dir(self) -> str:
        return self.join(self.home, "logs")

    @property
    def log_file(self) -> str:
        return self.join(self.log_dir, f"{self.name}.log")

    @property
    def display_name(self) -> str:
        """Unique per service, as Windows requires of display names."""
        base = "Transom server" if self.role == "server" else f"Transom worker ({self.pool})"
        return base if self.name == default_name(self.role, self.pool) else f"{base} - {self.name}"

    @property
    def description(self) -> str:
        what = shown_command_line(target_command(self.role, self.pool, "python")[3:], "linux")
        if self.role == "server":
            return f"Transom API server and web UI (transom {what})"
        return f"Transom worker for pool {self.pool} (transom {what})"

    @property
    def unit_name(self) -> str:
        return f"{self.name}.service"

    @property
    def label(self) -> str:
        return LAUNCHD_PREFIX + self.name


# -- building a spec ----------------------------------------------------------------------------
def default_manager(platform: str) -> str:
    """The native service manager: a Windows service, systemd on Linux, launchd on macOS."""
    return MANAGERS.get(platform, ("systemd",))[0]


def user_config_home(platform: str, environ: Mapping[str, str], home: str) -> str:
    """The folder a user's own service definitions go under: ~/Library (launchd agents) on
    macOS, else $XDG_CONFIG_HOME or ~/.config (systemd user units)."""
    if platform == "darwin":
        return posixpath.join(home, "Library")
    return environ.get("XDG_CONFIG_HOME") or posixpath.join(home, ".config")


def default_name(role: str, pool: str | None = None) -> str:
    """`transom-server`, or `transom-worker-POOL` with the pool made safe for every manager."""
    if role == "server":
        return "transom-server"
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", pool or "").strip("-.") or "default"
    return f"transom-worker-{slug}"[:80]


def build_spec(
    role: str,
    *,
    platform: str,
    python: PythonRuntime,
    home: str,
    pool: str | None = None,
    name: str | None = None,
    env: Sequence[str] | Mapping[str, str] = (),
    user: str | None = None,
    password: str | None = None,
    manager: str | None = None,
    scope: str | None = None,
    is_root: bool = False,
    config_home: str | None = None,
    uid: int | None = None,
    nssm: str = "nssm",
    log_max_bytes: int = DEFAULT_LOG_MAX_BYTES,
    log_backups: int = DEFAULT_LOG_BACKUPS,
) -> ServiceSpec:
    """A checked ServiceSpec; every mistake is a UserInputError in one sentence.

    `env` is `KEY=VALUE` strings (as `--env` gives them) or a mapping. `scope` defaults to
    "system" for root and "user" otherwise (systemd and launchd only).
    """
    if role not in ROLES:
        raise UserInputError(f"unknown service {role!r}; install 'server' or 'worker'")
    if role == "worker" and not (pool and pool.strip()):
        raise UserInputError("a worker service needs its pool: add --pool NAME")
    if role == "server" and pool:
        raise UserInputError("--pool is for a worker; the server serves every pool")
    manager = manager or default_manager(platform)
    native = MANAGERS.get(platform, ("systemd",))
    if manager not in native:
        raise UserInputError(f"--manager {manager} is not available on {platform}; use "
                             + " or ".join(native))
    service_name = name or default_name(role, pool)
    if not _NAME.match(service_name):
        raise UserInputError(f"service name {service_name!r} may hold only letters, digits, '_', "
                             "'-' and '.' (at most 80, starting with a letter or digit)")
    if manager in ("systemd", "launchd"):
        scope = scope or ("system" if is_root else "user")
        if scope not in SCOPES:
            raise UserInputError(f"--scope must be 'user' or 'system', not {scope!r}")
        if scope == "user" and user:
            raise UserInputError("--user needs --scope system: a user service always runs as "
                                 "the user who installs it")
        if scope == "user" and not config_home:
            raise UserInputError("cannot tell where your user services live; set HOME")
        if manager == "launchd" and scope == "user" and uid is None:
            raise UserInputError("cannot tell your user id for launchctl; run as a normal user")
    else:
        scope = "system"
        if platform == "win32" and "\\windowsapps\\" in python.executable.lower():
            raise UserInputError(
                "Python from the Microsoft Store cannot run as a Windows service; install Python "
                "from python.org (winget install Python.Python.3.12), then Transom into it")
    if user is not None and not user.strip():
        raise UserInputError("--user is empty; give an account name or leave it out")
    return ServiceSpec(
        role=role, name=service_name, platform=platform, manager=manager, python=python,
        home=home, pool=pool.strip() if pool else None, env=_parse_env(env), user=user,
        password=password, scope=scope, config_home=config_home, uid=uid, nssm=nssm,
        log_max_bytes=log_max_bytes, log_backups=log_backups)


def _parse_env(env: Sequence[str] | Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    pairs: list[tuple[str, str]] = []
    items = env.items() if isinstance(env, Mapping) else [_split_env(text) for text in env]
    for key, value in items:
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", key):
            raise UserInputError(f"environment variable name {key!r} is not valid; use letters, "
                                 "digits and '_' (e.g. --env TRANSOM_API_KEY=...)")
        if "\n" in value or "\r" in value or "\0" in value:
            raise UserInputError(f"the value of {key} holds a line break or NUL, which a service "
                                 "definition cannot carry")
        pairs = [(k, v) for k, v in pairs if k != key] + [(key, value)]
    return tuple(pairs)


def _split_env(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise UserInputError(f"--env {text!r} must look like KEY=VALUE")
    return key, value


# -- what the service runs ----------------------------------------------------------------------
def target_command(role: str, pool: str | None, python: str) -> list[str]:
    """The command the wrapper keeps running: `transom server start` or
    `transom worker start --pool P`, through `python -m transom` (which always works)."""
    if role == "server":
        return [python, "-m", "transom", "server", "start"]
    return [python, "-m", "transom", "worker", "start", "--pool", pool or ""]


def run_arguments(spec: ServiceSpec) -> list[str]:
    """The arguments of `transom service run` (and of the Windows service host) for `spec`."""
    args = [spec.role]
    if spec.pool:
        args += ["--pool", spec.pool]
    args += ["--log-file", spec.log_file, "--max-bytes", str(spec.log_max_bytes),
             "--backups", str(spec.log_backups)]
    return args


def _service_python(spec: ServiceSpec) -> str:
    if spec.windows and spec.python.in_venv:
        return spec.python.base_executable
    return spec.python.executable


def service_program(spec: ServiceSpec) -> list[str]:
    """The argv the service manager starts."""
    if spec.manager == "windows":
        return [_service_python(spec), "-m", "transom.platform.winservice", *run_arguments(spec)]
    return [_service_python(spec), "-m", "transom", "service", "run", *run_arguments(spec)]


def service_environment(spec: ServiceSpec) -> list[tuple[str, str]]:
    """The service's environment: TRANSOM_HOME, UTF-8 output, the user's --env values last."""
    env = [("TRANSOM_HOME", spec.home), ("PYTHONUNBUFFERED", "1"), ("PYTHONIOENCODING", "utf-8")]
    if spec.windows and spec.python.in_venv:
        env.append(("__PYVENV_LAUNCHER__", spec.python.executable))
    given = dict(spec.env)
    return [(k, v) for k, v in env if k not in given] + list(spec.env)


# -- the files ------------------------------------------------------------------------------------
def _systemd_word(text: str) -> str:
    if "\n" in text:
        raise UserInputError(f"{text!r} holds a line break, which a systemd unit cannot carry")
    text = text.replace("%", "%%").replace("$", "$$")
    if text and not re.search(r"[\s\"'\\;]", text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _systemd_value(text: str) -> str:
    return text.replace("%", "%%")


def _systemd_env(key: str, value: str) -> str:
    # Environment= expands specifiers (%) but not variables ($); quoted, so spaces survive.
    text = f"{key}={value}".replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%")
    return f'Environment="{text}"'


def systemd_unit(spec: ServiceSpec) -> str:
    """The unit file: restarts on failure, stops gracefully, starts at boot (or at login for a
    user unit, and at boot once lingering is on)."""
    exec_start = " ".join(_systemd_word(arg) for arg in service_program(spec))
    lines = [
        f"# Written by `transom service install {spec.role}`; reinstall rather than edit.",
        "[Unit]",
        f"Description={_systemd_value(spec.description)}",
    ]
    if spec.scope == "system":  # a user manager has no network-online.target to wait for
        lines += ["After=network-online.target", "Wants=network-online.target"]
    lines += [
        "",
        "[Service]",
        "Type=simple",
        f"ExecStart={exec_start}",
        f"WorkingDirectory={_systemd_value(spec.home)}",
    ]
    for key, value in service_environment(spec):
        lines.append(_systemd_env(key, value))
    lines += [
        "Restart=on-failure",
        f"RestartSec={_RESTART_DELAY}",
        "# SIGTERM goes to the wrapper, which stops the server or worker gracefully.",
        "KillMode=mixed",
        f"TimeoutStopSec={_STOP_TIMEOUT}",
    ]
    if spec.user and spec.scope == "system":
        lines.append(f"User={spec.user}")
    lines += ["", "[Install]",
              "WantedBy=" + ("multi-user.target" if spec.scope == "system" else "default.target"),
              ""]
    return "\n".join(lines)


def systemd_unit_path(spec: ServiceSpec) -> str:
    if spec.scope == "system":
        return f"/etc/systemd/system/{spec.unit_name}"
    return posixpath.join(spec.config_home or "~/.config", "systemd", "user", spec.unit_name)


def launchd_plist(spec: ServiceSpec) -> str:
    """The launchd job: started at load (boot for a daemon, login for an agent), restarted when
    it exits with an error, given time to stop gracefully."""
    import plistlib

    job: dict[str, object] = {
        "Label": spec.label,
        "ProgramArguments": service_program(spec),
        "EnvironmentVariables": dict(service_environment(spec)),
        "WorkingDirectory": spec.home,
        "RunAtLoad": True,
        "KeepAlive": {"SuccessfulExit": False},
        "ThrottleInterval": _RESTART_DELAY * 2,
        "ExitTimeOut": _STOP_TIMEOUT,
        "ProcessType": "Standard",
        # Only what happens before the wrapper's own log is open (e.g. Python cannot start).
        "StandardOutPath": posixpath.join(spec.log_dir, f"{spec.name}.launchd.log"),
        "StandardErrorPath": posixpath.join(spec.log_dir, f"{spec.name}.launchd.log"),
    }
    if spec.user and spec.scope == "system":
        job["UserName"] = spec.user
    return plistlib.dumps(job, sort_keys=False).decode("utf-8")


def launchd_plist_path(spec: ServiceSpec) -> str:
    if spec.scope == "system":
        return f"/Library/LaunchDaemons/{spec.label}.plist"
    return posixpath.join(spec.config_home or "~/Library", "LaunchAgents", f"{spec.label}.plist")


# -- plans ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FileToWrite:
    path: str
    content: str


@dataclass(frozen=True)
class Step:
    """One command: the argv to run and the line to show (secrets masked)."""

    argv: tuple[str, ...]
    shown: str
    check: bool = True  # False: a failure is expected at times (stopping a stopped service)


@dataclass(frozen=True)
class ServicePlan:
    """Files to write or remove and commands to run, in order; `notes` are shown to the user."""

    spec: ServiceSpec
    files: tuple[FileToWrite, ...] = ()
    remove: tuple[str, ...] = ()
    steps: tuple[Step, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)
    needs_admin: bool = False


def _step(spec: ServiceSpec, *argv: str, check: bool = True, secret: str | None = None) -> Step:
    shown = shown_command_line(argv, spec.platform)
    if secret:
        shown = shown.replace(secret, "********")
    return Step(tuple(argv), shown, check)


def _systemctl(spec: ServiceSpec, *args: str, check: bool = True) -> Step:
    scope = ("--user",) if spec.scope == "user" else ()
    return _step(spec, "systemctl", *scope, *args, check=check)


def _launchd_domain(spec: ServiceSpec) -> str:
    return "system" if spec.scope == "system" else f"gui/{spec.uid}"


def _windows_account(user: str) -> str:
    low = user.lower()
    if "\\" in user or "@" in user or low.startswith(_BUILTIN_WINDOWS_ACCOUNTS):
        return user
    return ".\\" + user  # a local account: sc.exe wants the machine part


def _needs_password(user: str) -> bool:
    low = user.lower()
    return not (low.startswith(_BUILTIN_WINDOWS_ACCOUNTS) or low.endswith("$"))


def _reg_multi_sz(pairs: Sequence[tuple[str, str]]) -> tuple[str, str]:
    items = [f"{k}={v}" for k, v in pairs]
    for separator in ("|", "^", "~", "#", "`"):
        if not any(separator in item for item in items):
            return separator, separator.join(items)
    raise UserInputError("the service environment uses every separator reg.exe could take "
                         "(| ^ ~ # `); drop one of them from the --env values")


def install_plan(spec: ServiceSpec, *, exists: bool = False) -> ServicePlan:
    """Install (or reinstall over an existing one when `exists`) and start the service."""
    size = spec.log_max_bytes / (1024 * 1024)
    log: tuple[str, ...] = (
        f"Logs: {spec.log_file} (rotated at {size:g} MB, {spec.log_backups} kept).",)
    if spec.manager == "systemd":
        path = systemd_unit_path(spec)
        steps = [_systemctl(spec, "daemon-reload"), _systemctl(spec, "enable", spec.unit_name),
                 _systemctl(spec, "restart", spec.unit_name)]
        notes = log
        if spec.scope == "user":
            steps.append(_step(spec, "loginctl", "enable-linger", check=False))
            notes += ("A user unit starts at boot only while lingering is on for your user "
                      "(`loginctl enable-linger`); otherwise it starts when you log in.",)
        return ServicePlan(spec, files=(FileToWrite(path, systemd_unit(spec)),),
                           steps=tuple(steps), notes=notes, needs_admin=spec.scope == "system")
    if spec.manager == "launchd":
        path = launchd_plist_path(spec)
        domain = _launchd_domain(spec)
        steps = [_step(spec, "launchctl", "bootout", f"{domain}/{spec.label}", check=False),
                 _step(spec, "launchctl", "enable", f"{domain}/{spec.label}"),
                 _step(spec, "launchctl", "bootstrap", domain, path)]
        notes = log
        if spec.scope == "user":
            notes += ("A user agent starts when you log in; install with sudo and --scope system "
                      "to start at boot.",)
        return ServicePlan(spec, files=(FileToWrite(path, launchd_plist(spec)),),
                           steps=tuple(steps), notes=notes, needs_admin=spec.scope == "system")
    if spec.manager == "nssm":
        return _nssm_install(spec, exists, log)
    return _windows_install(spec, exists, log)


def _windows_install(spec: ServiceSpec, exists: bool, log: tuple[str, ...]) -> ServicePlan:
    bin_path = subprocess.list2cmdline(service_program(spec))
    account: list[str] = []
    secret = None
    if spec.user:
        account = ["obj=", _windows_account(spec.user)]
        if spec.password:
            account += ["password=", spec.password]
            secret = spec.password
    name = spec.name
    if exists:
        steps = [_step(spec, "net", "stop", name, check=False),
                 _step(spec, "sc.exe", "config", name, "binPath=", bin_path, "start=", "auto",
                       "DisplayName=", spec.display_name, *account, secret=secret)]
    else:
        steps = [_step(spec, "sc.exe", "create", name, "binPath=", bin_path, "start=", "auto",
                       "DisplayName=", spec.display_name, *account, secret=secret)]
    separator, data = _reg_multi_sz(service_environment(spec))
    steps += [
        _step(spec, "sc.exe", "description", name, spec.description),
        _step(spec, "sc.exe", "failure", name, "reset=", "86400",
              "actions=", "restart/5000/restart/10000/restart/30000"),
        # Recovery also when the service stops itself with an error, not only when it crashes.
        _step(spec, "sc.exe", "failureflag", name, "1"),
        _step(spec, "reg.exe", "add", f"HKLM\\SYSTEM\\CurrentControlSet\\Services\\{name}",
              "/v", "Environment", "/t", "REG_MULTI_SZ", "/s", separator, "/d", data, "/f"),
        _step(spec, "net", "start", name),
    ]
    return ServicePlan(spec, steps=tuple(steps), notes=log + _windows_notes(spec),
                       needs_admin=True)


def _windows_notes(spec: ServiceSpec) -> tuple[str, ...]:
    who = spec.user or "LocalSystem"
    return (f"The service runs as {who}; it needs read and write access to {spec.home}.",)


def _nssm_install(spec: ServiceSpec, exists: bool, log: tuple[str, ...]) -> ServicePlan:
    program = service_program(spec)
    nssm, name = spec.nssm, spec.name
    own_log = spec.join(spec.log_dir, f"{name}.nssm.log")
    steps = ([_step(spec, nssm, "stop", name, check=False)] if exists
             else [_step(spec, nssm, "install", name, program[0])])
    steps += [
        _step(spec, nssm, "set", name, "Application", program[0]),
        _step(spec, nssm, "set", name, "AppParameters", subprocess.list2cmdline(program[1:])),
        _step(spec, nssm, "set", name, "AppDirectory", spec.home),
        _step(spec, nssm, "set", name, "DisplayName", spec.display_name),
        _step(spec, nssm, "set", name, "Description", spec.description),
        _step(spec, nssm, "set", name, "Start", "SERVICE_AUTO_START"),
        _step(spec, nssm, "set", name, "AppExit", "Default", "Restart"),
        _step(spec, nssm, "set", name, "AppRestartDelay", str(_RESTART_DELAY * 1000)),
        # Ctrl+C reaches the wrapper, which stops its child gracefully within this time.
        _step(spec, nssm, "set", name, "AppStopMethodConsole", str(_STOP_TIMEOUT * 1000)),
        _step(spec, nssm, "set", name, "AppEnvironmentExtra",
              *[f"{k}={v}" for k, v in service_environment(spec)]),
        # Only what the wrapper prints before its own log is open; NSSM rotates it too.
        _step(spec, nssm, "set", name, "AppStdout", own_log),
        _step(spec, nssm, "set", name, "AppStderr", own_log),
        _step(spec, nssm, "set", name, "AppRotateFiles", "1"),
        _step(spec, nssm, "set", name, "AppRotateBytes", str(1024 * 1024)),
    ]
    if spec.user:
        account = [_windows_account(spec.user)] + ([spec.password] if spec.password else [])
        steps.append(_step(spec, nssm, "set", name, "ObjectName", *account, secret=spec.password))
    steps.append(_step(spec, nssm, "start", name))
    return ServicePlan(spec, steps=tuple(steps), notes=log + _windows_notes(spec), needs_admin=True)


def uninstall_plan(spec: ServiceSpec) -> ServicePlan:
    """Stop the service and remove it (its log files are kept)."""
    if spec.manager == "systemd":
        steps = (_systemctl(spec, "disable", "--now", spec.unit_name, check=False),)
        after = (_systemctl(spec, "daemon-reload"),)
        return ServicePlan(spec, remove=(systemd_unit_path(spec),), steps=steps + after,
                           needs_admin=spec.scope == "system")
    if spec.manager == "launchd":
        domain = _launchd_domain(spec)
        return ServicePlan(spec, remove=(launchd_plist_path(spec),),
                           steps=(_step(spec, "launchctl", "bootout", f"{domain}/{spec.label}",
                                        check=False),),
                           needs_admin=spec.scope == "system")
    if spec.manager == "nssm":
        return ServicePlan(spec, steps=(_step(spec, spec.nssm, "stop", spec.name, check=False),
                                        _step(spec, spec.nssm, "remove", spec.name, "confirm")),
                           needs_admin=True)
    return ServicePlan(spec, steps=(_step(spec, "net", "stop", spec.name, check=False),
                                    _step(spec, "sc.exe", "delete", spec.name)),
                       needs_admin=True)


def control_plan(spec: ServiceSpec, action: str) -> ServicePlan:
    """`start`, `stop` or `status` of an installed service."""
    if action not in ("start", "stop", "status"):
        raise UserInputError(f"unknown action {action!r}; use start, stop or status")
    admin = action != "status" and (spec.scope == "system" or spec.windows)
    if spec.manager == "systemd":
        args = ("status", spec.unit_name, "--no-pager", "--lines=0") if action == "status" \
            else (action, spec.unit_name)
        return ServicePlan(spec, steps=(_systemctl(spec, *args, check=action != "status"),),
                           needs_admin=admin)
    if spec.manager == "launchd":
        target = f"{_launchd_domain(spec)}/{spec.label}"
        argv = {"start": ("launchctl", "kickstart", target),
                "stop": ("launchctl", "kill", "SIGTERM", target),
                "status": ("launchctl", "print", target)}[action]
        return ServicePlan(spec, steps=(_step(spec, *argv, check=action != "status"),),
                           needs_admin=admin)
    if spec.manager == "nssm":
        return ServicePlan(spec, steps=(_step(spec, spec.nssm, action, spec.name,
                                              check=action != "status"),), needs_admin=admin)
    argv = ("sc.exe", "query", spec.name) if action == "status" else ("net", action, spec.name)
    return ServicePlan(spec, steps=(_step(spec, *argv, check=action != "status"),),
                       needs_admin=admin)


def exists_probe(spec: ServiceSpec) -> Step | None:
    """The command that tells whether the Windows service exists already (None elsewhere:
    writing the unit or plist again is how those are updated)."""
    if spec.manager == "windows":
        return _step(spec, "sc.exe", "query", spec.name, check=False)
    if spec.manager == "nssm":
        return _step(spec, spec.nssm, "status", spec.name, check=False)
    return None


def is_missing(spec: ServiceSpec, exit_code: int, output: str) -> bool:
    """Whether a status/probe answer means "no such service"."""
    text = output.lower()
    if spec.manager == "systemd":
        return exit_code == 4 or "could not be found" in text
    if spec.manager == "launchd":
        return exit_code == 113 or "could not find service" in text
    if spec.manager == "nssm":
        return "can't open service" in text or "does not exist" in text
    return exit_code == 1060 or "1060" in text


def with_password(spec: ServiceSpec, password: str | None) -> ServiceSpec:
    """`spec` with a password for its Windows account."""
    return replace(spec, password=password)


def needs_password(spec: ServiceSpec) -> bool:
    """True for a Windows service run as an account that logs on with a password."""
    return spec.windows and bool(spec.user) and not spec.password and _needs_password(spec.user or "")
