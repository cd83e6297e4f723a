"""`get_client()`: read and change runs and deployments from code, with or without a server.

    async with get_client() as client:
        runs = await client.read_flow_runs(limit=10)

    with get_client(sync_client=True) as client:
        client.create_flow_run_from_deployment(deployment.id, parameters={"n": 3})

Both clients work over the one Backend that `services.open_backend(settings)` picks: the server
of TRANSOM_API_URL, else the embedded database. The operations are written once, in
`SyncOrchestrationClient`; `OrchestrationClient` (the async one) runs each of them on one thread
of its own, because the backends are synchronous (SQLAlchemy, httpx.Client): the event loop is
never blocked, and one client's calls keep their order.

This package sits below `services/`, so it cannot import `open_backend`: it opens the backend
through `transom._backends`, where `import transom` registers it. `PrefectClient` and
`SyncPrefectClient` are Prefect's names for the two classes.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import uuid
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Concatenate, Literal, ParamSpec, TypeVar, overload

from transom._backends import open_backend
from transom.core.context import current_flow_run, current_task_run, get_runtime
from transom.core.states import State, StateType
from transom.exceptions import TransomError, UserInputError
from transom.schemas import (
    DeploymentRead,
    DeploymentRunCreate,
    FlowRead,
    FlowRunRead,
    StateIn,
    StateRecord,
    TaskRunRead,
    WorkPoolRead,
)

if TYPE_CHECKING:
    from transom.services.backend import Backend
    from transom.settings import Settings

__all__ = [
    "OrchestrationClient",
    "PrefectClient",
    "SyncOrchestrationClient",
    "SyncPrefectClient",
    "get_client",
]

P = ParamSpec("P")
R = TypeVar("R")

_CATCH_UP_SECONDS = 10.0  # the most a read inside a run waits for the run's records to be written

def _run_id(value: uuid.UUID | str, what: str) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value).strip())
    except ValueError:
        raise UserInputError(f"{value!r} is not a {what} id (a UUID)") from None


def _state_in(state: State[Any] | StateIn, force: bool) -> StateIn:
    body = state if isinstance(state, StateIn) else StateIn.from_state(state)
    return body.model_copy(update={"force": force}) if force else body


class SyncOrchestrationClient:
    """The operations of `get_client(sync_client=True)`, over one backend opened on first use
    (or given); `with` closes it."""

    def __init__(self, backend: Backend | None = None, *, settings: Settings | None = None) -> None:
        self._backend = backend
        self._owns = backend is None
        self._settings = settings

    @property
    def backend(self) -> Backend:
        if self._backend is None:
            self._backend = open_backend(self._settings)
        return self._backend

    @property
    def api_url(self) -> str:
        """Where the calls go: the server's URL, or the embedded database."""
        return self.backend.where

    def close(self) -> None:
        if self._owns and self._backend is not None:
            backend, self._backend = self._backend, None
            backend.close()

    def __enter__(self) -> SyncOrchestrationClient:
        self.backend  # noqa: B018 (opened now: a wrong URL or database fails at the `with`)
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _caught_up(self) -> None:
        """Inside a run, what this process has recorded so far is written first: the run's
        own records are sent in batches, and code reading its own flow run (as Prefect's
        client can, its runs being created before they start) must find it."""
        if current_flow_run() is not None or current_task_run() is not None:
            get_runtime().recorder.flush(timeout=_CATCH_UP_SECONDS)

    # -- flows and flow runs ----------------------------------------------------------------
    def api_healthcheck(self) -> Exception | None:
        """None if the server (or database) answers, else the error it gave."""
        try:
            self.backend.health()
        except TransomError as exc:
            return exc
        return None

    def read_flows(self, *, limit: int = 100, offset: int = 0) -> list[FlowRead]:
        return self.backend.list_flows(limit=limit, offset=offset)

    def read_flow_run(self, flow_run_id: uuid.UUID | str) -> FlowRunRead:
        """A flow run by id (or a unique prefix of one); NotFound if there is none."""
        self._caught_up()
        return self.backend.read_flow_run(flow_run_id)

    def read_flow_runs(self, *, limit: int | None = None, offset: int = 0,
                       flow_name: str | None = None, state: StateType | str | None = None,
                       since: datetime | None = None, until: datetime | None = None,
                       deployment: str | uuid.UUID | None = None, work_pool: str | None = None,
                       tag: str | None = None, prefix: str | None = None) -> list[FlowRunRead]:
        """Flow runs, newest first: of one flow, in one state type, created in [since, until),
        of a deployment (id or `flow/name`), in a work pool, carrying a tag, whose name or id
        starts with `prefix`."""
        self._caught_up()
        page = self.backend.list_flow_runs(flow_name=flow_name, state=state, since=since,
                                           until=until, deployment=deployment,
                                           work_pool=work_pool, tag=tag, prefix=prefix,
                                           limit=200 if limit is None else limit, offset=offset)
        return list(page.items)

    def read_flow_run_states(self, flow_run_id: uuid.UUID | str) -> list[StateRecord]:
        self._caught_up()
        return self.backend.flow_run_states(_run_id(flow_run_id, "flow run"))

    def set_flow_run_state(self, flow_run_id: uuid.UUID | str, state: State[Any] | StateIn, *,
                           force: bool = False) -> StateRecord:
        """Propose `state` (e.g. `Cancelling()`); InvalidTransition says why if it is refused.
        `force=True` skips the transition rules, as an operator may."""
        self._caught_up()
        return self.backend.set_flow_run_state(_run_id(flow_run_id, "flow run"),
                                               _state_in(state, force))

    # -- task runs ----------------------------------------------------------------------------
    def read_task_run(self, task_run_id: uuid.UUID | str) -> TaskRunRead:
        self._caught_up()
        return self.backend.read_task_run(_run_id(task_run_id, "task run"))

    def read_task_runs(self, *, flow_run_id: uuid.UUID | str) -> list[TaskRunRead]:
        """The task runs of a flow run."""
        self._caught_up()
        return self.backend.flow_run_task_runs(_run_id(flow_run_id, "flow run"))

    def set_task_run_state(self, task_run_id: uuid.UUID | str, state: State[Any] | StateIn, *,
                           force: bool = False) -> StateRecord:
        self._caught_up()
        return self.backend.set_task_run_state(_run_id(task_run_id, "task run"),
                                               _state_in(state, force))

    # -- deployments and work pools -----------------------------------------------------------
    def read_deployment(self, deployment_id: uuid.UUID | str) -> DeploymentRead:
        """A deployment by id or by `flow/deployment` name."""
        return self.backend.read_deployment(deployment_id)

    def read_deployment_by_name(self, name: str) -> DeploymentRead:
        """A deployment by its full name, `flow/deployment`."""
        if name.count("/") != 1 or name.startswith("/") or name.endswith("/"):
            raise UserInputError(f"deployment name {name!r} is not of the form "
                                 "flow-name/deployment-name")
        return self.backend.read_deployment(name)

    def read_deployments(self, *, limit: int = 200, offset: int = 0,
                         flow_name: str | None = None,
                         work_pool_name: str | None = None) -> list[DeploymentRead]:
        return self.backend.list_deployments(flow_name=flow_name, work_pool=work_pool_name,
                                             limit=limit, offset=offset)

    def create_flow_run_from_deployment(
        self, deployment_id: uuid.UUID | str, *, parameters: dict[str, Any] | None = None,
        name: str | None = None, tags: list[str] | None = None, state: State[Any] | None = None,
        idempotency_key: str | None = None,
    ) -> FlowRunRead:
        """A Scheduled run of the deployment (by id or `flow/deployment`): now, or at the time of
        `state=Scheduled(scheduled_time=...)`; `parameters` update the deployment's defaults."""
        when = None
        if state is not None:
            if state.type is not StateType.SCHEDULED:
                raise UserInputError(f"a run of a deployment starts Scheduled; state={state!r} "
                                     "is not (pass Scheduled(scheduled_time=...) or no state)")
            when = state.scheduled_time
        body = DeploymentRunCreate(parameters=parameters or {}, name=name, tags=tags or [],
                                   scheduled_time=when, idempotency_key=idempotency_key)
        return self.backend.create_deployment_run(deployment_id, body)

    def read_work_pools(self) -> list[WorkPoolRead]:
        return self.backend.list_work_pools()

    def read_work_pool(self, work_pool_name: str) -> WorkPoolRead:
        return self.backend.read_work_pool(work_pool_name)


def _in_thread(
    method: Callable[Concatenate[SyncOrchestrationClient, P], R],
) -> Callable[Concatenate[OrchestrationClient, P], Coroutine[Any, Any, R]]:
    """The async twin of a SyncOrchestrationClient method: the same call, on the client's
    thread."""
    async def call(self: OrchestrationClient, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return await self._call(functools.partial(method, self._sync, *args, **kwargs))

    call.__name__ = method.__name__
    call.__qualname__ = f"OrchestrationClient.{method.__name__}"
    call.__doc__ = method.__doc__
    return call


class OrchestrationClient:
    """The operations of `get_client()`, as coroutines; `async with` opens and closes it."""

    def __init__(self, backend: Backend | None = None, *, settings: Settings | None = None) -> None:
        self._sync = SyncOrchestrationClient(backend, settings=settings)
        self._thread: ThreadPoolExecutor | None = None

    async def _call(self, fn: Callable[[], R]) -> R:
        if self._thread is None:
            # One thread: a SQLite connection stays on the thread that made it, calls in order.
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="transom-client")
        # In the caller's context (the run it is called from), as a sync call would be.
        context = contextvars.copy_context()
        return await asyncio.get_running_loop().run_in_executor(self._thread, context.run, fn)

    @property
    def api_url(self) -> str:
        """Where the calls go (known once the client is open)."""
        backend = self._sync._backend
        return "(not open yet)" if backend is None else backend.where

    async def aclose(self) -> None:
        if self._thread is not None:
            await self._call(self._sync.close)
            thread, self._thread = self._thread, None
            thread.shutdown(wait=False)

    async def __aenter__(self) -> OrchestrationClient:
        await self._call(lambda: self._sync.backend)
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()

    api_healthcheck = _in_thread(SyncOrchestrationClient.api_healthcheck)
    read_flows = _in_thread(SyncOrchestrationClient.read_flows)
    read_flow_run = _in_thread(SyncOrchestrationClient.read_flow_run)
    read_flow_runs = _in_thread(SyncOrchestrationClient.read_flow_runs)
    read_flow_run_states = _in_thread(SyncOrchestrationClient.read_flow_run_states)
    set_flow_run_state = _in_thread(SyncOrchestrationClient.set_flow_run_state)
    read_task_run = _in_thread(SyncOrchestrationClient.read_task_run)
    read_task_runs = _in_thread(SyncOrchestrationClient.read_task_runs)
    set_task_run_state = _in_thread(SyncOrchestrationClient.set_task_run_state)
    read_deployment = _in_thread(SyncOrchestrationClient.read_deployment)
    read_deployment_by_name = _in_thread(SyncOrchestrationClient.read_deployment_by_name)
    read_deployments = _in_thread(SyncOrchestrationClient.read_deployments)
    create_flow_run_from_deployment = _in_thread(
        SyncOrchestrationClient.create_flow_run_from_deployment)
    read_work_pools = _in_thread(SyncOrchestrationClient.read_work_pools)
    read_work_pool = _in_thread(SyncOrchestrationClient.read_work_pool)


PrefectClient = OrchestrationClient
SyncPrefectClient = SyncOrchestrationClient


@overload
def get_client(sync_client: Literal[False] = False, *,
               settings: Settings | None = None) -> OrchestrationClient: ...


@overload
def get_client(sync_client: Literal[True], *,
               settings: Settings | None = None) -> SyncOrchestrationClient: ...


def get_client(sync_client: bool = False, *,
               settings: Settings | None = None) -> OrchestrationClient | SyncOrchestrationClient:
    """A client of the server of TRANSOM_API_URL, or of the embedded database: async (use
    `async with`) unless `sync_client=True` (use `with`)."""
    if sync_client:
        return SyncOrchestrationClient(settings=settings)
    return OrchestrationClient(settings=settings)
