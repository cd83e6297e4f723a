"""`python -m transom.worker.execute`: run one claimed flow run in the process a worker started.

The run comes in `TRANSOM__RUN` (a ClaimedRun as JSON); the engine runs the flow into that
existing run and records it as usual (through the server when TRANSOM_API_URL is set). Stdin is
the worker's line to us: its stop message means "cancel this run", and its end means the worker
is gone, so the run stops as Crashed rather than going on unwatched. On Linux this process is
the subreaper of what the flow starts, so nothing it leaves behind escapes the worker's stop.

Exit codes: 0 the run Completed, 1 it ended otherwise, 3 it could not start (the entrypoint or
the parameters are wrong; the last line of stderr says why).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
import time
from typing import Any

from transom.worker.protocol import (
    EXIT_COMPLETED,
    EXIT_NOT_COMPLETED,
    EXIT_NOT_STARTED,
    EXIT_STOPPED_BEFORE_START,
    claimed_run_json,
)

__all__ = ["main"]


class _Phase:
    """Where this process is, for the stdin watcher: loading, running the flow, or done."""

    def __init__(self) -> None:
        self.value = "loading"
        self.lock = threading.Lock()


def _stop_run(phase: _Phase, message: str, *, cancelled: bool) -> None:
    from transom.core.engine import interrupt_flow_run

    deadline = time.monotonic() + 3.0
    while True:
        with phase.lock:
            if phase.value == "loading":
                # Nothing started: leave now; the worker records how the run ended.
                os._exit(EXIT_STOPPED_BEFORE_START)
            if phase.value == "done":
                return
        if interrupt_flow_run(message, cancelled=cancelled) or time.monotonic() > deadline:
            return
        time.sleep(0.02)  # the engine is between starting and guarding the run: try again


def main() -> int:
    from transom.platform.console import setup_utf8_console
    from transom.platform.processes import watch_for_stop
    from transom.platform.reaper import become_subreaper
    from transom.schemas import ClaimedRun

    setup_utf8_console()
    # What the flow starts and then leaves (a double fork, `setsid cmd &`) stays our descendant,
    # so the worker's stop of this process's tree on a cancel reaches it (Linux).
    become_subreaper()
    raw = claimed_run_json()
    if raw is None:
        print("transom: this process was not started by a worker (no claimed run)",
              file=sys.stderr, flush=True)
        return EXIT_NOT_STARTED
    run = ClaimedRun.model_validate_json(raw)
    phase = _Phase()
    # A stop before the flow starts (the worker shuts down while we wait for the run's time)
    # ends us with a code that lets the worker give the run back; the engine guards the run.
    signal.signal(signal.SIGTERM, lambda *_: os._exit(EXIT_STOPPED_BEFORE_START))
    orphaned = threading.Event()

    def worker_gone() -> None:
        orphaned.set()
        _stop_run(phase, "the worker that started it went away", cancelled=False)

    def cancelled() -> None:
        _stop_run(phase, _cancel_reason(run.id), cancelled=True)

    watch_for_stop(on_stop=cancelled, on_eof=worker_gone)
    try:
        flow, parameters = _load(run)
    except Exception as exc:
        print(f"transom: cannot start flow run {run.name!r}: {exc}", file=sys.stderr, flush=True)
        return EXIT_NOT_STARTED
    _warm_up()
    _wait_until(run.expected_start_time)
    try:
        return _run(flow, parameters, run, phase)
    finally:
        if orphaned.is_set():
            # No worker will end what the flow started (its worker ends the process tree of a
            # run otherwise; a Windows Job Object does it when the worker dies).
            _kill_descendants()


def _cancel_reason(run_id: Any) -> str:
    """Why the run is cancelled: the message of its Cancelling state, if it can be read at once
    (the run stops regardless; this only words its final state)."""
    default = "cancelled by request"
    try:
        from transom.services import open_backend

        with open_backend(retries=0, http_timeout=2.0, busy_timeout=2.0) as backend:
            record = backend.read_flow_run(run_id)
    except Exception:  # an unreadable reason must not stop the cancel
        return default
    if record.state_type is not None and record.state_type.value == "CANCELLING":
        return record.state_message or default
    return default


def _load(run: Any) -> tuple[Any, dict[str, Any]]:
    from transom.entrypoints import load_flow
    from transom.sources import run_pull_steps

    if run.pull_steps:
        # The deployment's `pull:` steps (a project file's): clone its repository, move into
        # its folder; the entrypoint is read from where they leave us, as in Prefect.
        folder = run_pull_steps(run.pull_steps)
        print(f"transom: pull steps done; reading {run.entrypoint} from {folder}", flush=True)
    flow = load_flow(run.entrypoint)
    return flow, flow.validate_parameters(run.parameters)


def _warm_up() -> None:
    """Import the engine and build the runtime (settings, recorder) before waiting for the
    run's time, so the run starts the moment its time comes."""
    import transom  # noqa: F401  (registers the runtime factory)
    from transom.core import engine  # noqa: F401
    from transom.core.context import get_runtime

    get_runtime()


def _wait_until(when: Any) -> None:
    """A run claimed ahead of its time (the worker prefetches) starts at its time."""
    from transom.core.states import now_utc

    if when is None:
        return
    delay = (when - now_utc()).total_seconds()
    if delay > 0:
        time.sleep(min(delay, 3600.0))


def _kill_descendants() -> None:
    import psutil

    try:
        children = psutil.Process().children(recursive=True)
    except psutil.Error:
        return
    for child in children:
        try:
            child.kill()
        except psutil.Error:
            pass


def _run(flow: Any, parameters: dict[str, Any], run: Any, phase: _Phase) -> int:
    from transom.core import engine
    from transom.exceptions import Pause, RunInterrupted

    with phase.lock:
        phase.value = "running"
    adopt = (run.id, run.name, run.run_count)
    try:
        if flow.is_async:
            state = asyncio.run(engine.run_flow_async(flow, (), parameters, return_state=True,
                                                      adopt=adopt))
        else:
            state = engine.run_flow(flow, (), parameters, return_state=True, adopt=adopt)
    except (RunInterrupted, KeyboardInterrupt, asyncio.CancelledError):
        return EXIT_NOT_COMPLETED  # recorded as Cancelled or Crashed by the engine
    except Pause:
        return EXIT_COMPLETED  # Suspended (suspend_flow_run): a worker starts it on resume
    finally:
        with phase.lock:
            phase.value = "done"
    return EXIT_COMPLETED if state.is_completed() else EXIT_NOT_COMPLETED


if __name__ == "__main__":
    sys.exit(main())
