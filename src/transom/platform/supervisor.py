"""What a Transom service runs: keep the server or a worker going as a child, its output in a
rotating UTF-8 log file, and stop it gracefully when the service stops.

`supervise()` is shared by `transom service run` (systemd, launchd and NSSM start that) and the
Windows service host (`platform.winservice`). The child is started through `platform.processes`
in a group of its own with `control=True` and `TRANSOM__SUPERVISED=1`, so a stop reaches it even
without a console: SIGTERM on POSIX; on Windows CTRL_BREAK when there is a console, else the stop
message on its stdin, which the CLI listens for when that variable is set. Every line the child
prints goes to `--log-file` (rotated by size with `logging.handlers.RotatingFileHandler`), with a
timestamp and the stream it came from. The wrapper's exit code is the child's, so the service
manager restarts the service when it fails; a requested stop exits 0.
"""

from __future__ import annotations

import argparse
import logging
import logging.handlers
import os
import signal
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import FrameType

from transom.exceptions import UserInputError
from transom.platform.paths import to_long_path
from transom.platform.processes import OutputLine, child_environment, spawn
from transom.platform.services import (
    DEFAULT_LOG_BACKUPS,
    DEFAULT_LOG_MAX_BYTES,
    ROLES,
    target_command,
)
from transom.platform.system import shown_command_line

__all__ = [
    "STOP_GRACE",
    "SUPERVISED_ENV",
    "RunOptions",
    "install_stop_signals",
    "open_log",
    "parse_run_arguments",
    "supervise",
]

SUPERVISED_ENV = "TRANSOM__SUPERVISED"
"""Set to "1" in the child: the CLI then treats a stop message on stdin as SIGTERM."""

STOP_GRACE = 20.0
"""Seconds the child has to stop after the request, before its tree is killed (the service
managers wait 30 s for the whole service)."""

_FORMAT = "%(asctime)s %(stream)-6s %(message)s"


@dataclass(frozen=True)
class RunOptions:
    """The arguments of `transom service run` and of the Windows service host."""

    role: str
    pool: str | None
    log_file: str
    max_bytes: int = DEFAULT_LOG_MAX_BYTES
    backups: int = DEFAULT_LOG_BACKUPS

    def command(self, python: str) -> list[str]:
        return target_command(self.role, self.pool, python)


def parse_run_arguments(argv: Sequence[str]) -> RunOptions:
    """Parse `ROLE [--pool P] --log-file F [--max-bytes N] [--backups K]`."""
    parser = argparse.ArgumentParser(prog="transom-service", add_help=False)
    parser.add_argument("role", choices=ROLES)
    parser.add_argument("--pool")
    parser.add_argument("--log-file", required=True)
    parser.add_argument("--max-bytes", type=int, default=DEFAULT_LOG_MAX_BYTES)
    parser.add_argument("--backups", type=int, default=DEFAULT_LOG_BACKUPS)
    try:
        ns = parser.parse_args(list(argv))
    except SystemExit:
        raise UserInputError("the service arguments must be ROLE [--pool P] --log-file FILE "
                             f"[--max-bytes N] [--backups K], not {' '.join(argv)!r}") from None
    options = RunOptions(ns.role, ns.pool, ns.log_file, ns.max_bytes, ns.backups)
    check_options(options)
    return options


def check_options(options: RunOptions) -> None:
    if options.role == "worker" and not options.pool:
        raise UserInputError("a worker service needs its pool: add --pool NAME")
    if options.max_bytes < 1024:
        raise UserInputError(f"--max-bytes must be at least 1024, not {options.max_bytes}")
    if options.backups < 1:
        raise UserInputError(f"--backups must be at least 1, not {options.backups}")


def open_log(log_file: str, *, max_bytes: int = DEFAULT_LOG_MAX_BYTES,
             backups: int = DEFAULT_LOG_BACKUPS,
             platform: str = sys.platform) -> tuple[logging.Logger, logging.Handler]:
    """A logger writing UTF-8 lines to `log_file`, rotated at `max_bytes` with `backups` kept.

    The folder is created; a very long Windows path gets the `\\\\?\\` prefix.
    """
    path = to_long_path(log_file, platform, cwd=os.getcwd())
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8", errors="replace")
    except OSError as exc:
        raise UserInputError(f"cannot write the service log {log_file}: "
                             f"{exc.strerror or exc}; make its folder writable or set "
                             "TRANSOM_HOME") from None
    handler.setFormatter(logging.Formatter(_FORMAT))
    logger = logging.Logger("transom.service")  # not registered: nothing else writes here
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    return logger, handler


def supervise(
    command: Sequence[str],
    *,
    log_file: str,
    stop: threading.Event,
    max_bytes: int = DEFAULT_LOG_MAX_BYTES,
    backups: int = DEFAULT_LOG_BACKUPS,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    grace: float = STOP_GRACE,
    echo: Callable[[str], None] | None = None,
) -> int:
    """Run `command` until it exits or `stop` is set; its output goes to the log (and `echo`).

    Returns the child's exit code (128 + the signal when a signal ended it), or 0 when `stop`
    ended it.
    """
    logger, handler = open_log(log_file, max_bytes=max_bytes, backups=backups)

    def write(stream: str, text: str) -> None:
        logger.info(text, extra={"stream": stream})
        if echo is not None:
            echo(text)

    def copy(lines: list[OutputLine]) -> None:
        for line in lines:
            write(line.stream, line.text)

    shown = _readable(shown_command_line(command, sys.platform))
    try:
        child_env = child_environment(
            {SUPERVISED_ENV: "1", "PYTHONUNBUFFERED": "1", "PYTHONIOENCODING": "utf-8"}, base=env)
        try:
            process = spawn(list(command), env=child_env, cwd=cwd, control=True)
        except UserInputError as exc:
            write("service", f"cannot start {shown}: {exc}")
            return 2
        write("service", f"started {shown} (pid {process.pid})")
        try:
            while True:
                if process.output_closed:
                    stop.wait(0.2)  # it closed its pipes but may still run
                else:
                    copy(process.read(0.2))
                if stop.is_set():
                    write("service", f"stopping pid {process.pid} (up to {grace:g} s to finish)")
                    code = process.stop(grace)
                    copy(process.drain(2.0))
                    write("service", f"stopped ({_ending(code)})")
                    return 0
                code = process.poll()
                if code is not None:
                    copy(process.drain(2.0))
                    write("service", f"exited on its own ({_ending(code)})")
                    return 128 - code if code < 0 else code
        finally:
            process.close()
    finally:
        logger.removeHandler(handler)
        handler.close()


def _readable(text: str) -> str:
    # Arguments that came in under an ASCII locale hold their UTF-8 bytes as lone surrogates.
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _ending(code: int | None) -> str:
    if code is None:
        return "still running after the kill"
    return f"ended by signal {-code}" if code < 0 else f"exit code {code}"


def install_stop_signals(stop: threading.Event,
                         platform: str = sys.platform) -> Callable[[], None]:
    """Turn Ctrl+C, SIGTERM, SIGHUP (and Ctrl+Break, NSSM's Ctrl+C on Windows) into `stop`.

    Returns a function that puts the previous handlers back. Main thread only.
    """
    names = ["SIGINT", "SIGTERM"] + (["SIGBREAK"] if platform == "win32" else ["SIGHUP"])
    previous: list[tuple[signal.Signals, object]] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    for name in names:
        signum = getattr(signal, name, None)
        if signum is None:
            continue
        previous.append((signum, signal.signal(signum, handler)))

    def restore() -> None:
        for signum, old in previous:
            signal.signal(signum, old)  # type: ignore[arg-type]

    return restore
