"""The web UI: server-rendered pages (`pages.py`, templates/) and their static files
(`assets.py`, static/: ours and the vendored htmx, see static/VENDORED.json)."""

from __future__ import annotations

from transom.server.ui.pages import router

__all__ = ["is_page", "router"]


def is_page(path: str) -> bool:
    """A path of a page (which needs the server's credentials when it has any), not of a
    static file (which holds no data)."""
    return path == "/" or path == "/runs" or path.startswith("/runs/")
