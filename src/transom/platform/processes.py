"""Child processes: each in its own group, output streamed as text lines, stopped as a whole tree.

The only module in Transom that starts processes (shell tasks and the worker's flow runs use it).
Every child gets a group of its own, so that a stop reaches it and everything it started but never
its parent: on POSIX a new session; on Windows a new process group (for CTRL_BREAK) and a Job
Object that kills every process in it when it is closed, even if this process dies first.
Stopping is graceful first (SIGTERM, CTRL_BREAK, or a stop message on the child's stdin where
there is no console to send CTRL_BREAK through), then a hard kill of the whole tree after a grace
period. Output is read by threads and decoded per line: UTF-8, else the console code page, with
undecodable bytes replaced, so no child output can raise a decoding error.
"""

from __future__ import annotations

import codecs
import ctypes
import locale
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any

from transom.exceptions import UserInputError
from transom.platform.winjob import WindowsJob, attach_job

__all__ = [
    "DEFAULT_GRACE", "STOP_MESSAGE", "ManagedProcess", "OutputLine",
    "ProcessResult", "child_environment", "console_fallback_encoding", "decode_line",
    "keeper_command", "popen_options", "run", "spawn", "stop_methods", "watch_for_stop",
]

DEFAULT_GRACE = 5.0
"""Seconds a child gets to exit after the graceful stop request, before its tree is killed."""

STOP_MESSAGE = b"transom:stop\n"
"""Written to a `control=True` child's stdin to ask it to stop where no console signal can."""

MAX_LINE_BYTES = 64 * 1024  # a longer "line" (no newline in sight) is passed on in pieces
_POLL = 0.05  # how long a wait blocks in C at most, so a cancel or timeout raised into it lands
_DRAIN = 0.5  # after the child exits: how long its background processes may keep the pipes open

CREATE_NEW_PROCESS_GROUP = 0x00000200
CREATE_NO_WINDOW = 0x08000000


# -- pure decisions (the platform is a parameter, so Linux tests cover the Windows branches) ----
def popen_options(platform: str, *, has_console: bool = True) -> dict[str, Any]:
    """The Popen keywords that put a child in a group of its own.

    POSIX: a new session (its own process group, no controlling terminal, so the terminal's Ctrl+C
    reaches only us and we stop it). Windows: a new process group, which CTRL_BREAK can target
    without hitting us; without a console of our own (a service, pythonw) also CREATE_NO_WINDOW,
    so the console the child needs is created hidden instead of popping up a window.
    """
    if platform == "win32":
        flags = CREATE_NEW_PROCESS_GROUP
        if not has_console:
            flags |= CREATE_NO_WINDOW
        return {"creationflags": flags}
    return {"start_new_session": True}


def keeper_command(platform: str, args: Sequence[str], executable: str | None,
                   ) -> list[str] | None:
    """`args` started under the keeper of its tree (`platform/_reap.py`), or None where there
    is no keeper: it needs Linux's child subreaper and a Python to run it with."""
    if not platform.startswith("linux") or not executable:
        return None
    return [executable, "-I", "-S", _KEEPER, *(os.fspath(a) for a in args)]


_KEEPER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_reap.py")


def _check_program(program: str, cwd: str | os.PathLike[str] | None,
                   env: Mapping[str, str] | None) -> None:
    """Refuse a program that cannot be started, as Popen would, before the keeper starts it."""
    if os.sep in program:
        found = os.path.join(os.fspath(cwd), program) if cwd is not None else program
        ok = os.path.isfile(found) and os.access(found, os.X_OK)
    else:
        ok = shutil.which(program, path=(os.environ if env is None else env).get("PATH")) is not None
    if not ok:
        raise UserInputError(f"cannot start {program}: no such program, or it may not be run; "
                             "check that the program exists and may be run")


def stop_methods(platform: str, *, has_console: bool, control: bool) -> tuple[str, ...]:
    """The graceful stop requests to try, in order: "sigterm", "ctrl_break" or "message".

    Windows can only deliver CTRL_BREAK to a child that shares our console; without one, the stop
    message on stdin is the only polite way (for children started with `control=True`).
    """
    if platform != "win32":
        return ("sigterm",)
    methods: list[str] = []
    if has_console:
        methods.append("ctrl_break")
    if control:
        methods.append("message")
    return tuple(methods)


def decode_line(raw: bytes, fallback: str | None = None) -> str:
    """One line of child output as text: UTF-8, else `fallback` (the console code page), with any
    undecodable byte replaced. Never raises, whatever the bytes."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if fallback:
        try:
            return raw.decode(fallback, errors="replace")
        except LookupError:
            pass
    return raw.decode("utf-8", errors="replace")


def console_fallback_encoding(
    platform: str,
    *,
    console_code_page: int | None = None,
    oem_code_page: int | None = None,
    locale_encoding: str | None = None,
) -> str | None:
    """The encoding to try when a line is not UTF-8, or None to replace bad bytes straight away.

    Windows console programs write in the console's output code page (the OEM one when there is no
    console), older ones in the ANSI code page (`locale_encoding`); elsewhere the locale's.
    """
    candidates: list[str] = []
    if platform == "win32":
        for code_page in (console_code_page, oem_code_page):
            if code_page and code_page != 65001:
                candidates.append(f"cp{code_page}")
    if locale_encoding:
        candidates.append(locale_encoding)
    for name in candidates:
        try:
            codec = codecs.lookup(name).name
        except LookupError:
            continue
        if codec != "utf-8":
            return codec
    return None


def child_environment(
    changes: Mapping[str, str | None] | None = None,
    *,
    base: Mapping[str, str] | None = None,
    platform: str = sys.platform,
) -> dict[str, str]:
    """The environment for a child: `base` (default: ours) with `changes` applied; None removes.

    Windows names are case-insensitive: `{"Path": ...}` replaces `PATH` instead of adding a second
    variable that CreateProcess would pick between at random.
    """
    source = dict(os.environ if base is None else base)
    if not changes:
        return source
    windows = platform == "win32"
    for name, value in changes.items():
        if not isinstance(name, str) or not name or "=" in name[1:] or "\0" in name:
            raise UserInputError(f"environment variable name {name!r} is not valid; use a "
                                 "non-empty string without '=' or NUL")
        if value is not None and (not isinstance(value, str) or "\0" in value):
            raise UserInputError(f"environment variable {name} must be a string without NUL "
                                 f"(or None to remove it), not {type(value).__name__}")
        if windows:
            for existing in [k for k in source if k.upper() == name.upper()]:
                del source[existing]
        else:
            source.pop(name, None)
        if value is not None:
            source[name] = value
    return source


# -- what the OS says about us --------------------------------------------------------------------
def _windows_has_console() -> bool:  # pragma: no cover - Windows only
    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined,unused-ignore]
    return bool(kernel32.GetConsoleCP())


def _native_fallback_encoding() -> str | None:
    if sys.platform == "win32":  # pragma: no cover - Windows only
        kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined,unused-ignore]
        return console_fallback_encoding(
            sys.platform, console_code_page=int(kernel32.GetConsoleOutputCP()),
            oem_code_page=int(kernel32.GetOEMCP()),
            locale_encoding=locale.getpreferredencoding(False))
    return console_fallback_encoding(sys.platform,
                                     locale_encoding=locale.getpreferredencoding(False))


# -- results ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OutputLine:
    """One decoded line from a child; `stream` is "stdout" or "stderr"."""

    stream: str
    text: str


@dataclass(frozen=True)
class ProcessResult:
    """How a child ended and everything it printed, line by line."""

    args: tuple[str, ...] | str
    pid: int
    exit_code: int
    stdout: tuple[str, ...]
    stderr: tuple[str, ...]
    timed_out: bool = False


def _pump(pipe: IO[bytes], stream: str, fallback: str | None,
          sink: queue.SimpleQueue[OutputLine | str]) -> None:
    """Reader thread: decoded lines into `sink`, then the stream's name to say it closed."""
    try:
        while True:
            raw = pipe.readline(MAX_LINE_BYTES)
            if not raw:
                break
            if raw.endswith(b"\n"):
                raw = raw[:-1]
            if raw.endswith(b"\r"):
                raw = raw[:-1]
            sink.put(OutputLine(stream, decode_line(raw, fallback)))
    except (OSError, ValueError):
        pass  # the pipe was closed under us: the process is gone
    finally:
        sink.put(stream)
        try:
            pipe.close()
        except OSError:
            pass


# -- a running child ----------------------------------------------------------------------------
class ManagedProcess:
    """A child in its own group (POSIX session / Windows process group + Job Object).

    Use `read()` to get its output lines, `stop()` to end it and its tree, and `close()` (or a
    `with` block) when done: that also ends what it left running in the background.
    """

    def __init__(self, popen: subprocess.Popen[bytes], *, job: WindowsJob | None,
                 control: bool, has_console: bool, fallback: str | None) -> None:
        self.popen = popen
        self.args: tuple[str, ...] | str = (popen.args if isinstance(popen.args, str)
                                             else tuple(str(a) for a in popen.args))  # type: ignore[union-attr]
        self.pid = popen.pid
        self.job = job
        self.control = control
        self.has_console = has_console
        self._lines: queue.SimpleQueue[OutputLine | str] = queue.SimpleQueue()
        self._open: set[str] = set()
        self._closed = False
        self.killed = False  # set by stop(): it had to be killed after the grace period
        for stream, pipe in (("stdout", popen.stdout), ("stderr", popen.stderr)):
            if pipe is not None:
                self._open.add(stream)
                threading.Thread(target=_pump, args=(pipe, stream, fallback, self._lines),
                                 name=f"transom-{stream}-{self.pid}", daemon=True).start()

    def __enter__(self) -> ManagedProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self.poll() is None:
                self.stop()
        finally:
            self.close()

    # -- state --------------------------------------------------------------------------------
    @property
    def returncode(self) -> int | None:
        return self.popen.returncode

    def poll(self) -> int | None:
        """The exit code, or None while the child runs."""
        return self.popen.poll()

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait for the child to exit; None if it still runs after `timeout` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            step = _POLL if deadline is None else min(_POLL, deadline - time.monotonic())
            if step <= 0:
                return self.popen.poll()
            try:
                # In slices: on Windows the wait blocks in C, where no cancel could reach us.
                return self.popen.wait(step)
            except subprocess.TimeoutExpired:
                continue

    # -- output -------------------------------------------------------------------------------
    @property
    def output_closed(self) -> bool:
        """True once stdout and stderr (those captured) reached end of file."""
        return not self._open

    def read(self, timeout: float = 0.0) -> list[OutputLine]:
        """The output lines available now, waiting up to `timeout` seconds for the first one."""
        lines: list[OutputLine] = []
        if not self._open:
            return lines
        try:
            item = self._lines.get(timeout=timeout) if timeout > 0 else self._lines.get_nowait()
        except queue.Empty:
            return lines
        while True:
            if isinstance(item, str):
                self._open.discard(item)  # that stream reached end of file
            else:
                lines.append(item)
            try:
                item = self._lines.get_nowait()
            except queue.Empty:
                return lines

    def drain(self, timeout: float) -> list[OutputLine]:
        """Everything still to come until both pipes close, waiting at most `timeout` seconds."""
        deadline = time.monotonic() + timeout
        lines: list[OutputLine] = []
        while self._open:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            lines.extend(self.read(min(_POLL, remaining)))
        return lines

    # -- stopping -----------------------------------------------------------------------------
    def send_stop_message(self) -> bool:
        """Write STOP_MESSAGE to a `control=True` child's stdin (see `watch_for_stop`)."""
        stdin = self.popen.stdin
        if not self.control or stdin is None:
            return False
        try:
            stdin.write(STOP_MESSAGE)
            stdin.flush()
            return True
        except (OSError, ValueError):
            return False

    def request_stop(self) -> bool:
        """Ask the child's group to stop (no waiting); False when no polite way was available."""
        if self.poll() is not None:
            return False
        for method in stop_methods(sys.platform, has_console=self.has_console,
                                   control=self.control):
            try:
                if method == "sigterm":
                    os.killpg(self.pid, signal.SIGTERM)  # type: ignore[attr-defined,unused-ignore]
                    return True
                if method == "ctrl_break":
                    # Goes to the child's whole process group on our console, never to us.
                    os.kill(self.pid, signal.CTRL_BREAK_EVENT)  # type: ignore[attr-defined,unused-ignore]
                    return True
                if method == "message" and self.send_stop_message():
                    return True
            except ProcessLookupError:
                return False
            except (OSError, SystemError):
                # CTRL_BREAK without a usable console (CPython 3.11 may wrap that OSError in a
                # SystemError, as under Wine): try the next way.
                continue
        return False

    def stop(self, grace: float = DEFAULT_GRACE) -> int | None:
        """Stop politely, wait up to `grace` seconds, then kill the whole tree; the exit code."""
        return self._stop(self.request_stop, grace)

    def stop_with_message(self, grace: float = DEFAULT_GRACE) -> int | None:
        """Like `stop`, but the polite request is the stop message on a `control=True` child's
        stdin only, never a signal: the child decides what the stop means (a worker's flow run
        takes it as a cancel)."""
        return self._stop(self.send_stop_message, grace)

    def _stop(self, request: Callable[[], bool], grace: float) -> int | None:
        # Descendants that left the child's group or session (e.g. its own shell tasks) are
        # remembered while their parent lives: once it exits they are nobody's children.
        remembered = _descendants(self.pid) if self.popen.returncode is None else []
        if self.poll() is None and grace > 0 and request():
            self.wait(grace)
        self.killed = self.poll() is None  # it did not stop in time (its exit code cannot tell)
        self.kill_tree()
        _kill_all(p for p in remembered if _running(p))
        return self.wait(5.0)

    def kill_tree(self) -> None:
        """Kill the child and every process it started, at once; also what it left behind."""
        # `returncode`, not poll(): an unreaped child keeps its pid (our group id) reserved.
        victims = _descendants(self.pid) if self.popen.returncode is None else []
        if sys.platform == "win32":  # pragma: no cover - Windows only
            if self.job is not None:
                self.job.terminate(1)
        else:
            try:
                os.killpg(self.pid, signal.SIGKILL)  # type: ignore[attr-defined,unused-ignore]
            except OSError:
                pass  # the group is empty
            victims.extend(_session_members(self.pid))
        _kill_all(victims)
        if self.popen.poll() is None:
            try:
                self.popen.kill()
            except OSError:
                pass

    def close(self) -> None:
        """End what the child left running, release the Job Object and our pipe ends."""
        if self._closed:
            return
        self._closed = True
        try:
            self.kill_tree()
        finally:
            if self.job is not None:
                self.job.close()  # kill-on-close: the OS ends anything the kill above missed
            if self.popen.stdin is not None:
                try:
                    self.popen.stdin.close()
                except OSError:
                    pass
            self.wait(5.0)


def _descendants(pid: int) -> list[Any]:
    import psutil

    try:
        return list(psutil.Process(pid).children(recursive=True))
    except (psutil.Error, OSError):
        return []


def _session_members(sid: int) -> list[Any]:
    """Processes still in the child's session, even those that left its process group (POSIX)."""
    import psutil

    getsid = getattr(os, "getsid", None)
    if getsid is None:
        return []
    try:
        own_sid = getsid(0)
    except OSError:
        return []
    if sid == own_sid:
        return []  # never sweep our own session
    members = []
    own = os.getpid()
    for pid in psutil.pids():
        if pid == own:
            continue
        try:
            if getsid(pid) == sid:
                members.append(psutil.Process(pid))
        except (OSError, psutil.Error):
            continue
    return members


def _running(process: Any) -> bool:
    import psutil

    try:
        return bool(process.is_running())  # False for a pid that was reused since
    except (psutil.Error, OSError):
        return False


def _kill_all(processes: Iterable[Any]) -> None:
    import psutil

    for process in processes:
        try:
            process.kill()
        except (psutil.Error, OSError):
            pass


def process_alive(pid: int) -> bool:
    """Whether a process with that pid runs on this machine (a zombie counts as gone)."""
    import psutil

    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except (psutil.Error, OSError, ValueError, OverflowError):
        return False


def stop_process_tree(pid: int, *, grace: float = 5.0) -> bool:
    """Stop a process this one did not start, and everything it started: asked to stop (on
    Windows, where a process of another console cannot be asked, ended), then after `grace`
    seconds whatever is left is killed. False if no such process ran."""
    import psutil

    try:
        root = psutil.Process(pid)
        tree = [root, *root.children(recursive=True)]
    except (psutil.Error, OSError, ValueError, OverflowError):
        return False
    for process in tree:
        try:
            process.terminate()
        except (psutil.Error, OSError):
            pass
    _, alive = psutil.wait_procs(tree, timeout=grace)
    _kill_all(alive)
    return True


# -- starting and running -------------------------------------------------------------------------
def spawn(
    args: Sequence[str] | str,
    *,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    control: bool = False,
    capture: bool = True,
    keep_tree: bool = False,
) -> ManagedProcess:
    """Start `args` in a group of its own; read its output with `read()`, end it with `stop()`.

    `args` is an argv list, or on Windows a ready command line (for cmd.exe, whose quoting the
    usual argv rules would break). `env` is the child's whole environment (see
    `child_environment`). `control=True` keeps the child's stdin as a channel for STOP_MESSAGE;
    otherwise stdin is empty. `capture=False` lets the child write to our stdout/stderr.
    `keep_tree=True` (Linux) starts it under a keeper that adopts what it leaves behind
    (`platform/_reap.py`), so a double-forked grandchild is stopped with it too; the process's
    pid is then the keeper's. Windows needs no keeper (the Job Object holds every descendant).
    """
    if isinstance(args, str):
        if sys.platform != "win32":
            raise UserInputError("a command line string can only be started on Windows; "
                                 "pass the program and its arguments as a list")
        if not args.strip():
            raise UserInputError("the command line is empty; pass the program to run")
    elif not args or not all(isinstance(a, str | os.PathLike) for a in args):
        raise UserInputError("the command must be a non-empty list of strings "
                             f"(program first), not {args!r}")
    if cwd is not None and not os.path.isdir(cwd):
        what = "is not a directory" if os.path.exists(cwd) else "does not exist"
        raise UserInputError(f"the working directory {os.fspath(cwd)} {what}; "
                             "create it or pass an existing cwd")
    windows = sys.platform == "win32"
    has_console = _windows_has_console() if windows else True
    pipe = subprocess.PIPE if capture else None
    shown = args
    kept = (keeper_command(sys.platform, args, sys.executable)
            if keep_tree and not isinstance(args, str) else None)
    if kept is not None:
        _check_program(os.fspath(args[0]), cwd, env)
        args = kept
    try:
        popen = subprocess.Popen(
            args, cwd=cwd, env=None if env is None else dict(env),
            stdin=subprocess.PIPE if control else subprocess.DEVNULL, stdout=pipe, stderr=pipe,
            **popen_options(sys.platform, has_console=has_console),
        )
    except OSError as exc:
        program = args if isinstance(args, str) else os.fspath(args[0])
        raise UserInputError(f"cannot start {program}: {exc.strerror or exc}; check that the "
                             "program exists and may be run") from exc
    job = attach_job(popen.pid) if windows else None
    process = ManagedProcess(popen, job=job, control=control, has_console=has_console,
                             fallback=_native_fallback_encoding())
    process.args = shown if isinstance(shown, str) else tuple(os.fspath(a) for a in shown)
    return process


def run(
    args: Sequence[str] | str,
    *,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    on_line: Callable[[OutputLine], None] | None = None,
    grace: float = DEFAULT_GRACE,
    control: bool = False,
    keep_tree: bool = False,
) -> ProcessResult:
    """Run a child to its end, handing each output line to `on_line` as it arrives.

    After `timeout` seconds the child's tree is stopped (`grace` seconds to go politely) and the
    result says `timed_out`. Whatever interrupts the wait (Ctrl+C, a cancel, an engine timeout)
    stops the tree before it propagates, so no grandchild outlives the call.
    """
    if timeout is not None and timeout <= 0:
        raise UserInputError(f"timeout must be more than zero seconds, not {timeout!r}")
    process = spawn(args, cwd=cwd, env=env, control=control, keep_tree=keep_tree)
    stdout: list[str] = []
    stderr: list[str] = []

    def take(lines: list[OutputLine]) -> None:
        for line in lines:
            (stdout if line.stream == "stdout" else stderr).append(line.text)
            if on_line is not None:
                on_line(line)

    try:
        timed_out = _follow(process, timeout, take)
        if timed_out:
            process.stop(grace)
    except BaseException:
        try:
            process.stop(grace)
        finally:
            process.close()
        raise
    process.close()  # also ends what it left running in the background, closing their pipes
    take(process.drain(_DRAIN))
    code = process.returncode
    return ProcessResult(args=process.args, pid=process.pid,
                         exit_code=code if code is not None else -1,
                         stdout=tuple(stdout), stderr=tuple(stderr), timed_out=timed_out)


def _follow(process: ManagedProcess, timeout: float | None,
            take: Callable[[list[OutputLine]], None]) -> bool:
    """Pass output on until the child exits and its pipes close; True if `timeout` ran out."""
    deadline = None if timeout is None else time.monotonic() + timeout
    exited_at: float | None = None
    while True:
        step = _POLL
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return True
            step = min(step, remaining)
        if process.output_closed:
            if process.wait(step) is not None:
                return False
            continue
        take(process.read(step))
        if process.poll() is not None:
            now = time.monotonic()
            exited_at = now if exited_at is None else exited_at
            if process.output_closed or now - exited_at >= _DRAIN:
                # Done, or background processes it left hold the pipes: close() ends them.
                return False


# -- the child's side of the stop message -------------------------------------------------------
def watch_for_stop(stream: IO[bytes] | None = None, *,
                   on_stop: Callable[[], None] | None = None,
                   on_eof: Callable[[], None] | None = None) -> threading.Thread:
    """In a child started with `control=True`: turn the parent's STOP_MESSAGE into a stop.

    A daemon thread reads `stream` (default: an unbuffered duplicate of stdin). On the message it
    calls `on_stop`, by default raising SIGTERM's handler in the main thread (the engine turns that
    into a recorded stop), or ending the process as SIGTERM would when no handler is installed.
    `on_eof` is called if the stream ends without the message: the parent closed it, or died
    (the OS closes its end of the pipe). Without a stdin to read, the thread ends at once.
    """
    source = stream if stream is not None else _unbuffered_stdin()
    action = on_stop or _stop_main_thread

    def listen() -> None:
        if source is None:
            return
        try:
            for raw in iter(source.readline, b""):
                if raw.strip() == STOP_MESSAGE.strip():
                    action()
                    return
        except (OSError, ValueError):
            pass
        if on_eof is not None:
            on_eof()

    thread = threading.Thread(target=listen, name="transom-stop-watch", daemon=True)
    thread.start()
    return thread


def _unbuffered_stdin() -> IO[bytes] | None:
    """A raw duplicate of stdin's descriptor, not sys.stdin.buffer: a daemon thread blocked inside
    a BufferedReader makes the interpreter abort at exit ("_enter_buffered_busy")."""
    try:
        return os.fdopen(os.dup(sys.stdin.fileno()), "rb", buffering=0)
    except (AttributeError, ValueError, OSError):
        return None  # no stdin at all: nothing to listen to


def _stop_main_thread() -> None:
    import _thread

    handler = signal.getsignal(signal.SIGTERM)
    if callable(handler):
        _thread.interrupt_main(signal.SIGTERM)
    elif handler != signal.SIG_IGN:
        os.kill(os.getpid(), signal.SIGTERM)  # SIG_DFL: end the process, as SIGTERM itself would
