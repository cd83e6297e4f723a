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

from transom.server.ui.login import read_form

__all__ = ["COOKIE", "FIELD", "Refused", "checked_form", "checked_switch", "refusal", "token", "with_cookie"]

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


class Refused(Exception):
    """A form post not taken: its HTTP status, and the sentence that says why."""

    def __init__(self, status: int, sentence: str) -> None:
        super().__init__(sentence)
        self.status = status


async def checked_form(request: Request, *, max_bytes: int = 64 * 1024,
                       max_fields: int = 20) -> dict[str, str]:
    """The fields of a page's form post (the first value of each), once it is a urlencoded
    form of at most `max_bytes` whose token `refusal` takes; Refused otherwise."""
    fields = await read_form(request, max_bytes=max_bytes, max_fields=max_fields)
    if fields is None:
        raise Refused(400, f"send this page's own form (urlencoded, at most {max_bytes} bytes)")
    form = {name: values[0] for name, values in fields.items()}
    refused = refusal(request, form.get(FIELD))
    if refused:
        raise Refused(403, refused)
    return form


async def checked_switch(request: Request, field: str, what: str) -> bool:
    """A page's on/off form post (`field` "true" or "false", e.g. a Pause / Resume button),
    checked as `checked_form` does; Refused (400) for any other value."""
    form = await checked_form(request, max_bytes=4096, max_fields=5)
    value = form.get(field)
    if value not in ("true", "false"):
        raise Refused(400, f"the form must say whether {what} is to be {field} (true or false)")
    return value == "true"
