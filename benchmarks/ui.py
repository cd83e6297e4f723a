"""The web UI's speed: a real `transom server start` holding 10,000 flow runs (and one run with
1,000 task runs and 5,000 log lines), pages loaded in headless Chromium (Debian's, driven by
Playwright), cache off, 1366x768; the median of 5 loads, also with the CPU slowed 4x.

Reports, for the run list: time until its first row is visible (by the wall clock from
Playwright's `goto`, which counts its own round trips too, and by the browser's clock: when
Element Timing says the row was painted, from the navigation's start), bytes over the wire and the
request count (over the network: a data: URL is not one); a page change (a click on "Older")
and a filter change (Failed runs, "Show"), each timed from Playwright's click (which takes a
few tens of ms itself); the big run's page; the dashboard's first paint and the time until its
chart is drawn (with 1,000 runs of the last 20 hours). Baseline, in the same run: the same 50 runs fetched as JSON
from the API (GET /api/flow_runs?limit=50), and the list's last page by keyset cursor against
the API's OFFSET.

Then, once (CPU not slowed): the run list left open IDLE seconds (requests after its load, the
live list's server-sent event stream being one long request opened at load, and the bytes that
came), the same in a hidden tab, and its JS heap; a RUNNING run's page with its live tail while
LINES log lines are posted one at a time to POST /api/logs, each timed from the POST until its
row is in the page (median, p95); and the server's p95 over SERVER_TRIALS requests of the run
list page and of filter changes (state, flow) at the seeded size (the issue's target for it is
at 100,000 runs: `python benchmarks/ui.py 100000`).

    python benchmarks/ui.py [runs]        (TRANSOM_BENCH_CHROMIUM: the browser, /usr/bin/chromium)
"""

from __future__ import annotations

import os
import random
import re
import shutil
import statistics
import sys
import time
import uuid
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
IDLE = 20.0  # seconds the run list is left open, visible and then hidden
LINES = 20  # log lines posted to the running run's page, one at a time
SERVER_TRIALS = 50  # requests of each page for the server's p95


def _seed(runs: int) -> tuple[str, str]:
    """The stored runs; the ids of the big run and of a RUNNING one (for its live tail)."""
    from transom.core import states as st
    from transom.core.recorder import FlowRunCreated, StateChanged
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
        running = uuid.uuid4()
        backend.send_events([FlowRunCreated(running, "etl", "the-running-one", {}, created=T0,
                                            process=None),
                             StateChanged(running, False, st.Running(), 1)])
        print(f"seeded {runs} runs (+ {RECENT} recent) + a run with 1,000 task runs and 5,000 "
              "log lines in "
              f"{time.perf_counter() - started:.1f} s", file=sys.stderr)
    return str(big), str(running)


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
        self.urls: list[str] = []
        self.received = 0  # bytes as they arrive (a stream's too, before it ends)
        # The browser's own clock: when each element marked `elementtiming` was painted, and
        # when the last click was taken (the capture phase, before any handler).
        self.page.add_init_script("""window.__painted = [];
            new PerformanceObserver(list => list.getEntries().forEach(
                e => window.__painted.push([e.identifier, e.renderTime || e.loadTime])))
              .observe({type: 'element', buffered: true});
            addEventListener('click', () => { window.__clickAt = performance.now(); }, true);""")
        self.cdp.on("Network.requestWillBeSent", self._sent)
        self.cdp.on("Network.loadingFinished", self._done)
        self.cdp.on("Network.dataReceived", self._data)

    def _sent(self, event: dict[str, Any]) -> None:
        url = str(event.get("request", {}).get("url", ""))
        if url.startswith(("http:", "https:")):  # not data: URLs (the browser's own images)
            self.requests += 1
            self.urls.append(url)

    def _done(self, event: dict[str, Any]) -> None:
        self.bytes += int(event.get("encodedDataLength", 0))

    def _data(self, event: dict[str, Any]) -> None:
        self.received += int(event.get("dataLength", 0))

    def wait(self, seconds: float) -> None:
        """Let the page be for `seconds` (CDP events still come in meanwhile)."""
        self.page.wait_for_timeout(seconds * 1000)

    def heap_mb(self) -> float:
        return float(self.cdp.send("Runtime.getHeapUsage")["usedSize"]) / 1e6

    def set_hidden(self, hidden: bool) -> None:
        """The tab in the background or back (headless Chromium never hides a page itself)."""
        self.page.evaluate("""hidden => {
            if (hidden) {
                Object.defineProperty(document, 'visibilityState', {value: 'hidden', configurable: true});
                Object.defineProperty(document, 'hidden', {value: true, configurable: true});
            } else { delete document.visibilityState; delete document.hidden; }
            document.dispatchEvent(new Event('visibilitychange'));
        }""", hidden)

    def until(self, url: str, selector: str) -> float:
        start = time.perf_counter()
        self.page.goto(url, wait_until="commit")
        shown(self.page, selector)
        return time.perf_counter() - start

    def paint(self) -> float:
        """Seconds from the navigation's start to the first contentful paint, by the browser's
        own clock (no Playwright round trips in it)."""
        ms = self.page.evaluate("() => performance.getEntriesByName('first-contentful-paint')"
                                ".map(e => e.startTime)[0] || 0")
        return float(ms) / 1000

    def painted(self, identifier: str, *, since_click: bool = False) -> float:
        """Seconds from the navigation's start (or the last click) to the paint of the latest
        element marked `elementtiming=identifier`, by the browser's clock; NaN if none."""
        self.page.evaluate("() => new Promise(r => requestAnimationFrame(() => setTimeout(r)))")
        ms = self.page.evaluate("""([id, sinceClick]) => {
            const times = window.__painted.filter(p => p[0] === id).map(p => p[1]);
            if (!times.length) return NaN;
            return times[times.length - 1] - (sinceClick ? window.__clickAt : 0); }""",
                                [identifier, since_click])
        return float(ms) / 1000

    def close(self) -> None:
        self.context.close()


_SHOWN = """([selector, text, notText]) => Array.from(document.querySelectorAll(selector)).some(
    el => el.getClientRects().length > 0 && (text === null || el.textContent.includes(text))
          && (notText === null || !el.textContent.includes(notText)))"""


def shown(page: Any, selector: str, text: str | None = None, not_text: str | None = None,
          first: bool = False) -> None:
    """Wait until an element of `selector` (holding `text`, not `not_text`) is laid out, checked
    on every animation frame: Playwright's own locator waits retry at 20, 100, 100, 500 ms
    steps, which would count their pauses as the page's time."""
    script = _SHOWN.replace(".some(", ".slice(0, 1).some(") if first else _SHOWN
    page.wait_for_function(script, arg=[selector, text, not_text], polling="raf")


def _median(values: list[float]) -> float:
    return statistics.median(values)


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[18]


def _idle(browser: Any, origin: str) -> list[tuple[str, str]]:
    """The run list left open, then hidden: what it asks for and gets; its JS heap."""
    load = Load(browser, 1)
    load.until(f"{origin}/runs", "#runs tbody tr")
    load.page.wait_for_load_state("load")
    load.page.locator("#runs-live[data-stream=open]").wait_for(state="attached")
    load.wait(1)  # the stream's first bytes (retry: and a comment) are in
    heap = load.heap_mb()
    load.cdp.send("HeapProfiler.collectGarbage")
    heap_gc = load.heap_mb()
    streams = sum("/runs/live" in u for u in load.urls)
    requests, received = load.requests, load.received
    load.wait(IDLE)
    visible = (load.requests - requests, load.received - received)
    load.set_hidden(True)
    load.page.locator("#runs-live[data-stream=closed]").wait_for(state="attached")
    requests, received = load.requests, load.received
    load.wait(IDLE)
    hidden = (load.requests - requests, load.received - received)
    load.close()
    return [
        ("run list: JS heap after load (after a GC)", f"{heap:.2f} MB ({heap_gc:.2f} MB)"),
        (f"run list open {IDLE:g} s: requests after load, bytes received",
         f"{visible[0]}, {visible[1]} B (+ the live list's SSE stream: {streams} request "
         "opened at load, kept open)"),
        (f"run list hidden {IDLE:g} s: requests, bytes received (stream closed)",
         f"{hidden[0]}, {hidden[1]} B"),
    ]


def _log_lines(browser: Any, origin: str, running: str) -> list[tuple[str, str]]:
    """A RUNNING run's page with its live tail: LINES lines posted one at a time, each timed
    from its POST until its row is in the page. The posts come at random moments (up to a
    second apart) so they fall anywhere in the server's look-for-new-lines cycle."""
    load = Load(browser, 1)
    load.until(f"{origin}/runs/{running}", "#live-note")
    load.page.locator("#logs[data-stream=open]").wait_for(state="attached")
    load.wait(1)
    jitter = random.Random(15)
    times: list[float] = []
    with httpx.Client(base_url=origin, timeout=30) as http:
        for i in range(LINES):
            text = f"bench line {i} {uuid.uuid4().hex[:8]}"
            load.wait(jitter.uniform(0, 1))
            start = time.perf_counter()
            http.post("/api/logs", json=[{"flow_run_id": running, "level": 20,
                                          "logger": "bench", "message": text}]).raise_for_status()
            shown(load.page, "#logs tbody tr", text)
            times.append(time.perf_counter() - start)
    rows = load.page.locator("#logs tbody tr").count()
    load.close()
    assert rows == LINES, f"{rows} rows for {LINES} lines"
    return [(f"log line posted -> visible in the live tail ({LINES} lines): median, p95",
             f"{_median(times) * 1000:.0f} ms, {_p95(times) * 1000:.0f} ms")]


def _pages(browser: Any, origin: str, big: str, throttle: float) -> list[tuple[str, str]]:
    first: list[float] = []
    first_painted: list[float] = []
    change_painted: list[float] = []
    run_painted: list[float] = []
    paint: list[float] = []
    json_page: list[float] = []
    text_page: list[float] = []
    text_paint: list[float] = []
    linked = re.search(r'src="(/static/app\.[0-9a-f]+\.js)"', httpx.get(f"{origin}/runs").text)
    assert linked, "the run list links no app.js"
    script = linked.group(1)
    wire: list[tuple[int, int]] = []
    change: list[float] = []
    filtered: list[float] = []
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
        first_painted.append(load.painted("first-run"))
        paint.append(load.paint())
        wire.append((load.bytes, load.requests))
        top = load.page.locator("#runs td a").first.inner_text()
        start = time.perf_counter()
        load.page.click("#older")
        shown(load.page, "#runs td a", not_text=top, first=True)
        change.append(time.perf_counter() - start)
        change_painted.append(load.painted("first-run", since_click=True))
        load.page.select_option("select[name=state]", "FAILED")  # then a filter: Failed runs
        start = time.perf_counter()
        load.page.click("form.filters button")
        shown(load.page, "#count", text="match")
        filtered.append(time.perf_counter() - start)
        load.close()
        load = Load(browser, throttle)
        run_page.append(load.until(f"{origin}/runs/{big}", "#logs tbody tr"))
        load.page.wait_for_load_state("load")
        run_painted.append(load.painted("logs"))
        run_wire.append((load.bytes, load.requests))
        load.close()
        load = Load(browser, throttle)  # baseline: the same 50 runs as the API's JSON
        json_page.append(load.until(f"{origin}/api/flow_runs?limit=50", "body"))
        load.close()
        load = Load(browser, throttle)  # baseline: a plain text file (the pages' script)
        text_page.append(load.until(f"{origin}{script}", "pre"))
        load.page.wait_for_load_state("load")
        text_paint.append(load.paint())
        load.close()
    label = f" (CPU {throttle:g}x slower)" if throttle > 1 else ""
    kb = 1000
    return [
        (f"run list: first row visible{label}", f"{_median(first) * 1000:.0f} ms"),
        (f"run list: first row painted (browser clock, Element Timing){label}",
         f"{_median(first_painted) * 1000:.0f} ms"),
        (f"run list: first contentful paint (browser clock){label}",
         f"{_median(paint) * 1000:.0f} ms"),
        (f"baseline: the API's JSON of 50 runs opened{label}",
         f"{_median(json_page) * 1000:.0f} ms"),
        (f"baseline: a text file (app.js) shown; its first paint (browser clock){label}",
         f"{_median(text_page) * 1000:.0f} ms; {_median(text_paint) * 1000:.0f} ms"),
        (f"run list: bytes, requests{label}",
         f"{_median([b for b, _ in wire]) / kb:.1f} kB, {_median([r for _, r in wire]):.0f}"),
        (f"run list: 'Older' click to new rows{label}", f"{_median(change) * 1000:.0f} ms"),
        (f"run list: 'Older' click to its first row painted (browser clock){label}",
         f"{_median(change_painted) * 1000:.0f} ms"),
        (f"run list: state filter (Failed) 'Show' click to its rows{label}",
         f"{_median(filtered) * 1000:.0f} ms"),
        (f"big run page: logs visible{label}", f"{_median(run_page) * 1000:.0f} ms"),
        (f"big run page: logs heading painted (browser clock){label}",
         f"{_median(run_painted) * 1000:.0f} ms"),
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
        server = []
        for label, params in (("GET /runs", {}), ("GET /runs?state=FAILED", {"state": "FAILED"}),
                              ("GET /runs?flow=recent", {"flow": "recent"}),
                              ("GET /runs?flow=etl", {"flow": "etl"}),
                              ("GET /runs?tag=nightly (no run has it)", {"tag": "nightly"}),
                              ("GET /runs?prefix=run-0001 (10 runs)", {"prefix": "run-0001"}),
                              ("GET /runs?prefix=run- (every run)", {"prefix": "run-"})):
            times = []
            for _ in range(SERVER_TRIALS):
                start = time.perf_counter()
                http.get("/runs", params=params).raise_for_status()
                times.append(time.perf_counter() - start)
            server.append((f"server p95 at {total:,} runs, {SERVER_TRIALS} requests: {label} "
                           "(median)",
                           f"{_p95(times) * 1000:.1f} ms ({_median(times) * 1000:.1f} ms)"))
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
            *server,
        ]


def _wheel_share() -> str:
    """The UI's files (its Python, templates, scripts, sheets, licences) as they are on disk and
    as a wheel holds them (a zip: each file deflated, plus its entries, ~100 bytes a file)."""
    import zlib

    ui = Path(__file__).resolve().parent.parent / "src" / "transom" / "server" / "ui"
    files = [p for p in ui.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    size = sum(p.stat().st_size for p in files)
    zipped = sum(len(zlib.compress(p.read_bytes(), 6)) + 100 for p in files)
    return f"{size / 1000:.0f} kB uncompressed, {zipped / 1000:.0f} kB in the wheel (deflated)"


def main() -> None:
    from playwright.sync_api import sync_playwright

    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    home = fresh_home()
    big, running = _seed(runs)
    server = BenchServer(home)
    origin = server.url.removesuffix("/api")
    try:
        rows = _baseline(origin, big)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM)
            try:
                for throttle in (1, 4):
                    rows += _pages(browser, origin, big, throttle)
                rows += _idle(browser, origin)
                rows += _log_lines(browser, origin, running)
            finally:
                browser.close()
        rows.append(("UI files in the wheel", _wheel_share()))
    finally:
        server.stop()
        shutil.rmtree(home, ignore_errors=True)
    report(f"Web UI, {runs:,} flow runs, headless Chromium, median of {TRIALS}", rows)


if __name__ == "__main__":
    main()
