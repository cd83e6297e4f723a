"""The web UI: server-rendered pages (`dashboard.py`, `pages.py`, `deployments.py`,
`pools.py` over `render.py` and templates/), the live runs list (`live.py`), actions on many
runs (`bulk.py`), a run's page's actions (`run_actions.py`), a run's logs (`logs.py`: colours, links, download, live tail) and timeline
(`timeline.py`), the artifacts, variables and settings pages (`objects.py`), the blocks
(`blocks.py`) and concurrency limits (`limits.py`) pages with their forms, signing in
(`login.py`), the form posts' CSRF check (`csrf.py`) and their static files (`assets.py`,
static/: ours and the vendored htmx and uPlot, see static/VENDORED.json)."""

from __future__ import annotations

from fastapi import APIRouter

from transom.server.ui import (
    blocks,
    bulk,
    dashboard,
    deployments,
    limits,
    live,
    login,
    logs,
    objects,
    pages,
    pools,
    run_actions,
    timeline,
)
from transom.server.ui.render import error_page

__all__ = ["error_page", "is_page", "router"]

router = APIRouter(include_in_schema=False)
# live first: pages' /runs/{run_id} would take /runs/live
for _part in (live, bulk, run_actions, logs, login, timeline, dashboard, pages, deployments,
              pools, objects, blocks, limits):
    router.include_router(_part.router)

_PAGES = ("/runs", "/task-runs", "/deployments", "/work-pools", *objects.PAGES, *blocks.PAGES,
          *limits.PAGES)


def is_page(path: str) -> bool:
    """A path of a page (which needs the server's credentials when it has any), not of a
    static file (which holds no data)."""
    return path == "/" or any(path == p or path.startswith(p + "/") for p in _PAGES)
