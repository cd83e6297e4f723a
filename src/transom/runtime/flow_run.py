"""`transom.runtime.flow_run`: the current flow run, attribute by attribute.

`id`, `name`, `flow_name`, `flow_version`, `parameters`, `run_count`, `tags`,
`scheduled_start_time`, `api_url` and `ui_url`. Outside a flow run each is None, empty or 0,
except `scheduled_start_time`, which is then now (as in Prefect). Inside a task, they describe
the flow run the task belongs to.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from transom.core.context import FlowRunContext, current_flow_run
from transom.runtime._claimed import claimed_run

__all__ = [
    "api_url",
    "flow_name",
    "flow_version",
    "id",
    "name",
    "parameters",
    "run_count",
    "scheduled_start_time",
    "tags",
    "ui_url",
]

if TYPE_CHECKING:  # what each name gives; they are looked up on access (see __getattr__)
    api_url: str | None
    flow_name: str | None
    flow_version: str | None
    id: str | None
    name: str | None
    parameters: dict[str, Any]
    run_count: int
    scheduled_start_time: datetime
    tags: list[str]
    ui_url: str | None


def _id(ctx: FlowRunContext | None) -> str | None:
    return None if ctx is None else str(ctx.flow_run_id)


def _scheduled_start_time(ctx: FlowRunContext | None) -> datetime:
    run = claimed_run()
    if ctx is not None and run is not None and run.id == ctx.flow_run_id \
            and run.expected_start_time is not None:
        return run.expected_start_time
    return datetime.now(timezone.utc)


def _api_url(ctx: FlowRunContext | None) -> str | None:
    if ctx is None:
        return None
    from transom.settings import Settings

    base = Settings.load().api_url
    return None if not base else f"{base.rstrip('/')}/flow_runs/{ctx.flow_run_id}"


def _ui_url(ctx: FlowRunContext | None) -> str | None:
    """The run's page in the web UI of the server it reports to (None when it reports to the
    embedded database: no server is known to show it)."""
    if ctx is None:
        return None
    from transom.settings import Settings

    base = (Settings.load().api_url or "").rstrip("/")
    if not base:
        return None
    root = base[:-len("/api")] if base.endswith("/api") else base
    return f"{root}/runs/{ctx.flow_run_id}"


_GETTERS: dict[str, Any] = {
    "id": _id,
    "name": lambda ctx: None if ctx is None else ctx.name,
    "flow_name": lambda ctx: None if ctx is None else ctx.flow.name,
    "flow_version": lambda ctx: None if ctx is None else ctx.flow.version,
    "parameters": lambda ctx: {} if ctx is None else dict(ctx.parameters),
    "run_count": lambda ctx: 0 if ctx is None else ctx.run_count,
    # As recorded with the run: the flow's and those of the `tags(...)` blocks it started in.
    "tags": lambda ctx: [] if ctx is None else list(ctx.tags),
    "scheduled_start_time": _scheduled_start_time,
    "api_url": _api_url,
    "ui_url": _ui_url,
}


def __getattr__(name: str) -> Any:
    getter = _GETTERS.get(name)
    if getter is None:
        raise AttributeError(f"module 'transom.runtime.flow_run' has no attribute {name!r}")
    return getter(current_flow_run())


def __dir__() -> list[str]:
    return sorted(__all__)
