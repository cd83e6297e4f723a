"""BatchingRecorder: batching off the caller's thread, flush, retries, bounded buffer, give-up."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Sequence

from transom.core import states as st
from transom.core.recorder import BatchingRecorder, Event, LogRecorded, StateChanged
from transom.exceptions import DatabaseError


class ListSink:
    """An EventSink at the I/O seam: keeps batches, fails the first `failures` writes."""

    def __init__(self, failures: int = 0, error: Exception | None = None) -> None:
        self.batches: list[list[Event]] = []
        self.failures = failures
        self.error = error or ConnectionError("server away")
        self.threads: set[str] = set()

    def write(self, events: Sequence[Event]) -> None:
        self.threads.add(threading.current_thread().name)
        if self.failures:
            self.failures -= 1
            raise self.error
        self.batches.append(list(events))

    def close(self) -> None:
        pass

    @property
    def events(self) -> list[Event]:
        return [e for batch in self.batches for e in batch]


def _state(run_id: uuid.UUID) -> StateChanged:
    return StateChanged(run_id, True, st.Running())


def _log(i: int) -> LogRecorded:
    return LogRecorded(None, None, 20, "test", f"line {i}")


def test_events_are_written_in_batches_on_a_background_thread() -> None:
    sink = ListSink()
    recorder = BatchingRecorder(lambda: sink, interval=0.5)
    for i in range(1000):
        recorder.record(_log(i))
    assert recorder.flush(timeout=10)
    assert [e.message for e in sink.events] == [f"line {i}" for i in range(1000)]  # type: ignore[union-attr]
    assert len(sink.batches) < 10
    assert sink.threads == {"transom-recorder"}
    recorder.close()


def test_a_failing_sink_is_retried_and_nothing_is_lost() -> None:
    errors: list[BaseException] = []
    sink = ListSink(failures=2)
    recorder = BatchingRecorder(lambda: sink, interval=0.01, on_error=lambda e, **_: errors.append(e))
    run_id = uuid.uuid4()
    recorder.record(_state(run_id))
    assert recorder.flush(timeout=10)
    assert len(sink.events) == 1 and len(errors) == 1  # reported once, not per retry
    recorder.close()


def test_the_buffer_drops_old_log_lines_never_states() -> None:
    sink = ListSink(failures=1)
    recorder = BatchingRecorder(lambda: sink, interval=0.01, max_buffer=10,
                                on_error=lambda e, **_: None)
    run_id = uuid.uuid4()
    recorder.record(_state(run_id))
    for i in range(30):
        recorder.record(_log(i))
    recorder.record(_state(run_id))
    assert recorder.flush(timeout=10)
    kinds = [type(e).__name__ for e in sink.events]
    assert kinds.count("StateChanged") == 2
    assert len(sink.events) <= 30 and recorder.dropped == 32 - len(sink.events)
    recorder.close()


def test_a_permanent_error_stops_recording_without_hanging() -> None:
    reports: list[tuple[BaseException, bool]] = []
    sink = ListSink(failures=10**6, error=DatabaseError("x.db is corrupt", permanent=True))
    recorder = BatchingRecorder(lambda: sink, interval=0.01,
                                on_error=lambda e, permanent=False: reports.append((e, permanent)))
    for i in range(5):
        recorder.record(_log(i))
    recorder.flush(timeout=10)
    assert recorder.broken is not None and len(reports) == 1 and reports[0][1] is True
    recorder.record(_log(99))  # dropped at once: nothing queues behind a dead sink
    assert recorder.pending == 0
    assert recorder.flush(timeout=10) is False or recorder.pending == 0
    recorder.close()


def test_flush_with_nothing_recorded_returns_at_once() -> None:
    recorder = BatchingRecorder(ListSink)
    assert recorder.flush(timeout=0.1)
    recorder.close()


def test_a_sink_that_keeps_failing_is_waited_for_patience_seconds_then_spooled() -> None:
    kept: list[list[Event]] = []
    sink = ListSink(failures=10**6)
    recorder = BatchingRecorder(lambda: sink, interval=0.01, close_timeout=120, patience=0.5,
                                heartbeat=0.01, on_unsent=kept.append,
                                on_error=lambda e, **_: None)
    run_id = uuid.uuid4()
    recorder.record(_state(run_id))
    for i in range(3):
        recorder.record(_log(i))
    started = time.monotonic()
    assert recorder.flush(timeout=120) is False  # not the 120 s: the sink failed for 0.5 s
    recorder.close()
    assert time.monotonic() - started < 5
    # Everything, in the order recorded, once; no heartbeat of a process that is exiting.
    assert len(kept) == 1
    assert [type(e).__name__ for e in kept[0]] == ["StateChanged", *["LogRecorded"] * 3]
    assert [e.message for e in kept[0][1:]] == ["line 0", "line 1", "line 2"]  # type: ignore[union-attr]


def test_nothing_is_spooled_when_everything_was_written() -> None:
    kept: list[list[Event]] = []
    sink = ListSink(failures=1)
    recorder = BatchingRecorder(lambda: sink, interval=0.01, patience=5, on_unsent=kept.append,
                                on_error=lambda e, **_: None)
    recorder.record(_state(uuid.uuid4()))
    assert recorder.flush(timeout=10)  # one failure is retried within the patience
    recorder.close()
    assert kept == [] and len(sink.events) == 1
