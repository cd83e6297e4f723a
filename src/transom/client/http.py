"""TransomClient: the `services.Backend` protocol over the server's HTTP API (httpx), with
timeouts, auth from settings, and retries.

Connection errors, 503 (the database unreachable), 502/504 (the server unreachable behind a
proxy) and 429 are retried with exponential backoff; a 500 is a bug that retrying cannot mend,
and comes back at once; 4xx answers are the
caller's mistake and come back at once as the exception the server raised (`NotFound`,
`InvalidTransition`, ... by `exceptions.HTTP_STATUS`), with the server's one-sentence reason.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx

from transom._version import __version__
from transom.core.recorder import Event
from transom.core.states import StateType
from transom.core.storable import storable_event
from transom.exceptions import ApiError, NotFound, UserInputError, error_from_http
from transom.schemas import (
    ArtifactCreate,
    ArtifactRead,
    ArtifactUpdate,
    BlockDocumentCreate,
    BlockDocumentRead,
    BlockTypeIn,
    BlockTypeRead,
    ConcurrencyLimitCreate,
    ConcurrencyLimitRead,
    ConcurrencyLimitUpdate,
    DeploymentCreate,
    DeploymentRead,
    DeploymentRunCreate,
    DeploymentUpdate,
    EventBatch,
    FlowRead,
    FlowRunCounts,
    FlowRunCreate,
    FlowRunHistory,
    FlowRunRead,
    LeaseRenew,
    LogIn,
    LogLine,
    Page,
    PauseCreate,
    PauseRead,
    PollResult,
    ResumeIn,
    SlotsAcquire,
    SlotsAnswer,
    StateIn,
    StateRecord,
    TaskRunRead,
    VariableCreate,
    VariableRead,
    WorkerPoll,
    WorkerRead,
    WorkPoolCreate,
    WorkPoolRead,
    WorkPoolUpdate,
    event_to_wire,
)
from transom.settings import Settings

__all__ = ["ApiError", "TransomClient"]

RETRY_STATUS = frozenset({429, 502, 503, 504})


class TransomClient:
    """A sync client of one Transom server (`TRANSOM_API_URL`)."""

    def __init__(self, api_url: str, *, api_key: str | None = None, auth_string: str | None = None,
                 timeout: float = 10.0, retries: int = 3, backoff: float = 0.2,
                 transport: httpx.BaseTransport | None = None) -> None:
        headers = {"User-Agent": f"transom/{__version__}"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        auth = None
        if auth_string:
            user, _, password = auth_string.partition(":")
            auth = httpx.BasicAuth(user, password)
        self.api_url = api_url.rstrip("/")
        self.retries = retries
        self.backoff = backoff
        self._http = httpx.Client(base_url=self.api_url, headers=headers, auth=auth,
                                  timeout=timeout, transport=transport)

    @classmethod
    def from_settings(cls, settings: Settings, **options: Any) -> TransomClient:
        if not settings.api_url:
            raise UserInputError("TRANSOM_API_URL is not set; point it at a server, e.g. "
                                 "http://127.0.0.1:4200/api")
        return cls(settings.api_url, api_key=settings.api_key,
                   auth_string=settings.api_auth_string, **options)

    @property
    def where(self) -> str:
        return self.api_url

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> TransomClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the one request path -----------------------------------------------------------------
    def request(self, method: str, path: str, *, json: Any = None,
                params: Mapping[str, Any] | None = None) -> Any:
        attempt = 0
        while True:
            try:
                response = self._http.request(method, path, json=json, params=params)
            except httpx.TransportError as exc:
                if attempt >= self.retries:
                    raise ApiError(f"cannot reach the Transom server at {self.api_url}: "
                                   f"{_reason(exc)}") from None
            else:
                if response.status_code < 400:
                    return response.json() if response.content else None
                if response.status_code not in RETRY_STATUS or attempt >= self.retries:
                    raise _error(response, self.api_url) from None
            attempt += 1
            delay = self.backoff * (2 ** (attempt - 1))
            time.sleep(delay + random.uniform(0, delay / 2))

    # -- API ----------------------------------------------------------------------------------
    def health(self) -> dict[str, str]:
        result: dict[str, str] = self.request("GET", "/health")
        return result

    def send_events(self, events: Sequence[Event], *, resent: bool = False) -> int:
        """POST a batch of run events; `resent` when an earlier send of some of them failed
        (the server then skips what it stored already)."""
        try:
            wire = [event_to_wire(e) for e in events]
        except ValueError:  # text JSON cannot carry (a lone surrogate): repaired, as the store would
            wire = [event_to_wire(storable_event(e)) for e in events]
        body = EventBatch(events=wire, resent=resent).model_dump(mode="json")
        written: int = self.request("POST", "/events", json=body)["written"]
        return written

    def list_flows(self, *, limit: int = 100, offset: int = 0) -> list[FlowRead]:
        data = self.request("GET", "/flows", params={"limit": limit, "offset": offset})
        return [FlowRead.model_validate(f) for f in data]

    def create_flow_run(self, body: FlowRunCreate) -> FlowRunRead:
        data = self.request("POST", "/flow_runs", json=body.model_dump(mode="json", exclude_none=True))
        return FlowRunRead.model_validate(data)

    def list_flow_runs(self, *, flow_name: str | None = None,
                       state: StateType | str | None = None, since: datetime | None = None,
                       limit: int = 50, offset: int = 0, after: str | None = None,
                       before: str | None = None,
                       parent_flow_run_id: uuid.UUID | None = None,
                       deployment: str | uuid.UUID | None = None, work_pool: str | None = None,
                       tag: str | None = None, until: datetime | None = None,
                       prefix: str | None = None) -> Page[FlowRunRead]:
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        for key, value in (("deployment", deployment), ("work_pool", work_pool), ("tag", tag),
                           ("prefix", prefix)):
            if value:
                params[key] = str(value)
        if until:
            params["until"] = until.isoformat()
        if parent_flow_run_id is not None:
            params["parent"] = str(parent_flow_run_id)
        if after is not None:
            params["after"] = after
        if before is not None:
            params["before"] = before
        if flow_name:
            params["flow"] = flow_name
        if state:
            params["state"] = str(state).upper()
        if since:
            params["since"] = since.isoformat()
        return Page[FlowRunRead].model_validate(self.request("GET", "/flow_runs", params=params))

    def read_flow_run(self, id_or_prefix: str | uuid.UUID) -> FlowRunRead:
        return FlowRunRead.model_validate(self.request("GET", f"/flow_runs/{_run(id_or_prefix)}"))

    def set_flow_run_state(self, run_id: uuid.UUID, state: StateIn) -> StateRecord:
        data = self.request("POST", f"/flow_runs/{run_id}/set_state",
                            json=state.model_dump(mode="json", exclude_none=True))
        return StateRecord.model_validate(data)

    def cancel_flow_run(self, id_or_prefix: str | uuid.UUID,
                        message: str | None = None) -> StateRecord:
        data = self.request("POST", f"/flow_runs/{_run(id_or_prefix)}/cancel",
                            json={"message": message})  # JSON: the server refuses a bare POST
        return StateRecord.model_validate(data)

    def retry_flow_run(self, id_or_prefix: str | uuid.UUID) -> StateRecord:
        data = self.request("POST", f"/flow_runs/{_run(id_or_prefix)}/retry",
                            json={})  # JSON: the server refuses a bare POST
        return StateRecord.model_validate(data)

    def flow_run_states(self, run_id: uuid.UUID) -> list[StateRecord]:
        return [StateRecord.model_validate(s)
                for s in self.request("GET", f"/flow_runs/{run_id}/states")]

    def delete_flow_run(self, id_or_prefix: str | uuid.UUID) -> FlowRunRead:
        return FlowRunRead.model_validate(self.request("DELETE", f"/flow_runs/{id_or_prefix}"))

    def flow_run_task_runs(self, run_id: uuid.UUID) -> list[TaskRunRead]:
        return [TaskRunRead.model_validate(t)
                for t in self.request("GET", f"/flow_runs/{run_id}/task_runs")]

    def flow_run_logs(self, run_id: uuid.UUID, *, limit: int = 1000, offset: int = 0,
                      min_level: int | None = None, task_run_id: uuid.UUID | None = None,
                      text: str | None = None, after_id: int | None = None,
                      task_key: str | None = None) -> Page[LogLine]:
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        for key, value in (("level", min_level), ("task_run_id", task_run_id), ("q", text),
                           ("after_id", after_id), ("task_key", task_key)):
            if value is not None:
                params[key] = str(value)
        data = self.request("GET", f"/flow_runs/{run_id}/logs", params=params)
        return Page[LogLine].model_validate(data)

    def flow_run_log_offset(self, run_id: uuid.UUID, *, min_level: int) -> int | None:
        data = self.request("GET", f"/flow_runs/{run_id}/logs/first",
                            params={"level": min_level})
        return None if data["offset"] is None else int(data["offset"])

    def follow_flow_run_logs(self, run_id: uuid.UUID, *, after_id: int = 0) -> Iterator[LogLine]:
        """A run's log lines as they are written (the server's event stream), until the run is
        final and all were sent; a dropped stream is resumed after the last line had
        (Last-Event-ID), `retries` times in a row at most."""
        last, failures = after_id, 0
        timeout = httpx.Timeout(self._http.timeout.connect, read=60.0)  # heartbeats: every 15 s
        while True:
            headers = {"Accept": "text/event-stream", "Last-Event-ID": str(last)}
            try:
                with self._http.stream("GET", f"/flow_runs/{run_id}/logs/stream",
                                       headers=headers, timeout=timeout) as response:
                    if response.status_code >= 400:
                        response.read()
                        raise _error(response, self.api_url)
                    event, data = "", []
                    for raw in response.iter_lines():
                        if raw.startswith("event:"):
                            event = raw[6:].strip()
                        elif raw.startswith("data:"):
                            data.append(raw[5:].removeprefix(" "))
                        elif not raw and data:  # an event is complete
                            if event == "line":
                                line = LogLine.model_validate_json("\n".join(data))
                                last, failures = line.id, 0
                                yield line
                            elif event in ("end", "gone"):
                                return
                            event, data = "", []
            except httpx.TransportError as exc:
                failures += 1
                if failures > self.retries:
                    raise ApiError(f"lost the log stream of the Transom server at "
                                   f"{self.api_url}: {_reason(exc)}") from None
                time.sleep(self.backoff * (2 ** (failures - 1)))
            # Ended without `end` (a stream lasts LIVE_MAX at most) or dropped: ask again.

    def flow_run_counts(self, *, since: datetime | None = None, until: datetime | None = None,
                        span: timedelta | None = None) -> FlowRunCounts:
        return FlowRunCounts.model_validate(self.request(
            "GET", "/flow_runs/counts", params=_window(since, until, span)))

    def flow_run_history(self, *, bucket: timedelta, since: datetime | None = None,
                         until: datetime | None = None,
                         span: timedelta | None = None) -> FlowRunHistory:
        params = {**_window(since, until, span), "bucket": int(bucket.total_seconds())}
        return FlowRunHistory.model_validate(self.request("GET", "/flow_runs/history",
                                                          params=params))

    def flow_run_timeline(self, run_id: uuid.UUID) -> dict[str, object]:
        data: dict[str, object] = self.request("GET", f"/flow_runs/{run_id}/timeline")
        return data

    def read_task_run(self, task_run_id: uuid.UUID) -> TaskRunRead:
        return TaskRunRead.model_validate(self.request("GET", f"/task_runs/{task_run_id}"))

    def task_run_states(self, task_run_id: uuid.UUID) -> list[StateRecord]:
        return [StateRecord.model_validate(s)
                for s in self.request("GET", f"/task_runs/{task_run_id}/states")]

    def set_task_run_state(self, task_run_id: uuid.UUID, state: StateIn) -> StateRecord:
        data = self.request("POST", f"/task_runs/{task_run_id}/set_state",
                            json=state.model_dump(mode="json", exclude_none=True))
        return StateRecord.model_validate(data)

    def write_logs(self, lines: Sequence[LogIn]) -> int:
        body = [line.model_dump(mode="json", exclude_none=True) for line in lines]
        written: int = self.request("POST", "/logs", json=body)["written"]
        return written

    # -- work pools, deployments, workers -------------------------------------------------------
    def create_work_pool(self, body: WorkPoolCreate) -> WorkPoolRead:
        return WorkPoolRead.model_validate(
            self.request("POST", "/work_pools", json=body.model_dump(mode="json")))

    def list_work_pools(self) -> list[WorkPoolRead]:
        return [WorkPoolRead.model_validate(p) for p in self.request("GET", "/work_pools")]

    def read_work_pool(self, name: str) -> WorkPoolRead:
        return WorkPoolRead.model_validate(self.request("GET", f"/work_pools/{_segment(name)}"))

    def update_work_pool(self, name: str, body: WorkPoolUpdate) -> WorkPoolRead:
        data = self.request("PATCH", f"/work_pools/{_segment(name)}",
                            json=body.model_dump(mode="json", exclude_unset=True))
        return WorkPoolRead.model_validate(data)

    def delete_work_pool(self, name: str) -> None:
        self.request("DELETE", f"/work_pools/{_segment(name)}")

    def upsert_deployment(self, body: DeploymentCreate) -> DeploymentRead:
        return DeploymentRead.model_validate(
            self.request("POST", "/deployments", json=body.model_dump(mode="json")))

    def list_deployments(self, *, flow_name: str | None = None, work_pool: str | None = None,
                         limit: int = 200, offset: int = 0) -> list[DeploymentRead]:
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        params.update({k: v for k, v in (("flow", flow_name), ("work_pool", work_pool)) if v})
        return [DeploymentRead.model_validate(d)
                for d in self.request("GET", "/deployments", params=params)]

    def read_deployment(self, ref: str | uuid.UUID) -> DeploymentRead:
        return DeploymentRead.model_validate(
            self.request("GET", f"/deployments/{_path(ref)}"))

    def update_deployment(self, ref: str | uuid.UUID, body: DeploymentUpdate) -> DeploymentRead:
        data = self.request("PATCH", f"/deployments/{_path(ref)}",
                            json=body.model_dump(mode="json", exclude_unset=True))
        return DeploymentRead.model_validate(data)

    def delete_deployment(self, ref: str | uuid.UUID) -> DeploymentRead:
        return DeploymentRead.model_validate(
            self.request("DELETE", f"/deployments/{_path(ref)}"))

    def create_deployment_run(self, ref: str | uuid.UUID,
                              body: DeploymentRunCreate) -> FlowRunRead:
        data = self.request("POST", f"/deployments/{_path(ref)}/runs",
                            json=body.model_dump(mode="json", exclude_none=True))
        return FlowRunRead.model_validate(data)

    def poll_worker(self, body: WorkerPoll) -> PollResult:
        return PollResult.model_validate(
            self.request("POST", "/workers/poll", json=body.model_dump(mode="json")))

    def list_workers(self, *, work_pool: str | None = None) -> list[WorkerRead]:
        params = {"work_pool": work_pool} if work_pool else None
        return [WorkerRead.model_validate(w)
                for w in self.request("GET", "/workers", params=params)]

    # -- variables ----------------------------------------------------------------------------
    def set_variable(self, body: VariableCreate, *, overwrite: bool = False) -> VariableRead:
        data = self.request("POST", "/variables", json=body.model_dump(mode="json"),
                            params={"overwrite": "true"} if overwrite else None)
        return VariableRead.model_validate(data)

    def read_variable(self, name: str) -> VariableRead:
        return VariableRead.model_validate(self.request("GET", f"/variables/{_named(name)}"))

    def list_variables(self, *, limit: int = 200, offset: int = 0) -> list[VariableRead]:
        return [VariableRead.model_validate(v) for v in
                self.request("GET", "/variables", params={"limit": limit, "offset": offset})]

    def delete_variable(self, name: str) -> None:
        self.request("DELETE", f"/variables/{_named(name)}")

    # -- artifacts ----------------------------------------------------------------------------
    def create_artifact(self, body: ArtifactCreate) -> ArtifactRead:
        return ArtifactRead.model_validate(
            self.request("POST", "/artifacts", json=body.model_dump(mode="json")))

    def update_artifact(self, artifact_id: uuid.UUID, body: ArtifactUpdate) -> ArtifactRead:
        return ArtifactRead.model_validate(self.request(
            "PATCH", f"/artifacts/{artifact_id}", json=body.model_dump(mode="json")))

    def read_artifact(self, key: str) -> ArtifactRead:
        return ArtifactRead.model_validate(
            self.request("GET", f"/artifacts/key/{_named(key, 'artifact with key')}"))

    def list_artifacts(self, *, key: str | None = None, flow_run_id: uuid.UUID | None = None,
                       key_prefix: str | None = None, limit: int = 200, offset: int = 0,
                       after: str | None = None,
                       before: str | None = None) -> list[ArtifactRead]:
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        params.update({k: str(v) for k, v in (("key", key), ("flow_run_id", flow_run_id),
                                              ("key_prefix", key_prefix), ("after", after),
                                              ("before", before)) if v is not None})
        return [ArtifactRead.model_validate(a)
                for a in self.request("GET", "/artifacts", params=params)]

    def delete_artifact(self, key: str) -> int:
        deleted: int = self.request(
            "DELETE", f"/artifacts/key/{_named(key, 'artifact with key')}")["deleted"]
        return deleted

    # -- pauses -------------------------------------------------------------------------------
    def pause_flow_run(self, run_id: uuid.UUID, body: PauseCreate) -> StateRecord:
        return StateRecord.model_validate(self.request(
            "POST", f"/flow_runs/{run_id}/pause", json=body.model_dump(mode="json")))

    def read_pause(self, run_id: uuid.UUID, key: str) -> PauseRead:
        return PauseRead.model_validate(self.request(
            "GET", f"/flow_runs/{run_id}/pauses/{_named(key, 'pause with key')}"))

    def resume_flow_run(self, id_or_prefix: str | uuid.UUID,
                        body: ResumeIn | None = None) -> StateRecord:
        return StateRecord.model_validate(self.request(
            "POST", f"/flow_runs/{_run(id_or_prefix)}/resume",
            json=(body or ResumeIn()).model_dump(mode="json")))

    # -- blocks -------------------------------------------------------------------------------
    def save_block(self, body: BlockDocumentCreate, *,
                   overwrite: bool = False) -> BlockDocumentRead:
        data = self.request("POST", "/blocks", json=body.model_dump(mode="json"),
                            params={"overwrite": "true"} if overwrite else None)
        return BlockDocumentRead.model_validate(data)

    def read_block(self, slug: str, name: str, *,
                   include_secrets: bool = False) -> BlockDocumentRead:
        path = f"/blocks/{_named(slug, 'block type')}/{_named(name, 'block named')}"
        return BlockDocumentRead.model_validate(self.request(
            "GET", path, params={"include_secrets": "true"} if include_secrets else None))

    def list_blocks(self, *, block_type: str | None = None, limit: int = 200,
                    offset: int = 0) -> list[BlockDocumentRead]:
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        if block_type is not None:
            params["block_type"] = block_type
        return [BlockDocumentRead.model_validate(b)
                for b in self.request("GET", "/blocks", params=params)]

    def delete_block(self, slug: str, name: str) -> None:
        self.request("DELETE",
                     f"/blocks/{_named(slug, 'block type')}/{_named(name, 'block named')}")

    def register_block_type(self, body: BlockTypeIn) -> BlockTypeRead:
        return BlockTypeRead.model_validate(
            self.request("POST", "/block_types", json=body.model_dump(mode="json")))

    def list_block_types(self) -> list[BlockTypeRead]:
        return [BlockTypeRead.model_validate(b) for b in self.request("GET", "/block_types")]
    # -- concurrency limits -----------------------------------------------------------------
    def create_concurrency_limit(self, body: ConcurrencyLimitCreate) -> ConcurrencyLimitRead:
        return ConcurrencyLimitRead.model_validate(
            self.request("POST", "/concurrency_limits", json=body.model_dump(mode="json")))

    def read_concurrency_limit(self, name: str) -> ConcurrencyLimitRead:
        return ConcurrencyLimitRead.model_validate(self.request(
            "GET", f"/concurrency_limits/name/{_named(name, 'concurrency limit named')}"))

    def list_concurrency_limits(self, *, limit: int = 200,
                                offset: int = 0) -> list[ConcurrencyLimitRead]:
        return [ConcurrencyLimitRead.model_validate(x) for x in self.request(
            "GET", "/concurrency_limits", params={"limit": limit, "offset": offset})]

    def concurrency_limit_names(self) -> list[str]:
        names: list[str] = self.request("GET", "/concurrency_limits/names")
        return names

    def update_concurrency_limit(self, name: str,
                                 body: ConcurrencyLimitUpdate) -> ConcurrencyLimitRead:
        return ConcurrencyLimitRead.model_validate(self.request(
            "PATCH", f"/concurrency_limits/name/{_named(name, 'concurrency limit named')}",
            json=body.model_dump(mode="json", exclude_none=True)))

    def delete_concurrency_limit(self, name: str) -> None:
        self.request("DELETE",
                     f"/concurrency_limits/name/{_named(name, 'concurrency limit named')}")

    def acquire_concurrency_slots(self, body: SlotsAcquire) -> SlotsAnswer:
        return SlotsAnswer.model_validate(self.request(
            "POST", "/concurrency_limits/acquire", json=body.model_dump(mode="json")))

    def renew_concurrency_leases(self, body: LeaseRenew) -> list[uuid.UUID]:
        return [uuid.UUID(x) for x in self.request(
            "POST", "/concurrency_limits/renew", json=body.model_dump(mode="json"))]

    def release_concurrency_lease(self, lease_id: uuid.UUID) -> None:
        self.request("DELETE", f"/concurrency_limits/leases/{lease_id}")

    def housekeeping(self, now: datetime | None = None) -> None:
        """Nothing to do: the server runs its background work itself."""


def _window(since: datetime | None, until: datetime | None,
            span: timedelta | None) -> dict[str, str]:
    params = {"since": since.isoformat() if since else None,
              "until": until.isoformat() if until else None,
              "span": str(int(span.total_seconds())) if span is not None else None}
    return {k: v for k, v in params.items() if v is not None}


def _run(id_or_prefix: str | uuid.UUID) -> str:
    return quote(str(id_or_prefix).strip(), safe="") or "-"


def _segment(name: str) -> str:
    segment = quote(name, safe="")
    # `.` and `..` as they are would be dot segments, which URLs resolve away (a name's path
    # would become its parent's): escaped, they reach the server as the name.
    return segment.replace(".", "%2E") if segment in (".", "..") else segment


def _named(name: str, what: str = "variable named") -> str:
    """A name as a path segment; an empty one names nothing (its path would be the listing's)."""
    if not name:
        raise NotFound(f"no {what} {name!r}")
    return _segment(name)


def _path(ref: str | uuid.UUID) -> str:
    return quote(str(ref), safe="/")


def _reason(exc: httpx.TransportError) -> str:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.ConnectError):
        return f"connection refused or host unreachable ({text}); is `transom server start` running?"
    if isinstance(exc, httpx.TimeoutException):
        return "no answer in time"
    return text


def _error(response: httpx.Response, api_url: str) -> Exception:
    """The exception the server's error answer stands for (see exceptions.HTTP_STATUS)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    detail = body.get("detail") if isinstance(body, dict) else None
    name = body.get("error") if isinstance(body, dict) else None
    detail = detail if isinstance(detail, str) else response.reason_phrase
    status = response.status_code
    if status < 500:
        same = error_from_http(status, name if isinstance(name, str) else None, detail)
        if same is not None:
            return same
    elif isinstance(name, str) and (same := error_from_http(status, name, "")) is not None:
        # The server's database is down: the same class, saying where.
        return type(same)(f"the Transom server at {api_url} answered {status}: {detail}",
                          permanent=False)  # type: ignore[call-arg]
    return ApiError(f"the Transom server at {api_url} answered {status}: {detail}", status=status,
                    permanent=status in (401, 403))
