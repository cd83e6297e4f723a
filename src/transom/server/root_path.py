"""Serving under a path prefix behind a reverse proxy (`TRANSOM_SERVER_ROOT_PATH=/transom`).

A proxy may pass the prefix on (`/transom/runs`) or strip it (`/runs`): `RootPath` takes both,
hands the app the path without it (every route, guard and auth check sees `/runs`) with the
prefix in the ASGI `root_path`, and puts the prefix before every redirect's `Location`. The
pages' own links are written from the site root (`href="/runs"`) and moved under the prefix
as they are rendered (`rooted`)."""

from __future__ import annotations

import re
from typing import Any

__all__ = ["RootPath", "rooted"]

Scope = dict[str, Any]

# The attributes of our templates that hold a link to this server. A value typed by a user
# never matches: autoescape writes its quotes as &#34;.
_LINK = re.compile(r'(\s(?:href|src|action|formaction|hx-(?:get|post|put|patch|delete)'
                   r'|data-(?:src|live|href))=")/(?!/)')


def rooted(html: str, root: str) -> str:
    """The page's links to this server (`href="/runs"`) moved under the prefix."""
    return _LINK.sub(lambda m: m.group(1) + root + "/", html) if root else html


class RootPath:
    """ASGI middleware, outermost: strips the prefix from the path when the proxy left it on,
    sets `root_path`, and prefixes redirects to a path of this server."""

    def __init__(self, app: Any, root: str) -> None:
        self.app = app
        self.root = root
        self._raw = root.encode()

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        raw: bytes = scope.get("raw_path") or path.encode()
        if path == self.root or path.startswith(self.root + "/"):
            path = path[len(self.root):] or "/"
            raw = raw[len(self._raw):] if raw.startswith(self._raw) else path.encode()
            raw = raw or b"/"
        scope = {**scope, "path": path, "raw_path": raw, "root_path": self.root}

        async def send_rooted(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [
                    (name, self._raw + value if name.lower() in (b"location", b"hx-redirect")
                     and value.startswith(b"/") and not value.startswith(b"//") else value)
                    for name, value in message.get("headers", ())]}
            await send(message)

        await self.app(scope, receive, send_rooted)
