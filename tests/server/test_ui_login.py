"""Signing in to the web UI of a server that needs credentials: a login page, a session cookie
for the pages only, and what it refuses (wrong credentials, another site, an open redirect)."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from tests.server.conftest import LiveServer

from transom.server.ui.login import COOKIE, SESSION_SECONDS, Sessions, safe_next
from transom.settings import Settings

HTML = {"Accept": "text/html,application/xhtml+xml"}


def _origin(server: LiveServer) -> str:
    return server.url.removesuffix("/api")


def test_a_browser_signs_in_once_and_the_cookie_opens_pages_but_not_the_api(
        start_server: Callable[..., LiveServer]) -> None:
    server = start_server(server_services=False, server_api_auth_string="ada:lovelace")
    origin = _origin(server)
    with httpx.Client(base_url=origin, timeout=10, headers=HTML) as web:
        sent = web.get("/runs?state=FAILED", follow_redirects=False)
        assert sent.status_code == 303
        assert sent.headers["location"] == "/login?next=%2Fruns%3Fstate%3DFAILED"
        form = web.get(sent.headers["location"])
        assert 'name="password"' in form.text and 'value="/runs?state=FAILED"' in form.text
        wrong = web.post("/login", data={"user": "ada", "password": "nope",
                                         "next": "/runs?state=FAILED"}, headers={"Origin": origin})
        assert wrong.status_code == 401 and "not this server" in wrong.text
        assert COOKIE not in web.cookies
        signed = web.post("/login", data={"user": "ada", "password": "lovelace",
                                          "next": "/runs?state=FAILED"},
                          headers={"Origin": origin}, follow_redirects=False)
        assert signed.status_code == 303 and signed.headers["location"] == "/runs?state=FAILED"
        cookie = signed.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Max-Age=43200" in cookie
        page = web.get("/runs?state=FAILED")
        assert page.status_code == 200 and "Flow runs" in page.text
        # The cookie is for pages: the API still wants its credentials.
        assert web.get("/api/flow_runs").status_code == 401
        out = web.post("/logout", follow_redirects=False)
        assert out.status_code == 303 and COOKIE not in web.cookies
        assert web.get("/runs", follow_redirects=False).status_code == 303
    # A client that is no browser still gets a 401 with the basic-auth challenge.
    plain = httpx.get(f"{origin}/runs")
    assert plain.status_code == 401 and plain.headers["www-authenticate"].startswith("Basic")
    assert httpx.get(f"{origin}/runs", auth=("ada", "lovelace")).status_code == 200


def test_the_login_form_refuses_another_site_and_takes_an_api_key(
        start_server: Callable[..., LiveServer]) -> None:
    server = start_server(server_services=False, server_api_key="k-123")
    origin = _origin(server)
    with httpx.Client(base_url=origin, timeout=10, headers=HTML) as web:
        form = web.get("/login").text
        assert 'name="api_key"' in form and 'name="password"' not in form
        forged = web.post("/login", data={"api_key": "k-123"},
                          headers={"Origin": "https://attacker.example"})
        assert forged.status_code == 403 and COOKIE not in web.cookies
        redirected = web.post("/login", data={"api_key": "k-123", "next": "//attacker.example/x"},
                              headers={"Origin": origin}, follow_redirects=False)
        assert redirected.headers["location"] == "/runs"  # never to another site
        assert web.get("/runs").status_code == 200
        # The theme chosen on another page (its cookie) is the login page's too; nothing else is.
        dark = httpx.get(f"{origin}/login", cookies={"transom_theme": "dark"}).text
        assert '<html lang="en" data-theme="dark">' in dark
        odd = httpx.get(f"{origin}/login", cookies={"transom_theme": '"><script>'}).text
        assert '<html lang="en">' in odd and "<script>" not in odd


def test_without_credentials_there_is_nothing_to_sign_in_to(
        start_server: Callable[..., LiveServer]) -> None:
    server = start_server(server_services=False)
    answer = httpx.get(f"{_origin(server)}/login?next=/runs/abc", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/runs/abc"


@pytest.mark.parametrize(("target", "safe"), [
    ("/runs?x=1", "/runs?x=1"), (None, "/runs"), ("https://evil.example/", "/runs"),
    ("//evil.example", "/runs"), ("/\\evil.example", "/runs"), ("runs", "/runs")])
def test_after_signing_in_a_browser_goes_only_to_this_server(target: str | None,
                                                             safe: str) -> None:
    assert safe_next(target) == safe


def test_a_session_expires_is_bound_to_the_credentials_and_cannot_be_forged() -> None:
    sessions = Sessions(Settings.load({}, server_api_key="a"))
    cookie = sessions.make(now=1000.0)
    assert sessions.valid(cookie, now=1000.0 + SESSION_SECONDS - 1)
    assert not sessions.valid(cookie, now=1000.0 + SESSION_SECONDS + 1)
    assert not Sessions(Settings.load({}, server_api_key="b")).valid(cookie, now=1001.0)
    expiry = cookie.split(".")[0]
    assert not sessions.valid(f"{int(expiry) + 10**6}.{cookie.split('.')[1]}", now=1001.0)
    assert not sessions.valid("garbage", now=1001.0) and not sessions.valid(None)
    assert not sessions.valid("\u00b2.x", now=1001.0)  # a digit to isdigit(), not to int()
