"""Shell tasks for real: bash/sh on POSIX, cmd.exe and PowerShell on Windows, in flows and alone."""

from __future__ import annotations

import logging
import os
import pickle
import sys
import tempfile
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from tests.support.processes import gone
from transom import flow
from transom._runtime import build_runtime
from transom.core.context import use_runtime
from transom.core.recorder import ListRecorder, LogRecorded, StateChanged, TaskRunCreated
from transom.exceptions import (
    ShellError,
    ShellNotFound,
    ShellTimeout,
    TaskRunTimeout,
    UserInputError,
)
from transom.platform.shells import detect_shell
from transom.platform.wine import wine_version
from transom.shell import ShellResult, probe_shell, shell_run, shell_task

WINDOWS = sys.platform == "win32"
# cmd.exe on Windows (it runs in every Windows the suite reaches, Wine included), else the default.
NATIVE = "cmd" if WINDOWS else None
STARTUP = 3.0 if WINDOWS else 1.0  # time for a shell to start two Pythons (slow under Wine)
PY = sys.executable
posix_only = pytest.mark.skipif(WINDOWS, reason="bash/sh; Windows runs the cmd/PowerShell tests")

F = TypeVar("F", bound=Callable[..., object])


def windows(test: F) -> F:
    """A test that needs a real Windows shell (the GitHub windows job, or a Windows Python)."""
    marked: F = pytest.mark.skipif(not WINDOWS, reason="needs Windows")(pytest.mark.windows(test))
    return marked


def to_stderr(text: str) -> str:
    return f">&2 echo {text}"  # the same in cmd.exe and bash (and no trailing space in cmd)


def exit_with(code: int) -> str:
    return f"exit /b {code}" if WINDOWS else f"exit {code}"


@pytest.fixture
def spawner(tmp_path: Path) -> str:
    """A command (same in cmd.exe and bash) that starts a grandchild, prints its pid and waits."""
    script = tmp_path / "spawn grandchild.py"
    script.write_text(textwrap.dedent("""
        import subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        print(child.pid, flush=True)
        time.sleep(60)
    """), encoding="utf-8")
    return f'"{PY}" "{script}"'


@pytest.fixture
def temp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where the temporary scripts go during the test, to check that none stays behind."""
    folder = tmp_path / "temp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


class Recorded:
    """What the engine recorded, kept in a list (the real runtime with its recorder swapped)."""

    def __init__(self, recorder: ListRecorder) -> None:
        self.recorder = recorder

    def task_run_ids(self) -> list[uuid.UUID]:
        return [e.id for e in self.recorder.events if isinstance(e, TaskRunCreated)]

    def logs(self, run_id: uuid.UUID) -> list[str]:
        return [e.message for e in self.recorder.events
                if isinstance(e, LogRecorded) and e.task_run_id == run_id]

    def final_state(self, run_id: uuid.UUID) -> str:
        return [e.state.name for e in self.recorder.events
                if isinstance(e, StateChanged) and e.run_id == run_id][-1]


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Recorded]:
    real = build_runtime({"TRANSOM_HOME": str(tmp_path / "home")})
    recorder = ListRecorder()
    real.recorder = recorder  # type: ignore[assignment]
    with use_runtime(real):
        yield Recorded(recorder)


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def shell_log() -> Iterator[Lines]:
    handler = Lines()
    logger = logging.getLogger("transom.shell")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(old_level)


# -- running, on every OS -----------------------------------------------------------------------


def test_exit_code_and_output_lines(temp_dir: Path) -> None:
    result = shell_run(["echo one", "echo two", to_stderr("oops"), exit_with(3)], shell=NATIVE,
                       check=False)
    assert isinstance(result, ShellResult)
    assert (result.exit_code, result.ok, result.timed_out) == (3, False, False)
    assert result.stdout == ("one", "two") and result.stderr == ("oops",)
    assert result.output == "one\ntwo"
    assert list(temp_dir.iterdir()) == []


def test_non_zero_exit_raises_with_the_last_lines_of_stderr(temp_dir: Path) -> None:
    commands = [to_stderr(f"problem-{i}") for i in range(12)] + [exit_with(2)]
    with pytest.raises(ShellError) as caught:
        shell_run(commands, shell=NATIVE)
    message = str(caught.value)
    assert "exited with code 2" in message
    assert "problem-11" in message and "problem-2" in message and "problem-1\n" not in message
    assert caught.value.result.exit_code == 2 and len(caught.value.result.stderr) == 12
    assert list(temp_dir.iterdir()) == [], "the temp script outlived a failed run"


def test_shell_errors_survive_pickling_with_their_result() -> None:
    # A process-pool task runner sends a failed task's error back to the flow pickled.
    with pytest.raises(ShellError) as caught:
        shell_run([to_stderr("bad"), exit_with(5)], shell=NATIVE)
    copy = pickle.loads(pickle.dumps(caught.value))
    assert type(copy) is ShellError and str(copy) == str(caught.value)
    assert copy.result == caught.value.result and copy.result.exit_code == 5


def test_non_ascii_environment_values() -> None:
    variable = "%GREETING%" if WINDOWS else '"$GREETING"'
    result = shell_run(f"echo {variable}", shell=NATIVE, env={"GREETING": "Zoë ✓ Ελλάδα 日本"})
    assert result.stdout == ("Zoë ✓ Ελλάδα 日本",)


def test_non_ascii_text_in_the_script() -> None:
    result = shell_run(["echo Grüße ✓ 日本", "echo Ελλάδα"], shell=NATIVE)
    if result.stdout != ("Grüße ✓ 日本", "Ελλάδα") and wine_version() is not None:
        pytest.skip("Wine cannot: its cmd.exe reads a batch file in the OEM code page whatever "
                    f"`chcp 65001` says (it printed {result.stdout!r})")
    assert result.stdout == ("Grüße ✓ 日本", "Ελλάδα")


def test_cwd_with_spaces_and_non_ascii(tmp_path: Path) -> None:
    workdir = tmp_path / "Program Files" / "Zoë's tools"
    workdir.mkdir(parents=True)
    result = shell_run("cd" if WINDOWS else "pwd", shell=NATIVE, cwd=workdir)
    assert os.path.samefile(result.stdout[0], workdir)


def test_outside_a_run_each_line_is_printed_to_the_console(
        capfd: pytest.CaptureFixture[str], shell_log: Lines) -> None:
    # No run to record the lines with: they go to stdout and stderr, as the shell prints them.
    result = shell_run(["echo first", to_stderr("careful"), "echo last"], shell=NATIVE)
    printed = capfd.readouterr()
    assert printed.out.splitlines() == ["first", "last"]
    assert printed.err.splitlines() == ["careful"]
    assert result.stdout == ("first", "last") and shell_log.messages == []


def test_stream_false_prints_and_logs_nothing(capfd: pytest.CaptureFixture[str],
                                               shell_log: Lines) -> None:
    result = shell_run("echo quiet", shell=NATIVE, stream=False)
    printed = capfd.readouterr()
    assert result.stdout == ("quiet",) and shell_log.messages == []
    assert printed.out == "" and printed.err == ""


def test_timeout_stops_the_command_and_its_grandchildren(spawner: str, temp_dir: Path) -> None:
    with pytest.raises(ShellTimeout) as caught:
        shell_run(spawner, shell=NATIVE, timeout=STARTUP, grace=0.5)
    assert isinstance(caught.value, TimeoutError)
    assert "did not finish within" in str(caught.value)
    result = caught.value.result
    assert result.timed_out and result.stdout, "the grandchild did not start in time"
    assert gone(int(result.stdout[0])), "the grandchild outlived the timeout"
    assert list(temp_dir.iterdir()) == [], "the temp script outlived a timeout"


def test_timeout_with_check_false_returns_the_result(spawner: str) -> None:
    result = shell_run(spawner, shell=NATIVE, timeout=STARTUP, grace=0.5, check=False)
    assert result.timed_out and not result.ok
    assert gone(int(result.stdout[0]))


def test_probe_finds_the_native_shell_working() -> None:
    assert probe_shell(NATIVE) is None


def test_probe_catches_a_stub_that_exits_0_and_prints_nothing(tmp_path: Path) -> None:
    # Like Wine's powershell.exe: success without doing anything must not pass for a shell.
    if WINDOWS:
        stub = tmp_path / "pwsh.cmd"
        stub.write_text("@exit /b 0\r\n", encoding="ascii")
    else:
        stub = tmp_path / "pwsh"
        stub.write_text("#!/bin/sh\nexit 0\n", encoding="ascii")
        stub.chmod(0o755)
    reason = probe_shell(str(stub))
    assert reason is not None
    assert f"{stub} is not a working pwsh" in reason and "printed nothing" in reason


# -- inside flows -------------------------------------------------------------------------------


def test_shell_task_in_a_flow_logs_its_lines_with_the_task_run(runtime: Recorded) -> None:
    @flow
    def build() -> ShellResult:
        result: ShellResult = shell_task(["echo compiling", to_stderr("a warning"), "echo done"],
                                         shell=NATIVE)
        return result

    result = build()
    assert result.stdout == ("compiling", "done")
    (task_run,) = runtime.task_run_ids()
    logs = runtime.logs(task_run)
    # In order, among the engine's own lines about the task run.
    assert [line for line in logs if line in ("compiling", "done")] == ["compiling", "done"]
    assert "[stderr] a warning" in logs
    assert runtime.final_state(task_run) == "Completed"


def test_shell_run_in_a_flow_goes_to_the_run_logs_not_raw_to_the_console(
        runtime: Recorded, capfd: pytest.CaptureFixture[str]) -> None:
    @flow
    def build() -> ShellResult:
        return shell_run("echo compiling", shell=NATIVE)

    assert build().stdout == ("compiling",)
    flow_logs = [e.message for e in runtime.recorder.events
                 if isinstance(e, LogRecorded) and e.task_run_id is None]
    assert "compiling" in flow_logs
    assert "compiling" not in capfd.readouterr().out.splitlines()


def test_failing_shell_task_fails_the_flow_with_stderr(runtime: Recorded) -> None:
    @flow
    def deploy() -> None:
        shell_task([to_stderr("no route to host"), exit_with(4)], shell=NATIVE)

    with pytest.raises(ShellError, match=r"exited with code 4(.|\n)*no route to host"):
        deploy()
    (task_run,) = runtime.task_run_ids()
    assert runtime.final_state(task_run) == "Failed"
    assert runtime.logs(task_run)[0] == "[stderr] no route to host"


def test_task_timeout_stops_the_shell_and_its_grandchildren(runtime: Recorded,
                                                            spawner: str) -> None:
    slow = shell_task.with_options(timeout_seconds=STARTUP)

    @flow
    def hangs() -> None:
        slow(spawner, shell=NATIVE)

    with pytest.raises(TaskRunTimeout):
        hangs()
    (task_run,) = runtime.task_run_ids()
    logs = runtime.logs(task_run)
    assert logs, "the grandchild did not start in time"
    assert gone(int(logs[0])), "the grandchild outlived the task's timeout"


# -- bad input ----------------------------------------------------------------------------------


def test_bad_input_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match=r"working directory .*nowhere does not exist"):
        shell_run("echo hi", shell=NATIVE, cwd=tmp_path / "nowhere")
    with pytest.raises(UserInputError, match="must be a string or a list of strings, not int"):
        shell_run(42, shell=NATIVE)  # type: ignore[arg-type]
    with pytest.raises(ShellNotFound, match="unknown shell 'fish'"):
        shell_run("echo hi", shell="fish")
    with pytest.raises(UserInputError, match="timeout must be a number of seconds above zero"):
        shell_run("echo hi", shell=NATIVE, timeout=-1)
    with pytest.raises(UserInputError, match="environment variable N must be a string"):
        shell_run("echo hi", shell=NATIVE, env={"N": 1})  # type: ignore[dict-item]


# -- bash and sh --------------------------------------------------------------------------------


@posix_only
def test_default_shell_on_posix_is_bash_and_works() -> None:
    assert detect_shell().kind == ("bash" if detect_shell().path.endswith("bash") else "sh")
    assert probe_shell() is None


@posix_only
def test_fail_fast_stops_at_the_first_failing_command() -> None:
    commands = ["echo a", "false", "echo b"]
    assert shell_run(commands).stdout == ("a", "b")
    with pytest.raises(ShellError, match="exited with code 1"):
        shell_run(commands, fail_fast=True)
    result = shell_run(commands, fail_fast=True, check=False)
    assert result.stdout == ("a",)
    piped = shell_run(["false | true", "echo after"], shell="bash", fail_fast=True, check=False)
    assert piped.stdout == () and piped.exit_code == 1  # pipefail


@posix_only
def test_forced_sh_is_used() -> None:
    result = shell_run('echo "$0"', shell="sh")
    assert os.path.basename(result.shell) == "sh"
    assert result.stdout[0].endswith(".sh")  # the script file, with the shell's extension


@posix_only
def test_script_written_on_windows_runs_on_posix() -> None:
    assert shell_run("echo one\r\necho two\r\n").stdout == ("one", "two")


@posix_only
def test_undecodable_output_is_replaced_not_fatal() -> None:
    result = shell_run(r"printf 'caf\351 \377\376\n'; echo fine")
    assert result.stdout[0].startswith("caf") and result.stdout[1] == "fine"


@posix_only
def test_background_processes_left_by_the_command_are_ended() -> None:
    result = shell_run("sleep 60 & echo $!")
    assert gone(int(result.stdout[0]))


@posix_only
def test_missing_pwsh_names_the_shell_that_was_found() -> None:
    if detect_shell().kind != "bash" or probe_shell("pwsh") is None:
        pytest.skip("PowerShell 7 is installed here, or bash is not")
    with pytest.raises(ShellNotFound, match=r"pwsh not found; found bash at .* — pass "
                                            r"shell='bash' or install PowerShell 7"):
        shell_run("Write-Output hi", shell="pwsh")


# -- cmd.exe and PowerShell on a real Windows ----------------------------------------------------


@windows
def test_cmd_exit_codes() -> None:
    assert shell_run("exit /b 3", shell="cmd", check=False).exit_code == 3
    assert shell_run(["echo x", "exit 4"], shell="cmd", check=False).exit_code == 4
    assert shell_run("echo ok", shell="cmd").exit_code == 0


@windows
def test_cmd_runs_programs_under_paths_with_spaces(tmp_path: Path) -> None:
    tools = tmp_path / "Program Files" / "My Tools"
    tools.mkdir(parents=True)
    (tools / "hello.cmd").write_text("@echo hello from %~nx1\r\n", encoding="ascii")
    result = shell_run(f'call "{tools / "hello.cmd"}" "C:\\Program Files\\x.txt"', shell="cmd")
    assert result.stdout == ("hello from x.txt",)


@windows
def test_cmd_enters_a_unc_working_directory(tmp_path: Path) -> None:
    drive, rest = os.path.splitdrive(str(tmp_path))
    unc = f"\\\\localhost\\{drive[0]}${rest}"
    if not os.path.isdir(unc):
        pytest.skip(f"no administrative share to reach {tmp_path} as {unc} here")
    (tmp_path / "marker.txt").write_text("reached through UNC\n", encoding="ascii")
    result = shell_run("type marker.txt", shell="cmd", cwd=unc)
    assert result.stdout == ("reached through UNC",)


def _working_powershell(name: str) -> str:
    """`name` if that PowerShell is installed and really runs; a stub under Wine skips, but a
    PowerShell that is there and fails on a real Windows fails the test (our script may be wrong)."""
    try:
        spec = detect_shell(shell=name)
    except ShellNotFound as exc:
        pytest.skip(f"{name} is not installed here: {exc}")
    reason = probe_shell(spec)
    if reason is not None:
        if wine_version() is not None:
            pytest.skip(f"Wine cannot: PowerShell ({reason})")
        pytest.fail(reason)
    return name


@pytest.fixture(params=["pwsh", "powershell"])
def powershell(request: pytest.FixtureRequest) -> str:
    if not WINDOWS:
        pytest.skip("needs Windows")
    return _working_powershell(request.param)


@windows
def test_windows_default_shell_is_powershell() -> None:
    spec = detect_shell()
    assert spec.kind in ("pwsh", "powershell")
    _working_powershell(spec.kind)
    assert shell_run("Write-Output ($PSVersionTable.PSVersion.Major)").stdout[0].isdigit()


@windows
def test_powershell_round_trips_non_ascii(powershell: str) -> None:
    # Windows PowerShell 5.1 reads a BOM-less script in the ANSI code page: the BOM is what keeps this.
    result = shell_run("Write-Output 'Grüße ✓ 日本'", shell=powershell)
    assert result.stdout == ("Grüße ✓ 日本",)


@windows
def test_powershell_errors_and_exit_codes_propagate(powershell: str) -> None:
    thrown = shell_run("Write-Output before\nthrow 'boom'\nWrite-Output after", shell=powershell,
                       check=False)
    assert thrown.exit_code == 1 and thrown.stdout == ("before",)
    assert any("boom" in line for line in thrown.stderr)
    cmdlet_error = shell_run("Get-Item -LiteralPath 'C:\\no\\such\\file'", shell=powershell,
                             check=False)
    assert cmdlet_error.exit_code == 1
    assert shell_run("cmd /c exit 5", shell=powershell, check=False).exit_code == 5
    assert shell_run("exit 7", shell=powershell, check=False).exit_code == 7
    assert shell_run("Write-Output fine", shell=powershell).exit_code == 0


@windows
def test_powershell_cwd_with_spaces(powershell: str, tmp_path: Path) -> None:
    workdir = tmp_path / "Program Files" / "Zoë"
    workdir.mkdir(parents=True)
    result = shell_run("Write-Output (Get-Location).Path", shell=powershell, cwd=workdir)
    assert os.path.samefile(result.stdout[0], workdir)
