"""CSRF protection of the pages' forms (the API refuses form posts outright: server/guards.py
takes only JSON writes under /api, which a cross-site form cannot send).

A page with a form sets the cookie `transom_csrf` (random, HttpOnly, SameSite=Strict) when the
browser has none and writes its value into the form as the hidden field `csrf`; a form post is
taken only when the field equals the cookie (double submit: another site can neither read the
cookie nor, with SameSite=Strict, make the browser send it) and, when the browser names where
the post comes from (Origin, else Referer), that is this server's own origin. The Host check of
guards.py has already made sure the Host header names this server."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import Response

__all__ = ["COOKIE", "FIELD", "refusal", "token", "with_cookie"]

COOKIE = "transom_csrf"
FIELD = "csrf"


def token(request: Request) -> str:
    """The browser's token (the cookie's), or a new one for `with_cookie` to set."""
    given = request.cookies.get(COOKIE, "")
    return given if len(given) >= 32 and given.isalnum() else secrets.token_hex(24)


def with_cookie(request: Request, response: Response, value: str) -> Response:
    """`response`, setting the token as the cookie unless the browser sent it already."""
    if request.cookies.get(COOKIE) != value:
        response.set_cookie(COOKIE, value, httponly=True, samesite="strict", path="/")
    return response


def refusal(request: Request, sent: str | None) -> str | None:
    """Why a form post is refused (a sentence), or None when it may be taken."""
    cookie = request.cookies.get(COOKIE)
    if not cookie or not sent or not secrets.compare_digest(cookie.encode(), sent.encode()):
        return ("the form's security token does not match this browser's: reload the page and "
                "send the form again")
    host = request.headers.get("host", "")
    source = request.headers.get("origin") or request.headers.get("referer")
    if source and source != "null":
        parts = urlsplit(source)
        if parts.netloc.lower() != host.lower():
            return f"a form from {parts.scheme}://{parts.netloc} may not change this server"
    elif source == "null":
        return "a form from an opaque origin may not change this server"
    return None
