"""The web UI in a real headless Chromium (Debian's, driven by Playwright): what a user sees
and clicks, with no console error and no request to any host but the server."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from tests.server.conftest import LiveServer
from tests.support.seed import T0, flow_run, seed

try:
    from playwright.sync_api import Browser, expect, sync_playwright
except ImportError:
    if os.environ.get("TRANSOM_TEST_REQUIRE_BROWSER"):
        raise
    pytest.skip("playwright is not installed: pip install -e '.[test]'", allow_module_level=True)

CHROMIUM = os.environ.get("TRANSOM_TEST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not os.path.exists(CHROMIUM):
        if os.environ.get("TRANSOM_TEST_REQUIRE_BROWSER"):
            pytest.fail(f"no Chromium at {CHROMIUM}: apt-get install chromium")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM)
        yield chromium
        chromium.close()


class Watched:
    """A page, and what it did that a user should never see: console errors, uncaught
    exceptions, dialogs (an alert from injected script), requests to another host."""

    def __init__(self, browser: Browser, server: LiveServer, **options: Any) -> None:
        self.backend = server.server.config.app.state.backend
        self.origin = server.url.removesuffix("/api")
        self.context = browser.new_context(viewport={"width": 1280, "height": 800}, **options)
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.expected: list[str] = []
        self.hosts: set[str] = set()
        self.page.on("console", lambda m: m.type == "error" and self.problems.append(m.text))
        self.page.on("pageerror", lambda e: self.problems.append(str(e)))
        self.page.on("dialog", lambda d: (self.problems.append(f"dialog: {d.message}"), d.dismiss()))
        self.page.on("request", lambda r: self.hosts.add(urlsplit(r.url).netloc))

    def goto(self, path: str) -> None:
        self.page.goto(self.origin + path)

    def rows(self) -> list[str]:
        return list(self.page.locator("#runs tbody tr td:nth-child(2)").all_inner_texts())

    def screenshot(self, name: str) -> None:
        """A picture of the page for people to look at, kept when TRANSOM_TEST_ARTIFACTS names
        a folder (CI uploads it)."""
        folder = os.environ.get("TRANSOM_TEST_ARTIFACTS")
        if folder:
            os.makedirs(folder, exist_ok=True)
            self.page.screenshot(path=os.path.join(folder, f"{name}.png"), full_page=False,
                                 caret="initial")  # "hide" injects a style the CSP refuses

    def expect_console(self, text: str) -> None:
        """A console error the test causes on purpose (Chromium logs every 4xx it loads)."""
        self.expected.append(text)

    def check(self) -> None:
        problems = [p for p in self.problems if not any(e in p for e in self.expected)]
        assert not problems, problems
        assert self.hosts == {urlsplit(self.origin).netloc}, self.hosts
        self.context.close()


@pytest.fixture
def watched(browser: Browser,
            start_server: Callable[..., LiveServer]) -> Iterator[Callable[..., Watched]]:
    made: list[Watched] = []

    def make(**options: Any) -> Watched:
        server = start_server(server_services=False)
        made.append(Watched(browser, server, **options))
        return made[-1]

    yield make
    for w in made:
        w.check()


def test_the_list_pages_forward_and_back_and_keeps_its_filters(
        watched: Callable[..., Watched]) -> None:
    # Links and the filter form go through htmx (hx-boost): a page changes in place and the
    # URL is pushed, so every check after a click waits for what it expects (expect retries).
    w = watched()
    seed(w.backend, 120)
    w.goto("/runs")
    rows = w.rows()
    assert rows[0] == "run-00119" and len(rows) == 50
    expect(w.page.locator("#zone")).to_have_text(re.compile(r"^Times in "))
    w.screenshot("runs")
    first_link = w.page.locator("#runs td a").first
    w.page.evaluate("() => { document.querySelector('form.filters').dataset.kept = '1'; }")
    w.page.click("#older")
    w.page.wait_for_url("**/runs?after=*")
    expect(first_link).to_have_text("run-00069")
    # A pager link replaced the list alone (the filter form is the same element), and the
    # list's live stream follows the new page.
    assert w.page.evaluate("() => document.querySelector('form.filters').dataset.kept") == "1"
    expect(w.page.locator("#runs-live")).to_have_attribute("data-live", re.compile(r"after="))
    expect(w.page.locator("#runs-live")).to_have_attribute("data-stream", "open")
    w.page.click("#older")
    expect(w.page.locator("#runs tbody tr")).to_have_count(20)
    expect(w.page.locator("#runs td a").last).to_have_text("run-00000")
    w.page.click("#newer")
    w.page.wait_for_url("**/runs?before=*")
    expect(first_link).to_have_text("run-00069")
    w.page.go_back()
    expect(w.page.locator("#runs tbody tr")).to_have_count(20)
    w.page.go_back()
    expect(first_link).to_have_text("run-00069")
    # A filter is in the URL: kept on back and forward.
    w.page.select_option("select[name=state]", "FAILED")
    w.page.click("form.filters button")
    w.page.wait_for_url("**/runs?state=FAILED*")
    expect(w.page).to_have_title(re.compile(r"^Flow runs · Failed"))
    assert set(w.page.locator("#runs .state").all_inner_texts()) == {"Failed"}
    w.goto("/runs")
    w.page.go_back()
    w.page.wait_for_url("**state=FAILED*")
    expect(w.page.locator("select[name=state]")).to_have_value("FAILED")
    expect(w.page.locator("#count")).to_have_text("17 runs match")
    assert set(w.page.locator("#runs .state").all_inner_texts()) == {"Failed"}
    # Back and forward asked the server again: no copy of any page is kept in the browser.
    assert w.page.evaluate("() => sessionStorage.getItem('htmx-history-cache')") is None


def test_the_new_filters_go_in_the_url_and_come_back_on_back_and_forward(
        watched: Callable[..., Watched]) -> None:
    from transom.schemas import FlowRunCreate, WorkPoolCreate

    w = watched()
    seed(w.backend, 30)
    w.backend.create_work_pool(WorkPoolCreate(name="main"))
    for name in ("tagged-a", "tagged-b"):
        w.backend.create_flow_run(FlowRunCreate(flow_name="misc", name=name, tags=["eu"]))
    w.goto("/runs")
    expect(w.page.locator("select[name=pool] option")).to_have_text(["Any", "main"])
    w.page.fill("input[name=since]", "2026-01-05T09:10")
    w.page.fill("input[name=until]", "2026-01-05T09:20")
    w.page.fill("input[name=prefix]", "RUN-0001")
    w.page.click("form.filters button")
    w.page.wait_for_url(re.compile(r".*since=2026-01-05T09%3A10.*prefix=RUN-0001.*"))
    expect(w.page).to_have_title(re.compile(r"created from 2026-01-05 09:10 UTC"))
    expect(w.page.locator("#count")).to_have_text("10 runs match")
    w.page.fill("input[name=since]", "")
    w.page.fill("input[name=until]", "")
    w.page.fill("input[name=prefix]", "")
    w.page.fill("input[name=tag]", "eu")
    w.page.click("form.filters button")
    w.page.wait_for_url("**tag=eu*")
    expect(w.page.locator("#count")).to_have_text("2 runs match")
    assert sorted(w.rows()) == ["tagged-a", "tagged-b"]
    w.page.go_back()  # the time range and prefix again, in the form and the list
    w.page.wait_for_url("**prefix=RUN-0001*")
    expect(w.page.locator("input[name=since]")).to_have_value("2026-01-05T09:10")
    expect(w.page.locator("input[name=prefix]")).to_have_value("RUN-0001")
    expect(w.page.locator("#count")).to_have_text("10 runs match")
    w.page.go_forward()
    w.page.wait_for_url("**tag=eu*")
    expect(w.page.locator("input[name=tag]")).to_have_value("eu")
    expect(w.page.locator("#count")).to_have_text("2 runs match")


def test_a_run_page_shows_its_task_runs_logs_and_error(watched: Callable[..., Watched]) -> None:
    w = watched(timezone_id="Asia/Tokyo", locale="en-US")
    run_id, events = flow_run("etl", "<script>alert(1)</script>", created=T0, failed=True,
                              tasks=4, logs=300)
    w.backend.send_events(events)
    w.goto("/runs")
    w.page.click("#runs td a")
    w.page.wait_for_url(f"**/runs/{run_id}")
    expect(w.page).to_have_title("<script>alert(1)</script> · Failed · Transom")
    expect(w.page.locator("h1")).to_have_text(re.compile(r"^<script>alert\(1\)</script>"))
    expect(w.page.locator("#task-runs tbody tr")).to_have_count(4)
    expect(w.page.locator("#logs tbody tr")).to_have_count(200)
    expect(w.page.locator("#logs")).to_contain_text("line 299 of")
    expect(w.page.locator("#error")).to_contain_text("the input file is empty")
    # Times come in UTC and are shown in the browser's zone, named (T0 is 09:00 UTC).
    expect(w.page.locator("#states time").last).to_have_text("2026-01-05 18:00:03 GMT+9")
    expect(w.page.locator("#zone")).to_have_text("Times in GMT+9")
    w.screenshot("run")
    w.page.click("#earlier")
    w.page.wait_for_url("**logs_from=0*")
    expect(w.page.locator("#logs")).to_contain_text("line 0 of")
    expect(w.page.locator("#logs")).not_to_contain_text("line 299 of")


def test_a_running_run_s_logs_grow_live_and_the_stream_ends_with_the_run(
        watched: Callable[..., Watched]) -> None:
    import time
    import uuid

    from transom.core import states as st
    from transom.core.recorder import FlowRunCreated, LogRecorded, StateChanged

    w = watched(timezone_id="UTC")
    run_id = uuid.uuid4()
    w.backend.send_events([FlowRunCreated(run_id, "etl", "live", {}, created=T0, process=None),
                           StateChanged(run_id, False, st.Running(), 1)])
    w.goto(f"/runs/{run_id}")
    expect(w.page.locator("#no-logs")).to_have_text("No log lines yet.")
    expect(w.page.locator("#logs")).to_have_attribute("data-following", "1")
    written = time.monotonic()
    w.backend.send_events([LogRecorded(run_id, None, 40, "transom.flow_runs",
                                       "\x1b[31mdisk full\x1b[0m, see https://example.org/disk", T0)])
    expect(w.page.locator("#logs tbody tr")).to_have_count(1)
    shown_after = time.monotonic() - written
    print(f"\na new log line was on the page {shown_after:.2f} s after it was written")
    expect(w.page.locator("#logs .a-f1")).to_have_text("disk full")
    expect(w.page.locator("#logs a[href='https://example.org/disk']")).to_have_count(1)
    expect(w.page.locator("#no-logs")).to_have_count(0)
    w.backend.send_events([StateChanged(run_id, False, st.Completed(), 1)])
    expect(w.page.locator("#live-note")).to_have_text("The run is over: every line is shown.")


def test_a_running_run_is_cancelled_by_its_page_s_button_and_its_parameters_copied(
        watched: Callable[..., Watched]) -> None:
    import uuid

    from transom.core import states as st
    from transom.core.recorder import FlowRunCreated, StateChanged

    w = watched(timezone_id="UTC", permissions=["clipboard-read", "clipboard-write"])
    run_id = uuid.uuid4()
    w.backend.send_events([FlowRunCreated(run_id, "etl", "busy", {"day": "2026-01-05"},
                                          created=T0, process=None),
                           StateChanged(run_id, False, st.Running(), 1)])
    w.goto(f"/runs/{run_id}")
    expect(w.page.locator("#states li")).to_have_count(1)
    expect(w.page.locator("#states li.s-RUNNING")).to_contain_text("Running")
    w.page.click("#copy-parameters")  # shown by transom.js
    expect(w.page.locator("#copy-parameters")).to_have_text("Copied")
    assert w.page.evaluate("navigator.clipboard.readText()") == '{\n  "day": "2026-01-05"\n}'
    w.page.click("#cancel")
    expect(w.page.locator("#notice")).to_have_text("The run is Cancelled.")
    expect(w.page.locator("h1 .state")).to_have_text("Cancelled")
    expect(w.page.locator("#cancel")).to_have_count(0)
    expect(w.page.locator("#states li")).to_have_count(2)
    assert w.backend.read_flow_run(run_id).state_name == "Cancelled"


def test_the_timeline_draws_ten_thousand_task_runs_and_opens_one_on_click(
        watched: Callable[..., Watched]) -> None:
    w = watched()
    run_id, events = flow_run("etl", "huge", created=T0, tasks=10_000)
    w.backend.send_events(events)
    w.goto(f"/runs/{run_id}")
    expect(w.page.locator("#timeline")).to_have_attribute("data-drawn", "10000", timeout=20_000)
    # Time a repaint of all 10,000 at full zoom, in the page (what a zoom or pan costs).
    took = w.page.evaluate("""() => new Promise(done => {
        const canvas = document.querySelector('#timeline canvas');
        const t0 = performance.now();
        canvas.dispatchEvent(new MouseEvent('dblclick', {bubbles: true}));
        requestAnimationFrame(() => requestAnimationFrame(() => done(performance.now() - t0)));
    })""")
    print(f"\na repaint of the 10,000-task timeline took {took:.1f} ms (two frames included)")
    box = w.page.locator("#timeline canvas").bounding_box()
    assert box is not None and box["height"] > 20
    # The first task run starts at the left edge, in the first lane.
    w.page.mouse.move(box["x"] + 1, box["y"] + 2)
    expect(w.page.locator("#timeline .tip")).to_contain_text("step-0 · completed · 5 ms")
    w.page.mouse.wheel(0, -400)  # zoom in around the pointer; nothing breaks
    w.page.mouse.click(box["x"] + 1, box["y"] + 2)
    w.page.wait_for_url("**/task-runs/*")
    assert re.search(r"/task-runs/[0-9a-f-]{36}$", w.page.url)


def test_the_runs_list_shows_a_new_run_without_a_reload(watched: Callable[..., Watched]) -> None:
    import time
    import uuid
    from datetime import timedelta

    from transom.core import states as st
    from transom.core.recorder import FlowRunCreated, StateChanged

    w = watched()
    seed(w.backend, 5)
    w.goto("/runs")
    expect(w.page.locator("#runs-live")).to_have_attribute("data-following", "1")
    run_id = uuid.uuid4()
    written = time.monotonic()
    w.backend.send_events([FlowRunCreated(run_id, "etl", "just-now", {},
                                          created=T0 + timedelta(days=1), process=None),
                           StateChanged(run_id, False, st.Running(), 1)])
    expect(w.page.locator("#runs td a").first).to_have_text("just-now", timeout=10_000)
    print(f"\na new run was in the list {time.monotonic() - written:.2f} s after it was recorded")
    expect(w.page.locator("#count")).to_have_text("6 runs")
    w.page.click("#runs td a >> text=just-now")  # links in the new part work as before
    w.page.wait_for_url(f"**/runs/{run_id}")


def test_runs_are_selected_and_cancelled_together_and_the_list_waits_meanwhile(
        watched: Callable[..., Watched]) -> None:
    import uuid
    from datetime import timedelta

    from transom.core import states as st
    from transom.core.recorder import FlowRunCreated, StateChanged

    w = watched()
    ids = []
    for i in range(3):
        run_id = uuid.uuid4()
        ids.append(run_id)
        w.backend.send_events([FlowRunCreated(run_id, "etl", f"busy-{i}", {},
                                              created=T0 + timedelta(minutes=i), process=None),
                               StateChanged(run_id, False, st.Running(), 1)])
    w.goto("/runs")
    expect(w.page.locator("#runs-live")).to_have_attribute("data-following", "1")
    w.page.check("#pick-all")
    expect(w.page.locator("#selected")).to_have_text("3 selected")
    # A change while runs are selected does not clear the selection.
    later = uuid.uuid4()
    w.backend.send_events([FlowRunCreated(later, "etl", "newcomer", {},
                                          created=T0 + timedelta(hours=1), process=None)])
    w.page.wait_for_timeout(2500)
    expect(w.page.locator("input[name=run]:checked")).to_have_count(3)
    w.page.select_option("select[name=action]", "cancel")
    w.page.click("#bulk button")
    expect(w.page.locator("#notice")).to_have_text("3 runs cancelled.")
    assert {w.backend.read_flow_run(i).state_name for i in ids} == {"Cancelled"}
    expect(w.page.locator("#runs td a").first).to_have_text("newcomer")


def test_the_dashboard_draws_its_chart_from_the_server_buckets(
        watched: Callable[..., Watched]) -> None:
    from datetime import datetime, timedelta, timezone

    w = watched(timezone_id="Asia/Tokyo", locale="en-US")
    seed(w.backend, 40, start=datetime.now(timezone.utc) - timedelta(hours=3))
    w.goto("/runs")
    w.page.click("header.top nav.main a[href='/']")  # a boosted visit: uPlot loads with the page
    w.page.wait_for_url(re.compile(r"/$"))
    expect(w.page).to_have_title("Dashboard · last 24 hours · Transom")
    canvas = w.page.locator("#chart canvas")
    expect(canvas).to_have_count(1)
    box = canvas.bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 100
    expect(w.page.locator("#chart .u-legend")).to_contain_text("Failed")
    # Bars were drawn: pixels of the Completed colour (--ok, #067647) and of Failed (--bad,
    # #b42318), not only axes and grid.
    painted = w.page.evaluate("""() => {
        const c = document.querySelector('#chart canvas');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        const near = (i, r, g, b) => Math.abs(d[i] - r) + Math.abs(d[i + 1] - g) +
                                     Math.abs(d[i + 2] - b) < 30 && d[i + 3] > 200;
        let ok = 0, bad = 0;
        for (let i = 0; i < d.length; i += 4) {
            if (near(i, 6, 118, 71)) ok++; else if (near(i, 180, 35, 24)) bad++;
        }
        return [ok, bad]; }""")
    assert painted[0] > 100 and painted[1] > 10, painted
    # Times come in UTC and are shown in the browser's zone, named.
    expect(w.page.locator("#failures time").first).to_have_text(re.compile(r" GMT\+9$"))
    expect(w.page.locator("#zone")).to_have_text("Times in GMT+9")
    w.screenshot("dashboard")
    w.page.click("#window-7d")
    w.page.wait_for_url("**/?window=7d")
    expect(w.page.locator("#chart canvas")).to_have_count(1)
    expect(w.page.locator("#failures tbody tr")).to_have_count(6)  # i % 7 == 3 of 40


def test_a_deployment_runs_from_its_form_and_a_refusal_is_shown_in_it(
        watched: Callable[..., Watched]) -> None:
    from transom.schemas import DeploymentCreate, WorkPoolCreate

    w = watched()
    w.backend.create_work_pool(WorkPoolCreate(name="main"))
    w.backend.upsert_deployment(DeploymentCreate(
        flow_name="etl", name="nightly", entrypoint="flows/etl.py:etl", work_pool="main",
        parameter_schema={"type": "object", "required": ["who"], "properties": {
            "who": {"type": "string"}, "count": {"type": "integer", "default": 3}}}))
    w.goto("/deployments")
    w.page.click("#deployments a:text('nightly')")
    expect(w.page).to_have_title("etl/nightly · deployment · Transom")
    expect(w.page.locator("input[name='p.count']")).to_have_value("3")
    w.page.fill("input[name='p.who']", "Ada")
    w.page.fill("input[name='p.count']", "three")
    w.expect_console("the server responded with a status of 422")
    w.page.click("#run-button")
    expect(w.page.locator("#problem")).to_have_text(
        "Parameter 'count' must be a whole number, not 'three'.")
    expect(w.page.locator("input[name='p.who']")).to_have_value("Ada")  # kept
    w.screenshot("deployment")
    w.page.fill("input[name='p.count']", "7")
    w.page.click("#run-button")
    w.page.wait_for_url(re.compile(r"/runs/[0-9a-f-]{36}$"))
    expect(w.page).to_have_title(re.compile(r" · Scheduled · Transom$"))
    expect(w.page.locator("#parameters")).to_contain_text('"who": "Ada"')
    expect(w.page.locator("#parameters")).to_contain_text('"count": 7')
    expect(w.page.locator("#waiting")).to_contain_text("no worker of work pool 'main' is online",
                                                       ignore_case=True)


def test_a_boosted_link_to_a_missing_run_shows_the_error_page(
        watched: Callable[..., Watched]) -> None:
    # htmx swaps no 4xx answer by default: a click would seem to do nothing. Every answer of a
    # page is a whole page, so base.html has it swapped in like any other.
    w = watched()
    seed(w.backend, 3)
    w.goto("/runs")
    w.page.evaluate("""() => {
        const a = document.createElement('a');
        a.id = 'gone'; a.href = '/runs/0123456789abcdef'; a.textContent = 'gone';
        document.querySelector('main').append(a); window.htmx.process(a); }""")
    w.expect_console("the server responded with a status of 404")
    w.page.click("#gone")
    w.page.wait_for_url("**/runs/0123456789abcdef")
    expect(w.page.locator("h1")).to_have_text("No such flow run")
    expect(w.page).to_have_title("No such flow run · Transom")
    expect(w.page.locator("main p").first).to_contain_text("no flow run has an id starting with")


def test_an_artifact_page_renders_a_markdown_table_and_loads_nothing_from_elsewhere(
        watched: Callable[..., Watched]) -> None:
    from transom.schemas import ArtifactCreate

    w = watched()
    w.backend.create_artifact(ArtifactCreate(key="sales", type="markdown", data=(
        "# Sales\n\n| region | total |\n|---|---|\n| north | 10 |\n| south | 7 |\n\n"
        "<img src=\"https://elsewhere.example/raw.png\" onerror=\"alert(1)\"><script>alert(2)</script>\n\n"
        "![chart](https://elsewhere.example/chart.png) [docs](https://elsewhere.example/docs)")))
    w.goto("/runs")
    w.page.click("header >> text=Artifacts")
    w.page.wait_for_url("**/artifacts")
    w.page.click("#artifacts td a")
    w.page.wait_for_url("**/artifacts/sales")
    expect(w.page).to_have_title("sales · Artifact · Transom")
    table = w.page.locator("#content table")
    expect(table.locator("th")).to_have_text(["region", "total"])
    expect(table.locator("tbody tr")).to_have_count(2)
    expect(table.locator("tbody tr").first.locator("td")).to_have_text(["north", "10"])
    expect(w.page.locator("#content img")).to_have_count(0)
    expect(w.page.locator("#content")).to_contain_text('<img src="https://elsewhere.example/raw.png"')
    expect(w.page.locator("#content a", has_text="chart")).to_have_attribute(
        "href", "https://elsewhere.example/chart.png")
    w.screenshot("artifact")


def test_under_a_path_prefix_every_click_stays_under_it(
        browser: Browser, start_server: Callable[..., LiveServer]) -> None:
    # As behind a reverse proxy at /ops/transom that passes the prefix on.
    server = start_server(server_services=False, server_root_path="/ops/transom")
    w = Watched(browser, server)
    w.origin += "/ops/transom"
    run_id, events = flow_run("etl", "nightly", created=T0, failed=True, tasks=20, logs=30)
    w.backend.send_events(events)
    try:
        w.goto("/")
        w.page.click("nav.main a >> text=Flow runs")  # boosted by htmx
        w.page.wait_for_url("**/ops/transom/runs")
        w.page.click("#runs td a >> text=nightly")
        w.page.wait_for_url(f"**/ops/transom/runs/{run_id}")
        expect(w.page.locator("#logs tbody tr")).to_have_count(30)
        # The timeline's script builds its links itself: under the prefix too.
        expect(w.page.locator("#timeline")).to_have_attribute("data-drawn", "20", timeout=20_000)
        box = w.page.locator("#timeline canvas").bounding_box()
        assert box is not None
        w.page.mouse.click(box["x"] + 1, box["y"] + 2)
        w.page.wait_for_url("**/ops/transom/task-runs/*")
        w.page.go_back()
        w.page.click("#first-error")
        w.page.wait_for_url(f"**/ops/transom/runs/{run_id}?*")
    finally:
        w.check()


def _set_visible(w: Watched, visible: bool) -> None:
    """As when the tab goes to the background (or comes back): the document says it is hidden
    and fires `visibilitychange` (headless Chromium never hides a page by itself)."""
    w.page.evaluate("""hidden => {
        if (hidden) {
            Object.defineProperty(document, 'visibilityState', {value: 'hidden', configurable: true});
            Object.defineProperty(document, 'hidden', {value: true, configurable: true});
        } else {  // the prototype's own getters again
            delete document.visibilityState;
            delete document.hidden;
        }
        document.dispatchEvent(new Event('visibilitychange'));
    }""", not visible)


class Requests:
    """The page's requests to the server, and which of them have ended (a closed EventSource
    ends its request)."""

    def __init__(self, w: Watched) -> None:
        self.urls: list[str] = []
        self.ended: list[str] = []
        w.page.on("request", lambda r: self.urls.append(r.url))
        w.page.on("requestfinished", lambda r: self.ended.append(r.url))
        w.page.on("requestfailed", lambda r: self.ended.append(r.url))

    def wait_ended(self, w: Watched, part: str) -> None:
        for _ in range(50):
            if any(part in url for url in self.ended):
                return
            w.page.wait_for_timeout(100)
        raise AssertionError(f"no request to {part} ended: {self.ended}")


def test_a_hidden_tab_closes_its_log_tail_and_catches_up_when_shown(
        watched: Callable[..., Watched]) -> None:
    import uuid

    from transom.core import states as st
    from transom.core.recorder import FlowRunCreated, LogRecorded, StateChanged

    w = watched(timezone_id="UTC")
    run_id = uuid.uuid4()
    w.backend.send_events([FlowRunCreated(run_id, "etl", "live", {}, created=T0, process=None),
                           StateChanged(run_id, False, st.Running(), 1)])
    requests = Requests(w)
    w.goto(f"/runs/{run_id}")
    logs = w.page.locator("#logs")
    expect(logs).to_have_attribute("data-stream", "open")
    w.backend.send_events([LogRecorded(run_id, None, 20, "etl", "before hiding", T0)])
    expect(w.page.locator("#logs tbody tr")).to_have_count(1)
    first_id = w.page.locator("#logs tbody tr").first.get_attribute("id")
    assert first_id and first_id.startswith("log-")

    _set_visible(w, False)
    expect(logs).to_have_attribute("data-stream", "closed")
    requests.wait_ended(w, "/logs/live")
    made = len(requests.urls)
    w.backend.send_events([LogRecorded(run_id, None, 20, "etl", "written while hidden", T0)])
    w.page.wait_for_timeout(4000)  # the server sends a line within a second to an open tail
    assert requests.urls[made:] == []  # no request at all while hidden
    expect(w.page.locator("#logs tbody tr")).to_have_count(1)

    _set_visible(w, True)
    expect(logs).to_have_attribute("data-stream", "open")
    expect(w.page.locator("#logs tbody tr")).to_have_count(2)
    expect(w.page.locator("#logs tbody tr >> text=written while hidden")).to_have_count(1)
    assert [u for u in requests.urls[made:] if "/logs/live" in u] == [
        f"{w.origin}/runs/{run_id}/logs/live?after_id={first_id.removeprefix('log-')}"]
    w.page.wait_for_timeout(1500)  # and nothing comes twice
    expect(w.page.locator("#logs tbody tr")).to_have_count(2)
    w.backend.send_events([StateChanged(run_id, False, st.Completed(), 1)])
    expect(w.page.locator("#live-note")).to_have_text("The run is over: every line is shown.")
    expect(logs).to_have_attribute("data-stream", "closed")
    _set_visible(w, False)
    _set_visible(w, True)  # a tail that ended stays closed
    w.page.wait_for_timeout(500)
    expect(logs).to_have_attribute("data-stream", "closed")


def test_a_hidden_tab_closes_the_runs_list_stream_and_gets_the_list_only_if_it_changed(
        watched: Callable[..., Watched]) -> None:
    import uuid
    from datetime import timedelta

    from transom.core.recorder import FlowRunCreated

    w = watched()
    seed(w.backend, 5)
    requests = Requests(w)
    w.goto("/runs")
    box = w.page.locator("#runs-live")
    expect(box).to_have_attribute("data-stream", "open")
    _set_visible(w, False)
    expect(box).to_have_attribute("data-stream", "closed")
    requests.wait_ended(w, "/runs/live")
    made = len(requests.urls)
    w.backend.send_events([FlowRunCreated(uuid.uuid4(), "etl", "while-hidden", {},
                                          created=T0 + timedelta(days=1), process=None)])
    w.page.wait_for_timeout(3000)
    assert requests.urls[made:] == []
    assert box.get_attribute("data-updated") is None  # not sent to a closed stream
    _set_visible(w, True)
    expect(w.page.locator("#runs td a").first).to_have_text("while-hidden", timeout=10_000)
    updated = box.get_attribute("data-updated")
    # Hidden and shown again with nothing changed: the stream opens with the digest of what
    # the page shows (the last event's id), and no list comes.
    _set_visible(w, False)
    expect(box).to_have_attribute("data-stream", "closed")
    _set_visible(w, True)
    expect(box).to_have_attribute("data-stream", "open")
    live = [u for u in requests.urls if "/runs/live" in u]
    # The first reopening still had the page's own digest (no event had come); the second the
    # new list's.
    assert len(live) == 3 and live[0] == live[1] != live[2], live
    w.page.wait_for_timeout(2500)  # the server looks once a second
    assert box.get_attribute("data-updated") == updated
