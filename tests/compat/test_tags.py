"""`tags("a", "b")` (transom.core.tags) as Prefect's context manager: the tags in effect are added
to the flow runs and task runs created inside the block; blocks nest."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from transom import flow, task
from transom.core.context import current_flow_run, current_task_run
from transom.core.tags import current_tags, tags


@task(tags=["db"])
def query() -> list[str]:
    ctx = current_task_run()
    assert ctx is not None
    return ctx.tags


@flow(tags=["nightly"])
def pipeline() -> list[str]:
    with tags("inner"):
        query()
    query.submit().wait()
    ctx = current_flow_run()
    assert ctx is not None
    return ctx.tags


def test_tags_in_effect_are_added_to_the_runs_created_inside(runtime: Any) -> None:
    with tags("prod", "eu") as now:
        assert now == {"prod", "eu"}
        assert pipeline() == ["nightly", "prod", "eu"]
    (flow_run,) = runtime.flow_runs()
    assert flow_run.tags == ["nightly", "prod", "eu"]
    assert sorted(r.tags for r in runtime.task_runs("query")) == [
        ["db", "prod", "eu"], ["db", "prod", "eu", "inner"]]


def test_blocks_nest_and_end(runtime: Any) -> None:
    assert current_tags() == ()
    with tags("a"):
        with tags("b", "a") as inner:
            assert inner == {"a", "b"} and current_tags() == ("a", "b")
            query()
        assert current_tags() == ("a",)
    assert current_tags() == ()
    query()
    first, second = runtime.task_runs("query")
    assert first.tags == ["db", "a", "b"] and second.tags == ["db"]


def test_a_runs_own_tags_are_not_changed(runtime: Any) -> None:
    with tags("extra"):
        query()
    assert query.tags == ["db"] and pipeline.tags == ["nightly"]


def test_tags_reach_hooks_and_async_runs(runtime: Any) -> None:
    seen: list[list[str]] = []

    @flow(on_completion=[lambda f, run, s: seen.append(run.tags)])
    async def job() -> None:
        await asyncio.sleep(0)

    async def main() -> None:
        with tags("async"):
            await job()

    asyncio.run(main())
    assert seen == [["async"]]


def test_a_tag_must_be_a_string() -> None:
    with pytest.raises(TypeError, match="a tag must be a string, got 3"):
        with tags("ok", 3):  # type: ignore[arg-type]
            pass
    with pytest.raises(TypeError, match="takes a list of tags, not one string"):
        task(tags="db")(lambda: None)
    with pytest.raises(TypeError, match="a tag must be a string"):
        flow(tags=[object()])(lambda: None)  # type: ignore[list-item]
