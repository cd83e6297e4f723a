"""The header's display choices in a real headless Chromium: times in UTC or the browser's
zone on a 24- or 12-hour clock, a light / dark / auto theme, each kept across pages and
reloads; and pages that fit a phone's narrow window (390 px) with no sideways scrolling."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from tests.server import test_ui_browser as _browser_tests
from tests.server.test_ui_browser import Watched
from tests.support.seed import T0, flow_run, seed

from transom.core import states as st
from transom.core.recorder import FlowRunCreated, StateChanged
from transom.schemas import ArtifactCreate, ConcurrencyLimitCreate

from playwright.sync_api import expect  # isort: skip (test_ui_browser skips without it)

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
browser = _browser_tests.browser  # the fixtures: Debian's Chromium, and a watched page in it
watched = _browser_tests.watched
TOKYO = ZoneInfo("Asia/Tokyo")


def _shown(w: Watched, selector: str) -> tuple[datetime, str]:
    """The moment a <time> stands for (its datetime attribute) and the text it shows."""
    el = w.page.locator(selector).first
    return datetime.fromisoformat(str(el.get_attribute("datetime"))), el.inner_text()


def _h12(moment: datetime) -> str:
    return f"{moment.hour % 12 or 12}:{moment:%M:%S} {'AM' if moment.hour < 12 else 'PM'}"


def test_the_toggles_show_times_in_utc_or_local_on_either_clock_and_are_kept(
        watched: Callable[..., Watched]) -> None:
    w = watched(timezone_id="Asia/Tokyo", locale="en-US")
    run_id, events = flow_run("etl", "nightly", created=T0, tasks=2, logs=3)
    w.backend.send_events(events)
    seed(w.backend, 5)
    w.goto("/runs")
    expect(w.page.locator("#pref-zone")).to_be_visible()  # shown once the script runs
    moment, text = _shown(w, "#runs time")
    assert text == f"{moment.astimezone(TOKYO):%Y-%m-%d %H:%M:%S} GMT+9"
    expect(w.page.locator("#zone")).to_have_text("Times in GMT+9")
    expect(w.page.locator("#pref-zone")).to_have_attribute("aria-pressed", "false")

    w.page.click("#pref-zone")
    expect(w.page.locator("#runs time").first).to_have_text(f"{moment:%Y-%m-%d %H:%M:%S} UTC")
    expect(w.page.locator("#zone")).to_have_text("Times in UTC")
    expect(w.page.locator("#pref-zone")).to_have_attribute("aria-pressed", "true")
    w.page.click("#pref-clock")
    expect(w.page.locator("#runs time").first).to_have_text(
        f"{moment:%Y-%m-%d} {_h12(moment)} UTC")
    expect(w.page.locator("#pref-clock")).to_have_attribute("aria-pressed", "false")

    # A run the list shows live is shown the same way.
    new_run = uuid.uuid4()
    w.backend.send_events([FlowRunCreated(new_run, "etl", "just-now", {},
                                          created=T0 + timedelta(days=2, hours=5), process=None),
                           StateChanged(new_run, False, st.Running(), 1)])
    expect(w.page.locator("#runs td a").first).to_have_text("just-now", timeout=10_000)
    moment, _ = _shown(w, "#runs time")
    expect(w.page.locator("#runs time").first).to_have_text(
        f"{moment:%Y-%m-%d} {_h12(moment)} UTC")

    # Kept on a boosted link's page; changed there, then back to htmx's copy of the list
    # (kept as it was shown then), after a reload, on a page opened afresh.
    w.page.click("#runs td a >> text=nightly")
    w.page.wait_for_url(f"**/runs/{run_id}")
    moment, _ = _shown(w, "#states time")
    expect(w.page.locator("#states time").first).to_have_text(
        f"{moment:%Y-%m-%d} {_h12(moment)} UTC")
    expect(w.page.locator("#logs time").first).to_have_text(re.compile(r" [AP]M UTC$"))
    w.page.click("#pref-zone")
    local = moment.astimezone(TOKYO)
    expect(w.page.locator("#states time").first).to_have_text(
        f"{local:%Y-%m-%d} {_h12(local)} GMT+9")
    w.page.go_back()
    w.page.wait_for_url("**/runs")
    expect(w.page.locator("#zone")).to_have_text("Times in GMT+9")
    expect(w.page.locator("#pref-zone")).to_have_attribute("aria-pressed", "false")
    expect(w.page.locator("#runs time").first).to_have_text(re.compile(r" [AP]M GMT\+9$"))
    w.page.reload()
    expect(w.page.locator("#runs time").first).to_have_text(re.compile(r" [AP]M GMT\+9$"))
    expect(w.page.locator("#pref-clock")).to_have_attribute("aria-pressed", "false")
    w.goto(f"/runs/{run_id}")
    expect(w.page.locator("#states time").first).to_have_text(
        f"{local:%Y-%m-%d} {_h12(local)} GMT+9")
    w.page.click("#pref-clock")
    expect(w.page.locator("#states time").first).to_have_text(
        f"{local:%Y-%m-%d %H:%M:%S} GMT+9")
    assert w.page.evaluate("document.documentElement.scrollWidth") <= 1280


def _background(w: Watched) -> str:
    return str(w.page.evaluate("getComputedStyle(document.body).backgroundColor"))


def _marker(w: Watched) -> str:
    """The colour the dashboard chart's first series (Completed) is drawn in, in its legend."""
    return str(w.page.evaluate(
        "getComputedStyle(document.querySelector('#chart .u-series:nth-child(4) .u-marker'))"
        ".borderColor"))


def test_the_theme_toggle_turns_the_pages_and_the_chart_dark_and_is_kept(
        watched: Callable[..., Watched]) -> None:
    from datetime import timezone

    w = watched(color_scheme="light")
    seed(w.backend, 30, start=datetime.now(timezone.utc) - timedelta(hours=3))
    w.goto("/")
    expect(w.page.locator("#chart")).to_have_attribute("data-drawn", "1")
    expect(w.page.locator("#pref-theme")).to_have_text("Theme: auto")
    assert _background(w) == "rgb(255, 255, 255)"
    assert _marker(w) == "rgb(6, 118, 71)"  # --ok, light

    w.page.click("#pref-theme")
    expect(w.page.locator("html")).to_have_attribute("data-theme", "dark")
    expect(w.page.locator("#pref-theme")).to_have_text("Theme: dark")
    assert _background(w) == "rgb(18, 21, 28)"
    expect(w.page.locator("#chart")).to_have_attribute("data-drawn", "1")
    assert _marker(w) == "rgb(71, 205, 137)"  # the chart drawn again in the dark --ok
    assert w.page.locator("#chart canvas").count() == 1
    w.screenshot("dashboard-dark")

    # Kept on a boosted link's page, and written by the server into a page loaded afresh.
    w.page.click("nav.main a >> text=Flow runs")
    w.page.wait_for_url("**/runs")
    assert _background(w) == "rgb(18, 21, 28)"
    w.screenshot("runs-dark")
    html = w.page.request.get(w.origin + "/runs").text()
    assert '<html lang="en" data-theme="dark">' in html
    w.page.reload()
    assert _background(w) == "rgb(18, 21, 28)"
    expect(w.page.locator("#pref-theme")).to_have_text("Theme: dark")

    w.page.click("#pref-theme")  # light, whatever the system says
    expect(w.page.locator("html")).to_have_attribute("data-theme", "light")
    assert _background(w) == "rgb(255, 255, 255)"
    w.page.click("#pref-theme")  # auto: the system's (light) again, and no cookie
    expect(w.page.locator("#pref-theme")).to_have_text("Theme: auto")
    assert w.page.locator("html").get_attribute("data-theme") is None
    assert _background(w) == "rgb(255, 255, 255)"
    assert "transom_theme" not in {c["name"] for c in w.context.cookies()}
    w.page.emulate_media(color_scheme="dark")  # auto follows the system
    assert _background(w) == "rgb(18, 21, 28)"
    w.page.emulate_media(color_scheme="light")
    other = w.context.new_page()  # a choice made in another tab applies here too
    other.goto(w.origin + "/settings")
    other.click("#pref-theme")
    expect(w.page.locator("html")).to_have_attribute("data-theme", "dark")
    expect(w.page.locator("#pref-theme")).to_have_text("Theme: dark")
    other.close()


def test_the_theme_light_overrides_a_dark_system(watched: Callable[..., Watched]) -> None:
    w = watched(color_scheme="dark")
    run_id, events = flow_run("etl", "nightly", created=T0, tasks=3, failed=True)
    w.backend.send_events(events)
    w.goto(f"/runs/{run_id}")
    assert _background(w) == "rgb(18, 21, 28)"
    ok = "getComputedStyle(document.documentElement).getPropertyValue('--bad').trim()"
    assert w.page.evaluate(ok) == "#f97066"
    w.page.click("#pref-theme")
    w.page.click("#pref-theme")
    expect(w.page.locator("#pref-theme")).to_have_text("Theme: light")
    assert _background(w) == "rgb(255, 255, 255)"
    assert w.page.evaluate(ok) == "#b42318"  # the timeline's colours come from these


def test_a_narrow_window_wraps_the_header_and_never_scrolls_sideways(
        watched: Callable[..., Watched]) -> None:
    w = watched(timezone_id="UTC")
    w.page.set_viewport_size({"width": 390, "height": 844})
    seed(w.backend, 60)
    long_name = "a-run-with-a-very-long-name-" + "x" * 80
    run_id, events = flow_run("etl-flow-with-a-long-name", long_name, created=T0, tasks=6,
                              logs=40, failed=True)
    w.backend.send_events(events)
    w.backend.create_artifact(ArtifactCreate(key="wide", type="table",
                                             data=[{f"column-{i}": "v" * 30 for i in range(8)}]))
    w.backend.create_concurrency_limit(ConcurrencyLimitCreate(name="tag:" + "d" * 60, limit=2))
    for path in ("/runs", f"/runs/{run_id}", "/", "/artifacts/wide", "/concurrency-limits",
                 "/blocks", "/deployments", "/settings"):
        w.goto(path)
        expect(w.page.locator("#pref-theme")).to_be_visible()
        width = w.page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, (path, width)
        if path.startswith("/runs"):
            w.screenshot("narrow-" + ("runs" if path == "/runs" else "run"))
    # The wide table scrolls within itself; the nav is on more than one line.
    w.goto("/runs")
    table = w.page.evaluate("[document.getElementById('runs').scrollWidth,"
                            " document.getElementById('runs').clientWidth]")
    assert table[0] >= table[1]
    nav = w.page.locator("nav.main").bounding_box()
    assert nav is not None and nav["height"] > 30 and nav["width"] <= 390
