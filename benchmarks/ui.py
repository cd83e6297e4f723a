"""The web UI's speed: a real `transom server start` holding 10,000 flow runs (and one run with
1,000 task runs and 5,000 log lines), pages loaded in headless Chromium (Debian's, driven by
Playwright), cache off, 1366x768; the median of 5 loads, also with the CPU slowed 4x.

Reports, for the run list: time until its first row is visible, bytes over the wire and the
request count; a page change (a click on "Older"); the big run's page; the dashboard's first
paint and the time until its chart is drawn (with 1,000 runs of the last 20 hours). Baseline, in the same
run: the same 50 runs fetched as JSON from the API (GET /api/flow_runs?limit=50), and the list's
last page by keyset cursor against the API's OFFSET.

    python benchmarks/ui.py [runs]        (TRANSOM_BENCH_CHROMIUM: the browser, /usr/bin/chromium)
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
from _common import fresh_home, report
from _server import BenchServer
from tests.support.seed import T0, flow_run, seed

CHROMIUM = os.environ.get("TRANSOM_BENCH_CHROMIUM", "/usr/bin/chromium")
TRIALS = 5
RECENT = 1000  # runs of the last 20 hours, for the dashboard


def _seed(runs: int) -> str:
    from transom.services import open_backend
    from transom.settings import Settings

    with open_backend(Settings.load()) as backend:
        started = time.perf_counter()
        seed(backend, runs)
        # The dashboard's window ends now: a day of recent runs for it to count and draw.
        seed(backend, RECENT, flow="recent", start=datetime.now(timezone.utc) - timedelta(hours=20))
        big, events = flow_run("etl", "the-big-one", created=T0 - (T0 - T0.replace(year=2025)),
                               failed=True, tasks=1000, logs=5000)
        for i in range(0, len(events), 2000):
            backend.send_events(events[i:i + 2000])
        print(f"seeded {runs} runs (+ {RECENT} recent) + a run with 1,000 task runs and 5,000 "
              "log lines in "
              f"{time.perf_counter() - started:.1f} s", file=sys.stderr)
    return str(big)


class Load:
    """One page load in a fresh context (an empty cache), with the wire counted over CDP."""

    def __init__(self, browser: Any, throttle: float) -> None:
        self.context = browser.new_context(viewport={"width": 1366, "height": 768})
        self.page = self.context.new_page()
        self.cdp = self.context.new_cdp_session(self.page)
        self.cdp.send("Network.enable")
        self.cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
        if throttle > 1:
            self.cdp.send("Emulation.setCPUThrottlingRate", {"rate": throttle})
        self.requests = 0
        self.bytes = 0
        self.cdp.on("Network.requestWillBeSent", self._sent)
        self.cdp.on("Network.loadingFinished", self._done)

    def _sent(self, _: dict[str, Any]) -> None:
        self.requests += 1

    def _done(self, event: dict[str, Any]) -> None:
        self.bytes += int(event.get("encodedDataLength", 0))

    def until(self, url: str, selector: str) -> float:
        start = time.perf_counter()
        self.page.goto(url, wait_until="commit")
        self.page.locator(selector).first.wait_for(state="visible")
        return time.perf_counter() - start

    def paint(self) -> float:
        """Seconds from the navigation's start to the first contentful paint, by the browser's
        own clock (no Playwright round trips in it)."""
        ms = self.page.evaluate("() => performance.getEntriesByName('first-contentful-paint')"
                                ".map(e => e.startTime)[0] || 0")
        return float(ms) / 1000

    def close(self) -> None:
        self.context.close()


def _median(values: list[float]) -> float:
    return statistics.median(values)


def _pages(browser: Any, origin: str, big: str, throttle: float) -> list[tuple[str, str]]:
    first: list[float] = []
    paint: list[float] = []
    json_page: list[float] = []
    wire: list[tuple[int, int]] = []
    change: list[float] = []
    run_page: list[float] = []
    run_wire: list[tuple[int, int]] = []
    dash: list[float] = []
    dash_paint: list[float] = []
    dash_wire: list[tuple[int, int]] = []
    for _ in range(TRIALS):
        load = Load(browser, throttle)  # the dashboard, until its chart is drawn
        dash.append(load.until(f"{origin}/", "#chart canvas"))
        load.page.wait_for_load_state("load")
        dash_paint.append(load.paint())
        dash_wire.append((load.bytes, load.requests))
        load.close()
        load = Load(browser, throttle)
        first.append(load.until(f"{origin}/runs", "#runs tbody tr"))
        load.page.wait_for_load_state("load")
        paint.append(load.paint())
        wire.append((load.bytes, load.requests))
        top = load.page.locator("#runs td a").first.inner_text()
        start = time.perf_counter()
        load.page.click("#older")
        load.page.locator("#runs td a").first.filter(has_not_text=top).wait_for()
        change.append(time.perf_counter() - start)
        load.close()
        load = Load(browser, throttle)
        run_page.append(load.until(f"{origin}/runs/{big}", "#logs tbody tr"))
        load.page.wait_for_load_state("load")
        run_wire.append((load.bytes, load.requests))
        load.close()
        load = Load(browser, throttle)  # baseline: the same 50 runs as the API's JSON
        json_page.append(load.until(f"{origin}/api/flow_runs?limit=50", "body"))
        load.close()
    label = f" (CPU {throttle:g}x slower)" if throttle > 1 else ""
    kb = 1000
    return [
        (f"run list: first row visible{label}", f"{_median(first) * 1000:.0f} ms"),
        (f"run list: first contentful paint (browser clock){label}",
         f"{_median(paint) * 1000:.0f} ms"),
        (f"baseline: the API's JSON of 50 runs opened{label}",
         f"{_median(json_page) * 1000:.0f} ms"),
        (f"run list: bytes, requests{label}",
         f"{_median([b for b, _ in wire]) / kb:.1f} kB, {_median([r for _, r in wire]):.0f}"),
        (f"run list: 'Older' click to new rows{label}", f"{_median(change) * 1000:.0f} ms"),
        (f"big run page: logs visible{label}", f"{_median(run_page) * 1000:.0f} ms"),
        (f"dashboard: first contentful paint (browser clock){label}",
         f"{_median(dash_paint) * 1000:.0f} ms"),
        (f"dashboard: chart drawn{label}", f"{_median(dash) * 1000:.0f} ms"),
        (f"dashboard: bytes, requests{label}",
         f"{_median([b for b, _ in dash_wire]) / kb:.1f} kB, "
         f"{_median([r for _, r in dash_wire]):.0f}"),
        (f"big run page: bytes, requests{label}",
         f"{_median([b for b, _ in run_wire]) / kb:.1f} kB, "
         f"{_median([r for _, r in run_wire]):.0f}"),
    ]


def _baseline(origin: str, big: str) -> list[tuple[str, str]]:
    with httpx.Client(base_url=origin, timeout=30) as http:
        def timed(path: str, **params: Any) -> tuple[float, httpx.Response]:
            times, answer = [], None
            for _ in range(TRIALS * 2):
                start = time.perf_counter()
                answer = http.get(path, params=params)
                times.append(time.perf_counter() - start)
                answer.raise_for_status()
            assert answer is not None
            return _median(times), answer

        api_t, api = timed("/api/flow_runs", limit=50)
        html_t, html = timed("/runs")
        dash_t, dash = timed("/")
        big_t, big_html = timed(f"/runs/{big}")
        total = api.json()["total"]
        offset_t, _ = timed("/api/flow_runs", limit=50, offset=total - 50)
        # The cursor of the run just before the last 50: what "Older" links to deep in the list.
        cursor = http.get("/api/flow_runs", params={"limit": 1, "offset": total - 51}).json()
        keyset_t, last = timed("/api/flow_runs", limit=50, after=cursor["next_cursor"])
        assert len(last.json()["items"]) == 50
        return [
            ("baseline: GET /api/flow_runs?limit=50 (JSON)",
             f"{api_t * 1000:.1f} ms, {len(api.content) / 1000:.1f} kB (not gzipped)"),
            ("flow runs stored", f"{total:,}"),
            ("server: GET /runs (HTML, 50 rows)",
             f"{html_t * 1000:.1f} ms, {int(html.headers['content-length']) / 1000:.1f} kB gzipped "
             f"({len(html.content) / 1000:.1f} kB)"),
            ("server: GET / (the dashboard, 24 h)",
             f"{dash_t * 1000:.1f} ms, {int(dash.headers['content-length']) / 1000:.1f} kB "
             f"gzipped ({len(dash.content) / 1000:.1f} kB)"),
            ("server: GET /runs/{big run} (1,000 task runs, 200 logs)",
             f"{big_t * 1000:.1f} ms, {int(big_html.headers['content-length']) / 1000:.1f} kB "
             f"gzipped ({len(big_html.content) / 1000:.1f} kB)"),
            ("API, last page by OFFSET", f"{offset_t * 1000:.1f} ms"),
            ("API, last page by keyset cursor", f"{keyset_t * 1000:.1f} ms"),
        ]


def _wheel_share() -> str:
    ui = Path(__file__).resolve().parent.parent / "src" / "transom" / "server" / "ui"
    size = sum(p.stat().st_size for p in ui.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    return f"{size / 1000:.0f} kB uncompressed"


def main() -> None:
    from playwright.sync_api import sync_playwright

    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    home = fresh_home()
    big = _seed(runs)
    server = BenchServer(home)
    origin = server.url.removesuffix("/api")
    try:
        rows = _baseline(origin, big)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM)
            try:
                for throttle in (1, 4):
                    rows += _pages(browser, origin, big, throttle)
            finally:
                browser.close()
        rows.append(("UI files in the wheel", _wheel_share()))
    finally:
        server.stop()
        shutil.rmtree(home, ignore_errors=True)
    report(f"Web UI, {runs:,} flow runs, headless Chromium, median of {TRIALS}", rows)


if __name__ == "__main__":
    main()
