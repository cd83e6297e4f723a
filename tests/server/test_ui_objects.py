"""The web UI's artifacts, variables and settings pages over HTTP, from a real server on
127.0.0.1 on both databases: what they show, how they page, what they escape (a run's markdown
must not become HTML, an outside image must not be loaded) and their error pages."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import datetime

import httpx
import pytest
import sqlalchemy as sa
from tests.server.conftest import LiveServer
from tests.support.seed import T0, flow_run

from transom._version import __version__
from transom.client.http import TransomClient
from transom.exceptions import UserInputError
from transom.schemas import ArtifactCreate, RunCursor, VariableCreate

XSS = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


def _web(server: LiveServer, headers: dict[str, str] | None = None) -> httpx.Client:
    return httpx.Client(base_url=server.url.removesuffix("/api"), timeout=10, headers=headers)


def _keys(page: str) -> list[str]:
    return re.findall(r'<a href="/artifacts/([a-z0-9-]+)">', page)


def test_the_artifacts_list_shows_each_keys_newest_version_pages_and_filters_by_prefix(
        start_server: Callable[..., LiveServer]) -> None:
    server = start_server(server_services=False)
    backend = server.server.config.app.state.backend
    run_id, events = flow_run("etl", "nightly", created=T0)
    backend.send_events(events)
    for n in range(60):
        backend.create_artifact(ArtifactCreate(key=f"report-{n:02d}", type="markdown",
                                               data="# v1", flow_run_id=run_id))
    backend.create_artifact(ArtifactCreate(key="report-59", type="table", data=[{"a": 1}],
                                           description=XSS, flow_run_id=run_id))
    backend.create_artifact(ArtifactCreate(key="sales", type="progress", data=10.0))
    with _web(server) as web:
        first = web.get("/artifacts")
        assert first.status_code == 200
        keys = _keys(first.text)
        assert keys[:2] == ["sales", "report-59"] and len(keys) == 50
        row = first.text.split('href="/artifacts/report-59"')[1].split("</tr>")[0]
        assert ">table<" in row and ESCAPED in row and XSS not in first.text
        assert f'href="/runs/{run_id}"' in row and ">2<" in row  # its version
        assert 'id="newer"' not in first.text  # the newest page
        link = re.search(r'id="older"[^>]*href="([^"]*)"', first.text)
        assert link is not None and "after=" in link[1] and "offset" not in link[1]
        older = web.get(link[1].replace("&amp;", "&"))
        assert _keys(older.text) == [f"report-{n:02d}" for n in range(10, -1, -1)]
        assert 'id="older"' not in older.text
        # Back to the newer page by its keyset cursor: the same 50 keys.
        back = re.search(r'id="newer"[^>]*href="([^"]*)"', older.text)
        assert back is not None and "before=" in back[1]
        newer = web.get(back[1].replace("&amp;", "&"))
        assert _keys(newer.text) == keys and 'id="newer"' not in newer.text
        # The API pages the same way, by the cursor of a listed artifact.
        api = httpx.get(f"{server.url}/artifacts", params={"limit": 50}).json()
        assert [x["key"] for x in api] == keys
        cursor = RunCursor(datetime.fromisoformat(api[-1]["created"]),
                           uuid.UUID(api[-1]["id"])).encode()
        rest = httpx.get(f"{server.url}/artifacts", params={"after": cursor}).json()
        assert [x["key"] for x in rest] == _keys(older.text)
        with TransomClient(server.url) as client:
            assert [x.key for x in client.list_artifacts(before=cursor, limit=2)] == keys[-3:-1]
            with pytest.raises(UserInputError, match="page a key's versions"):
                client.list_artifacts(key="sales", after=cursor)
        prefixed = web.get("/artifacts", params={"key": "report-0"})
        assert _keys(prefixed.text) == [f"report-{n:02d}" for n in range(9, -1, -1)]
        assert 'value="report-0"' in prefixed.text
        nothing = web.get("/artifacts", params={"key": XSS})
        assert nothing.status_code == 200 and "No artifacts have a key" in nothing.text
        assert ESCAPED in nothing.text and XSS not in nothing.text
        for bad in ({"after": "x"}, {"before": "-1"}, {"after": "1_" + "g" * 32},
                    {"key": "k" * 300}):
            answer = web.get("/artifacts", params=bad)
            assert answer.status_code == 400, bad
            assert answer.headers["content-type"].startswith("text/html")
            assert "<h1>Bad page link</h1>" in answer.text


def test_an_artifact_page_renders_markdown_safely_and_lists_the_versions(
        start_server: Callable[..., LiveServer]) -> None:
    server = start_server(server_services=False)
    backend = server.server.config.app.state.backend
    run_id, events = flow_run("etl", "nightly", created=T0)
    backend.send_events(events)
    backend.create_artifact(ArtifactCreate(key="report", type="markdown", data="old",
                                           flow_run_id=run_id))
    markdown = (f"# Sales {XSS}\n\n| region | total |\n|---|---|\n| north | 10 |\n\n"
                "<img src=x onerror=alert(1)> [docs](https://example.org/docs) "
                "[bad](javascript:alert(1)) [data](data:image/png;base64,AAAA) "
                "![chart](https://elsewhere.example/c.png) "
                "![own](/static/c.png)")
    backend.create_artifact(ArtifactCreate(key="report", type="markdown", data=markdown,
                                           description=f"**nightly** {XSS}"))
    with _web(server) as web:
        page = web.get("/artifacts/report")
        assert page.status_code == 200
        content = page.text.split('id="content"')[1].split("</section>")[0]
        assert f"<h1>Sales {ESCAPED}</h1>" in content
        assert "<th>region</th>" in content and "<td>north</td>" in content
        assert "&lt;img src=x onerror=alert(1)&gt;" in content and "<img src=\"x\"" not in content
        assert '<a href="https://example.org/docs" rel="noopener noreferrer nofollow">docs</a>' \
            in content
        assert 'href="javascript:' not in page.text and "[bad](javascript:alert(1))" in content
        assert 'href="data:' not in content and ">data</a>" in content  # not followed
        assert '<img src="/static/c.png" alt="own"' in content
        assert "elsewhere.example" not in "".join(re.findall(r"<img[^>]*>", page.text))
        assert '<a href="https://elsewhere.example/c.png"' in content  # a link instead
        assert "<strong>nightly</strong>" in page.text and XSS not in page.text
        versions = page.text.split('id="versions"')[1]
        assert re.findall(r'<td class="num">(\d+)</td>', versions) == ["2", "1"]
        assert f'href="/runs/{run_id}"' in versions
        assert "img-src 'self' data:" in page.headers["content-security-policy"]

        missing = web.get("/artifacts/no-such-key")
        assert missing.status_code == 404 and "There is no artifact with the key" in missing.text
        escaped = web.get("/artifacts/%3Cscript%3Ealert(1)%3C%2Fscript%3E")
        assert escaped.status_code == 404 and XSS not in escaped.text and ESCAPED in escaped.text
        for odd in ("a%00b", "x" * 300, "Report", "a/b"):  # no key looks so: not even asked for
            answer = web.get(f"/artifacts/{odd}")
            assert answer.status_code == 404 and "<h1>No such artifact</h1>" in answer.text, odd


def test_artifacts_of_each_type_render_as_such(start_server: Callable[..., LiveServer]) -> None:
    server = start_server(server_services=False)
    backend = server.server.config.app.state.backend
    made = {
        "columns": ("table", {"name": ["a", XSS], "n": [1, 2]}),
        "rows": ("table", [[1, 2], [3, 4]]),
        "docs": ("link", {"link": "https://example.org/x", "text": XSS}),
        "evil-link": ("link", {"link": "javascript:alert(1)", "text": "click"}),
        "done": ("progress", 42.5),
        "own-image": ("image", "/static/chart.png"),
        "far-image": ("image", "https://elsewhere.example/chart.png"),
        "odd": ("table", {"not": "a table"}),
    }
    for key, (kind, data) in made.items():
        backend.create_artifact(ArtifactCreate(key=key, type=kind, data=data))
    with _web(server) as web:
        def content(key: str) -> str:
            page = web.get(f"/artifacts/{key}")
            assert page.status_code == 200 and XSS not in page.text
            return page.text.split('id="content"')[1].split("</section>")[0]

        columns = content("columns")
        assert "<th>name</th><th>n</th>" in columns and f"<td>{ESCAPED}</td><td>2</td>" in columns
        assert "<tr><td>3</td><td>4</td></tr>" in content("rows")
        assert f'<a href="https://example.org/x" rel="noopener noreferrer nofollow">{ESCAPED}</a>' \
            in content("docs")
        assert "<a" not in content("evil-link") and "click" in content("evil-link")
        assert '<progress max="100" value="42.5">' in content("done")
        assert '<img src="/static/chart.png"' in content("own-image")
        far = content("far-image")
        assert "<img" not in far and 'href="https://elsewhere.example/chart.png"' in far
        assert "&#34;not&#34;: &#34;a table&#34;" in content("odd")  # shown as JSON


def test_the_variables_page_shows_values_pretty_cut_long_ones_and_escapes(
        start_server: Callable[..., LiveServer]) -> None:
    server = start_server(server_services=False)
    backend = server.server.config.app.state.backend
    backend.set_variable(VariableCreate(name="small", value={"b": 1, "a": [XSS]},
                                        tags=[XSS, "prod"]))
    backend.set_variable(VariableCreate(name="big", value="x" * 1000))
    for n in range(105):
        backend.set_variable(VariableCreate(name=f"v{n:03d}", value=n))
    with _web(server) as web:
        page = web.get("/variables")
        assert page.status_code == 200 and XSS not in page.text
        small = page.text.split('id="var-small"')[1].split("</tr>")[0]
        pretty = f"{{\n  &#34;a&#34;: [\n    &#34;{ESCAPED}&#34;\n  ],\n  &#34;b&#34;: 1\n}}"
        assert f"<pre>{pretty}</pre>" in small  # sorted, indented, escaped
        assert f'<span class="tag">{ESCAPED}</span>' in small and "prod" in small
        big = page.text.split('id="var-big"')[1].split("</tr>")[0]
        assert f'<details><summary><code>&#34;{"x" * 199}…</code></summary>' in big  # cut
        assert f'<pre>&#34;{"x" * 1000}&#34;</pre></details>' in big  # and all of it
        assert page.text.count('<tr id="var-') == 100
        following = web.get("/variables", params={"offset": 100}).text
        assert re.findall(r'id="var-([^"]+)"', following) == ["v098", "v099", "v100", "v101",
                                                               "v102", "v103", "v104"]
        bad = web.get("/variables", params={"offset": "lots"})
        assert bad.status_code == 400 and "offset must be a whole number" in bad.text


def test_the_settings_page_tells_version_database_api_url_and_time_but_no_secret(
        start_server: Callable[..., LiveServer], database_url: str) -> None:
    server = start_server(server_services=False, server_api_key="s3cret-key")
    backend = server.server.config.app.state.backend
    backend.send_events(flow_run("etl", "nightly", created=T0)[1])
    backend.send_events(flow_run("etl", "again", created=T0)[1])
    with _web(server, headers={"Authorization": "Bearer s3cret-key"}) as web:
        page = web.get("/settings")
        assert page.status_code == 200
        assert f'id="version" class="mono">{__version__}<' in page.text
        url = sa.engine.make_url(database_url)
        kind = url.get_backend_name()
        database = page.text.split('id="database"')[1].split("</td>")[0]
        assert f">{kind}<" in database
        if kind == "sqlite":
            assert str(url.database) in database
        else:
            assert f"{url.host}:{url.port}/{url.database}" in database
        assert server.url in page.text.split('id="api-url"')[1]
        assert re.search(r'id="now"><time datetime="[^"]+\+00:00">', page.text)
        assert 'id="flow-runs">2<' in page.text
        assert "s3cret-key" not in page.text
        assert not url.password or url.password not in page.text
    with _web(server) as anonymous:  # the pages need the server's credentials too
        for path in ("/settings", "/artifacts", "/artifacts/x", "/variables"):
            assert anonymous.get(path).status_code == 401, path
