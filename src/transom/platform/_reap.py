"""The keeper of a command's process tree (Linux): `python -I -S _reap.py PROGRAM ARGS...`.

A command that double-forks (`setsid cmd &`, a daemon) leaves its parent and its session at once,
so no walk of the tree it was started in, nor its process group or session, finds it again: it
outlives the stop of a shell task, its timeout and the cancel of its run. `spawn(reap=True)` puts
this small keeper between us and the command. It makes itself the child subreaper
(prctl(PR_SET_CHILD_SUBREAPER)), so whatever the command leaves behind becomes its child, and:

- passes a stop (SIGTERM, SIGINT, SIGHUP) on to the processes below it that left its group, and
  stays up while any of them lives, so the kill that follows the grace period still
  finds them all;
- when the command exits, kills what it left running below (as `ManagedProcess.close()` would a
  moment later, but before they could be handed to init) and exits as the command did: its exit
  code, or the same signal;
- if its own parent dies (kill -9 of the flow's process), stops everything below it.

It runs with the standard library only (no site packages: `-I -S`), so it starts in a few ms.
"""

from __future__ import annotations

import _signal as signal  # the C module: `signal` would import enum, half our start time
import ctypes
import os
import sys
import time

PR_SET_CHILD_SUBREAPER = 36
# (getattr: the module is imported on Windows too, by tests of what it computes, which has no SIGHUP)
STOPS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGINT", "SIGHUP") if hasattr(signal, name))
ORPHAN_GRACE = 5.0  # after our parent died: how long what is below may take to stop
TICK = 0.25  # how often to look whether our parent is still there


def descendants(root: int, proc: str = "/proc") -> list[int]:
    """The pids below `root`, parents before children, from /proc/PID/stat."""
    children: dict[int, list[int]] = {}
    for name in os.listdir(proc):
        if not name.isdigit():
            continue
        try:
            with open(f"{proc}/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue  # gone meanwhile
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses; the last ")" ends it.
        fields = stat[stat.rfind(b")") + 2:].split()
        if len(fields) > 1:
            children.setdefault(int(fields[1]), []).append(int(name))
    found: list[int] = []
    todo = [root]
    while todo:
        for pid in children.get(todo.pop(), ()):
            found.append(pid)
            todo.append(pid)
    return found


def _signal_all(sig: int, *, outside_group: bool = False) -> None:
    """Send `sig` to every process below us; with `outside_group`, only to those that left our
    process group (a stop of the group, or of each process of the tree, reached the others
    already, and a second SIGTERM can mean "now, hard" to a program)."""
    group = os.getpgid(0)
    for pid in descendants(os.getpid()):
        try:
            if not outside_group or os.getpgid(pid) != group:
                os.kill(pid, sig)
        except OSError:
            pass


def _reap() -> tuple[list[tuple[int, int]], bool]:
    """Collect every child that ended: (pid, status) pairs, and whether any child is left."""
    ended: list[tuple[int, int]] = []
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return ended, False
        if pid == 0:
            return ended, True
        ended.append((pid, status))


def _exit_as(status: int) -> None:
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            signal.signal(sig, signal.SIG_DFL)
        except (OSError, ValueError):
            pass  # SIGKILL and SIGSTOP have no handler to reset
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        os.kill(os.getpid(), sig)
        os._exit(128 + sig)  # not reached: the signal ends us as it ended the command
    os._exit(os.waitstatus_to_exitcode(status))


def main(argv: list[str]) -> None:
    # CDLL(None): the symbols already loaded, libc's among them (find_library would run
    # ldconfig, and cost more than the rest of the keeper's start).
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    parent = os.getppid()
    watched = {*STOPS, signal.SIGCHLD}
    signal.pthread_sigmask(signal.SIG_BLOCK, watched)
    command = os.fork()
    if command == 0:
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        try:
            os.execvp(argv[0], argv)
        except OSError as exc:
            os.write(2, f"transom: cannot start {argv[0]}: {exc.strerror or exc}\n".encode())
        os._exit(127)
    status: int | None = None
    stopping = False  # a stop was passed on: what is below gets the time our parent gives it
    orphaned_at: float | None = None
    while True:
        ended, any_left = _reap()
        for pid, code in ended:
            if pid == command:
                status = code
        if status is not None:
            if not any_left:
                _exit_as(status)
            if not stopping:
                _signal_all(signal.SIGKILL)  # what the command left behind ends with it
                continue
        if orphaned_at is None and os.getppid() != parent:
            orphaned_at = time.monotonic()
            stopping = True
            _signal_all(signal.SIGTERM)
        if orphaned_at is not None and time.monotonic() - orphaned_at > ORPHAN_GRACE:
            _signal_all(signal.SIGKILL)
        info = signal.sigtimedwait(watched, TICK)
        if info is not None and info.si_signo in STOPS:
            stopping = True
            _signal_all(info.si_signo, outside_group=True)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: python -I -S _reap.py PROGRAM [ARGS...]")
    main(sys.argv[1:])
