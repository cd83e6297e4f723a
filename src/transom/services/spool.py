"""Run events a server could not take, kept on disk until Transom reaches that server again.

A process that exits while its server is down writes what it could not send to
`TRANSOM_HOME/spool/<server key>/<time>-<pid>.jsonl` (one EventBatch per line; written to a
temporary name, then renamed, so a reader never sees half a file). The next backend opened for
that server (a run, a `transom` command, a worker) delivers the files oldest first, each batch
marked `resent` so the server skips what it has, and removes each file once it is delivered.
A lock file keeps two processes from delivering the same folder at once.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from transom.core.recorder import Event, StateChanged
from transom.core.states import StateType
from transom.core.storable import storable_event
from transom.exceptions import NotFound
from transom.schemas import EventBatch, FlowRunRead, event_to_wire, wire_to_event

__all__ = ["deliver", "keep", "server_key", "spool_folder", "waiting"]

logger = logging.getLogger("transom.services")

_LINE_EVENTS = 5000  # events per line: under EventBatch's 10,000
_STALE_LOCK = 600.0  # seconds: a lock this old was left by a process that died delivering


def server_key(api_url: str) -> str:
    """A short folder name for a server's URL (a trailing slash does not make another one)."""
    return hashlib.sha256(api_url.rstrip("/").encode()).hexdigest()[:16]


def spool_folder(home: Path, api_url: str) -> Path:
    return home / "spool" / server_key(api_url)


def waiting(home: Path, api_url: str) -> bool:
    """Whether events are kept for the server at `api_url` (one look at a folder)."""
    try:
        return any(spool_folder(home, api_url).glob("*.jsonl"))
    except OSError:
        return False


def keep(home: Path, api_url: str, events: Sequence[Event], *, now: float | None = None) -> Path:
    """Write `events` to a new spool file for the server at `api_url`; returns its path."""
    folder = spool_folder(home, api_url)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "server.txt").write_text(api_url + "\n", encoding="utf-8")  # for a curious human
    stamp = time.time_ns() if now is None else int(now * 1e9)
    path = folder / f"{stamp:020d}-{os.getpid()}.jsonl"
    partial = path.with_suffix(".partial")
    with partial.open("w", encoding="utf-8") as out:
        for start in range(0, len(events), _LINE_EVENTS):
            out.write(_line(events[start:start + _LINE_EVENTS]) + "\n")
        out.flush()
        os.fsync(out.fileno())
    os.replace(partial, path)
    return path


def _line(events: Sequence[Event]) -> str:
    try:
        wire = [event_to_wire(e) for e in events]
    except ValueError:  # text JSON cannot carry (a lone surrogate): repaired, as the client does
        wire = [event_to_wire(storable_event(e)) for e in events]
    return EventBatch(events=wire, resent=True).model_dump_json()


class _Sender(Protocol):
    """What `deliver` needs of a backend."""

    def send_events(self, events: Sequence[Event], *, resent: bool = False) -> int: ...
    def read_flow_run(self, id_or_prefix: str | uuid.UUID) -> FlowRunRead: ...


# What dead-run detection writes for a run whose process is gone without a final state
# (store.workers.dead_runs): a guess, which the process's own report replaces.
_GUESSED = "crashed: its process ("


def _ended(backend: _Sender, events: list[Event]) -> list[Event]:
    """`events`, with the final states of flow runs the server meanwhile guessed Crashed
    (their process went silent: it was this one, exiting with its server down) forced over
    the guess, so a run that completed is recorded Completed, not Crashed."""
    runs = {e.run_id for e in events
            if isinstance(e, StateChanged) and not e.is_task and e.state.is_final()}
    guessed = set()
    for run_id in runs:
        try:
            run = backend.read_flow_run(run_id)
        except NotFound:
            continue  # its creation is in this spool too
        if run.state_type is StateType.CRASHED and (run.state_message or "").startswith(_GUESSED):
            guessed.add(run_id)
    if not guessed:
        return events
    return [dataclasses.replace(e, force=True)
            if isinstance(e, StateChanged) and e.run_id in guessed and e.state.is_final() else e
            for e in events]


def deliver(backend: _Sender, home: Path, api_url: str) -> int:
    """Send the spool kept for `api_url`, oldest file first; returns how many events went.

    Stops at the first failure and keeps that file (and the later ones) for next time: a
    batch it had sent already is skipped by the server, being marked resent."""
    folder = spool_folder(home, api_url)
    try:
        files = sorted(folder.glob("*.jsonl"))
    except OSError:
        return 0
    if not files or not _lock(folder):
        return 0
    sent = 0
    try:
        for path in files:
            try:
                lines = path.read_text(encoding="utf-8").splitlines()
            except FileNotFoundError:
                continue  # delivered by another process between listing and locking
            for line in lines:
                if not line.strip():
                    continue
                batch = EventBatch.model_validate_json(line)
                try:
                    events = _ended(backend, [wire_to_event(w) for w in batch.events])
                    backend.send_events(events, resent=True)
                except Exception as exc:
                    logger.info("the spool of %s is kept for next time: %s", api_url, exc)
                    return sent
                sent += len(batch.events)
            path.unlink()
            logger.info("delivered %s, kept from an earlier run, to %s", path.name, api_url)
    finally:
        (folder / "lock").unlink(missing_ok=True)
    return sent


def _lock(folder: Path) -> bool:
    lock = folder / "lock"
    try:
        os.close(os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        return True
    except FileExistsError:
        try:
            if time.time() - lock.stat().st_mtime < _STALE_LOCK:
                return False  # another process is delivering
            lock.unlink()
            os.close(os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            return True
        except OSError:
            return False
    except OSError:
        return False
