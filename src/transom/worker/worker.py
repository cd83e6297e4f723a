"""The worker: poll -> claim atomically -> start each run as a child process -> heartbeat -> report.

One thread does it all in a loop: every poll (also the heartbeat) tells the server which runs
still have a process here, claims due runs up to the limit and hears which runs to cancel.
Each run is `python -m transom.worker.execute` in a group of its own (POSIX session, Windows
process group + Job Object) through `platform.processes`, its output streamed into the worker's
log. A cancel sends the child its stop message, waits the grace period, then kills its whole
tree, in a thread of its own so nothing else waits. A child that exits without a final state is
reported Crashed (or Cancelled, Failed) with the reason; a server that is away only delays this.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from transom.core.states import FINAL_TYPES, StateType
from transom.exceptions import (
    InvalidTransition,
    NotFound,
    StorageError,
    TransomError,
    UserInputError,
)
from transom.platform.processes import ManagedProcess, OutputLine, child_environment, spawn
from transom.schemas import ClaimedRun, StateIn, WorkerPoll
from transom.services import Backend, spool
from transom.settings import Settings
from transom.worker.handover import HandOver
from transom.worker.protocol import EXIT_NOT_STARTED, EXIT_STOPPED_BEFORE_START, RUN_FILE_ENV

__all__ = ["Worker", "default_worker_name"]

_TICK = 0.05  # how often output is passed on and children are checked
_MAX_CLAIM = 10  # runs claimed in one poll at most


def _remove(path: str | None) -> None:
    if path:
        try:
            os.remove(path)
        except OSError:
            pass


def default_worker_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


@dataclass
class _Child:
    run: ClaimedRun
    process: ManagedProcess
    started: float
    cancel: threading.Thread | None = None
    killed: bool = False  # the cancel had to kill it after the grace period
    run_file: str | None = None  # where the claimed run was handed over (removed at the end)
    last_error: str = ""
    exit_code: int | None = None
    lines: deque[str] = field(default_factory=lambda: deque(maxlen=20))  # its last lines


class Worker:
    """Runs the due runs of a work pool (or, for `serve`, of some deployments) until stopped."""

    def __init__(
        self, backend: Backend, settings: Settings, *, work_pool: str | None = None,
        deployment_ids: Sequence[uuid.UUID] = (), name: str | None = None,
        limit: int | None = None, queues: Sequence[str] = (),
        echo: Callable[[str], None] | None = None, python: str = sys.executable,
    ) -> None:
        if limit is not None and limit < 1:
            raise UserInputError(f"--limit must be 1 or more, not {limit}")
        self.backend = backend
        self.settings = settings
        self.work_pool = work_pool
        self.deployment_ids = list(deployment_ids)
        self.name = name or default_worker_name()
        self.limit = limit
        self.queues = list(queues)
        self.python = python
        self.instance = uuid.uuid4()
        self.poll_interval = settings.worker_poll_interval
        self.prefetch = settings.worker_prefetch_seconds
        self.grace = settings.worker_cancel_grace
        self.children: dict[uuid.UUID, _Child] = {}
        self.finishing: dict[uuid.UUID, _Child] = {}  # exited; final state not yet confirmed
        self.worker_id: uuid.UUID | None = None
        self.polls = 0
        self._echo = echo or _stderr
        self._draining = False
        self._stop_now = threading.Event()
        self._poll_error = ""
        self._paused_said = False
        self._slot_freed = False
        self.handover = HandOver()  # the claimed runs' files (worker/handover.py)

    # -- output -------------------------------------------------------------------------------
    def say(self, message: str) -> None:
        self._echo(f"{datetime.now():%H:%M:%S} {message}")

    # -- the loop -------------------------------------------------------------------------------
    def run(self, *, until: Callable[[], bool] | None = None) -> None:
        """Work until Ctrl+C (first: finish the runs going, take no new ones; second, or a
        SIGTERM: stop them now), `stop()`, or `until()` returns true."""
        where = f"work pool {self.work_pool!r}" if self.work_pool else "its deployments"
        limit = f", at most {self.limit} runs at once" if self.limit else ""
        self.say(f"Worker {self.name!r} polling {where} at {self.backend.where}{limit}.")
        previous = self._install_sigterm()
        try:
            self._loop(until)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            self._shutdown()

    def stop(self, *, now: bool = True) -> None:
        """Ask the loop to end (from another thread): now, or after the runs going end."""
        if now:
            self._stop_now.set()
        self._draining = True

    def _install_sigterm(self) -> dict[int, Any]:
        """SIGTERM, and Ctrl+Break on Windows (how a service manager or a console stops a
        process group there), stop the worker now; the handlers they replace, to restore."""
        previous: dict[int, Any] = {}
        if threading.current_thread() is not threading.main_thread():
            return previous
        for name in ("SIGTERM", "SIGBREAK"):
            signum = getattr(signal, name, None)
            if signum is None:
                continue
            try:
                previous[signum] = signal.signal(signum, lambda *_: self._stop_now.set())
            except (ValueError, OSError):
                pass
        return previous

    def _loop(self, until: Callable[[], bool] | None) -> None:
        next_poll = 0.0
        next_housekeeping = 0.0
        while not self._stop_now.is_set():
            try:
                self._pump()
                now = time.monotonic()
                if now >= next_housekeeping:
                    next_housekeeping = now + min(self.settings.server_services_interval,
                                                  self.settings.server_scheduler_interval)
                    self._housekeeping()
                if now >= next_poll or (self._slot_freed and not self._poll_error):
                    # A run that ended frees a slot: take the next due run now, not next poll.
                    self._slot_freed = False
                    next_poll = now + self._poll()
                if self._draining and not self.children and not self.finishing:
                    return
                if until is not None and until():
                    return
                time.sleep(_TICK)
            except KeyboardInterrupt:
                if self._draining or not (self.children or self.finishing):
                    self._stop_now.set()
                else:
                    self._draining = True
                    self.say(f"Stopping: waiting for {len(self.children)} run(s) to finish; "
                             "no new run is taken. Press Ctrl+C again to stop them now.")

    def _housekeeping(self) -> None:
        try:
            self.backend.housekeeping()
        except StorageError as exc:
            self._report_poll_error(exc)

    # -- polling ------------------------------------------------------------------------------
    def _capacity(self) -> int:
        if self._draining:
            return 0
        if self.limit is None:
            return _MAX_CLAIM
        return max(0, min(self.limit - len(self.children) - len(self.finishing), _MAX_CLAIM))

    def _poll(self) -> float:
        """One poll; returns the seconds until the next (longer while the server is away)."""
        body = WorkerPoll(
            name=self.name, instance=self.instance, work_pool=self.work_pool,
            deployment_ids=self.deployment_ids, queues=self.queues,
            running=[*self.children, *self.finishing], limit=self._capacity(),
            prefetch_seconds=self.prefetch, hostname=socket.gethostname(), pid=os.getpid(),
            run_limit=self.limit)
        try:
            result = self.backend.poll_worker(body)
        except StorageError as exc:
            self._report_poll_error(exc)
            return min(max(self.poll_interval, 1.0) * 2, 5.0)
        if self._poll_error:
            self.say("Reached the server again.")
            self._poll_error = ""
        self._deliver_spool()
        self.polls += 1
        self.worker_id = result.worker_id
        if result.pool_paused and not self._paused_said:
            self.say(f"Work pool {self.work_pool!r} is paused: no new run starts until it is "
                     "resumed.")
        self._paused_said = result.pool_paused
        for run_id in result.cancel:
            self._cancel(run_id)
        for run in result.runs:
            self._start(run)
        return self.poll_interval

    def _deliver_spool(self) -> None:
        """Events a run on this machine could not send to this server (it was down when the
        run ended) go now that the server answers: at start and whenever it comes back."""
        api_url = self.settings.api_url
        if not api_url or not spool.waiting(self.settings.home, api_url):
            return
        sent = spool.deliver(self.backend, self.settings.home, api_url)
        if sent:
            self.say(f"Delivered {sent} event(s) that earlier runs kept while the server was "
                     "away.")

    def _report_poll_error(self, exc: BaseException) -> None:
        text = str(exc)
        if text != self._poll_error:
            self.say(f"Cannot poll: {text}; runs going on here continue, trying again.")
        self._poll_error = text

    # -- starting -----------------------------------------------------------------------------
    def _child_env(self, run: ClaimedRun, run_file: str) -> dict[str, str]:
        changes: dict[str, str | None] = {
            RUN_FILE_ENV: run_file,
            "TRANSOM_FLOW_RUN_ID": str(run.id),
            "TRANSOM_WORKER_ID": str(self.worker_id or ""),
            "TRANSOM_HOME": str(self.settings.home),
            "PYTHONUNBUFFERED": "1",
            "PYTHONIOENCODING": "utf-8",
        }
        if self.settings.api_url:
            changes["TRANSOM_API_URL"] = self.settings.api_url
        elif self.settings.database_url:
            changes["TRANSOM_DATABASE_URL"] = self.settings.database_url
        return child_environment(changes)

    def _start(self, run: ClaimedRun) -> None:
        cwd = run.path if run.path and os.path.isdir(run.path) else None
        if run.path and cwd is None:
            self.say(f"[{run.name}] folder {run.path} does not exist here; reading "
                     f"{run.entrypoint} from {os.getcwd()}")
        run_file = self.handover.write(run)
        try:
            process = spawn([self.python, "-m", "transom.worker.execute"], cwd=cwd,
                            env=self._child_env(run, run_file), control=True)
        except TransomError as exc:
            _remove(run_file)
            self.say(f"[{run.name}] cannot start: {exc}")
            self._report(run, StateType.CRASHED, f"crashed: the worker could not start its "
                         f"process: {exc}")
            return
        self.children[run.id] = _Child(run, process, time.monotonic(), run_file=run_file)
        what = f"{run.flow_name}/{run.deployment_name}" if run.deployment_name else run.flow_name
        self.say(f"[{run.name}] started flow run {run.id} of {what} (pid {process.pid}).")

    # -- following ----------------------------------------------------------------------------
    def _pump(self) -> None:
        for run_id, child in list(self.children.items()):
            self._take(child, child.process.read())
            code = child.process.poll()
            if code is not None and (child.cancel is None or not child.cancel.is_alive()):
                self._take(child, child.process.drain(0.5))
                child.process.close()
                child.exit_code = code
                # Each step leaves the run in `children` or `finishing` until it is settled
                # and its hand-over file is gone (what `stop` and other threads wait on).
                self.finishing[run_id] = child
                del self.children[run_id]
        for run_id, child in list(self.finishing.items()):
            if self._finish(child):
                _remove(child.run_file)
                del self.finishing[run_id]
                self._slot_freed = self.limit is not None

    def _take(self, child: _Child, lines: list[OutputLine]) -> None:
        for line in lines:
            child.lines.append(line.text)
            self._echo(f"[{child.run.name}] {line.text}")

    def _finish(self, child: _Child) -> bool:
        """Make sure an exited run has a final state; False to try again later."""
        try:
            record = self.backend.read_flow_run(child.run.id)
        except StorageError:
            return False  # the server is away: keep the run on our list and try again
        if record.state_type in FINAL_TYPES:
            self.say(f"[{child.run.name}] ended {record.state_name}.")
            return True
        if record.state_type is StateType.SCHEDULED and record.state_name in _SUSPENDED \
                and child.cancel is None:
            # Suspended (suspend_flow_run), or resumed since: no longer this worker's run.
            self.say(f"[{child.run.name}] is {record.state_name}; its process ended.")
            return True
        code = child.exit_code
        if record.state_type is StateType.CANCELLING or child.cancel is not None:
            how = f"killed after the {self.grace:g}s grace period" if child.killed else "stopped"
            state, message = StateType.CANCELLED, f"cancelled; its processes were {how}"
        elif code == EXIT_STOPPED_BEFORE_START and record.state_type is StateType.PENDING:
            return self._report(child.run, StateType.SCHEDULED, f"given back: worker "
                                f"{self.name!r} stopped before it started", done=child,
                                scheduled_time=child.run.expected_start_time)
        elif code == EXIT_NOT_STARTED:
            reason = next((line for line in reversed(child.lines) if line.strip()), "")
            state, message = StateType.FAILED, reason.removeprefix("transom: ") or \
                "its flow could not be loaded"
        else:
            state, message = StateType.CRASHED, (
                f"crashed: its process {_exit_text(code)} without reporting a final state")
        return self._report(child.run, state, message, done=child)

    def _report(self, run: ClaimedRun, state: StateType, message: str,
                done: _Child | None = None, scheduled_time: datetime | None = None) -> bool:
        try:
            self.backend.set_flow_run_state(run.id, StateIn(
                type=state, name=state.value.title(), message=message,
                scheduled_time=scheduled_time, worker_id=self.worker_id))
        except (InvalidTransition, NotFound):
            # It moved on meanwhile (the server ended it, or it was given to another worker,
            # ClaimLost): its state stands.
            pass
        except StorageError:
            return False
        self.say(f"[{run.name}] ended {state.value.title()}: {message}")
        return True

    # -- cancelling ---------------------------------------------------------------------------
    def _cancel(self, run_id: uuid.UUID) -> None:
        child = self.children.get(run_id)
        if child is None or child.cancel is not None:
            return
        self.say(f"[{child.run.name}] cancelling: stopping its processes "
                 f"({self.grace:g}s to stop before they are killed).")

        def stop() -> None:
            child.process.stop_with_message(self.grace)
            child.killed = child.process.killed

        child.cancel = threading.Thread(target=stop, name=f"transom-cancel-{run_id}", daemon=True)
        child.cancel.start()

    # -- stopping -----------------------------------------------------------------------------
    def _shutdown(self) -> None:
        if self.children:
            self.say(f"Stopping {len(self.children)} run(s) now.")
        for child in list(self.children.values()):
            child.process.stop(min(self.grace, 10.0))
        deadline = time.monotonic() + 15.0
        while (self.children or self.finishing) and time.monotonic() < deadline:
            self._pump()
            if self.children or self.finishing:
                time.sleep(0.1)
        # A last poll tells the server these runs are no longer here (they are settled now)
        # and that this worker is offline from now on.
        try:
            self.backend.poll_worker(WorkerPoll(
                name=self.name, instance=self.instance, work_pool=self.work_pool,
                deployment_ids=self.deployment_ids, running=list(self.finishing), limit=0,
                hostname=socket.gethostname(), pid=os.getpid(), run_limit=self.limit,
                stopping=True))
        except TransomError:
            pass
        if not (self.children or self.finishing):  # else the next worker's sweep removes it
            self.handover.close()
        self.say(f"Worker {self.name!r} stopped.")


def _exit_text(code: int | None) -> str:
    if code is None:
        return "ended"
    if code < 0:
        try:
            return f"was killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# A run whose process ended on purpose (suspend_flow_run), or that was resumed since.
_SUSPENDED = ("Suspended", "Resuming")
