"""What keeps a browser page from using the API: the Host header must name this server (DNS
rebinding), a state-changing request must be JSON (a cross-site form cannot send it), and a
request body has a size cap. One pure ASGI middleware, before FastAPI parses anything; it also
answers a method no route of the path takes with 405 and every method the path has in `Allow`
(before the JSON check: a PUT is a wrong method, not a wrong body)."""

from __future__ import annotations

import ipaddress
import json
import socket
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from transom.settings import Settings

__all__ = ["Guards", "allowed_hosts"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]
Methods = Callable[[Scope], "frozenset[str] | None"]
"""The methods the app's routes take on a request's path; None when a route takes the request."""

_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_READS = frozenset({"GET", "HEAD"})  # FastAPI's own 405 names the path's methods for these
# What a page may send cross-site without a preflight: a form, or fetch with a text body.
_SIMPLE = frozenset({"application/x-www-form-urlencoded", "multipart/form-data", "text/plain"})
_WILDCARDS = frozenset({"0.0.0.0", "::", ""})


def allowed_hosts(settings: Settings) -> frozenset[str] | None:
    """The host names the server answers (None: any). IP literals are always answered: DNS
    rebinding needs a name the attacker controls."""
    names = {n.strip().lower() for n in settings.server_allowed_hosts.split(",") if n.strip()}
    if "*" in names:
        return None
    names |= {"localhost", settings.server_api_host.lower()}
    if settings.server_api_host in _WILDCARDS:  # every interface: the machine's own names too
        names |= {socket.gethostname().lower(), socket.getfqdn().lower()}
    return frozenset(names)


def _host_name(header: str) -> str:
    host = header.strip().lower()
    if host.startswith("["):  # [::1]:4200
        return host[1:host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class Guards:
    """Host check (400), JSON-only writes (415) and the body cap (413) for every /api request."""

    def __init__(self, app: App, settings: Settings, methods: Methods | None = None) -> None:
        self.app = app
        self.methods = methods
        self.hosts = allowed_hosts(settings)
        self.max_body = settings.server_max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope.get("headers", [])}
        name = _host_name(headers.get("host", ""))
        if self.hosts is not None and not (_is_ip(name) or name in self.hosts
                                           or name.endswith(".localhost")):
            await _answer(send, 400, f"this server does not answer for the host {name!r}; add it "
                                     "to TRANSOM_SERVER_ALLOWED_HOSTS if it is this server's name")
            return
        path = str(scope.get("path", ""))
        if self.methods is not None and scope.get("method") not in _READS:
            allowed = self.methods(scope)
            if allowed is not None and not allowed:  # no such path: a 404 that reads no body
                await self.app(scope, receive, send)
                return
            if allowed:
                await _answer(send, 405, f"{scope.get('method')} is not a method of {path}: it "
                                         f"takes {', '.join(sorted(allowed))}",
                              ((b"allow", ", ".join(sorted(allowed)).encode()),))
                return
        if scope.get("method") in _WRITES and path.startswith("/api"):
            kind = headers.get("content-type", "").split(";", 1)[0].strip().lower()
            json_body = kind == "application/json" or kind.endswith("+json")
            # A DELETE has no body and a page cannot send one cross-site without a preflight.
            bodiless = scope["method"] == "DELETE" and kind not in _SIMPLE
            if not json_body and not bodiless:
                await _answer(send, 415, "a request that changes something must be JSON: send "
                                         "Content-Type: application/json"
                                         + (f" (not {kind})" if kind else ""))
                return
            length = headers.get("content-length", "")
            if length.isdigit() and int(length) > self.max_body:
                await _answer(send, 413, self._too_large())
                return
            body = await self._read(receive)
            if body is None:
                await _answer(send, 413, self._too_large())
                return
            await self.app(scope, _replay(body, receive), send)
            return
        await self.app(scope, receive, send)

    def _too_large(self) -> str:
        return (f"the request body is larger than {self.max_body} bytes (limit: "
                "TRANSOM_SERVER_MAX_BODY_BYTES)")

    async def _read(self, receive: Receive) -> bytes | None:
        """The whole body (FastAPI reads it whole anyway); None once it passes the cap, also
        for a body sent in chunks without a Content-Length."""
        parts: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return b"".join(parts)  # the client went away: the app hears it next
            part = message.get("body", b"")
            size += len(part)
            if size > self.max_body:
                return None
            parts.append(part)
            if not message.get("more_body", False):
                return b"".join(parts)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _answer(send: Send, status: int, detail: str,
                  headers: tuple[tuple[bytes, bytes], ...] = ()) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()), *headers]})
    await send({"type": "http.response.body", "body": body})
