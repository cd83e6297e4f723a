"""Shell commands in flows: `shell_run("make test")`, on its own or as the `shell_task` task.

The command (a script, or a list of commands) runs in the detected shell (PowerShell 7, Windows
PowerShell or cmd.exe on Windows; bash or sh elsewhere) or the one passed as `shell=`, from a temp
script file in that shell's own format (see `transom.platform.shells`). Each output line goes to
the run's logs as it arrives (outside a flow, to this process's stdout or stderr); the child and everything it starts are stopped together on a
timeout, a cancel or Ctrl+C (see `transom.platform.processes`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from transom.core.tasks import task
from transom.exceptions import ShellError, ShellTimeout, TransomError, UserInputError
from transom.platform.processes import DEFAULT_GRACE, OutputLine, child_environment, run
from transom.platform.shells import (
    ShellSpec,
    command_line,
    detect_shell,
    normalize_command,
    prepare_script,
    temporary_script,
)

__all__ = ["ShellResult", "probe_shell", "shell_run", "shell_task"]

ERROR_TAIL_LINES = 10
_PROBE = "transom-probe"


@dataclass(frozen=True)
class ShellResult:
    """How a shell command ended: its exit code and its output, line by line."""

    command: str
    shell: str
    exit_code: int
    stdout: tuple[str, ...]
    stderr: tuple[str, ...]
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        """True when the command exited with 0 in time."""
        return self.exit_code == 0 and not self.timed_out

    @property
    def output(self) -> str:
        """Standard output as one string (lines joined with newlines)."""
        return "\n".join(self.stdout)


def shell_run(
    command: str | Sequence[str],
    *,
    shell: str | ShellSpec | None = None,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str | None] | None = None,
    timeout: float | None = None,
    stream: bool = True,
    check: bool = True,
    fail_fast: bool = False,
    grace: float = DEFAULT_GRACE,
) -> ShellResult:
    """Run `command` in a shell and return its exit code and output lines.

    `command` is a script (one string, may span lines) or a list of commands run in order.
    `shell` forces a shell by name (`"pwsh"`, `"powershell"`, `"cmd"`, `"bash"`, `"sh"`) or path.
    `env` adds to (None removes from) this process's environment. With `stream`, each line is
    logged as it arrives (to the run's logs inside a flow or task; printed to
    stdout/stderr outside one). After `timeout` seconds the
    command and all it started get `grace` seconds to stop, then are killed. With `check`, a
    non-zero exit or a timeout raises ShellError / ShellTimeout with the last lines of stderr.
    `fail_fast` stops at the first failing command (`set -e`; see `prepare_script`).
    """
    spec = detect_shell(shell=shell)
    workdir = _working_directory(cwd)
    if timeout is not None and (not isinstance(timeout, int | float) or timeout <= 0):
        raise UserInputError(f"timeout must be a number of seconds above zero, not {timeout!r}")
    prepared = prepare_script(spec, command, cwd=workdir, fail_fast=fail_fast)
    environment = child_environment(env)
    on_line = _line_logger() if stream else None
    with temporary_script(prepared) as path:
        outcome = run(command_line(spec, path), cwd=prepared.process_cwd(os.path.dirname(path)),
                      env=environment, timeout=timeout, on_line=on_line, grace=grace,
                      keep_tree=True)
    result = ShellResult(command="\n".join(normalize_command(command)), shell=spec.path,
                         exit_code=outcome.exit_code, stdout=outcome.stdout,
                         stderr=outcome.stderr, timed_out=outcome.timed_out)
    if check and result.timed_out:
        raise ShellTimeout(f"the {spec.name} command did not finish within {timeout:g}s and was "
                           f"stopped with everything it started{_tail(result)}", result)
    if check and result.exit_code != 0:
        raise ShellError(f"the {spec.name} command exited with code {result.exit_code}"
                         f"{_tail(result)}", result)
    return result


shell_task = task(name="shell")(shell_run)
"""`shell_run` as a task: a recorded task run with retries, caching and timeouts like any task."""


def probe_shell(shell: str | ShellSpec | None = None, *, timeout: float = 30.0) -> str | None:
    """None when the shell really runs commands, else why not (one sentence).

    A shell is asked to compute and print a word; a stub that exits 0 and prints nothing (as Wine's
    powershell.exe does) is caught here instead of passing for success.
    """
    try:
        spec = detect_shell(shell=shell)
        command = {"powershell": f"Write-Output ('{_PROBE[:7]}' + '{_PROBE[7:]}')",
                   "cmd": f"set TRANSOM_PROBE={_PROBE}\r\necho %TRANSOM_PROBE%",
                   "posix": f"TRANSOM_PROBE={_PROBE}; echo \"$TRANSOM_PROBE\""}[spec.family]
        result = shell_run(command, shell=spec, timeout=timeout, stream=False, check=False)
    except TransomError as exc:
        return str(exc)
    if any(line.strip() == _PROBE for line in result.stdout):
        return None
    printed = "nothing" if not result.stdout else repr(result.output[:80])
    return (f"{spec.name} at {spec.path} is not a working {spec.kind}: asked to print "
            f"{_PROBE!r} it printed {printed} and exited with {result.exit_code}")


# -- helpers --------------------------------------------------------------------------------------
def _working_directory(cwd: str | os.PathLike[str] | None) -> str | None:
    if cwd is None:
        return None
    if not isinstance(cwd, str | os.PathLike):
        raise UserInputError(f"cwd must be a path, not {type(cwd).__name__}")
    path = os.path.abspath(os.fspath(cwd))
    if not os.path.isdir(path):
        what = "is not a directory" if os.path.exists(path) else "does not exist"
        raise UserInputError(f"the working directory {path} {what}; create it or pass an "
                             "existing cwd")
    return path


def _line_logger() -> Any:
    """Inside a flow or task: each line goes to the run's logs. Outside one there is no run to
    record it with, so it goes to this process's stdout or stderr, as the shell would print it."""
    from transom.core.logs import get_run_logger

    try:
        logger = get_run_logger()
    except TransomError:
        return _echo_line

    def log_line(line: OutputLine) -> None:
        if line.stream == "stderr":
            logger.info("[stderr] %s", line.text)
        else:
            logger.info("%s", line.text)

    return log_line


def _echo_line(line: OutputLine) -> None:
    stream = sys.stderr if line.stream == "stderr" else sys.stdout
    if stream is None:  # pythonw.exe, a service: no console to print to
        return
    text = line.text + "\n"
    try:
        try:
            stream.write(text)
        except UnicodeEncodeError:  # a legacy code page: '?' for what it cannot show
            encoding = getattr(stream, "encoding", None) or "utf-8"
            stream.write(text.encode(encoding, "replace").decode(encoding))
        stream.flush()
    except (OSError, ValueError):  # a closed pipe or stream: the output is still in the result
        pass


def _tail(result: ShellResult) -> str:
    lines, where = (result.stderr, "stderr") if result.stderr else (result.stdout, "stdout")
    lines = tuple(line for line in lines if line.strip())[-ERROR_TAIL_LINES:]
    if not lines:
        return "; it printed nothing"
    return f"; the last lines of {where}:\n" + "\n".join(f"    {line}" for line in lines)
