"""Diagnostics behind `transom doctor`: each check looks at one thing and says ok, warn or fail,
what it found, and the exact command that fixes it in the user's OS and shell.

Checks are plain functions of their inputs (the platform, the environment, `which`, a `Runner`
for system commands such as PowerShell's `Get-NetFirewallRule`, the settings), so Linux tests
drive the Windows and macOS branches. `Machine.current()` gathers the real inputs once and
`run_checks()` runs every check in order; nothing here changes the system.
"""

from __future__ import annotations

import ntpath
import os
import posixpath
import shlex
import shutil
import sys
import sysconfig
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from transom.exceptions import ConfigError, DatabaseError, ShellNotFound, TransomError
from transom.platform.console import ConsoleReport
from transom.platform.firewall import firewall_plan, inspect_firewall, rule_name
from transom.platform.network import PortOwner, find_free_port, port_is_free, port_owner
from transom.platform.paths import default_home, is_network_path, user_home
from transom.platform.shells import environ_get
from transom.platform.system import (
    CommandResult,
    Runner,
    current_platform,
    encoded_powershell,
    powershell_quote,
    run_system_command,
)
from transom.settings import Settings, resolve_home

__all__ = [
    "SHELLS",
    "STATUSES",
    "Check",
    "Machine",
    "PythonInfo",
    "add_to_path_command",
    "check_antivirus",
    "check_api",
    "check_database",
    "check_encoding",
    "check_firewall",
    "check_home",
    "check_port",
    "check_powershell",
    "check_python",
    "check_settings",
    "check_storage_location",
    "check_transom_command",
    "exit_code",
    "python_command",
    "run_checks",
    "set_env_command",
    "summary",
    "user_shell",
]

STATUSES = ("ok", "warn", "fail")
SHELLS = ("powershell", "cmd", "bash", "zsh", "fish", "sh")
_GB = 1024 ** 3
_MB = 1024 ** 2

Which = Callable[[str], "str | None"]


@dataclass(frozen=True)
class Check:
    """One finding: `status` is ok, warn or fail; `fix` is a command to type, if any."""

    name: str
    title: str
    status: str
    finding: str
    fix: str | None = None
    details: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "status": self.status,
                "finding": self.finding, "fix": self.fix, "details": list(self.details)}


@dataclass(frozen=True)
class PythonInfo:
    """The interpreter running Transom, and where its scripts (`transom`) are installed."""

    executable: str
    version: str
    prefix: str
    base_prefix: str
    scripts_dir: str
    user_scripts_dir: str | None = None
    bits: int = 64

    @property
    def in_venv(self) -> bool:
        return self.prefix != self.base_prefix

    @classmethod
    def current(cls) -> PythonInfo:
        try:
            user_scripts: str | None = sysconfig.get_path(
                "scripts", sysconfig.get_preferred_scheme("user"))
        except (KeyError, AttributeError):
            user_scripts = None
        return cls(sys.executable, sys.version.split()[0], sys.prefix, sys.base_prefix,
                   sysconfig.get_path("scripts"), user_scripts, 64 if sys.maxsize > 2 ** 32 else 32)


@dataclass(frozen=True)
class Machine:
    """The inputs of every check, gathered once (tests build one with fakes at the seams)."""

    platform: str
    environ: Mapping[str, str]
    which: Which
    run: Runner
    shell: str
    python: PythonInfo
    exists: Callable[[str], bool] = os.path.exists
    console: ConsoleReport | None = None
    preferred_encoding: str = "utf-8"
    utf8_mode: bool = False
    temp_dir: str = field(default_factory=tempfile.gettempdir)

    @classmethod
    def current(cls, environ: Mapping[str, str] | None = None) -> Machine:
        import locale

        from transom.platform.console import last_report

        env = os.environ if environ is None else environ
        platform = current_platform()
        path = environ_get(env, "PATH", platform)

        def which(name: str) -> str | None:
            return shutil.which(name, path=path)

        return cls(platform, env, which, run_system_command,
                   user_shell(platform, env, _ancestor_names()), PythonInfo.current(),
                   console=last_report(), preferred_encoding=locale.getpreferredencoding(False),
                   utf8_mode=bool(sys.flags.utf8_mode))


# -- the user's shell and commands written for it -----------------------------------------------
def user_shell(platform: str, environ: Mapping[str, str], ancestors: Sequence[str] = ()) -> str:
    """The shell the user types into: the nearest shell among our parent processes, else
    $SHELL on POSIX, else PowerShell on Windows and sh elsewhere."""
    for name in ancestors:
        kind = _shell_kind(name)
        if kind and (platform == "win32" or kind not in ("powershell", "cmd")):
            return kind
    if platform != "win32":
        return _shell_kind(environ.get("SHELL", "")) or "sh"
    return "powershell"


def _shell_kind(name: str) -> str | None:
    stem = ntpath.basename(posixpath.basename(name)).lower().removesuffix(".exe")
    if stem in ("pwsh", "powershell", "powershell_ise"):
        return "powershell"
    if stem in ("cmd", "bash", "zsh", "fish", "sh"):
        return stem
    if stem in ("dash", "ksh", "mksh", "ash"):
        return "sh"
    return None


def _ancestor_names(limit: int = 6) -> list[str]:
    try:
        import psutil

        names: list[str] = []
        process = psutil.Process().parent()
        while process is not None and len(names) < limit:
            names.append(process.name())
            process = process.parent()
        return names
    except Exception:  # psutil cannot see parents (sandbox, Wine): fall back to the environment
        return []


def _quote(shell: str, text: str) -> str:
    if shell == "powershell":
        return powershell_quote(text)
    if shell == "cmd":
        return f'"{text}"'
    return shlex.quote(text)


def _rc_file(shell: str) -> str:
    return {"bash": "~/.bashrc", "zsh": "~/.zshrc"}.get(shell, "~/.profile")


def set_env_command(shell: str, name: str, value: str) -> str:
    """Set an environment variable for good (new terminals and services) and in this terminal."""
    if shell == "powershell":
        quoted = powershell_quote(value)
        return (f"[Environment]::SetEnvironmentVariable('{name}', {quoted}, 'User'); "
                f"$env:{name} = {quoted}")
    if shell == "cmd":
        return f'setx {name} "{value}" && set "{name}={value}"'
    if shell == "fish":
        return f"set -Ux {name} {shlex.quote(value)}"
    line = f"export {name}={shlex.quote(value)}"
    return f"echo {shlex.quote(line)} >> {_rc_file(shell)} && {line}"


def add_to_path_command(shell: str, folder: str) -> str:
    """Add `folder` to PATH for good and in this terminal."""
    if shell in ("powershell", "cmd"):
        persist = ("[Environment]::SetEnvironmentVariable('Path', "
                   "[Environment]::GetEnvironmentVariable('Path', 'User') + "
                   f"{powershell_quote(';' + folder)}, 'User')")
        if shell == "powershell":
            return f"{persist}; $env:Path += {powershell_quote(';' + folder)}"
        return f'powershell -NoProfile -Command "{persist}" && set "PATH=%PATH%;{folder}"'
    if shell == "fish":
        return f"fish_add_path {shlex.quote(folder)}"
    line = f'export PATH={shlex.quote(folder)}:"$PATH"'
    return f"echo {shlex.quote(line)} >> {_rc_file(shell)} && {line}"


def python_command(shell: str, python: str, *args: str) -> str:
    """`python -m transom ARGS` as the user types it (PowerShell needs `&` before a quoted path)."""
    words = " ".join(_quote(shell, a) if _needs_quotes(a) else a for a in args)
    if not _needs_quotes(python):
        return f"{python} {words}".strip()
    prefix = "& " if shell == "powershell" else ""
    return f"{prefix}{_quote(shell, python)} {words}".strip()


def _needs_quotes(text: str) -> bool:
    return not text or any(c in text for c in " \t'\"&()$;`%!^|<>*?[]{}")


def _as_admin(shell: str, powershell_command: str) -> str:
    """A PowerShell command typed into `shell` (cmd.exe runs it through powershell)."""
    if shell == "powershell":
        return powershell_command
    return f'powershell -NoProfile -Command "{powershell_command}"'


# -- checks -----------------------------------------------------------------------------------
def check_transom_command(platform: str, environ: Mapping[str, str], which: Which,
                          python: PythonInfo, shell: str, *,
                          exists: Callable[[str], bool] = os.path.exists) -> Check:
    """The `transom` script is on PATH (and is this installation's); else the PATH line to add."""
    join = ntpath.join if platform == "win32" else posixpath.join
    script = "transom.exe" if platform == "win32" else "transom"
    fallback = python_command(shell, python.executable, "-m", "transom")
    installed = [d for d in (python.scripts_dir, python.user_scripts_dir)
                 if d and exists(join(d, script))]
    found = which("transom")
    if found:
        here = _normcase(platform, os.path.dirname(found))
        if installed and all(_normcase(platform, d) != here for d in installed):
            return Check("command", "transom on PATH", "warn",
                         f"`transom` on PATH is {found}, not this installation's "
                         f"({join(installed[0], script)})",
                         add_to_path_command(shell, installed[0]),
                         (f"or run this one as: {fallback}",))
        return Check("command", "transom on PATH", "ok", f"`transom` is {found}")
    if installed:
        return Check("command", "transom on PATH", "warn",
                     f"`transom` is installed in {installed[0]}, which is not on PATH",
                     add_to_path_command(shell, installed[0]),
                     (f"until then, run it as: {fallback}",))
    return Check("command", "transom on PATH", "warn",
                 "no `transom` script is installed for this Python",
                 python_command(shell, python.executable, "-m", "pip", "install",
                                "--force-reinstall", "--no-deps", "transom"),
                 (f"`python -m transom` always works: {fallback}",))


def _normcase(platform: str, path: str) -> str:
    return ntpath.normcase(path) if platform == "win32" else posixpath.normpath(path)


def check_python(python: PythonInfo, platform: str, shell: str) -> Check:
    """The Python in use: version, bitness, virtual environment; Store Python cannot host services."""
    where = f"virtual environment {python.prefix}" if python.in_venv else "no virtual environment"
    finding = f"Python {python.version} ({python.bits}-bit) at {python.executable}; {where}"
    if platform == "win32" and "\\windowsapps\\" in python.executable.lower():
        return Check("python", "Python", "warn",
                     finding + "; it is the Microsoft Store's Python, which cannot run Transom as "
                     "a Windows service", "winget install --id Python.Python.3.12 -e",
                     ("then install Transom into that Python",))
    return Check("python", "Python", "ok", finding)


def check_encoding(platform: str, environ: Mapping[str, str], shell: str, *,
                   console: ConsoleReport | None, preferred_encoding: str,
                   utf8_mode: bool) -> Check:
    """Console and I/O encoding: Transom's own UTF-8 setup, the code page, PYTHONIOENCODING and
    PYTHONUTF8; a legacy default encoding still affects files a flow opens without `encoding=`."""
    details: list[str] = []
    if console is not None:
        details.extend(console.lines())
    for name in ("PYTHONIOENCODING", "PYTHONUTF8"):
        if environ.get(name):
            details.append(f"{name}={environ[name]}")
    preferred = _codec(preferred_encoding)
    details.append(f"default encoding for files: {preferred}"
                   + (" (UTF-8 mode)" if utf8_mode else ""))
    if console is None:
        return Check("encoding", "Encoding", "warn",
                     "Transom's UTF-8 console setup has not run in this process",
                     None, tuple(details))
    stuck = [s for s in console.streams if not s.reconfigured
             and _codec(s.encoding_before or "utf-8") != "utf-8" and s.encoding_before]
    if stuck:
        names = ", ".join(f"{s.name} ({s.encoding_before})" for s in stuck)
        return Check("encoding", "Encoding", "warn",
                     f"could not switch {names} to UTF-8; non-English text may print as '?'",
                     set_env_command(shell, "PYTHONIOENCODING", "utf-8"), tuple(details))
    active = "Transom's output is UTF-8 whatever the console"
    if console.code_page_before not in (None, 65001):
        active += f" (code page {console.code_page_before} switched to 65001 while it runs)"
    if preferred != "utf-8" and not utf8_mode:
        return Check("encoding", "Encoding", "warn",
                     f"{active}; but Python's default encoding is {preferred}, so files your "
                     "flows open without encoding= and other Python tools use it",
                     set_env_command(shell, "PYTHONUTF8", "1"), tuple(details))
    return Check("encoding", "Encoding", "ok", active, None, tuple(details))


def _codec(name: str) -> str:
    import codecs

    try:
        return codecs.lookup(name).name
    except LookupError:
        return name


def check_settings(environ: Mapping[str, str]) -> tuple[Check, Settings]:
    """Settings load from the environment and profile; on failure the checks go on with defaults."""
    try:
        settings = Settings.load(environ)
    except ConfigError as exc:
        home, _ = resolve_home(environ)
        return Check("settings", "Settings", "fail", str(exc), "transom config view"), \
            Settings.model_validate({"home": home})
    warnings = settings.load_warnings()
    finding = f"profile {settings.profile!r} ({settings.profiles_path})"
    if warnings:
        return Check("settings", "Settings", "warn", finding + "; " + "; ".join(warnings)), settings
    return Check("settings", "Settings", "ok", finding), settings


def check_home(home: str, platform: str, shell: str, environ: Mapping[str, str], *,
               disk_usage: Callable[[str], Any] = shutil.disk_usage,
               writable: Callable[[str], str | None] | None = None) -> Check:
    """TRANSOM_HOME exists (or can be created), is writable, and has free disk space."""
    probe = writable or _write_probe
    title = "TRANSOM_HOME"
    other = _other_home(home, platform, environ)
    fix = set_env_command(shell, "TRANSOM_HOME", other)
    if os.path.exists(home) and not os.path.isdir(home):
        return Check("home", title, "fail", f"{home} is a file, not a folder", fix)
    existing = home
    while not os.path.isdir(existing):
        parent = os.path.dirname(existing)
        if parent == existing:
            break
        existing = parent
    problem = probe(existing)
    if problem:
        what = "is not writable" if existing == home else f"cannot be created in {existing}"
        return Check("home", title, "fail", f"{home} {what} ({problem})", fix)
    try:
        free = disk_usage(existing).free
    except OSError as exc:
        return Check("home", title, "warn", f"{home}: cannot read the free space ({exc})")
    state = "writable" if existing == home else "does not exist yet; created on first use"
    finding = f"{home} {state}, {free / _GB:.1f} GB free"
    if free < 100 * _MB:
        return Check("home", title, "fail", finding + "; runs and the database need space", fix)
    if free < _GB:
        return Check("home", title, "warn", finding + "; less than 1 GB left", fix)
    return Check("home", title, "ok", finding)


def _write_probe(folder: str) -> str | None:
    try:
        with tempfile.TemporaryFile(dir=folder, prefix=".transom-doctor-"):
            return None
    except OSError as exc:
        return exc.strerror or type(exc).__name__


def _other_home(home: str, platform: str, environ: Mapping[str, str]) -> str:
    default = default_home(platform, environ)
    if _normcase(platform, home) != _normcase(platform, default):
        return default
    join = ntpath.join if platform == "win32" else posixpath.join
    return join(user_home(platform, environ), "transom-home")


def check_storage_location(settings: Settings, platform: str, shell: str, *,
                           is_network: Callable[[str], bool] | None = None) -> Check:
    """Warn when the SQLite database lives on a network share (UNC, mapped drive, NFS/SMB):
    SQLite's locking and WAL mode are unsafe there."""
    network = is_network or (lambda path: is_network_path(path, platform))
    home = str(settings.home)
    db_file = _sqlite_file(settings.database_url_resolved)
    title = "Network storage"
    if db_file is not None and network(db_file):
        url = "postgresql://USER:PASSWORD@HOST:5432/transom"
        return Check("network", title, "warn",
                     f"the SQLite database {db_file} is on a network share; SQLite's WAL mode is "
                     "unsafe there (lost writes, 'database is locked'): use PostgreSQL",
                     set_env_command(shell, "TRANSOM_DATABASE_URL", url),
                     ("or move TRANSOM_HOME to a local disk",))
    if network(home):
        return Check("network", title, "ok",
                     f"TRANSOM_HOME {home} is on a network share; the database is not SQLite "
                     "there, which is fine")
    return Check("network", title, "ok", "TRANSOM_HOME and the database are on a local disk")


def _sqlite_file(url: str) -> str | None:
    from transom.store.urls import sqlite_file

    return sqlite_file(url)


def check_database(url: str, *, busy_timeout: float = 5.0,
                   exists: Callable[[str], bool] = os.path.exists) -> Check:
    """The database answers and its schema is the one this Transom expects."""
    from transom.store.database import HEAD_REVISION, KNOWN_REVISIONS, open_database

    title = "Database"
    db_file = _sqlite_file(url)
    if db_file is not None and not exists(db_file):
        return Check("database", title, "ok",
                     f"SQLite {db_file} does not exist yet; the first run creates it")
    try:
        db = open_database(url, busy_timeout=min(busy_timeout, 5.0), migrate=False)
    except DatabaseError as exc:
        return Check("database", title, "fail", str(exc))
    try:
        revision = db.revision()
    except DatabaseError as exc:
        return Check("database", title, "fail", str(exc))
    finally:
        db.close()
    where = f"{db.dialect} {db.where}"
    if revision == HEAD_REVISION:
        return Check("database", title, "ok", f"{where} answers; schema at revision {revision} "
                     "(current)")
    if revision is None:
        return Check("database", title, "warn", f"{where} answers but has no tables yet",
                     "transom db upgrade")
    if revision in KNOWN_REVISIONS:
        return Check("database", title, "warn", f"{where} is at schema revision {revision}; "
                     f"this Transom uses {HEAD_REVISION}", "transom db upgrade")
    return Check("database", title, "fail", f"{where} has schema revision {revision!r}, made by a "
                 "newer Transom", "python -m pip install -U transom")


def check_port(host: str, port: int, platform: str, shell: str, *,
               is_free: Callable[[str, int], bool] | None = None,
               owner: Callable[[int], PortOwner | None] = port_owner,
               is_transom: Callable[[str, int], bool] | None = None) -> Check:
    """The server's port is free, or held by a Transom server; else who holds it and a free port."""
    free_here = is_free or (lambda h, p: port_is_free(h, p, platform))
    title = "Server port"
    if free_here(host, port):
        return Check("port", title, "ok", f"{host}:{port} is free for `transom server start`")
    # Whether Transom answers first: finding the port's owner can take seconds (psutil reads
    # every process's sockets), and a Transom server there is what a user usually has.
    if (is_transom or _answers_as_transom)(host, port):
        return Check("port", title, "ok", f"{host}:{port} is in use by a Transom server, which "
                     "answers there")
    holder = owner(port)
    held = f"{holder.name} (pid {holder.pid})" if holder else "another program"
    free = find_free_port(host, port + 1, platform)
    details = []
    if holder:
        kill = {"powershell": f"Stop-Process -Id {holder.pid}",
                "cmd": f"taskkill /PID {holder.pid}"}.get(shell, f"kill {holder.pid}")
        details.append(f"or stop that program: {kill}")
    return Check("port", title, "fail", f"{host}:{port} is in use by {held}; the server cannot "
                 f"start there (port {free} is free)",
                 set_env_command(shell, "TRANSOM_SERVER_API_PORT", str(free)), tuple(details))


def _answers_as_transom(host: str, port: int) -> bool:
    from transom.client import TransomClient
    from transom.client.http import ApiError

    try:
        with TransomClient(f"http://{_client_host(host)}:{port}/api", retries=0,
                           timeout=1.0) as client:
            answer = client.request("GET", "/version")
    except ApiError as exc:
        return exc.status in (401, 403)  # a protected Transom server refuses us: still Transom
    except Exception:
        return False
    return isinstance(answer, dict) and "api" in answer


def check_api(settings: Settings, shell: str, *,
              probe: Callable[[Settings], Mapping[str, str]] | None = None,
              is_transom: Callable[[str, int], bool] | None = None) -> Check:
    """The configured TRANSOM_API_URL answers (and accepts our credentials). When it does not,
    say whether a Transom server answers on this machine's server port instead."""
    from transom.platform.network import is_loopback

    title = "API URL"
    url = settings.api_url
    if not url:
        return Check("api", title, "ok",
                     "TRANSOM_API_URL is not set: runs are recorded in the local database")
    try:
        answer = (probe or _health)(settings)
    except TransomError as exc:
        unreachable = "cannot reach" in str(exc)
        status = getattr(exc, "status", None)
        if status in (401, 403):
            return Check("api", title, "fail", str(exc),
                         set_env_command(shell, "TRANSOM_API_KEY", "THE-SERVER-KEY"),
                         ("the server's key is its TRANSOM_SERVER_API_KEY",))
        finding = str(exc) if unreachable else (
            f"{url} answers, but not as Transom's API ({exc}); the API's URL ends in /api")
        host, port = settings.server_api_host, settings.server_api_port
        local = f"http://{_client_host(host)}:{port}/api"
        if local.rstrip("/") != url.rstrip("/") and (is_transom or _answers_as_transom)(host, port):
            why = "nothing answers there" if unreachable else "it is not Transom's API"
            return Check("api", title, "fail",
                         f"TRANSOM_API_URL {url} is wrong ({why}); a Transom server answers at "
                         f"{local}", set_env_command(shell, "TRANSOM_API_URL", local),
                         ("or unset TRANSOM_API_URL to record runs in the local database",))
        target = _url_host(url)
        if unreachable and (target is None or is_loopback(target)):
            return Check("api", title, "fail", finding, "transom server start",
                         (f"or point TRANSOM_API_URL at the right server ({url} now)",))
        return Check("api", title, "fail", finding, None,
                     (f"check TRANSOM_API_URL ({url} now) and that its server runs",))
    database = answer.get("database", "?")
    return Check("api", title, "ok", f"{url} answers (server database: {database})")


def _url_host(url: str) -> str | None:
    from urllib.parse import urlsplit

    try:
        return urlsplit(url).hostname
    except ValueError:
        return None


def _client_host(host: str) -> str:
    """Where a client on this machine reaches a server listening on `host`."""
    target = "127.0.0.1" if host in ("0.0.0.0", "") else "::1" if host == "::" else host
    return f"[{target}]" if ":" in target else target


def _health(settings: Settings) -> Mapping[str, str]:
    from transom.client import TransomClient

    with TransomClient.from_settings(settings, retries=0, timeout=5.0) as client:
        return client.health()


def check_firewall(platform: str, host: str, port: int, shell: str, *, which: Which,
                   run: Runner, python: str) -> Check:
    """Inbound connections to the server port: a rule exists (or no firewall filters them)."""
    from transom.platform.network import is_loopback

    title = "Firewall"
    if is_loopback(host):
        return Check("firewall", title, "ok",
                     f"the server listens on {host} only, so no inbound rule is needed",
                     details=("to serve other machines: set TRANSOM_SERVER_API_HOST=0.0.0.0 and "
                              "an API key, then run `transom server firewall --apply`",))
    finding = inspect_firewall(platform, port, which=which, run=run, python=python)
    if finding.state in ("open", "off"):
        return Check("firewall", title, "ok", f"port {port}/tcp: {finding.detail}")
    plan = firewall_plan(platform, port, which=which, run=run, python=python)
    if platform == "win32":
        alternatives = dict(plan.alternatives)
        key = "cmd.exe (as Administrator)" if shell == "cmd" else "PowerShell (as Administrator)"
        fix = alternatives[key][0]
        details: tuple[str, ...] = ("as Administrator; or run `transom server firewall --apply` "
                                    "from an Administrator terminal",)
    else:
        shown = [step.shown for step in plan.steps] or [
            cmd for _, cmds in plan.alternatives[:1] for cmd in cmds]
        fix = " && ".join(shown)
        details = ("or run `transom server firewall --apply` as root",)
    return Check("firewall", title, "warn", f"port {port}/tcp: {finding.detail}", fix,
                 (f"rule name: {rule_name(port)}", *details))


def check_powershell(platform: str, environ: Mapping[str, str], which: Which,
                     run: Runner) -> Check:
    """Which shell runs shell tasks; on Windows PowerShell's presence and execution policy."""
    from transom.platform.shells import detect_shell

    try:
        shell = detect_shell(platform, environ, which)
    except ShellNotFound as exc:
        return Check("shell", "Shell", "fail", str(exc))
    if platform != "win32":
        extra = ""
        pwsh = which("pwsh")
        if pwsh:
            extra = f"; PowerShell 7 is at {pwsh} (shell='pwsh')"
        return Check("shell", "Shell", "ok", f"shell tasks use {shell.kind} at {shell.path}{extra}")
    if shell.family != "powershell":
        return Check("shell", "PowerShell", "warn",
                     f"PowerShell is not installed; shell tasks use {shell.name} ({shell.path})",
                     "winget install --id Microsoft.PowerShell -e")
    result = run(encoded_powershell(shell.path, "Get-ExecutionPolicy -List | ForEach-Object "
                                    "{ \"$($_.Scope)=$($_.ExecutionPolicy)\" }"), timeout=30)
    found = f"{shell.name} at {shell.path}"
    if not result.ok:
        return Check("shell", "PowerShell", "warn",
                     f"{found}, but it does not answer: {result.reason()}")
    policies = _policies(result)
    forced = {scope: policy for scope, policy in policies.items()
              if scope in ("MachinePolicy", "UserPolicy") and policy in ("AllSigned", "Restricted")}
    shown = ", ".join(f"{scope}={policy}" for scope, policy in policies.items()
                      if policy != "Undefined") or "all Undefined"
    if forced:
        scope, policy = next(iter(forced.items()))
        return Check("shell", "PowerShell", "warn",
                     f"{found}; Group Policy ({scope}) enforces {policy}, which overrides "
                     "-ExecutionPolicy Bypass: PowerShell shell tasks cannot run",
                     None, ("use shell='cmd' for shell tasks, or ask an administrator to allow "
                            "RemoteSigned",))
    return Check("shell", "PowerShell", "ok",
                 f"{found}; execution policy {shown} (Transom runs its scripts with "
                 "-ExecutionPolicy Bypass, so nothing needs changing)")


def _policies(result: CommandResult) -> dict[str, str]:
    policies: dict[str, str] = {}
    for line in result.stdout.splitlines():
        scope, sep, policy = line.strip().partition("=")
        if sep:
            policies[scope.strip()] = policy.strip()
    return policies


def check_antivirus(platform: str, shell: str, folders: Sequence[str], *, which: Which,
                    run: Runner) -> Check:
    """Windows Defender: the folders to exclude (home, Python, temp) and the command to do it."""
    title = "Antivirus"
    if platform != "win32":
        return Check("antivirus", title, "ok", f"no Windows Defender on {platform}")
    unique = list(dict.fromkeys(folders))
    command = "Add-MpPreference -ExclusionPath " + ", ".join(powershell_quote(f) for f in unique)
    fix = _as_admin(shell, command)
    details = ("as Administrator; scanning every file Transom and Python touch slows runs down "
               "and can make SQLite report 'database is locked'", *[f"exclude: {f}" for f in unique])
    powershell = which("pwsh") or which("powershell")
    if not powershell:
        return Check("antivirus", title, "ok", "cannot ask Windows Defender (no PowerShell)",
                     fix, details)
    script = ("$s = Get-MpComputerStatus -ErrorAction Stop; \"rtp`t$($s.RealTimeProtectionEnabled)\"\n"
              "(Get-MpPreference).ExclusionPath | ForEach-Object { \"exclusion`t$_\" }")
    result = run(encoded_powershell(powershell, script), timeout=30)
    if not result.ok:
        return Check("antivirus", title, "ok",
                     f"Windows Defender does not answer ({result.reason()}); if another "
                     "antivirus runs, exclude the folders below in it", fix, details)
    realtime = None
    exclusions: list[str] = []
    for line in result.stdout.splitlines():
        key, _, value = line.strip().partition("\t")
        if key == "rtp":
            realtime = value.strip().lower() == "true"
        elif key == "exclusion" and value.strip():
            exclusions.append(value.strip())
    if realtime is False:
        return Check("antivirus", title, "ok", "Windows Defender real-time protection is off")
    if any(e.lower().startswith("n/a") for e in exclusions):
        return Check("antivirus", title, "ok",
                     "Windows Defender is on; its exclusions can only be read as Administrator",
                     fix, details)
    missing = [f for f in unique if not _excluded(f, exclusions)]
    if not missing:
        return Check("antivirus", title, "ok", "Windows Defender excludes Transom's folders")
    command = "Add-MpPreference -ExclusionPath " + ", ".join(powershell_quote(f) for f in missing)
    return Check("antivirus", title, "warn",
                 f"Windows Defender scans {len(missing)} of Transom's folders",
                 _as_admin(shell, command), details)


def _excluded(folder: str, exclusions: Sequence[str]) -> bool:
    target = ntpath.normcase(folder.rstrip("\\/")) + "\\"
    return any(target.startswith(ntpath.normcase(e.rstrip("\\/")) + "\\") for e in exclusions)


# -- all of them ------------------------------------------------------------------------------
def run_checks(machine: Machine) -> list[Check]:
    """Every check, in the order a user fixes things: install, encoding, storage, network.

    They run one after another: side by side they were no faster here (0.41 s against 0.38 s on
    Linux), and under Wine's Windows emulation threads starting PowerShell beside SQLite made
    doctor die without a word now and then.
    """
    settings_check, settings = check_settings(machine.environ)
    home = str(settings.home)
    platform, shell, python = machine.platform, machine.shell, machine.python
    jobs: list[Callable[[], Check]] = [
        partial(check_transom_command, platform, machine.environ, machine.which, python, shell,
                exists=machine.exists),
        partial(check_python, python, platform, shell),
        partial(check_encoding, platform, machine.environ, shell, console=machine.console,
                preferred_encoding=machine.preferred_encoding, utf8_mode=machine.utf8_mode),
        lambda: settings_check,
        partial(check_home, home, platform, shell, machine.environ),
        partial(check_storage_location, settings, platform, shell),
        partial(check_database, settings.database_url_resolved,
                busy_timeout=settings.sqlite_busy_timeout),
        partial(check_port, settings.server_api_host, settings.server_api_port, platform, shell),
        partial(check_api, settings, shell),
        partial(check_firewall, platform, settings.server_api_host, settings.server_api_port,
                shell, which=machine.which, run=machine.run, python=python.executable),
        partial(check_powershell, platform, machine.environ, machine.which, machine.run),
        partial(check_antivirus, platform, shell,
                [home, python.base_prefix, python.prefix, machine.temp_dir],
                which=machine.which, run=machine.run),
    ]
    return [job() for job in jobs]


def summary(checks: Sequence[Check]) -> dict[str, int]:
    return {status: sum(1 for c in checks if c.status == status) for status in STATUSES}


def exit_code(checks: Sequence[Check]) -> int:
    """1 when any check failed, else 0 (warnings do not fail)."""
    return 1 if any(c.status == "fail" for c in checks) else 0
