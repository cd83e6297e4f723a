"""The README's pictures of the web UI, taken from real runs: a demo flow (mapped tasks, logs,
a task that fails on some inputs) runs a few times with `python demo.py` into a throwaway
TRANSOM_HOME, a real `transom server start` serves that database, and headless Chromium
(Debian's, driven by Playwright) takes the dashboard and the failed run's page at 1280x800.

    python scripts/screenshots.py [folder]      (default docs/images; TRANSOM_BENCH_CHROMIUM)
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from _server import BenchServer  # noqa: E402

CHROMIUM = os.environ.get("TRANSOM_BENCH_CHROMIUM", "/usr/bin/chromium")
DEMO = textwrap.dedent('''
    import sys, time
    from transom import flow, task, get_run_logger

    @task(retries=1, retry_delay_seconds=0)
    def extract(day: int) -> list[int]:
        time.sleep(0.02 * (day % 5))
        return list(range(day * 10))

    @task
    def transform(rows: list[int], strict: bool) -> int:
        if strict and len(rows) > 150:
            raise ValueError(f"{len(rows)} rows is over the limit of 150 for a strict load")
        return sum(rows)

    @task
    def load(totals: list[int]) -> int:
        get_run_logger().info("loaded %d totals into the warehouse", len(totals))
        return sum(totals)

    @flow(log_prints=True)
    def nightly_etl(days: int = 12, strict: bool = False) -> int:
        logger = get_run_logger()
        logger.info("extracting %d days", days)
        rows = extract.map(range(days))
        totals = transform.map(rows, strict=strict)
        print("https://example.org/runbook explains the limit")
        return load(totals.result())

    if __name__ == "__main__":
        nightly_etl(days=int(sys.argv[1]), strict=sys.argv[2] == "strict")
''')


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "images"
    out.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        demo = Path(tmp) / "demo.py"
        demo.write_text(DEMO, encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRANSOM_")}
        env["TRANSOM_HOME"] = str(home)
        for days, mode in [(8, "lax"), (12, "lax"), (10, "lax"), (20, "strict"), (6, "lax")]:
            subprocess.run([sys.executable, str(demo), str(days), mode], env=env,
                           capture_output=True, timeout=120)
        server = BenchServer(home)
        try:
            origin = server.url.removesuffix("/api")
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM)
                page = browser.new_page(viewport={"width": 1280, "height": 800})
                page.goto(origin + "/")
                page.wait_for_selector("#chart[data-drawn]", timeout=10_000)
                page.screenshot(path=str(out / "dashboard.png"))
                page.goto(origin + "/runs?state=FAILED")
                page.click("#runs td a")
                page.wait_for_selector("#timeline[data-drawn]", timeout=10_000)
                page.screenshot(path=str(out / "run.png"))
                browser.close()
        finally:
            server.stop()
    for name in ("dashboard.png", "run.png"):
        print(f"{out / name}: {(out / name).stat().st_size / 1024:.0f} kB")


if __name__ == "__main__":
    main()
