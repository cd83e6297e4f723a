"""Which operating system this is, its own tools (sc.exe, systemctl, launchctl, netsh,
PowerShell, ufw) run behind one small seam, and whether we hold administrator rights.

`current_platform()` is the one question "which OS?" that code outside platform/ asks; it passes
the answer on to the functions here, which take it as a parameter.

`Runner` is the seam: `run(argv, timeout=...)` returns a `CommandResult` and never raises, also
when the program is missing (`started` is False). `run_system_command` is the real one; it starts
the program through `platform.processes` (the only module that spawns). Tests pass a fake runner
that answers like the real tools do, so the Windows and macOS branches run on Linux.
"""

from __future__ import annotations

import base64
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "CommandResult",
    "Runner",
    "admin_hint",
    "current_platform",
    "encoded_powershell",
    "is_admin",
    "powershell_quote",
    "run_system_command",
    "shown_command_line",
]


@dataclass(frozen=True)
class CommandResult:
    """How a system command ended: exit code and its output as text."""

    exit_code: int
    stdout: str = ""
    stderr: str = ""
    started: bool = True

    @property
    def ok(self) -> bool:
        return self.started and self.exit_code == 0

    def reason(self) -> str:
        """The command's own words for a failure (its last non-empty output line)."""
        if not self.started:
            return self.stderr or "the program could not be started"
        for text in (self.stderr, self.stdout):
            lines = [line.strip() for line in text.splitlines() if line.strip()]
            if lines:
                return lines[-1]
        return f"exit code {self.exit_code}"


class Runner(Protocol):
    """Runs a system command to its end; never raises."""

    def __call__(self, args: Sequence[str], *, timeout: float = 30.0) -> CommandResult: ...


def run_system_command(args: Sequence[str], *, timeout: float = 30.0) -> CommandResult:
    """Run `args` through platform.processes; a missing program is `started=False`, not an error."""
    from transom.exceptions import UserInputError
    from transom.platform.processes import run

    try:
        result = run(list(args), timeout=timeout, grace=1.0)
    except UserInputError as exc:
        return CommandResult(127, "", str(exc), started=False)
    stdout = "\n".join(result.stdout)
    stderr = "\n".join(result.stderr)
    if result.timed_out:
        stderr = (stderr + "\n" if stderr else "") + f"timed out after {timeout:g} s"
    return CommandResult(result.exit_code, stdout, stderr)


def current_platform() -> str:
    """This process's OS as a `sys.platform` value: "win32", "linux", "darwin", ..."""
    return sys.platform


def describe_os() -> str:
    """This machine's OS, its release and processor, for `transom version` and bug reports."""
    import platform as _platform

    return f"{_platform.system()} {_platform.release()} ({_platform.machine()})"


def admin_hint(platform: str, command: str, *, refused: bool = False) -> str:
    """Where to run `command` so it has the rights it needs: an elevated terminal on Windows, sudo
    elsewhere (`refused`: said again after a run that lacked them)."""
    if platform == "win32":
        return ("from a terminal opened with 'Run as administrator'" if refused
                else "from an Administrator terminal")
    return f"with sudo: sudo {command}" if refused else f"as root (sudo {command})"


def is_admin(platform: str = sys.platform) -> bool:
    """True when this process may change the system: an elevated Administrator on Windows, root
    elsewhere."""
    if platform == "win32":
        if sys.platform != "win32":
            return False
        import ctypes  # pragma: no cover - Windows only

        try:  # pragma: no cover - Windows only
            return bool(ctypes.windll.shell32.IsUserAnAdmin())  # type: ignore[attr-defined,unused-ignore]
        except (AttributeError, OSError):  # pragma: no cover - Windows only
            return False
    geteuid = getattr(os, "geteuid", None)
    return geteuid is not None and geteuid() == 0


def powershell_quote(text: str) -> str:
    """`text` as a single-quoted PowerShell string (no variable expansion inside)."""
    return "'" + text.replace("'", "''") + "'"


def encoded_powershell(powershell: str, script: str) -> list[str]:
    """The argv that runs `script` in `powershell` with UTF-8 output and no quoting problems:
    `-EncodedCommand` carries the script as base64 UTF-16, so no character of it is reparsed."""
    body = "[Console]::OutputEncoding = [System.Text.Encoding]::UTF8\n" + script
    encoded = base64.b64encode(body.encode("utf-16-le")).decode("ascii")
    return [powershell, "-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass",
            "-EncodedCommand", encoded]


def shown_command_line(argv: Sequence[str], platform: str) -> str:
    """An argv as one line a user could type: Windows quoting on Windows, POSIX elsewhere."""
    if platform == "win32":
        import subprocess

        words = []
        for arg in argv:
            word = subprocess.list2cmdline([arg])
            if not word.startswith('"') and any(c in arg for c in "|&<>^()"):
                word = f'"{word}"'  # cmd.exe and PowerShell would read these characters
            words.append(word)
        return " ".join(words)
    import shlex

    return shlex.join(argv)
