"""A deployment's pause button and "Run again with these parameters" in a real headless
Chromium (test_ui_browser.py's fixtures: no console error, no request to another host)."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

# test_ui_browser.py skips its module without playwright, and so this one with it.
from tests.server.test_ui_browser import Watched, browser, expect, watched  # noqa: F401 (fixtures)

from transom.schemas import DeploymentCreate, DeploymentRunCreate, WorkPoolCreate

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def test_a_deployment_is_paused_from_its_page_and_run_again_from_a_run(
        watched: Callable[..., Watched]) -> None:  # noqa: F811 (the fixture)
    w = watched()
    w.backend.create_work_pool(WorkPoolCreate(name="main"))
    deployment = w.backend.upsert_deployment(DeploymentCreate(
        flow_name="etl", name="nightly", entrypoint="flows/etl.py:etl", work_pool="main",
        parameter_schema={"type": "object", "required": ["who"], "properties": {
            "who": {"type": "string"}, "count": {"type": "integer", "default": 3}}}))
    w.goto(f"/deployments/{deployment.id}")
    expect(w.page.locator("#paused")).to_have_text("Active")
    w.page.click("#pause-button")
    expect(w.page.locator("#paused")).to_have_text("Paused")
    expect(w.page.locator("#notice")).to_contain_text("Paused: its schedules make no run")
    expect(w.page.locator("#pause-button")).to_have_text("Resume")
    w.screenshot("deployment-paused")
    assert w.backend.read_deployment(deployment.id).paused

    first = w.backend.create_deployment_run(deployment.id, DeploymentRunCreate(
        parameters={"who": "Ada", "count": 9}))
    w.goto(f"/runs/{first.id}")
    w.page.click("text=Run again with these parameters")
    w.page.wait_for_url(re.compile(rf"/deployments/{deployment.id}\?from_run={first.id}"))
    expect(w.page.locator("input[name='p.who']")).to_have_value("Ada")
    expect(w.page.locator("input[name='p.count']")).to_have_value("9")
    expect(w.page.locator("#from-run")).to_contain_text(f"parameters of flow run '{first.name}'")
    w.screenshot("deployment-run-again")
    w.page.fill("input[name='p.count']", "10")
    w.page.click("#run-button")
    w.page.wait_for_url(re.compile(r"/runs/[0-9a-f-]{36}$"))
    assert not w.page.url.endswith(str(first.id))
    expect(w.page.locator("#parameters")).to_contain_text('"who": "Ada"')
    expect(w.page.locator("#parameters")).to_contain_text('"count": 10')
    runs = w.backend.deployment_runs(deployment.id)
    assert [r.parameters for r in runs] == [{"who": "Ada", "count": 10},
                                           {"who": "Ada", "count": 9}]
