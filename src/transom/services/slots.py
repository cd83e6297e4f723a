"""Taking and holding concurrency slots from a process, over any Backend (embedded or HTTP).

A `Limiter` asks the backend for slots until they are granted (or a timeout passes), saying once
per change in the run's log what it waits for; the slots it holds are leases that one thread of
the process renews every third of `concurrency_lease_seconds`, so a holder that dies (kill -9)
frees them within that time. `concurrency(...)`, `rate_limit(...)` and the engine's tag limits
all go through the process's Limiter (`limiter(settings)`).

The waiting is written once: `Acquisition.attempt()` asks once and says how long to sleep before
asking again; the sync caller sleeps with `time.sleep`, the async one with `asyncio.sleep`.
"""

from __future__ import annotations

import logging
import math
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Literal

from transom.exceptions import AcquireConcurrencySlotTimeoutError, TransomError
from transom.schemas import LeaseRenew, SlotsAcquire, SlotsAnswer
from transom.services.backend import Backend, open_backend
from transom.settings import Settings

__all__ = ["Acquisition", "Limiter", "TagSlots", "close_limiters", "limiter", "tag_limit_names"]

logger = logging.getLogger("transom.concurrency")
Mode = Literal["concurrency", "rate_limit"]
_FIRST_DELAY, _MAX_DELAY = 0.02, 0.5


def tag_limit_names(tags: Sequence[str]) -> list[str]:
    """The limits of a task run's tags: a limit named `tag:T` limits the runs tagged T."""
    return [f"tag:{tag}" for tag in tags]


def _describe(answer: SlotsAnswer, occupy: int) -> str:
    full = [u for u in answer.limits if u.active_slots + occupy > u.limit + 1e-9] or answer.limits
    # Whole slots: a rate limit's decaying count would make a new line at every look.
    return ", ".join(f"a slot of concurrency limit {u.name!r} ({math.ceil(u.active_slots - 1e-6)} "
                     f"of {u.limit} in use)" for u in full)


class Acquisition:
    """One wait for slots: `attempt()` until it returns None (granted; `lease_id` is set for
    slots held as a lease), raising AcquireConcurrencySlotTimeoutError past the deadline."""

    def __init__(self, limiter: Limiter, names: Sequence[str], occupy: int, mode: Mode,
                 timeout: float | None, strict: bool, say: Callable[[str], None] | None) -> None:
        self.limiter = limiter
        self.request = SlotsAcquire(names=list(names), occupy=occupy, mode=mode,
                                    holder=limiter.holder, strict=strict,
                                    lease_seconds=limiter.lease_seconds)
        self.deadline = None if timeout is None else time.monotonic() + timeout
        self.timeout = timeout
        self.say = say or logger.info
        self.said: str | None = None
        self.delay = _FIRST_DELAY
        self.lease_id: uuid.UUID | None = None
        self.missing: list[str] = []  # names with no limit (they limit nothing)

    def attempt(self) -> float | None:
        answer = self.limiter.backend.acquire_concurrency_slots(self.request)
        self.missing = answer.missing
        if answer.granted:
            if answer.lease_id is not None:
                self.lease_id = answer.lease_id
                self.limiter.hold(answer.lease_id)
            if self.said is not None:
                self.say(f"got the slot{'s' if self.request.occupy > 1 else ''} it waited for")
            return None
        waiting = "waiting for " + _describe(answer, self.request.occupy)
        if waiting != self.said:
            self.say(waiting)
            self.said = waiting
        now = time.monotonic()
        if self.deadline is not None and now >= self.deadline:
            raise AcquireConcurrencySlotTimeoutError(
                f"gave up {waiting} after {self.timeout:g}s (timeout_seconds)")
        delay = self.delay * random.uniform(0.5, 1.5)  # waiters spread out, not in lockstep
        self.delay = min(self.delay * 1.6, _MAX_DELAY)
        return delay if self.deadline is None else max(0.0, min(delay, self.deadline - now))


class Limiter:
    """This process's slots over one backend: acquiring, releasing, renewing its leases, and a
    short-lived cache of which limits exist (so an untouched tag costs no query)."""

    def __init__(self, open_: Callable[[], Backend], *, lease_seconds: float = 30.0,
                 names_ttl: float = 2.0) -> None:
        self._open = open_
        self._backend: Backend | None = None
        self.lease_seconds = lease_seconds
        self.names_ttl = names_ttl
        self.holder = f"{socket.gethostname()} pid {os.getpid()}"[:255]
        self._lock = threading.Lock()
        self._held: set[uuid.UUID] = set()
        self._renewer: threading.Thread | None = None
        self._wake = threading.Event()
        self._names: frozenset[str] = frozenset()
        self._names_at = -float("inf")

    @property
    def backend(self) -> Backend:
        if self._backend is None:
            with self._lock:
                if self._backend is None:
                    self._backend = self._open()
        return self._backend

    def acquisition(self, names: Sequence[str], occupy: int = 1, *, mode: Mode = "concurrency",
                    timeout: float | None = None, strict: bool = False,
                    say: Callable[[str], None] | None = None) -> Acquisition:
        return Acquisition(self, names, occupy, mode, timeout, strict, say)

    def acquire(self, names: Sequence[str], occupy: int = 1, *, mode: Mode = "concurrency",
                timeout: float | None = None, strict: bool = False,
                say: Callable[[str], None] | None = None) -> uuid.UUID | None:
        """Wait here for the slots; the lease's id (None: nothing to release)."""
        wait = self.acquisition(names, occupy, mode=mode, timeout=timeout, strict=strict, say=say)
        while (delay := wait.attempt()) is not None:
            time.sleep(delay)
        return wait.lease_id

    def release(self, lease_id: uuid.UUID | None) -> None:
        """Free a lease's slots; if the backend cannot be told, the lease expires by itself."""
        if lease_id is None:
            return
        with self._lock:
            self._held.discard(lease_id)
        try:
            self.backend.release_concurrency_lease(lease_id)
        except TransomError as exc:
            logger.warning("could not release concurrency slots (%s); they are free once their "
                           "lease ends, within %gs", exc, self.lease_seconds)

    def hold(self, lease_id: uuid.UUID) -> None:
        with self._lock:
            self._held.add(lease_id)
            if self._renewer is None or not self._renewer.is_alive():
                self._renewer = threading.Thread(target=self._renew_loop, daemon=True,
                                                 name="transom-concurrency-leases")
                self._renewer.start()

    def held(self) -> set[uuid.UUID]:
        with self._lock:
            return set(self._held)

    def _renew_loop(self) -> None:
        while not self._wake.wait(self.lease_seconds / 3):
            held = self.held()
            if not held:
                continue
            try:
                lost = self.backend.renew_concurrency_leases(
                    LeaseRenew(lease_ids=sorted(held), lease_seconds=self.lease_seconds))
            except TransomError as exc:
                logger.warning("could not renew concurrency slots' leases (%s); trying again",
                               exc)
                continue
            for lease_id in lost:
                if lease_id in self.held():
                    logger.warning("the lease %s of concurrency slots ended before it was "
                                   "renewed: the slots may be someone else's now", lease_id)

    def limited(self, names: Sequence[str]) -> list[str]:
        """Those of `names` that are active limits, by a list of the limits at most `names_ttl`
        seconds old (the one query, made at most that often)."""
        now = time.monotonic()
        if now - self._names_at >= self.names_ttl:
            self._names = frozenset(self.backend.concurrency_limit_names())
            self._names_at = now
        return [name for name in names if name in self._names]

    def close(self) -> None:
        self._wake.set()
        if self._backend is not None:
            self._backend.close()


_limiters: dict[tuple[int, str | None, str, float, float], Limiter] = {}
_limiters_lock = threading.Lock()


def close_limiters() -> None:
    """Close every Limiter of this process and forget them (their backends' files are let go:
    on Windows an open database file cannot be deleted). A later `limiter()` makes new ones."""
    with _limiters_lock:
        found = list(_limiters.values())
        _limiters.clear()
    for each in found:
        each.close()


def limiter(settings: Settings | None = None) -> Limiter:
    """The process's Limiter for the backend `settings` name (made on first use)."""
    settings = settings or Settings.load()
    # By process too: a forked child (a process pool) must not use its parent's connections.
    key = (os.getpid(), settings.api_url, settings.database_url_resolved if not settings.api_url else "",
           settings.concurrency_lease_seconds, settings.concurrency_names_cache_seconds)
    with _limiters_lock:
        found = _limiters.get(key)
        if found is None or found._wake.is_set():
            found = _limiters[key] = Limiter(
                lambda: open_backend(settings), lease_seconds=settings.concurrency_lease_seconds,
                names_ttl=settings.concurrency_names_cache_seconds)
        return found


class TagSlots:
    """The slots a task run with tags holds while it runs: one of each `tag:T` limit of its
    tags (the engine's `Runtime.task_slots`). A tag with no limit costs a look in the cache."""

    def __init__(self, limiter: Limiter, tags: Sequence[str], say: Callable[[str], None]) -> None:
        self.limiter = limiter
        self.tags = tags
        self.say = say
        self.lease_id: uuid.UUID | None = None

    def acquire(self) -> None:
        names = self.limiter.limited(tag_limit_names(self.tags))
        if names:
            self.lease_id = self.limiter.acquire(names, say=self.say)

    def release(self) -> None:
        lease_id, self.lease_id = self.lease_id, None
        self.limiter.release(lease_id)
