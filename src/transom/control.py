"""Where deployment, work pool and worker commands act: the server's API or the embedded database.

With `TRANSOM_API_URL` set everything goes through the server (`ApiControl`); without it, the
same store functions the server calls run on the embedded database (`StoreControl`), so
deployments and workers work on one machine with no server, like recorded runs do. The store
side then also does the server's background work (`housekeeping`) for whoever polls it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from transom.schemas import (
    DeploymentCreate,
    DeploymentRead,
    DeploymentRunCreate,
    DeploymentUpdate,
    FlowRunRead,
    PollResult,
    StateIn,
    StateRecord,
    WorkerPoll,
    WorkerRead,
    WorkPoolCreate,
    WorkPoolRead,
    WorkPoolUpdate,
)
from transom.settings import Settings

if TYPE_CHECKING:
    from transom.client import TransomClient
    from transom.store import Database

__all__ = ["ApiControl", "Control", "StoreControl", "open_control"]


class Control(Protocol):
    """The operations of deployments, work pools and workers, wherever they are kept."""

    where: str  # for messages: the server's URL or the database

    def create_work_pool(self, body: WorkPoolCreate) -> WorkPoolRead: ...
    def list_work_pools(self) -> list[WorkPoolRead]: ...
    def read_work_pool(self, name: str) -> WorkPoolRead: ...
    def update_work_pool(self, name: str, body: WorkPoolUpdate) -> WorkPoolRead: ...
    def delete_work_pool(self, name: str) -> None: ...
    def upsert_deployment(self, body: DeploymentCreate) -> DeploymentRead: ...
    def list_deployments(self, *, flow_name: str | None = None,
                         work_pool: str | None = None) -> list[DeploymentRead]: ...
    def read_deployment(self, ref: str | uuid.UUID) -> DeploymentRead: ...
    def update_deployment(self, ref: str | uuid.UUID, body: DeploymentUpdate) -> DeploymentRead: ...
    def delete_deployment(self, ref: str | uuid.UUID) -> DeploymentRead: ...
    def create_deployment_run(self, ref: str | uuid.UUID,
                              body: DeploymentRunCreate) -> FlowRunRead: ...
    def poll_worker(self, body: WorkerPoll) -> PollResult: ...
    def list_workers(self, *, work_pool: str | None = None) -> list[WorkerRead]: ...
    def read_flow_run(self, run_id: str | uuid.UUID) -> FlowRunRead: ...
    def set_flow_run_state(self, run_id: uuid.UUID, state: StateIn) -> StateRecord: ...
    def cancel_flow_run(self, run_id: str | uuid.UUID,
                        message: str | None = None) -> StateRecord: ...

    def housekeeping(self, now: datetime | None = None) -> None:
        """The server's background work, for a Control that has no server behind it."""
        ...

    def close(self) -> None: ...


class ApiControl:
    """Through the server's API."""

    def __init__(self, client: TransomClient) -> None:
        self.client = client
        self.where = client.api_url

    def create_work_pool(self, body: WorkPoolCreate) -> WorkPoolRead:
        return self.client.create_work_pool(body)

    def list_work_pools(self) -> list[WorkPoolRead]:
        return self.client.list_work_pools()

    def read_work_pool(self, name: str) -> WorkPoolRead:
        return self.client.read_work_pool(name)

    def update_work_pool(self, name: str, body: WorkPoolUpdate) -> WorkPoolRead:
        return self.client.update_work_pool(name, body)

    def delete_work_pool(self, name: str) -> None:
        self.client.delete_work_pool(name)

    def upsert_deployment(self, body: DeploymentCreate) -> DeploymentRead:
        return self.client.upsert_deployment(body)

    def list_deployments(self, *, flow_name: str | None = None,
                         work_pool: str | None = None) -> list[DeploymentRead]:
        return self.client.list_deployments(flow_name=flow_name, work_pool=work_pool)

    def read_deployment(self, ref: str | uuid.UUID) -> DeploymentRead:
        return self.client.read_deployment(ref)

    def update_deployment(self, ref: str | uuid.UUID, body: DeploymentUpdate) -> DeploymentRead:
        return self.client.update_deployment(ref, body)

    def delete_deployment(self, ref: str | uuid.UUID) -> DeploymentRead:
        return self.client.delete_deployment(ref)

    def create_deployment_run(self, ref: str | uuid.UUID,
                              body: DeploymentRunCreate) -> FlowRunRead:
        return self.client.create_deployment_run(ref, body)

    def poll_worker(self, body: WorkerPoll) -> PollResult:
        return self.client.poll_worker(body)

    def list_workers(self, *, work_pool: str | None = None) -> list[WorkerRead]:
        return self.client.list_workers(work_pool=work_pool)

    def read_flow_run(self, run_id: str | uuid.UUID) -> FlowRunRead:
        return self.client.read_flow_run(run_id)

    def set_flow_run_state(self, run_id: uuid.UUID, state: StateIn) -> StateRecord:
        return self.client.set_flow_run_state(run_id, state)

    def cancel_flow_run(self, run_id: str | uuid.UUID,
                        message: str | None = None) -> StateRecord:
        full = self.client.read_flow_run(run_id).id if not isinstance(run_id, uuid.UUID) else run_id
        return self.client.cancel_flow_run(full, message)

    def housekeeping(self, now: datetime | None = None) -> None:
        pass  # the server does it

    def close(self) -> None:
        self.client.close()


class StoreControl:
    """Straight on a database, with the store functions the server's routes call."""

    def __init__(self, db: Database, settings: Settings, *, owns: bool = True) -> None:
        self.db = db
        self.settings = settings
        self.where = db.url
        self._owns = owns

    def create_work_pool(self, body: WorkPoolCreate) -> WorkPoolRead:
        from transom.store import deployments

        with self.db.write() as conn:
            return deployments.create_work_pool(conn, body)

    def list_work_pools(self) -> list[WorkPoolRead]:
        from transom.store import deployments

        with self.db.read() as conn:
            return deployments.list_work_pools(
                conn, worker_timeout=self.settings.server_worker_timeout)

    def read_work_pool(self, name: str) -> WorkPoolRead:
        from transom.store import deployments

        with self.db.read() as conn:
            return deployments.read_work_pool(
                conn, name, worker_timeout=self.settings.server_worker_timeout)

    def update_work_pool(self, name: str, body: WorkPoolUpdate) -> WorkPoolRead:
        from transom.store import deployments

        with self.db.write() as conn:
            return deployments.update_work_pool(conn, name, body)

    def delete_work_pool(self, name: str) -> None:
        from transom.store import deployments

        with self.db.write() as conn:
            deployments.delete_work_pool(conn, name)

    def upsert_deployment(self, body: DeploymentCreate) -> DeploymentRead:
        from transom.store import deployments

        with self.db.write() as conn:
            return deployments.upsert_deployment(
                conn, body, window=self.settings.server_scheduler_window)

    def list_deployments(self, *, flow_name: str | None = None,
                         work_pool: str | None = None) -> list[DeploymentRead]:
        from transom.store import deployments

        with self.db.read() as conn:
            return deployments.list_deployments(conn, flow_name=flow_name, work_pool=work_pool)

    def read_deployment(self, ref: str | uuid.UUID) -> DeploymentRead:
        from transom.store import deployments

        with self.db.read() as conn:
            return deployments.read_deployment(conn, ref)

    def update_deployment(self, ref: str | uuid.UUID, body: DeploymentUpdate) -> DeploymentRead:
        from transom.store import deployments

        with self.db.write() as conn:
            return deployments.update_deployment(
                conn, ref, body, window=self.settings.server_scheduler_window)

    def delete_deployment(self, ref: str | uuid.UUID) -> DeploymentRead:
        from transom.store import deployments

        with self.db.write() as conn:
            return deployments.delete_deployment(conn, ref)

    def create_deployment_run(self, ref: str | uuid.UUID,
                              body: DeploymentRunCreate) -> FlowRunRead:
        from transom.store import deployments

        with self.db.write() as conn:
            return deployments.create_deployment_run(conn, ref, body)

    def poll_worker(self, body: WorkerPoll) -> PollResult:
        from transom.store import workers

        with self.db.write() as conn:
            return workers.poll(conn, body, worker_timeout=self.settings.server_worker_timeout)

    def list_workers(self, *, work_pool: str | None = None) -> list[WorkerRead]:
        from transom.store import workers

        with self.db.read() as conn:
            return workers.list_workers(conn, work_pool=work_pool,
                                        worker_timeout=self.settings.server_worker_timeout)

    def read_flow_run(self, run_id: str | uuid.UUID) -> FlowRunRead:
        from transom.store import queries

        with self.db.read() as conn:
            return queries.read_flow_run(conn, run_id)

    def set_flow_run_state(self, run_id: uuid.UUID, state: StateIn) -> StateRecord:
        from transom.store import queries, runs

        with self.db.write() as conn:
            runs.set_run_state(conn, run_id, state)
            return queries.list_states(conn, flow_run_id=run_id)[-1]

    def cancel_flow_run(self, run_id: str | uuid.UUID,
                        message: str | None = None) -> StateRecord:
        from transom.store import queries, runs

        with self.db.write() as conn:
            full = queries.resolve_flow_run_id(conn, run_id)
            runs.cancel_flow_run(conn, full, message=message)
            return queries.list_states(conn, flow_run_id=full)[-1]

    def housekeeping(self, now: datetime | None = None) -> None:
        """One pass of the scheduler and of the late and lost run detection."""
        from transom.server.services import housekeeping

        housekeeping(self.db, self.settings, now=now)

    def close(self) -> None:
        if self._owns:
            self.db.close()


@contextmanager
def open_control(settings: Settings | None = None) -> Iterator[Control]:
    """The server's API when TRANSOM_API_URL is set, else the embedded database."""
    settings = settings or Settings.load()
    control: Control
    if settings.api_url:
        from transom.client import TransomClient

        control = ApiControl(TransomClient.from_settings(settings))
    else:
        from transom.store import open_database

        control = StoreControl(open_database(settings.database_url_resolved,
                                             busy_timeout=settings.sqlite_busy_timeout), settings)
    try:
        yield control
    finally:
        control.close()
