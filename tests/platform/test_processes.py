"""Process control: the Windows decisions as pure functions on any OS, and real children
(Python scripts, so the same tests run on Linux, macOS, Windows and a Windows Python under Wine)."""

from __future__ import annotations

import ctypes
import io
import os
import signal
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest
from tests.support.processes import gone

import transom
from transom.exceptions import UserInputError
from transom.platform.processes import (
    CREATE_NEW_PROCESS_GROUP,
    CREATE_NO_WINDOW,
    STOP_MESSAGE,
    ManagedProcess,
    OutputLine,
    child_environment,
    console_fallback_encoding,
    decode_line,
    popen_options,
    run,
    spawn,
    stop_methods,
    watch_for_stop,
)
from transom.platform.wine import wine_version
from transom.platform.winjob import JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE, JobObjectLimits

WINDOWS = sys.platform == "win32"
# Generous for a Windows Python under Wine, where starting two interpreters takes a while.
STARTUP = 3.0 if WINDOWS else 1.0
PY = sys.executable
# The signal a graceful stop raises in the child: SIGTERM on POSIX, CTRL_BREAK (SIGBREAK) on Windows.
STOP_SIGNAL = "SIGBREAK" if WINDOWS else "SIGTERM"

F = TypeVar("F", bound=Callable[..., object])


def windows(test: F) -> F:
    """A test that needs a real Windows API (the GitHub windows job, or a Windows Python)."""
    marked: F = pytest.mark.skipif(not WINDOWS, reason="needs Windows")(pytest.mark.windows(test))
    return marked


def python(code: str) -> list[str]:
    return [PY, "-c", textwrap.dedent(code)]


def read_until(process: ManagedProcess, text: str, within: float = 30.0) -> bool:
    """Read the child's output until a line equals `text`; False if it never comes."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if any(line.text == text for line in process.read(0.05)):
            return True
        if process.output_closed:
            return False
    return False


def next_line(process: ManagedProcess, within: float = 30.0) -> str:
    """The child's next output line (failing the test if none comes)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        lines = process.read(0.05)
        if lines:
            return lines[0].text
    pytest.fail("the child printed nothing")


# A child that starts a grandchild, prints the grandchild's pid, then waits forever.
PARENT_OF_SLEEPER = """
    import subprocess, sys, time
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    print(child.pid, flush=True)
    time.sleep(60)
"""


# -- pure decisions -------------------------------------------------------------------------------


def test_windows_child_gets_its_own_process_group() -> None:
    assert popen_options("win32", has_console=True) == {"creationflags": CREATE_NEW_PROCESS_GROUP}


def test_windows_child_without_our_console_gets_a_hidden_one() -> None:
    flags = popen_options("win32", has_console=False)["creationflags"]
    assert flags == CREATE_NEW_PROCESS_GROUP | CREATE_NO_WINDOW


def test_posix_child_gets_a_new_session() -> None:
    assert popen_options("linux") == {"start_new_session": True}
    assert popen_options("darwin", has_console=False) == {"start_new_session": True}


def test_graceful_stop_methods_per_platform() -> None:
    assert stop_methods("linux", has_console=False, control=True) == ("sigterm",)
    assert stop_methods("win32", has_console=True, control=False) == ("ctrl_break",)
    assert stop_methods("win32", has_console=True, control=True) == ("ctrl_break", "message")
    # A service: no console to send CTRL_BREAK through; only the stop message can be polite.
    assert stop_methods("win32", has_console=False, control=True) == ("message",)
    assert stop_methods("win32", has_console=False, control=False) == ()


def test_job_object_limits_match_the_windows_layout() -> None:
    limits = JobObjectLimits.kill_on_close()
    assert limits.BasicLimitInformation.LimitFlags & JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE
    if ctypes.sizeof(ctypes.c_void_p) == 8:
        assert ctypes.sizeof(JobObjectLimits) == 144  # JOBOBJECT_EXTENDED_LIMIT_INFORMATION, x64
    else:
        assert ctypes.sizeof(JobObjectLimits) == 112


def test_decode_line_prefers_utf8_then_the_console_code_page() -> None:
    assert decode_line("Grüße ✓".encode()) == "Grüße ✓"
    assert decode_line("café".encode("cp850"), "cp850") == "café"
    assert decode_line(b"caf\xe9", "cp1252") == "café"
    assert decode_line(b"caf\xe9") == "caf\ufffd"
    assert decode_line(b"\x81\x8d", "cp1252") == "\ufffd\ufffd"  # undefined in cp1252: replaced
    assert decode_line(b"caf\xe9", "no-such-codec") == "caf\ufffd"


@pytest.mark.parametrize("fallback", [None, "cp437", "cp1252", "cp932", "utf-8"])
def test_decode_line_never_raises_whatever_the_bytes(fallback: str | None) -> None:
    samples = [bytes([b]) for b in range(256)] + [bytes(range(256)), b"\xff\xfe\x00\xd8",
                                                  "日本".encode("utf-16-le")]
    for raw in samples:
        assert isinstance(decode_line(raw, fallback), str)


def test_console_fallback_encoding() -> None:
    assert console_fallback_encoding("win32", console_code_page=437, oem_code_page=850) == "cp437"
    # The console is already UTF-8 (or there is none): the OEM code page is the next guess.
    assert console_fallback_encoding("win32", console_code_page=65001, oem_code_page=850) == "cp850"
    assert console_fallback_encoding("win32", console_code_page=0, oem_code_page=866) == "cp866"
    assert console_fallback_encoding("win32", console_code_page=65001, oem_code_page=65001,
                                     locale_encoding="cp1252") == "cp1252"
    assert console_fallback_encoding("win32", console_code_page=65001,
                                     locale_encoding="utf-8") is None
    assert console_fallback_encoding("linux", locale_encoding="UTF-8") is None
    assert console_fallback_encoding("linux", locale_encoding="ISO-8859-1") == "iso8859-1"
    assert console_fallback_encoding("linux", console_code_page=437) is None


def test_child_environment_on_windows_replaces_names_whatever_their_case() -> None:
    base = {"PATH": r"C:\Windows", "TEMP": r"C:\Temp", "KEEP": "1"}
    env = child_environment({"Path": r"D:\bin", "temp": None, "NEU": "Grüße ✓"}, base=base,
                            platform="win32")
    assert env == {"Path": r"D:\bin", "KEEP": "1", "NEU": "Grüße ✓"}


def test_child_environment_on_posix_is_case_sensitive() -> None:
    env = child_environment({"Path": "/opt/bin", "GONE": None}, base={"PATH": "/bin", "GONE": "x"},
                            platform="linux")
    assert env == {"PATH": "/bin", "Path": "/opt/bin"}


def test_child_environment_defaults_to_ours_and_refuses_bad_entries() -> None:
    assert child_environment() == dict(os.environ)
    with pytest.raises(UserInputError, match="environment variable COUNT must be a string"):
        child_environment({"COUNT": 3}, base={})  # type: ignore[dict-item]
    with pytest.raises(UserInputError, match="name 'A=B' is not valid"):
        child_environment({"A=B": "x"}, base={})
    with pytest.raises(UserInputError, match="name '' is not valid"):
        child_environment({"": "x"}, base={})


# -- real children --------------------------------------------------------------------------------


def test_output_is_streamed_line_by_line_while_the_child_runs(tmp_path: Path) -> None:
    # The child prints a line, then waits until the test has seen it: only streaming can pass.
    seen = tmp_path / "seen"
    code = f"""
        import os, sys, time
        print("first", flush=True)
        while not os.path.exists({str(seen)!r}):
            time.sleep(0.01)
        print("second", flush=True)
        print("to stderr", file=sys.stderr, flush=True)
    """
    received: list[OutputLine] = []

    def on_line(line: OutputLine) -> None:
        received.append(line)
        if line.text == "first":
            seen.write_text("yes")

    result = run(python(code), on_line=on_line, timeout=30)
    assert not result.timed_out and result.exit_code == 0
    assert received[0] == OutputLine("stdout", "first")
    assert OutputLine("stderr", "to stderr") in received
    assert result.stdout == ("first", "second") and result.stderr == ("to stderr",)


def test_exit_codes_and_crlf_are_reported() -> None:
    code = """
        import sys
        sys.stdout.buffer.write(b"windows line\\r\\nlast without newline")
        sys.exit(3)
    """
    result = run(python(code))
    assert result.exit_code == 3
    assert result.stdout == ("windows line", "last without newline")


def test_non_utf8_output_never_breaks_the_run() -> None:
    code = """
        import sys
        out = sys.stdout.buffer
        out.write("Grüße ✓ 日本\\n".encode("utf-8"))
        out.write(b"caf\\xe9 latin-1\\n")
        out.write(bytes(range(256)) + b"\\n")
        out.write("日本".encode("utf-16-le") + b"\\n")
        out.flush()
    """
    result = run(python(code))
    assert result.exit_code == 0
    assert result.stdout[0] == "Grüße ✓ 日本"
    assert result.stdout[1].startswith("caf") and result.stdout[1].endswith(" latin-1")
    assert len(result.stdout) >= 4


def test_a_very_long_line_arrives_in_pieces() -> None:
    code = """
        import sys
        sys.stdout.write("x" * 200000 + "\\nend\\n")
    """
    result = run(python(code))
    assert result.stdout[-1] == "end"
    assert "".join(result.stdout[:-1]) == "x" * 200000
    assert len(result.stdout) > 2


def test_non_ascii_environment_values_reach_the_child(tmp_path: Path) -> None:
    env = child_environment({"TRANSOM_GREETING": "Grüße ✓ 日本", "PYTHONIOENCODING": "utf-8"})
    code = "import os; print(os.environ['TRANSOM_GREETING'])"
    workdir = tmp_path / "dir with spaces ü"
    workdir.mkdir()
    result = run(python(code + "; print(os.getcwd())"), env=env, cwd=workdir)
    assert result.stdout[0] == "Grüße ✓ 日本"
    assert os.path.samefile(result.stdout[1], workdir)


def test_timeout_kills_the_whole_tree() -> None:
    pids: list[int] = []
    result = run(python(PARENT_OF_SLEEPER), timeout=STARTUP, grace=0.5,
                 on_line=lambda line: pids.append(int(line.text)))
    assert result.timed_out
    assert pids, "the child did not start its grandchild in time"
    assert gone(result.pid)
    assert gone(pids[0]), "the grandchild outlived the timeout"


class Cancelled(BaseException):
    """What a cancel or Ctrl+C looks like to the code waiting on the child."""


def test_an_interrupt_while_waiting_kills_the_tree_and_propagates() -> None:
    pids: list[int] = []

    def on_line(line: OutputLine) -> None:
        pids.append(int(line.text))
        raise Cancelled

    with pytest.raises(Cancelled):
        run(python(PARENT_OF_SLEEPER), on_line=on_line, grace=0.5, timeout=60)
    assert gone(pids[0]), "the grandchild outlived the cancel"


def test_what_a_finished_child_left_running_is_ended() -> None:
    code = """
        import subprocess, sys
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        print(child.pid, flush=True)
    """
    result = run(python(code), timeout=60)
    assert result.exit_code == 0 and not result.timed_out
    assert gone(int(result.stdout[0])), "a background grandchild outlived its parent's run"


def test_stop_is_graceful_first() -> None:
    code = f"""
        import signal, sys, time
        def bye(signum, frame):
            print("graceful", flush=True)
            sys.exit(0)
        signal.signal(signal.{STOP_SIGNAL}, bye)
        print("ready", flush=True)
        time.sleep(60)
    """
    with spawn(python(code)) as process:
        assert read_until(process, "ready")
        if not process.request_stop():
            if not process.has_console:
                pytest.skip("this process has no console to send CTRL_BREAK_EVENT through")
            if wine_version() is not None:
                pytest.skip("Wine cannot: CTRL_BREAK_EVENT (GenerateConsoleCtrlEvent failed)")
            pytest.fail("CTRL_BREAK_EVENT could not be sent to the child's process group")
        assert process.wait(30) == 0
        assert [line.text for line in process.drain(5)] == ["graceful"]


def test_stop_kills_a_child_that_ignores_the_polite_request() -> None:
    code = f"""
        import signal, time
        signal.signal(signal.{STOP_SIGNAL}, signal.SIG_IGN)
        print("ready", flush=True)
        time.sleep(60)
    """
    with spawn(python(code)) as process:
        assert read_until(process, "ready")
        code_after = process.stop(grace=0.3)
        assert code_after is not None
        if sys.platform != "win32":
            assert code_after == -signal.SIGKILL


def test_stop_message_reaches_a_child_that_watches_for_it() -> None:
    # The way to stop a child politely where no console signal can (a Windows service).
    code = """
        import signal, sys, time
        from transom.platform.processes import watch_for_stop
        def bye(signum, frame):
            print("stopping on request", flush=True)
            sys.exit(0)
        signal.signal(signal.SIGTERM, bye)
        watch_for_stop()
        print("ready", flush=True)
        while True:
            time.sleep(0.05)
    """
    # The child imports transom from this very checkout, whatever Python runs the tests.
    env = child_environment({"PYTHONPATH": str(Path(transom.__file__).parents[1])})
    with spawn(python(code), control=True, env=env) as process:
        assert read_until(process, "ready")
        assert process.send_stop_message()
        assert process.wait(30) == 0
        assert [line.text for line in process.drain(5)] == ["stopping on request"]


def test_watch_for_stop_acts_only_on_the_message() -> None:
    stopped = threading.Event()
    stream = io.BytesIO(b"hello\n" + STOP_MESSAGE + b"more\n")
    watch_for_stop(stream, on_stop=stopped.set).join(5)
    assert stopped.is_set()
    stopped.clear()
    watch_for_stop(io.BytesIO(b"transom:stopp\nother\n"), on_stop=stopped.set).join(5)
    assert not stopped.is_set()


def test_posix_child_runs_in_a_session_of_its_own() -> None:
    if sys.platform == "win32":
        pytest.skip("sessions are POSIX")
    else:
        with spawn(python("import os; print(os.getsid(0), os.getpgid(0), os.getpid())")) as child:
            assert child.wait(30) == 0
            sid, pgid, pid = map(int, child.drain(5)[0].text.split())
        assert sid == pgid == pid != os.getsid(0)


@windows
def test_windows_child_tree_is_in_a_job_that_kills_it_on_close() -> None:
    # What protects against our own death: the OS closes the job handle and ends the whole tree.
    from ctypes import wintypes

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined,unused-ignore]
    kernel32.OpenProcess.restype = wintypes.HANDLE
    kernel32.CloseHandle.argtypes = [wintypes.HANDLE]
    kernel32.IsProcessInJob.argtypes = [wintypes.HANDLE, wintypes.HANDLE,
                                        ctypes.POINTER(wintypes.BOOL)]
    with spawn(python(PARENT_OF_SLEEPER)) as process:
        assert process.job is not None, "Windows refused the Job Object"
        grandchild = int(next_line(process))
        handle = kernel32.OpenProcess(0x0400, False, process.pid)  # PROCESS_QUERY_INFORMATION
        inside = wintypes.BOOL()
        try:
            assert kernel32.IsProcessInJob(handle, process.job.handle, ctypes.byref(inside))
        finally:
            kernel32.CloseHandle(handle)
        assert inside.value
        process.job.close()  # nothing else: no TerminateProcess, no psutil
        assert gone(process.pid) and gone(grandchild)


# -- bad input ------------------------------------------------------------------------------------


def test_missing_cwd_program_and_bad_arguments_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match=r"working directory .*nowhere does not exist"):
        spawn([PY, "-c", "pass"], cwd=tmp_path / "nowhere")
    with pytest.raises(UserInputError, match=r"cannot start .*no-such-program"):
        spawn([str(tmp_path / "no-such-program")])
    with pytest.raises(UserInputError, match="non-empty list of strings"):
        spawn([])
    with pytest.raises(UserInputError, match="more than zero"):
        run([PY, "-c", "pass"], timeout=0)


@pytest.mark.skipif(WINDOWS, reason="a command line string is how cmd.exe is started on Windows")
def test_a_command_line_string_is_refused_on_posix() -> None:
    with pytest.raises(UserInputError, match="only be started on Windows"):
        spawn("echo hi")
