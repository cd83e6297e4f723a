"""Signing in to the web UI of a server that needs credentials (TRANSOM_SERVER_API_AUTH_STRING
or TRANSOM_SERVER_API_KEY): a login page instead of the browser's basic-auth prompt, and a
session cookie for the pages only (the API still takes only its headers).

The cookie is `<expiry>.<HMAC-SHA256>` with a key derived from the server's own credentials, so
every server of a deployment that shares them accepts it, and changing them signs everyone out.
It is HttpOnly and SameSite=Strict (a page of another site never sends it, so no cross-site
form acts with it), Secure when the server is reached over https. The login form is refused
from another origin (Origin header), and it answers a wrong password only after a short wait.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from pathlib import Path
from typing import Annotated
from urllib.parse import parse_qs, urlsplit

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader

from transom.settings import Settings

__all__ = ["COOKIE", "SESSION_SECONDS", "Sessions", "read_form", "router", "safe_next", "same_origin"]

COOKIE = "transom_session"
SESSION_SECONDS = 12 * 3600
"""How long a sign-in lasts."""
WRONG_DELAY = 0.5
"""Seconds a wrong password waits for its answer (slows guessing)."""
MAX_FORM = 8192
"""Bytes a sign-in form may have."""

router = APIRouter(include_in_schema=False)
_env = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=True)


class Sessions:
    """Makes and checks session cookies for a server's credentials."""

    def __init__(self, settings: Settings) -> None:
        self.basic = settings.server_api_auth_string
        self.key = settings.server_api_key
        material = f"transom-ui-session\0{self.basic or ''}\0{self.key or ''}".encode()
        self._secret = hashlib.sha256(material).digest()

    @property
    def needed(self) -> bool:
        return bool(self.basic or self.key)

    def _sign(self, expiry: int) -> str:
        return hmac.new(self._secret, str(expiry).encode(), hashlib.sha256).hexdigest()

    def make(self, now: float | None = None) -> str:
        expiry = int((now or time.time()) + SESSION_SECONDS)
        return f"{expiry}.{self._sign(expiry)}"

    def valid(self, cookie: str | None, now: float | None = None) -> bool:
        if not cookie or "." not in cookie:
            return False
        expiry, _, mac = cookie.partition(".")
        if not (expiry.isascii() and expiry.isdigit()) or len(expiry) > 12:  # not "²"
            return False
        return (secrets.compare_digest(mac.encode(), self._sign(int(expiry)).encode())
                and int(expiry) > (now or time.time()))

    def check(self, user: str, password: str, api_key: str) -> bool:
        """Whether what the form was given is the server's credentials (constant time)."""
        ok = False
        if self.basic:
            ok |= secrets.compare_digest(f"{user}:{password}".encode(), self.basic.encode())
        if self.key and api_key:
            ok |= secrets.compare_digest(api_key.encode(), self.key.encode())
        return ok


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path of this server only (never another site)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/runs"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/runs"
    return target


def same_origin(request: Request) -> bool:
    """Whether a form post came from a page of this server (its Origin header, when sent)."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None  # a form of this server's page sends its origin; "null" is not
    host = request.headers.get("host", "")
    return urlsplit(origin).netloc == host


def _page(request: Request, sessions: Sessions, next_path: str, problem: str | None,
          status: int = 200) -> Response:
    from transom.server.root_path import rooted
    from transom.server.ui.render import assets

    body = rooted(_env.get_template("login.html").render(
        basic=bool(sessions.basic), key=bool(sessions.key), next=next_path, problem=problem,
        asset=assets.url, theme=request.cookies.get("transom_theme")),
        request.scope.get("root_path", ""))
    return Response(body, status_code=status, media_type="text/html; charset=utf-8",
                    headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY",
                             "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'"})


@router.get("/login")
def login_page(request: Request,
               next: Annotated[str | None, Query(max_length=2000)] = None) -> Response:
    sessions: Sessions = request.app.state.sessions
    if not sessions.needed:
        return RedirectResponse(safe_next(next), status_code=303)
    return _page(request, sessions, safe_next(next), None)


async def read_form(request: Request, *, max_bytes: int = MAX_FORM,
                    max_fields: int = 10) -> dict[str, list[str]] | None:
    """The fields of a urlencoded form of at most `max_bytes` (None if it is not one)."""
    kind = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        return None
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            return None
    try:
        return parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=max_fields)
    except (UnicodeDecodeError, ValueError):
        return None


@router.post("/login")
async def login(request: Request) -> Response:
    sessions: Sessions = request.app.state.sessions
    fields = await read_form(request)
    form = {k: v[0] for k, v in fields.items()} if fields is not None else None
    target = safe_next((form or {}).get("next"))
    if not sessions.needed:
        return RedirectResponse(target, status_code=303)
    if form is None:
        return _page(request, sessions, target, "Send the sign-in form of this page.", 400)
    if not same_origin(request):
        return _page(request, sessions, target, "This sign-in came from another site; open "
                     "this server's own login page.", 403)
    if not sessions.check(form.get("user", ""), form.get("password", ""),
                          form.get("api_key", "")):
        await asyncio.sleep(WRONG_DELAY)
        return _page(request, sessions, target, "Those credentials are not this server's.", 401)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(COOKIE, sessions.make(), max_age=SESSION_SECONDS, httponly=True,
                        samesite="strict", secure=request.url.scheme == "https", path="/")
    return response


@router.post("/logout")
def logout(request: Request) -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response
