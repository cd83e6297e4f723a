"""`transom.artifacts` as Prefect 3 documents it (docs: "Artifacts", api-ref prefect.artifacts):
each function returns the artifact's id; a key (lowercase letters, numbers and dashes) gives
versions, the newest shown; artifacts are linked to the flow or task run that made them; the
three table forms; progress updated in place; and the same with a server (TRANSOM_API_URL)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server.conftest import LiveServer
from transom import flow, task
from transom.artifacts import (
    acreate_markdown_artifact,
    create_image_artifact,
    create_link_artifact,
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from transom.core.context import reset_runtime
from transom.services import Backend, open_backend
from transom.settings import Settings
from transom.testing.utilities import transom_test_harness


@pytest.fixture(params=["embedded", "server"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """Artifacts in the harness's embedded database, or in a live server's (on SQLite); the
    backend the test reads them back through."""
    with transom_test_harness() as home:
        if request.param == "embedded":
            with open_backend() as embedded:
                assert str(home) in embedded.where
                yield embedded
            return
        server = LiveServer(Settings.load({}, home=tmp_path / "server",
                                          database_url=f"sqlite:///{tmp_path / 'server.db'}",
                                          server_services=False))
        server.start()
        mp = pytest.MonkeyPatch()
        mp.setenv("TRANSOM_API_URL", server.url)
        try:
            with open_backend() as client:
                assert client.where == server.url
                yield client
        finally:
            reset_runtime()  # the runs' events go to the server before it stops
            mp.undo()
            server.stop()


def test_a_key_makes_versions_and_the_newest_is_shown(backend: Backend) -> None:
    first = create_markdown_artifact("# Sales\nv1", key="sales-report", description="weekly")
    second = create_markdown_artifact("# Sales\nv2", key="sales-report")
    assert isinstance(first, uuid.UUID) and first != second
    shown = backend.read_artifact("sales-report")
    assert (shown.id, shown.data, shown.type, shown.version) == (second, "# Sales\nv2",
                                                                "markdown", 2)
    assert [a.id for a in backend.list_artifacts(key="sales-report")] == [second, first]
    with pytest.raises(ValueError, match="lowercase letters, digits and dashes"):
        create_markdown_artifact("x", key="Sales_Report")


def test_artifacts_are_linked_to_the_runs_that_made_them(backend: Backend) -> None:
    @task
    def extract() -> uuid.UUID:
        return create_table_artifact([{"id": 1, "ok": True}], key="extracted")

    @flow
    def pipeline() -> tuple[uuid.UUID, uuid.UUID]:
        link = create_link_artifact("https://example.com/data.csv", link_text="the data",
                                    key="my-important-link")
        return link, extract()

    state = pipeline(return_state=True)
    link_id, table_id = state.result()
    link = backend.read_artifact("my-important-link")
    table = backend.read_artifact("extracted")
    assert (link.id, link.flow_run_id, link.task_run_id) == (link_id, state.run_id, None)
    assert link.data == {"link": "https://example.com/data.csv", "text": "the data"}
    assert (table.id, table.flow_run_id) == (table_id, state.run_id)
    assert table.task_run_id is not None and table.task_run_id != state.run_id
    assert {a.id for a in backend.list_artifacts(flow_run_id=state.run_id)} == {link_id,
                                                                               table_id}


def test_outside_a_run_an_artifact_is_made_with_a_warning(
        backend: Backend, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="transom.artifacts"):
        made = create_image_artifact("https://example.com/chart.png", key="chart")
    assert "outside a flow or task run" in caplog.text
    chart = backend.read_artifact("chart")
    assert (chart.id, chart.type, chart.flow_run_id) == (made, "image", None)


def test_the_three_table_forms(backend: Backend) -> None:
    rows = [{"name": "a", "score": 1.5}, {"name": "b", "score": float("nan")}]
    columns = {"name": ["a", "b"], "score": [1.5, float("nan")]}
    grid = [["a", 1.5], ["b", float("nan")]]
    for key, table in (("rows", rows), ("columns", columns), ("grid", grid)):
        create_table_artifact(table, key=key)
    # NaN is no JSON: stored as None, as Prefect does.
    assert backend.read_artifact("rows").data == [{"name": "a", "score": 1.5},
                                                  {"name": "b", "score": None}]
    assert backend.read_artifact("columns").data == {"name": ["a", "b"], "score": [1.5, None]}
    assert backend.read_artifact("grid").data == [["a", 1.5], ["b", None]]
    with pytest.raises(ValueError, match="a table is a list of dicts"):
        create_table_artifact("not a table")


def test_progress_is_updated_in_place(backend: Backend) -> None:
    @flow
    def long_job() -> uuid.UUID:
        progress = create_progress_artifact(0.0, key="import-progress")
        for done in (25, 50, 100):
            update_progress_artifact(progress, done)
        return progress

    progress = long_job()
    shown = backend.read_artifact("import-progress")
    assert (shown.id, shown.data, shown.version) == (progress, 100.0, 1)
    with pytest.raises(ValueError, match="from 0 to 100"):
        create_progress_artifact(101)
    with pytest.raises(ValueError, match="not an artifact id"):
        update_progress_artifact("nope", 5)  # type: ignore[arg-type]


def test_size_is_capped(backend: Backend) -> None:
    with pytest.raises(ValueError, match="at most 1000000 characters as JSON"):
        create_markdown_artifact("x" * 1_000_000, key="huge")
    assert backend.list_artifacts(key="huge") == []


def test_in_async_code_the_functions_are_awaited(backend: Backend) -> None:
    @flow
    async def async_report() -> list[uuid.UUID]:
        return [await create_markdown_artifact("sync name", key="async-report"),
                await acreate_markdown_artifact("async name", key="async-report")]

    made = asyncio.run(async_report())
    assert [a.id for a in backend.list_artifacts(key="async-report")] == made[::-1]
