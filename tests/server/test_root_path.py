"""Serving under a path prefix behind a reverse proxy (TRANSOM_SERVER_ROOT_PATH, --root-path):
a proxy that passes the prefix on and one that strips it both get pages whose every link, form,
script and redirect stays under the prefix; the API and its client work there too."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from tests.server.conftest import LiveServer
from tests.support.seed import T0, flow_run

from transom.client.http import TransomClient
from transom.exceptions import ConfigError
from transom.server.root_path import rooted
from transom.settings import Settings


@pytest.fixture
def database_url(tmp_path: Path) -> str:  # which database holds the runs is not the point here
    return f"sqlite:///{tmp_path / 'transom.db'}"

ROOT = "/ops/transom"
_LINKS = re.compile(r'\s(?:href|src|action|formaction|hx-[a-z]+|data-(?:src|live))="([^"]*)"')


@pytest.mark.parametrize(("given", "used"), [("/transom", "/transom"), ("/transom/", "/transom"),
                                             ("  /a/b.c~d  ", "/a/b.c~d"), ("/", ""), ("", "")])
def test_a_root_path_is_used_as_one_prefix(given: str, used: str) -> None:
    assert Settings.load({"TRANSOM_SERVER_ROOT_PATH": given}).server_root_path == used


@pytest.mark.parametrize(("given", "says"), [
    ("transom", "a path that starts with '/'"),
    ("/a b", "(not 'a b')"),
    ("/a/../b", "(not '..')"),
    ("/x?y=1", "(not 'x?y=1')"),
    ("/api", "not begin with /api, a path of the server itself"),
    ("/runs/mine", "not begin with /runs, a path of the server itself"),
])
def test_a_root_path_a_url_cannot_carry_is_refused_in_one_sentence(given: str, says: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(says)):
        Settings.load({"TRANSOM_SERVER_ROOT_PATH": given})


def test_server_start_refuses_a_bad_root_path_before_it_listens(tmp_path: Path) -> None:
    env = {**os.environ, "TRANSOM_HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "transom", "server", "start", "--port", "0",
                           "--root-path", "/api/x"], capture_output=True, text=True, env=env,
                          timeout=60)
    assert done.returncode != 0
    assert "not begin with /api, a path of the server itself" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout and not (tmp_path / "transom.db").exists()


def test_only_links_to_this_server_move_under_the_prefix() -> None:
    page = ('<a href="/runs">x</a> <a href="//cdn.example/x">y</a> <a href="https://a.b/c">z</a>'
            '<form action="/runs/bulk"><button formaction="/runs/x"></button></form>'
            '<td title="href=&#34;/evil&#34;">href="/not-an-attribute</td>'
            '<table data-live="/runs/1/logs/live" data-chart="/not-a-link"></table>')
    moved = rooted(page, "/p")
    assert 'href="/p/runs"' in moved and 'action="/p/runs/bulk"' in moved
    assert 'formaction="/p/runs/x"' in moved and 'data-live="/p/runs/1/logs/live"' in moved
    assert 'href="//cdn.example/x"' in moved and 'href="https://a.b/c"' in moved
    assert "&#34;/evil&#34;" in moved and '>href="/not-an-attribute<' in moved
    assert 'data-chart="/not-a-link"' in moved
    assert rooted(page, "") == page


@pytest.fixture
def prefixed(start_server: Callable[..., LiveServer]) -> LiveServer:
    server = start_server(server_services=False, server_root_path=ROOT)
    backend = server.server.config.app.state.backend
    run_id, events = flow_run("etl", "nightly", created=T0, failed=True, tasks=3, logs=5)
    backend.send_events(events)
    server.run_id = run_id  # type: ignore[attr-defined]
    return server


def _origin(server: LiveServer) -> str:
    return server.url.removesuffix("/api")


def _assert_rooted(html: str) -> list[str]:
    links = [link for link in _LINKS.findall(html) if link.startswith("/")]
    assert links, "the page has links"
    outside = [link for link in links if not link.startswith(ROOT + "/")]
    assert not outside, outside
    return links


@pytest.mark.parametrize("proxy", ["passes the prefix on", "strips the prefix"])
def test_every_page_links_under_the_prefix_whichever_way_the_proxy_sends_it(
        prefixed: LiveServer, proxy: str) -> None:
    run_id = prefixed.run_id  # type: ignore[attr-defined]
    sent = ROOT if proxy == "passes the prefix on" else ""
    with httpx.Client(base_url=_origin(prefixed) + sent, timeout=10) as web:
        for path in ("/", "/runs", f"/runs/{run_id}", "/deployments", "/work-pools",
                     "/artifacts", "/variables", "/blocks", "/concurrency-limits", "/settings",
                     "/runs/no-such-run"):
            page = web.get(path)
            assert page.status_code in (200, 404), (path, page.status_code)
            assert 'data-root="' + ROOT + '"' in page.text
            links = _assert_rooted(page.text)
        # The page's own script loads from where it links it, with its type.
        script = next(link for link in links if link.endswith(".js") and "/app." in link)
        with httpx.Client(base_url=_origin(prefixed), timeout=10) as direct:
            assert direct.get(script).headers["content-type"].startswith("text/javascript")
        # A redirect to a page of the server stays under the prefix.
        jump = web.get(f"/runs/{run_id}/logs/first-error", follow_redirects=False)
        assert jump.status_code == 303 and jump.headers["location"].startswith(f"{ROOT}/runs/")
        # What the live list sends is rooted too.
        with web.stream("GET", "/runs/live") as live:
            text = ""
            for chunk in live.iter_text():
                text += chunk
                if "event: page" in text and "\n\n" in text.split("event: page", 1)[1]:
                    break
        _assert_rooted(text.split("event: page", 1)[1].replace("\ndata: ", "\n"))


def test_the_api_its_docs_and_its_client_work_under_the_prefix(prefixed: LiveServer) -> None:
    base = _origin(prefixed) + ROOT
    with httpx.Client(base_url=base, timeout=10) as web:
        assert web.get("/api/health").status_code == 200
        assert f"{ROOT}/api/openapi.json" in web.get("/docs").text
        assert web.get("/api/openapi.json").status_code == 200
    client = TransomClient(f"{base}/api")
    try:
        assert client.read_flow_run(prefixed.run_id).name == "nightly"  # type: ignore[attr-defined]
    finally:
        client.close()


def test_sign_in_redirects_stay_under_the_prefix(start_server: Callable[..., LiveServer]) -> None:
    server = start_server(server_services=False, server_root_path=ROOT, server_api_key="k" * 24)
    with httpx.Client(base_url=_origin(server) + ROOT, timeout=10) as web:
        asked = web.get("/runs", headers={"accept": "text/html"}, follow_redirects=False)
        assert asked.status_code == 303
        assert asked.headers["location"].startswith(f"{ROOT}/login?next=")
        login = web.get(asked.headers["location"].removeprefix(ROOT))
        assert login.status_code == 200
        _assert_rooted(login.text)
