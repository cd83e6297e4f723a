"""`transom.artifacts`: what a run publishes for people to read, Prefect's functions.

    create_markdown_artifact("# Report\\nAll 3 loads done.", key="nightly-report")
    create_table_artifact([{"city": "Oslo", "rows": 10}], key="loads")
    create_link_artifact("https://example.com/data.csv", link_text="the data")
    progress = create_progress_artifact(0.0, key="import")
    update_progress_artifact(progress, 50.0)
    create_image_artifact("https://example.com/chart.png")

Each returns the artifact's id. A `key` (lowercase letters, digits and dashes) names an artifact
across runs: the same key again makes a new version, and the newest is what the key shows
(`transom artifact inspect KEY`). An artifact made inside a flow or task run is linked to it;
one made outside any run is linked to none (with a warning). An artifact holds at most
1,000,000 characters of JSON. As in Prefect, where an event loop runs (an `async def`) the
functions return an awaitable; the `a...` forms are always async.

An artifact is written at once through the backend (one write on the caller's thread), not
through the run's recorder: artifacts are few next to a run's events, the caller gets the id
back (`update_progress_artifact` needs the row), and the table has no foreign key to runs, so an
artifact written before its run's batch is delivered is no error.
"""

from __future__ import annotations

import asyncio
import logging
import math
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import pydantic

from transom.core.context import current_flow_run, current_task_run, in_event_loop
from transom.schemas import ArtifactCreate, ArtifactType, ArtifactUpdate, first_error

__all__ = [
    "acreate_image_artifact",
    "acreate_link_artifact",
    "acreate_markdown_artifact",
    "acreate_progress_artifact",
    "acreate_table_artifact",
    "aupdate_progress_artifact",
    "create_image_artifact",
    "create_link_artifact",
    "create_markdown_artifact",
    "create_progress_artifact",
    "create_table_artifact",
    "update_progress_artifact",
]

logger = logging.getLogger("transom.artifacts")



def _create(kind: ArtifactType, data: Any, key: str | None, description: str | None) -> uuid.UUID:
    from transom.services import open_backend

    task_run, flow_run = current_task_run(), current_flow_run()
    flow_run_id = task_run.flow_run_id if task_run is not None else (
        flow_run.flow_run_id if flow_run is not None else None)
    if task_run is None and flow_run is None:
        logger.warning("the %s artifact%s is made outside a flow or task run: it is linked to "
                       "no run", kind, f" {key!r}" if key else "")
    try:
        body = ArtifactCreate(key=key, type=kind, data=data, description=description,
                              flow_run_id=flow_run_id,
                              task_run_id=task_run.task_run_id if task_run else None)
    except pydantic.ValidationError as exc:
        raise ValueError(first_error(exc, "artifact")) from None
    with open_backend() as backend:
        return backend.create_artifact(body).id


def _progress(value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100:
        raise ValueError(f"progress is a percentage from 0 to 100, not {value!r}")
    return float(value)


def _cell(value: Any) -> Any:
    return None if isinstance(value, float) and math.isnan(value) else value  # as Prefect


def _table(table: Any) -> Any:
    """A list of dicts (rows), a dict of lists (columns) or a list of lists, NaN as None."""
    if isinstance(table, Mapping) and all(isinstance(v, Sequence) and not isinstance(v, str)
                                          for v in table.values()):
        return {str(k): [_cell(c) for c in v] for k, v in table.items()}
    if isinstance(table, Sequence) and not isinstance(table, str):
        if all(isinstance(row, Mapping) for row in table):
            return [{str(k): _cell(v) for k, v in row.items()} for row in table]
        if all(isinstance(row, Sequence) and not isinstance(row, str) for row in table):
            return [[_cell(c) for c in row] for row in table]
    raise ValueError("a table is a list of dicts (rows), a dict of lists (columns) or a list "
                     f"of lists, not {type(table).__name__}")


def _update(artifact_id: uuid.UUID, progress: float, description: str | None) -> uuid.UUID:
    from transom.services import open_backend

    try:
        artifact = uuid.UUID(str(artifact_id))
        body = ArtifactUpdate(data=_progress(progress), description=description)
    except pydantic.ValidationError as exc:
        raise ValueError(first_error(exc, "artifact")) from None
    except ValueError:
        raise ValueError(f"{artifact_id!r} is not an artifact id (a UUID)") from None
    with open_backend() as backend:
        return backend.update_artifact(artifact, body).id


# -- async ----------------------------------------------------------------------------------------
async def acreate_markdown_artifact(markdown: str, key: str | None = None,
                                    description: str | None = None) -> uuid.UUID:
    return await asyncio.to_thread(_create, "markdown", str(markdown), key, description)


async def acreate_table_artifact(table: Any, key: str | None = None,
                                 description: str | None = None) -> uuid.UUID:
    return await asyncio.to_thread(_create, "table", _table(table), key, description)


async def acreate_link_artifact(link: str, link_text: str | None = None, key: str | None = None,
                                description: str | None = None) -> uuid.UUID:
    data = {"link": str(link), "text": link_text}
    return await asyncio.to_thread(_create, "link", data, key, description)


async def acreate_progress_artifact(progress: float, key: str | None = None,
                                    description: str | None = None) -> uuid.UUID:
    return await asyncio.to_thread(_create, "progress", _progress(progress), key, description)


async def aupdate_progress_artifact(artifact_id: uuid.UUID, progress: float,
                                    description: str | None = None) -> uuid.UUID:
    return await asyncio.to_thread(_update, artifact_id, progress, description)


async def acreate_image_artifact(image_url: str, key: str | None = None,
                                 description: str | None = None) -> uuid.UUID:
    return await asyncio.to_thread(_create, "image", str(image_url), key, description)


# -- sync: typed as such; an awaitable inside async code, as Prefect's --------------------------
def create_markdown_artifact(markdown: str, key: str | None = None,
                             description: str | None = None) -> uuid.UUID:
    """A markdown report; its id."""
    if in_event_loop():
        return acreate_markdown_artifact(markdown, key, description)  # type: ignore[return-value]
    return _create("markdown", str(markdown), key, description)


def create_table_artifact(table: Any, key: str | None = None,
                          description: str | None = None) -> uuid.UUID:
    """A table: a list of dicts (rows), a dict of lists (columns) or a list of lists."""
    if in_event_loop():
        return acreate_table_artifact(table, key, description)  # type: ignore[return-value]
    return _create("table", _table(table), key, description)


def create_link_artifact(link: str, link_text: str | None = None, key: str | None = None,
                         description: str | None = None) -> uuid.UUID:
    """A link, shown as `link_text` when given."""
    if in_event_loop():
        return acreate_link_artifact(link, link_text, key, description)  # type: ignore[return-value]
    return _create("link", {"link": str(link), "text": link_text}, key, description)


def create_progress_artifact(progress: float, key: str | None = None,
                             description: str | None = None) -> uuid.UUID:
    """A progress bar (0 to 100), moved on with `update_progress_artifact`."""
    if in_event_loop():
        return acreate_progress_artifact(progress, key, description)  # type: ignore[return-value]
    return _create("progress", _progress(progress), key, description)


def update_progress_artifact(artifact_id: uuid.UUID, progress: float,
                             description: str | None = None) -> uuid.UUID:
    """Move a progress artifact to `progress` (0 to 100)."""
    if in_event_loop():
        return aupdate_progress_artifact(artifact_id, progress,  # type: ignore[return-value]
                                         description)
    return _update(artifact_id, progress, description)


def create_image_artifact(image_url: str, key: str | None = None,
                          description: str | None = None) -> uuid.UUID:
    """An image, by its URL."""
    if in_event_loop():
        return acreate_image_artifact(image_url, key, description)  # type: ignore[return-value]
    return _create("image", str(image_url), key, description)
