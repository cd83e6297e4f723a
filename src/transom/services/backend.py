"""The Backend protocol and the one switch between the embedded backend and a server.

Every operation of Transom's objects is written once, in the service classes of this package
(one module per noun), over a `Context` (database, settings, clock). `EmbeddedBackend` is those
classes together on a database; the server's routes are thin adapters over an EmbeddedBackend;
`client.TransomClient` implements the same `Backend` protocol over HTTP and raises the same
exceptions (`exceptions.HTTP_STATUS`). `open_backend(settings)` is the only place that asks
whether `TRANSOM_API_URL` is set.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from types import TracebackType
from typing import NamedTuple, Protocol

from transom import schemas as s
from transom.core.recorder import Event
from transom.core.states import StateType
from transom.exceptions import TransomError
from transom.settings import Settings

__all__ = ["Backend", "BackendSink", "Reporting", "open_backend", "reporting"]

logger = logging.getLogger("transom.services")


class Backend(Protocol):
    """Transom's operations, wherever they are kept: the embedded database or a server."""

    @property
    def where(self) -> str:
        """For messages: the server's URL or the database."""
        ...

    # -- recorded runs -----------------------------------------------------------------------
    def health(self) -> dict[str, str]: ...
    def list_flows(self, *, limit: int = 100, offset: int = 0) -> list[s.FlowRead]: ...
    def create_flow_run(self, body: s.FlowRunCreate) -> s.FlowRunRead: ...
    def list_flow_runs(self, *, flow_name: str | None = None,
                       state: StateType | str | None = None, since: datetime | None = None,
                       limit: int = 50, offset: int = 0, after: str | None = None,
                       before: str | None = None,
                       parent_flow_run_id: uuid.UUID | None = None,
                       deployment: str | uuid.UUID | None = None, work_pool: str | None = None,
                       tag: str | None = None, until: datetime | None = None,
                       prefix: str | None = None) -> s.Page[s.FlowRunRead]: ...
    def read_flow_run(self, id_or_prefix: str | uuid.UUID) -> s.FlowRunRead: ...
    def set_flow_run_state(self, run_id: uuid.UUID, state: s.StateIn) -> s.StateRecord: ...
    def cancel_flow_run(self, id_or_prefix: str | uuid.UUID,
                        message: str | None = None) -> s.StateRecord: ...
    def retry_flow_run(self, id_or_prefix: str | uuid.UUID) -> s.StateRecord: ...
    def delete_flow_run(self, id_or_prefix: str | uuid.UUID) -> s.FlowRunRead: ...
    def flow_run_states(self, run_id: uuid.UUID) -> list[s.StateRecord]: ...
    def flow_run_task_runs(self, run_id: uuid.UUID) -> list[s.TaskRunRead]: ...
    def flow_run_logs(self, run_id: uuid.UUID, *, limit: int = 1000, offset: int = 0,
                      min_level: int | None = None, task_run_id: uuid.UUID | None = None,
                      text: str | None = None, after_id: int | None = None,
                      task_key: str | None = None) -> s.Page[s.LogLine]: ...
    def flow_run_log_offset(self, run_id: uuid.UUID, *, min_level: int) -> int | None: ...
    def flow_run_counts(self, *, since: datetime | None = None, until: datetime | None = None,
                        span: timedelta | None = None) -> s.FlowRunCounts: ...
    def flow_run_history(self, *, bucket: timedelta, since: datetime | None = None,
                         until: datetime | None = None,
                         span: timedelta | None = None) -> s.FlowRunHistory: ...
    def flow_run_timeline(self, run_id: uuid.UUID) -> dict[str, object]: ...
    def read_task_run(self, task_run_id: uuid.UUID) -> s.TaskRunRead: ...
    def task_run_states(self, task_run_id: uuid.UUID) -> list[s.StateRecord]: ...
    def set_task_run_state(self, task_run_id: uuid.UUID, state: s.StateIn) -> s.StateRecord: ...
    def write_logs(self, lines: Sequence[s.LogIn]) -> int: ...
    def send_events(self, events: Sequence[Event], *, resent: bool = False) -> int: ...

    # -- work pools, deployments, workers ------------------------------------------------------
    def create_work_pool(self, body: s.WorkPoolCreate) -> s.WorkPoolRead: ...
    def list_work_pools(self) -> list[s.WorkPoolRead]: ...
    def read_work_pool(self, name: str) -> s.WorkPoolRead: ...
    def update_work_pool(self, name: str, body: s.WorkPoolUpdate) -> s.WorkPoolRead: ...
    def delete_work_pool(self, name: str) -> None: ...
    def upsert_deployment(self, body: s.DeploymentCreate) -> s.DeploymentRead: ...
    def list_deployments(self, *, flow_name: str | None = None, work_pool: str | None = None,
                         limit: int = 200, offset: int = 0) -> list[s.DeploymentRead]: ...
    def read_deployment(self, ref: str | uuid.UUID) -> s.DeploymentRead: ...
    def update_deployment(self, ref: str | uuid.UUID,
                          body: s.DeploymentUpdate) -> s.DeploymentRead: ...
    def delete_deployment(self, ref: str | uuid.UUID) -> s.DeploymentRead: ...
    def create_deployment_run(self, ref: str | uuid.UUID,
                              body: s.DeploymentRunCreate) -> s.FlowRunRead: ...
    def poll_worker(self, body: s.WorkerPoll) -> s.PollResult: ...
    def list_workers(self, *, work_pool: str | None = None) -> list[s.WorkerRead]: ...

    # -- variables --------------------------------------------------------------------------
    def set_variable(self, body: s.VariableCreate, *,
                     overwrite: bool = False) -> s.VariableRead: ...
    def read_variable(self, name: str) -> s.VariableRead: ...
    def list_variables(self, *, limit: int = 200, offset: int = 0) -> list[s.VariableRead]: ...
    def delete_variable(self, name: str) -> None: ...

    # -- artifacts --------------------------------------------------------------------------
    def create_artifact(self, body: s.ArtifactCreate) -> s.ArtifactRead: ...
    def update_artifact(self, artifact_id: uuid.UUID,
                        body: s.ArtifactUpdate) -> s.ArtifactRead: ...
    def read_artifact(self, key: str) -> s.ArtifactRead: ...
    def list_artifacts(self, *, key: str | None = None, flow_run_id: uuid.UUID | None = None,
                       key_prefix: str | None = None, limit: int = 200, offset: int = 0,
                       after: str | None = None,
                       before: str | None = None) -> list[s.ArtifactRead]: ...
    def delete_artifact(self, key: str) -> int: ...

    # -- pauses -----------------------------------------------------------------------------
    def pause_flow_run(self, run_id: uuid.UUID, body: s.PauseCreate) -> s.StateRecord: ...
    def read_pause(self, run_id: uuid.UUID, key: str) -> s.PauseRead: ...
    def resume_flow_run(self, id_or_prefix: str | uuid.UUID,
                        body: s.ResumeIn | None = None) -> s.StateRecord: ...

    # -- blocks -----------------------------------------------------------------------------
    def save_block(self, body: s.BlockDocumentCreate, *,
                   overwrite: bool = False) -> s.BlockDocumentRead: ...
    def read_block(self, slug: str, name: str, *,
                   include_secrets: bool = False) -> s.BlockDocumentRead: ...
    def list_blocks(self, *, block_type: str | None = None, limit: int = 200,
                    offset: int = 0) -> list[s.BlockDocumentRead]: ...
    def delete_block(self, slug: str, name: str) -> None: ...
    def register_block_type(self, body: s.BlockTypeIn) -> s.BlockTypeRead: ...
    def list_block_types(self) -> list[s.BlockTypeRead]: ...
    # -- concurrency limits -----------------------------------------------------------------
    def create_concurrency_limit(self, body: s.ConcurrencyLimitCreate
                                 ) -> s.ConcurrencyLimitRead: ...
    def read_concurrency_limit(self, name: str) -> s.ConcurrencyLimitRead: ...
    def list_concurrency_limits(self, *, limit: int = 200,
                                offset: int = 0) -> list[s.ConcurrencyLimitRead]: ...
    def concurrency_limit_names(self) -> list[str]: ...
    def update_concurrency_limit(self, name: str, body: s.ConcurrencyLimitUpdate
                                 ) -> s.ConcurrencyLimitRead: ...
    def delete_concurrency_limit(self, name: str) -> None: ...
    def acquire_concurrency_slots(self, body: s.SlotsAcquire) -> s.SlotsAnswer: ...
    def renew_concurrency_leases(self, body: s.LeaseRenew) -> list[uuid.UUID]: ...
    def release_concurrency_lease(self, lease_id: uuid.UUID) -> None: ...

    def housekeeping(self, now: datetime | None = None) -> None:
        """The server's background work, for a backend with no server behind it (a no-op
        through the API: the server does it)."""
        ...

    def close(self) -> None: ...
    def __enter__(self) -> Backend: ...
    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None: ...


class BackendSink:
    """The recorder's EventSink over a backend: each batch of run events is one `send_events`.

    A failed send may have been stored before its answer was lost (a server killed
    mid-request): the next send is marked `resent`, so nothing is stored twice."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.resending = False

    def write(self, events: Sequence[Event]) -> None:
        try:
            self.backend.send_events(events, resent=self.resending)
        except BaseException:
            self.resending = True
            raise
        self.resending = False

    def close(self) -> None:
        self.backend.close()


WORKER_RUN_VARIABLES = ("TRANSOM__RUN_FILE", "TRANSOM__RUN")
"""How a worker hands a run to its process (worker.protocol; a test checks they agree)."""


class Reporting(NamedTuple):
    """How a run's events are batched for its backend."""

    interval: float  # seconds between batches
    flush_timeout: float  # how long the end of a run waits for its events to be delivered
    patience: float | None  # how long it waits once the backend keeps failing (None: all of it)


def reporting(settings: Settings, *, under_worker: bool | None = None) -> Reporting:
    """Through the API, events wait out a server outage of a minute or more (bounded buffer),
    and a run's end waits that long for them while they are being delivered; once the server
    has not answered for 5 s, the end of a run a person started stops waiting (what it did not
    take at exit is spooled). A run a worker started waits it out in full: its worker would
    otherwise record it Crashed, exited without a final state, and no spool would be delivered
    before the worker's next start. The embedded database is written every 50 ms."""
    if not settings.api_url:
        return Reporting(0.05, 30.0, None)
    if under_worker is None:  # worker.protocol's RUN_FILE_ENV / RUN_ENV (a layer above this one)
        under_worker = bool(os.environ.get(WORKER_RUN_VARIABLES[0])
                            or os.environ.get(WORKER_RUN_VARIABLES[1]))
    return Reporting(0.1, 120.0, None if under_worker else 5.0)


def open_backend(settings: Settings | None = None, *, retries: int = 3,
                 http_timeout: float = 10.0, busy_timeout: float | None = None) -> Backend:
    """The server of `TRANSOM_API_URL` when it is set (with `retries` and `http_timeout`),
    else the embedded database, opened and migrated (SQLite waits `busy_timeout` for a lock,
    the settings' by default)."""
    settings = settings or Settings.load()
    if settings.api_url:
        from transom.client import TransomClient
        from transom.services import spool

        # Events an earlier process could not send to this server go first, in order; tried
        # once (a server still down costs no retries twice: the caller's own request has them).
        if spool.waiting(settings.home, settings.api_url):
            with TransomClient.from_settings(settings, retries=0, timeout=http_timeout) as once:
                spool.deliver(once, settings.home, settings.api_url)
        return TransomClient.from_settings(settings, retries=retries, timeout=http_timeout)
    from transom.services.context import Context
    from transom.services.embedded import EmbeddedBackend
    from transom.store import open_database

    timeout = settings.sqlite_busy_timeout if busy_timeout is None else busy_timeout
    db = open_database(settings.database_url_resolved, busy_timeout=timeout)
    backend = EmbeddedBackend(Context(db, settings))
    # With no server, whoever opens the database next notices runs whose process died.
    try:
        backend.crash_runs_without_heartbeat()
    except TransomError as exc:  # never a reason not to open: the next one tries again
        logger.debug("looking for dead runs failed: %s", exc)
    return backend
