"""Shells: which one runs a command, and the script file and command line that run it.

`detect_shell` picks pwsh, then Windows PowerShell, then cmd.exe on Windows, and bash, then sh
elsewhere. A shell the user names (`"pwsh"`, `"cmd"`, `"bash"`, a full path) is used as given or
refused with a clear error, never silently swapped for another. A command becomes a script file in
its shell's own terms, so no quoting of the command itself is ever needed:

- PowerShell: `.ps1` in UTF-8 with a BOM (Windows PowerShell 5.1 reads a BOM-less file in the ANSI
  code page and mangles non-ASCII), run with `-NoProfile -NonInteractive -ExecutionPolicy Bypass
  -File` so no execution-policy change is needed; errors and a failing last native command give a
  non-zero exit code, as GitHub Actions' `pwsh` steps do.
- cmd.exe: `.cmd` with CRLF line ends (`call :label` breaks on LF-only files) that switches to code
  page 65001 and back and ends with an explicit `exit /b N`, run with `/d /s /c`. cmd.exe refuses
  a UNC working directory (it falls back to C:\\Windows!), so there the script `pushd`es into it.
- bash/sh: `.sh` with LF line ends, `set -e` (and `pipefail` in bash) when `fail_fast`.

Everything here is pure: the platform, the environment and `which` are inputs, so the Windows
branches are tested on Linux. Nothing here starts a process (that is `processes.py`).
"""

from __future__ import annotations

import logging
import ntpath
import os
import posixpath
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from transom.exceptions import ShellNotFound, UserInputError
from transom.platform.paths import is_unc

__all__ = [
    "SHELL_KINDS",
    "PreparedScript",
    "ShellSpec",
    "command_line",
    "detect_shell",
    "environ_get",
    "normalize_command",
    "prepare_script",
    "temporary_script",
]

SHELL_KINDS = ("pwsh", "powershell", "cmd", "bash", "sh")
"""The shells Transom knows how to run; zsh, dash, ksh and friends count as "sh"."""

_DEFAULT_ORDER = {"win32": ("pwsh", "powershell", "cmd"), "posix": ("bash", "sh")}
_WINDOWS_ONLY = ("powershell", "cmd")
_NAMES = {
    "pwsh": "pwsh", "powershell": "powershell", "cmd": "cmd", "bash": "bash", "sh": "sh",
    "dash": "sh", "ash": "sh", "ksh": "sh", "mksh": "sh", "zsh": "sh", "busybox": "sh",
}
_FAMILY = {"pwsh": "powershell", "powershell": "powershell", "cmd": "cmd",
           "bash": "posix", "sh": "posix"}
_SUFFIX = {"powershell": ".ps1", "cmd": ".cmd", "posix": ".sh"}
_LINE_BREAK = re.compile(r"\r\n|\r|\n")

Which = Callable[[str], "str | None"]


@dataclass(frozen=True)
class ShellSpec:
    """A shell to run commands with: its kind (one of SHELL_KINDS) and the executable's path."""

    kind: str
    path: str
    platform: str = sys.platform
    forced: bool = False

    @property
    def family(self) -> str:
        """"powershell", "cmd" or "posix": what the script file looks like."""
        return _FAMILY[self.kind]

    @property
    def suffix(self) -> str:
        """The script file's extension: .ps1, .cmd or .sh."""
        return _SUFFIX[self.family]

    @property
    def name(self) -> str:
        """The executable's file name, as messages show it (`pwsh.exe`, `cmd.exe`, `bash`)."""
        return _basename(self.path, self.platform) or self.kind


@dataclass(frozen=True)
class PreparedScript:
    """A command turned into a script file's bytes, and where the process must start."""

    shell: ShellSpec
    text: str
    data: bytes
    cwd: str | None
    cwd_in_script: bool = False

    @property
    def suffix(self) -> str:
        return self.shell.suffix

    def process_cwd(self, script_dir: str) -> str | None:
        """The working directory to start the shell in (the script's own folder when the script
        changes directory itself, as cmd.exe must for a UNC path)."""
        return script_dir if self.cwd_in_script else self.cwd


# -- detection ----------------------------------------------------------------------------------
def detect_shell(
    platform: str = sys.platform,
    environ: Mapping[str, str] | None = None,
    which: Which | None = None,
    *,
    shell: str | ShellSpec | None = None,
) -> ShellSpec:
    """The shell to use: `shell` if given (a name or a path; refused if missing, never replaced),
    else pwsh, powershell.exe, cmd.exe (COMSPEC) on Windows and bash, sh elsewhere.

    `which(name)` finds an executable like `shutil.which` (default: on `environ`'s PATH).
    """
    env = os.environ if environ is None else environ
    find = which if which is not None else _default_which(env, platform)
    if isinstance(shell, ShellSpec):
        return shell
    if shell is not None:
        return _forced_shell(shell, platform, env, find)
    found = _first_default(platform, env, find)
    if found is None:
        names = ", ".join(_display(k, platform) for k in _default_order(platform))
        hint = "set COMSPEC to cmd.exe's path" if platform == "win32" else "install bash"
        raise ShellNotFound(f"no shell found: none of {names} is on PATH; {hint} or pass "
                            "shell= with the full path of a shell")
    return found


def _default_order(platform: str) -> tuple[str, ...]:
    return _DEFAULT_ORDER["win32" if platform == "win32" else "posix"]


def _first_default(platform: str, env: Mapping[str, str], find: Which,
                   skip: str | None = None) -> ShellSpec | None:
    for kind in _default_order(platform):
        if kind == skip:
            continue
        for candidate in _candidates(kind, platform, env):
            path = find(candidate)
            if path:
                return ShellSpec(kind, path, platform)
    return None


def _candidates(kind: str, platform: str, env: Mapping[str, str]) -> list[str]:
    """Where a shell may be: its name on PATH first, then where its installer puts it."""
    if platform != "win32":
        if kind in _WINDOWS_ONLY:
            return []
        return [kind] + ([f"/bin/{kind}"] if kind in ("bash", "sh") else [])
    system_root = environ_get(env, "SystemRoot", platform) or environ_get(env, "windir", platform) \
        or "C:\\Windows"
    program_files = environ_get(env, "ProgramFiles", platform) or "C:\\Program Files"
    if kind == "pwsh":
        return ["pwsh", ntpath.join(program_files, "PowerShell", "7", "pwsh.exe")]
    if kind == "powershell":
        return ["powershell", ntpath.join(system_root, "System32", "WindowsPowerShell", "v1.0",
                                          "powershell.exe")]
    if kind == "cmd":
        comspec = environ_get(env, "COMSPEC", platform)
        return ([comspec] if comspec else []) + [ntpath.join(system_root, "System32", "cmd.exe"),
                                                 "cmd"]
    return [kind, ntpath.join(program_files, "Git", "bin", f"{kind}.exe")]


def _forced_shell(shell: str, platform: str, env: Mapping[str, str], find: Which) -> ShellSpec:
    if not isinstance(shell, str) or not shell.strip():
        raise ShellNotFound(f"shell must be a shell's name or path (pwsh, powershell, cmd, bash, "
                            f"sh), not {shell!r}")
    shell = shell.strip()
    is_path = "/" in shell or (platform == "win32" and "\\" in shell)
    stem = _stem(shell, platform)
    kind = _NAMES.get(stem)
    if kind is None:
        raise ShellNotFound(f"unknown shell {shell!r}; pass one of pwsh, powershell, cmd, bash, "
                            "sh (or zsh, dash, ksh), or the path to one of them")
    if kind in _WINDOWS_ONLY and platform != "win32":
        raise ShellNotFound(f"{_display(kind, 'win32')} exists only on Windows; on {platform} pass "
                            "shell='bash' or shell='sh' (or 'pwsh' where PowerShell 7 is installed)")
    if is_path:
        candidates = [shell]
    elif stem == kind:
        candidates = [shell] + [c for c in _candidates(kind, platform, env) if c != shell]
    else:
        candidates = [shell]  # zsh, dash, ...: that very program, not some other sh
    for candidate in candidates:
        path = find(candidate)
        if path:
            return ShellSpec(kind, path, platform, forced=True)
    what = (f"shell {shell} does not exist" if is_path
            else f"{_display(kind, platform) if stem == kind else shell} not found")
    alternative = _first_default(platform, env, find, skip=kind)
    found = (f"found {alternative.name} at {alternative.path} — pass shell={alternative.kind!r}"
             if alternative is not None else "found no other shell either — pass shell= a path")
    raise ShellNotFound(f"{what}; {found} or {_install_hint(kind, stem, platform)}")


def _install_hint(kind: str, stem: str, platform: str) -> str:
    if kind == "pwsh":
        return "install PowerShell 7"
    if kind == "powershell":
        return "put Windows PowerShell's folder on PATH"
    if kind == "cmd":
        return "set COMSPEC to the full path of cmd.exe"
    if platform == "win32":
        return "install Git for Windows, which brings bash and sh"
    return f"install {stem}"


def _display(kind: str, platform: str) -> str:
    if platform == "win32" and kind in ("powershell", "cmd"):
        return f"{kind}.exe"
    return kind


def _basename(path: str, platform: str) -> str:
    return ntpath.basename(path) if platform == "win32" else posixpath.basename(path)


def _stem(shell: str, platform: str) -> str:
    name = _basename(shell, platform).lower()
    for ext in (".exe", ".com", ".cmd", ".bat"):
        if name.endswith(ext):
            return name[: -len(ext)]
    return name


def environ_get(env: Mapping[str, str], key: str, platform: str) -> str | None:
    """A variable from `env`; on Windows names are case-insensitive (`Path` is `PATH`)."""
    value = env.get(key)
    if value is not None or platform != "win32":
        return value
    upper = key.upper()
    for name, value in env.items():
        if name.upper() == upper:
            return value
    return None


def _default_which(env: Mapping[str, str], platform: str) -> Which:
    path = environ_get(env, "PATH", platform)

    def which(name: str) -> str | None:
        return shutil.which(name, path=path)

    return which


# -- commands and script files ----------------------------------------------------------------
def normalize_command(command: object) -> tuple[str, ...]:
    """The command as a tuple of script parts: a string is one part, a list is one per command.

    Refuses anything else (bytes, None, numbers, an empty command) with one clear sentence.
    """
    if isinstance(command, str):
        if not command.strip():
            raise UserInputError("the command is empty; pass the script to run as a string")
        return (command,)
    if isinstance(command, list | tuple):
        bad = [c for c in command if not isinstance(c, str)]
        if bad:
            raise UserInputError(f"every command in the list must be a string, not "
                                 f"{type(bad[0]).__name__} ({bad[0]!r})")
        parts = tuple(command)
        if not any(c.strip() for c in parts):
            raise UserInputError("the command list is empty; pass at least one command")
        return parts
    raise UserInputError(f"the command must be a string or a list of strings, not "
                         f"{type(command).__name__}")


def prepare_script(
    shell: ShellSpec,
    command: str | Sequence[str],
    *,
    cwd: str | None = None,
    fail_fast: bool = False,
) -> PreparedScript:
    """Turn `command` into the script file for `shell` (text and encoded bytes).

    `fail_fast` stops at the first failing command: `set -e` (and `pipefail` in bash); in
    PowerShell native commands' failures become errors too (PowerShell 7.3+); with a list command
    every shell checks the exit code after each item.
    """
    parts = normalize_command(command)
    family = shell.family
    if family == "powershell":
        text = _powershell_script(parts, fail_fast)
        return PreparedScript(shell, text, text.encode("utf-8-sig"), cwd)
    if family == "cmd":
        unc = cwd if cwd is not None and shell.platform == "win32" and is_unc(cwd) else None
        text = _cmd_script(parts, _pushd_path(unc) if unc else None, fail_fast)
        return PreparedScript(shell, text, text.encode("utf-8"), cwd, cwd_in_script=unc is not None)
    text = _posix_script(shell.kind, parts, fail_fast)
    return PreparedScript(shell, text, text.encode("utf-8"), cwd)


def _lines(text: str) -> list[str]:
    lines = _LINE_BREAK.split(text)
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def _posix_script(kind: str, parts: tuple[str, ...], fail_fast: bool) -> str:
    lines: list[str] = []
    if fail_fast:
        lines.append("set -eo pipefail" if kind == "bash" else "set -e")
    for part in parts:
        lines.extend(_lines(part))  # a script written on Windows: CR would end up in every word
    return "\n".join(lines) + "\n"


_PS_HEAD = """\
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$TransomUtf8 = New-Object System.Text.UTF8Encoding $false
$TransomConsoleEncoding = $null
try { $TransomConsoleEncoding = [Console]::OutputEncoding; [Console]::OutputEncoding = $TransomUtf8 } catch { $TransomConsoleEncoding = $null }
$OutputEncoding = $TransomUtf8"""

_PS_TAIL = """\
} catch {
    [Console]::Error.WriteLine(($_ | Out-String).TrimEnd())
    $TransomExitCode = $_.Exception.PSObject.Properties['ExitCode']
    if ($null -ne $TransomExitCode -and $TransomExitCode.Value -is [int] -and $TransomExitCode.Value -ne 0) { exit $TransomExitCode.Value }
    exit 1
} finally {
    if ($null -ne $TransomConsoleEncoding) { try { [Console]::OutputEncoding = $TransomConsoleEncoding } catch { } }
}
if (Test-Path -LiteralPath variable:\\LASTEXITCODE) { exit $LASTEXITCODE }
exit 0"""


def _powershell_script(parts: tuple[str, ...], fail_fast: bool) -> str:
    # Output in UTF-8 (the console's code page is put back at the end: we share that console);
    # any error ends the script with 1 (a failed native command under fail_fast: its own code)
    # and its message on stderr; else the last native command's exit code is the script's.
    lines = _lines(_PS_HEAD)
    if fail_fast:
        lines.append("$PSNativeCommandUseErrorActionPreference = $true")
    lines.append("try {")
    for i, part in enumerate(parts):
        lines.extend(_lines(part))
        if fail_fast and len(parts) > 1 and i < len(parts) - 1:
            lines.append("if ($LASTEXITCODE) { exit $LASTEXITCODE }")
    lines.extend(_lines(_PS_TAIL))
    return "\r\n".join(lines) + "\r\n"


def _cmd_quote(path: str) -> str:
    """A path as a quoted cmd.exe word in a batch file (`%` would start a variable)."""
    return '"' + path.replace("%", "%%") + '"'


def _pushd_path(path: str) -> str:
    """The plain `\\\\server\\share\\dir` form pushd accepts (not `\\\\?\\UNC\\...`, not `/`)."""
    normal = path.replace("/", "\\")
    if normal.upper().startswith("\\\\?\\UNC\\"):
        normal = "\\\\" + normal[8:]
    return ntpath.normpath(normal)


def _cmd_script(parts: tuple[str, ...], unc_cwd: str | None, fail_fast: bool) -> str:
    # The first lines are ASCII: cmd.exe decodes each line of a batch file with the code page in
    # force when it reads it, so only what follows `chcp 65001` may be UTF-8.
    lines = [
        "@echo off",
        'set "TRANSOM_CODE_PAGE="',
        "for /f \"tokens=2 delims=:.\" %%c in ('chcp') do set /a \"TRANSOM_CODE_PAGE=%%c\" >nul 2>&1",
        "chcp 65001 >nul 2>&1",
    ]
    if unc_cwd is not None:
        # pushd maps the share to a free drive letter (cmd.exe refuses a UNC current directory).
        # `ver` clears ERRORLEVEL first, and the check is a line of its own: Wine's cmd.exe takes
        # `pushd "x" || ...` whole as the path.
        lines += ["ver >nul", f"pushd {_cmd_quote(unc_cwd)}", "if errorlevel 1 goto transom_no_cwd"]
    lines += ["call :transom_main", 'set "TRANSOM_EXIT_CODE=%ERRORLEVEL%"']
    if unc_cwd is not None:
        lines += [
            "popd",
            "goto transom_end",
            ":transom_no_cwd",
            f"echo Transom: cannot enter the working directory {_cmd_quote(unc_cwd)} 1>&2",
            'set "TRANSOM_EXIT_CODE=1"',
        ]
    lines += [
        ":transom_end",
        'if defined TRANSOM_CODE_PAGE if not "%TRANSOM_CODE_PAGE%"=="65001" '
        "chcp %TRANSOM_CODE_PAGE% >nul 2>&1",
        "exit /b %TRANSOM_EXIT_CODE%",
        ":transom_main",
    ]
    for i, part in enumerate(parts):
        lines.extend(_lines(part))
        if fail_fast and len(parts) > 1 and i < len(parts) - 1:
            lines.append('if not "%ERRORLEVEL%"=="0" exit /b %ERRORLEVEL%')
    return "\r\n".join(lines) + "\r\n"


def command_line(shell: ShellSpec, script_path: str) -> list[str] | str:
    """How to start `shell` on the script: an argv list, or for cmd.exe a ready command line.

    cmd.exe's `/s /c "..."` strips exactly the outer quotes, so `"C:\\Program Files\\x.cmd"`
    survives intact; Python's argv quoting would escape the inner quotes and break it. The script
    ends with an explicit `exit /b N`, which is the process's exit code (no `call` needed, and
    `call` would double any caret in the path).
    """
    family = shell.family
    if family == "powershell":
        return [shell.path, "-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass",
                "-File", script_path]
    if family == "cmd":
        return f'"{shell.path}" /d /e:on /v:off /s /c ""{script_path}""'
    if shell.platform == "win32":
        script_path = script_path.replace("\\", "/")  # Git for Windows' bash reads C:/x/y.sh
    return [shell.path, script_path]


@contextmanager
def temporary_script(script: PreparedScript, directory: str | None = None) -> Iterator[str]:
    """Write the script to a new temp file with its shell's extension; removed afterwards, also
    when the run fails (retrying a moment, since antivirus scanners hold new files on Windows)."""
    fd, path = tempfile.mkstemp(prefix="transom-", suffix=script.suffix, dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(script.data)
        yield path
    finally:
        _remove(path)


def _remove(path: str, attempts: int = 5) -> None:
    for attempt in range(attempts):
        try:
            os.remove(path)
            return
        except FileNotFoundError:
            return
        except PermissionError:
            if attempt == attempts - 1:
                logging.getLogger("transom.shell").warning(
                    "could not remove the temporary script %s; it is in use", path)
                return
            time.sleep(0.05 * (attempt + 1))
