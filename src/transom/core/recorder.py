"""Where the engine reports runs, states and logs.

The engine calls `Recorder.record(event)` on its hot path; that must cost microseconds, so the
standard recorder (`BatchingRecorder`) only appends to a queue. A background thread hands batches
to an `EventSink`, the one I/O seam: the embedded store writes them to SQL, the API client posts
them to the server. `flush()` waits until everything recorded so far has been written.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from os import getpid as _getpid
from typing import Any, Protocol

from transom.core.states import State, now_utc

__all__ = [
    "BatchingRecorder",
    "Event",
    "EventSink",
    "FlowRunCreated",
    "ListRecorder",
    "LogRecorded",
    "NullRecorder",
    "ProcessHeartbeat",
    "ProcessInfo",
    "Recorder",
    "StateChanged",
    "TaskRunCreated",
    "current_process",
]


@dataclass(frozen=True, slots=True)
class ProcessInfo:
    """The process that runs a flow: `instance` is unique to it (pids are reused); the pid and
    host say where it is, so a dead one is noticed at once on its own machine."""

    instance: uuid.UUID
    pid: int
    hostname: str


_process: ProcessInfo | None = None


def current_process() -> ProcessInfo:
    """This process (a new one after a fork)."""
    global _process
    info = _process
    if info is None or info.pid != _getpid():
        import socket

        info = _process = ProcessInfo(uuid.uuid4(), _getpid(), socket.gethostname())
    return info


@dataclass(slots=True)
class FlowRunCreated:
    id: uuid.UUID
    flow_name: str
    name: str
    parameters: dict[str, Any] = field(default_factory=dict)
    parent_flow_run_id: uuid.UUID | None = None
    parent_task_run_id: uuid.UUID | None = None
    tags: list[str] = field(default_factory=list)
    deployment_id: uuid.UUID | None = None
    created: datetime = field(default_factory=now_utc)
    # The process that runs it (it heart-beats while it lives); None for a run made elsewhere
    # (through the API, a deployment's scheduled run), whose process is a worker's to watch.
    process: ProcessInfo | None = field(default_factory=current_process)


@dataclass(slots=True)
class TaskRunCreated:
    id: uuid.UUID
    flow_run_id: uuid.UUID | None
    task_key: str
    name: str
    dynamic_key: int = 0
    cache_key: str | None = None
    upstream: list[uuid.UUID] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    created: datetime = field(default_factory=now_utc)


@dataclass(slots=True)
class StateChanged:
    run_id: uuid.UUID
    is_task: bool
    state: State
    run_count: int = 0
    result_ref: str | None = None  # where a persisted result was stored, if it was
    force: bool = False  # written even where the transition table forbids it (an operator's)


@dataclass(slots=True)
class LogRecorded:
    flow_run_id: uuid.UUID | None
    task_run_id: uuid.UUID | None
    level: int
    logger: str
    message: str
    timestamp: datetime = field(default_factory=now_utc)


@dataclass(slots=True)
class ProcessHeartbeat:
    """The process is alive: its flow runs that have not ended are not dead."""

    process: ProcessInfo
    timestamp: datetime = field(default_factory=now_utc)


Event = FlowRunCreated | TaskRunCreated | StateChanged | LogRecorded | ProcessHeartbeat


class Recorder(Protocol):
    """Receives every event of every run. `record` must be cheap and never raise."""

    def record(self, event: Event) -> None: ...

    def flush(self, timeout: float | None = None) -> bool:
        """Block until events recorded so far are written; False if the timeout ran out."""
        ...

    def close(self) -> None: ...


class EventSink(Protocol):
    """Writes one batch of events somewhere durable; raises on failure (the batch is retried)."""

    def write(self, events: Sequence[Event]) -> None: ...

    def close(self) -> None: ...


class ListRecorder:
    """Keeps events in a list: a process-pool worker ships them to its parent with the result."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def record(self, event: Event) -> None:
        self.events.append(event)

    def flush(self, timeout: float | None = None) -> bool:
        return True

    def close(self) -> None:
        pass


class NullRecorder:
    """Records nothing; for code paths that must not touch storage."""

    def record(self, event: Event) -> None:
        pass

    def flush(self, timeout: float | None = None) -> bool:
        return True

    def close(self) -> None:
        pass


class BatchingRecorder:
    """Queue events on the caller's thread; write them in batches from one background thread.

    `sink_factory` is called on the background thread, so a slow import or a database
    connection does not delay the first run. A failing sink is retried with backoff; while it
    fails, at most `max_buffer` events are kept (oldest log lines dropped first, never states).
    Every `heartbeat` seconds, once it has written anything, it also writes a ProcessHeartbeat:
    the flow runs of a process that stops beating are found dead (and end Crashed).
    An error whose `permanent` attribute is true (a corrupt or unwritable database) is reported
    once and stops recording: retrying cannot help, and exit must not wait for it.
    With `patience`, a flush or close stops waiting once the sink has failed for that many
    seconds in a row; what is still unwritten at close goes to `on_unsent` (a spool) when given,
    which says whether it kept them. Events neither written nor kept are counted in `lost`; with
    `fail_exit_on_loss`, a process that lost any exits 1 (see `_close_at_exit`).
    """

    def __init__(
        self,
        sink_factory: Callable[[], EventSink],
        *,
        interval: float = 0.05,
        max_batch: int = 5000,
        max_buffer: int = 200_000,
        on_error: Callable[..., None] | None = None,
        close_timeout: float = 30.0,
        heartbeat: float | None = None,
        patience: float | None = None,
        on_unsent: Callable[[list[Event]], bool] | None = None,
        fail_exit_on_loss: bool = False,
    ) -> None:
        self._sink_factory = sink_factory
        self._sink: EventSink | None = None
        self._interval = interval
        self._max_batch = max_batch
        self._max_buffer = max_buffer
        self._on_error = on_error or _print_error
        self._close_timeout = close_timeout
        self._heartbeat = heartbeat
        self._patience = patience
        self._on_unsent = on_unsent
        self._fail_exit_on_loss = fail_exit_on_loss
        self._failing_since: float | None = None  # when the sink started failing, if it is
        self._in_flight: list[Event] = []
        self._next_beat = 0.0
        self._queue: deque[Event] = deque()
        self._cond = threading.Condition()
        self._taken = 0  # events taken off the queue (written, in flight, or dropped)
        self._written = 0  # events written or dropped
        self.dropped = 0
        self._closed = False
        self._flush_requested = False
        self._thread: threading.Thread | None = None
        self._pid = 0
        self.last_error: BaseException | None = None
        self.broken: BaseException | None = None  # a permanent failure: recording has stopped
        self.lost = 0  # events neither written nor kept (on_unsent): gone for good

    # -- caller side -----------------------------------------------------------------------
    def record(self, event: Event) -> None:
        if self.broken is not None:
            self.lost += 1
            return
        self._queue.append(event)  # deque.append is atomic; no lock on the hot path
        if self._thread is None or self._pid != _getpid():
            self._start()

    def flush(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            # Everything this caller recorded is either still queued or already taken.
            target = self._taken + len(self._queue)
            self._flush_requested = True
            self._cond.notify_all()
            while self._written < target:
                if self._thread is None or not self._thread.is_alive():
                    return False
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                if self._out_of_patience():
                    return False
                self._cond.wait(0.5 if remaining is None else min(remaining, 0.5))
        return True

    def close(self, timeout: float | None = None) -> None:
        """Write what is queued (waiting up to `timeout`, default `close_timeout`), then stop."""
        if self._closed:
            return
        timeout = self._close_timeout if timeout is None else timeout
        if self._thread is not None and self._thread.is_alive():
            if self.last_error is not None and timeout is not None:
                timeout = min(timeout, 5.0)  # the sink is failing: do not hold up exit for long
            self.flush(timeout)
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(5)
        self._keep_unsent()
        if self._sink is not None:
            try:
                self._sink.close()
            except Exception as exc:
                self._on_error(exc)

    @property
    def pending(self) -> int:
        return len(self._queue)

    def _out_of_patience(self) -> bool:
        since = self._failing_since
        return (self._patience is not None and since is not None
                and time.monotonic() - since >= self._patience)

    def _keep_unsent(self) -> None:
        """At close: hand what was never written to `on_unsent`, in the order recorded. A batch
        still in flight (its write has not returned) is included: whoever delivers it later
        marks it resent, so the server skips what it did receive."""
        if self.broken is not None:
            return
        with self._cond:
            alive = self._thread is not None and self._thread.is_alive()
            unsent = [*(self._in_flight if alive else []), *self._queue]
            self._queue.clear()
        unsent = [e for e in unsent if not isinstance(e, ProcessHeartbeat)]
        if not unsent:
            return
        if self._on_unsent is None:
            self.lost += len(unsent)
            print(f"transom: {len(unsent)} run events could not be recorded before exit "
                  f"({self.last_error or 'the database did not take them in time'}); they are "
                  "lost", file=sys.stderr)
        elif not self._on_unsent(unsent):
            self.lost += len(unsent)  # on_unsent said why

    def _close_at_exit(self) -> None:
        """The interpreter's exit: close, and with `fail_exit_on_loss`, a process whose run
        events were lost (the reason is on stderr already) exits 1 rather than 0, so a script or
        scheduler calling `python flow.py` sees that its runs went unrecorded."""
        if self._closed:
            return  # closed by its owner; not this exit's to judge
        self.close()
        if not (self._fail_exit_on_loss and self.lost):
            return
        import logging

        logging.shutdown()  # the handlers os._exit would skip
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError, AttributeError):
                pass
        os._exit(1)

    # -- background side -------------------------------------------------------------------
    def _start(self) -> None:
        with self._cond:
            if self._thread is not None and self._pid == _getpid():
                return
            self._pid = _getpid()
            self._closed = False
            self._thread = threading.Thread(target=self._loop, name="transom-recorder", daemon=True)
            self._thread.start()
            atexit.register(self._close_at_exit)

    def _loop(self) -> None:
        backoff = 0.0
        while True:
            with self._cond:
                if not (self._closed or self._flush_requested or len(self._queue) >= self._max_batch):
                    self._cond.wait(self._interval)
                if self._closed and not self._queue:
                    return
                batch = [self._queue.popleft()
                         for _ in range(min(len(self._queue), self._max_batch))]
                self._taken += len(batch)
                if not self._queue:
                    self._flush_requested = False
            beat = self._beat()
            if not batch and beat is None:
                continue
            self._in_flight = batch
            try:
                if self._sink is None:
                    self._sink = self._sink_factory()
                self._sink.write(batch if beat is None else [*batch, beat])
            except Exception as exc:
                self.last_error = exc
                if self._failing_since is None:
                    self._failing_since = time.monotonic()
                if getattr(exc, "permanent", False):
                    self._give_up(exc, len(batch))
                    return
                if backoff == 0.0:
                    self._on_error(exc)
                with self._cond:
                    self._queue.extendleft(reversed(batch))
                    self._taken -= len(batch)
                    self._in_flight = []
                    self._trim()
                    self._cond.notify_all()  # a flush waiting may be out of patience now
                    if self._closed:
                        return  # giving up at exit; the error was reported
                    backoff = min(max(backoff * 2, 0.1), 2.0)
                    self._cond.wait(backoff)  # close() wakes it
                continue
            backoff = 0.0
            self.last_error = None
            self._failing_since = None
            with self._cond:
                self._in_flight = []
                self._written += len(batch)
                self._cond.notify_all()

    def _beat(self) -> ProcessHeartbeat | None:
        # A heartbeat rides with the next batch (or goes alone); it is not counted as recorded.
        if self._heartbeat is None or self._written == 0:
            return None
        now = time.monotonic()
        if now < self._next_beat:
            return None
        self._next_beat = now + self._heartbeat
        return ProcessHeartbeat(current_process())

    def _give_up(self, exc: BaseException, in_flight: int) -> None:
        """Stop recording for good: count what is queued as done so no flush waits for it."""
        self.broken = exc
        self._on_error(exc, permanent=True)
        with self._cond:
            lost = in_flight + len(self._queue)
            self.lost += lost
            self._queue.clear()
            self._taken += lost - in_flight
            self._written += lost
            self.dropped += lost
            self._cond.notify_all()

    def _trim(self) -> None:
        """Called with the lock held: drop the oldest log lines beyond `max_buffer`."""
        excess = len(self._queue) - self._max_buffer
        if excess <= 0:
            return
        kept: list[Event] = []
        dropped = 0
        for event in self._queue:
            if dropped < excess and isinstance(event, LogRecorded):
                dropped += 1
                continue
            kept.append(event)
        self._queue.clear()
        self._queue.extend(kept)
        # Dropped events count as taken and written, so flush() does not wait for them.
        self._taken += dropped
        self._written += dropped
        self.dropped += dropped


def _print_error(exc: BaseException, permanent: bool = False) -> None:
    if permanent:
        print(f"transom: runs are NOT being recorded: {exc}", file=sys.stderr)
    else:
        print(f"transom: could not record run events ({exc}); retrying", file=sys.stderr)
