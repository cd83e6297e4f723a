"""The web UI: server-rendered pages (`pages.py`, templates/), the live runs list (`live.py`),
a run's logs (`logs.py`: colours, links, download, live tail), its timeline (`timeline.py`) and
their static files (`assets.py`, static/: ours and the vendored
htmx, see static/VENDORED.json)."""

from __future__ import annotations

from fastapi import APIRouter

from transom.server.ui import bulk, live, login, logs, pages, timeline

router = APIRouter(include_in_schema=False)
router.include_router(live.router)  # before pages, whose /runs/{run_id} would take "live"
router.include_router(bulk.router)
router.include_router(logs.router)
router.include_router(login.router)
router.include_router(timeline.router)
router.include_router(pages.router)

__all__ = ["is_page", "router"]


def is_page(path: str) -> bool:
    """A path of a page (which needs the server's credentials when it has any), not of a
    static file (which holds no data)."""
    return path == "/" or path == "/runs" or path.startswith("/runs/")
