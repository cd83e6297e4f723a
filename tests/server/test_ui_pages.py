"""The web UI's pages over HTTP, from a real server on 127.0.0.1: what they show, what they
escape, and that the API's guards (Host header, credentials) hold for them too."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import re
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from tests.server.conftest import LiveServer
from tests.support.seed import T0, flow_run, seed

from transom.core import states as st
from transom.core.recorder import LogRecorded, StateChanged, TaskRunCreated

XSS = "<script>alert(1)</script>"


def _origin(server: LiveServer) -> str:
    return server.url.removesuffix("/api")


def _link(page: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}"[^>]*href="([^"]*)"', page)
    assert match, f"no link #{element_id}"
    return match.group(1).replace("&amp;", "&")


def test_a_pager_link_gets_the_list_alone_and_a_history_restore_the_whole_page(
        start_server: Callable[..., LiveServer]) -> None:
    """htmx asks with HX-Target: runs-live (the pager's hx-target): the list with its live
    stream and pager, none of the page around it; back/forward (a history restore) and any
    other request get the page."""
    server = start_server(server_services=False)
    seed(server.server.config.app.state.backend, 60)
    with httpx.Client(base_url=_origin(server), timeout=10) as web:
        page = web.get("/runs", params={"state": "COMPLETED"})
        assert 'hx-target="#runs-live"' in page.text and '<form class="filters"' in page.text
        older = _link(page.text, "older")
        part = web.get(older, headers={"HX-Request": "true", "HX-Target": "runs-live",
                                       "HX-Boosted": "true"})
        assert part.status_code == 200 and "HX-Target" in part.headers["vary"]
        assert part.text.lstrip().startswith('<div id="runs-live" data-live="/runs/live?')
        assert "state=COMPLETED" in part.text.split(">", 1)[0]  # its stream keeps the filter
        assert "<html" not in part.text and 'class="filters"' not in part.text
        assert re.findall(r">(run-\d{5})</a>", part.text) == \
            re.findall(r">(run-\d{5})</a>", web.get(older).text)
        for headers in ({"HX-Request": "true", "HX-Target": "runs-live",
                         "HX-History-Restore-Request": "true"},
                        {"HX-Request": "true", "HX-Target": "main"}, {}):
            assert '<form class="filters"' in web.get(older, headers=headers).text, headers
        # A pager link whose filter no longer holds: the reason where the list was.
        gone = web.get("/runs", params={"pool": "deleted-since"},
                       headers={"HX-Request": "true", "HX-Target": "runs-live"})
        assert gone.status_code == 400
        assert gone.text.lstrip().startswith('<div id="runs-live">')
        assert "Bad runs filter" in gone.text and "deleted-since" in gone.text
        assert "<html" not in gone.text
        whole = web.get("/runs", params={"pool": "deleted-since"})
        assert whole.status_code == 400 and "<html" in whole.text


def test_the_runs_list_pages_by_cursor_with_its_filters_in_the_url(
        start_server: Callable[..., LiveServer]) -> None:
    server = start_server(server_services=False)
    backend = server.server.config.app.state.backend
    seed(backend, 120)
    with httpx.Client(base_url=_origin(server), timeout=10) as web:
        first = web.get("/runs")
        assert first.status_code == 200 and "120 runs" in first.text
        names = re.findall(r">(run-\d{5})</a>", first.text)
        assert names[0] == "run-00119" and len(names) == 50
        assert 'id="newer"' not in first.text  # the first page
        second = web.get(_link(first.text, "older"))
        assert re.findall(r">(run-\d{5})</a>", second.text)[0] == "run-00069"
        third = web.get(_link(second.text, "older"))
        assert len(re.findall(r">(run-\d{5})</a>", third.text)) == 20
        assert 'id="older"' not in third.text
        back = web.get(_link(third.text, "newer"))
        assert re.findall(r">(run-\d{5})</a>", back.text) == \
            re.findall(r">(run-\d{5})</a>", second.text)
        failed = web.get("/runs", params={"state": "FAILED", "flow": "etl", "limit": 5})
        assert "17 runs match" in failed.text
        assert set(re.findall(r'class="state s-(\w+)"', failed.text.split("<tbody>")[1])) == {"FAILED"}
        following = _link(failed.text, "older")
        assert {"state=FAILED", "flow=etl", "limit=5"} <= set(following.split("?")[1].split("&"))
        assert "No flow runs match" in web.get("/runs", params={"flow": "nope"}).text
        bad = web.get("/runs", params={"after": "garbage"})
        assert bad.status_code == 400 and "not a page cursor" in bad.text


def test_a_run_page_shows_states_parameters_error_task_runs_and_paged_logs(
        start_server: Callable[..., LiveServer]) -> None:
    server = start_server(server_services=False)
    backend = server.server.config.app.state.backend
    run_id, events = flow_run("etl", "nightly", created=T0, failed=True, tasks=205, logs=450,
                              parameters={"day": "2026-01-05"})
    backend.send_events(events)
    with httpx.Client(base_url=_origin(server), timeout=10) as web:
        page = web.get(f"/runs/{run_id}").text
        assert "<title>nightly · Failed · Transom</title>" in page
        assert "ValueError: the input file is empty" in page.split('id="error"')[1]
        assert re.findall(r'class="state s-(\w+)"', page.split('id="states"')[1].split("</ol>")[0]) \
            == ["RUNNING", "FAILED"]
        assert "&#34;day&#34;: &#34;2026-01-05&#34;" in page
        def listed(html: str) -> int:
            return html.split('id="task-runs"')[1].split("</table>")[0].count("etl.step")

        assert listed(page) == 50 and "(205; the first 50 shown" in page
        assert listed(web.get(_link(page, "all-task-runs")).text) == 205
        # The log filter lists the mapped task once, with its count, not its 205 runs.
        assert '<option value="etl.step">etl.step (205 runs)</option>' in page
        assert "450 lines; 251–450 shown" in page and "line 449 of nightly" in page
        assert "line 250 of nightly" in page and "line 249 of nightly" not in page
        earlier = web.get(_link(page, "earlier")).text
        assert "line 50 of nightly" in earlier and "line 250 of nightly" not in earlier
        assert '<time datetime="2026-01-05T09:00:03+00:00">2026-01-05 09:00:03 UTC</time>' in page
        by_prefix = web.get(f"/runs/{str(run_id)[:8]}")
        assert by_prefix.status_code == 200 and "nightly" in by_prefix.text
        missing = web.get("/runs/0123456789abcdef")
        assert missing.status_code == 404 and "No such flow run" in missing.text


def test_user_text_is_escaped_everywhere(start_server: Callable[..., LiveServer]) -> None:
    server = start_server(server_services=False)
    backend = server.server.config.app.state.backend
    run_id, events = flow_run(XSS, XSS, created=T0, tasks=1, logs=1,
                              parameters={XSS: XSS})
    backend.send_events(events)
    with httpx.Client(base_url=_origin(server), timeout=10) as web:
        for page in (web.get("/runs").text, web.get(f"/runs/{run_id}").text,
                     web.get("/runs", params={"flow": XSS}).text):
            assert XSS not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
            assert "<script>" not in page  # the page's own scripts are <script defer src=...>


def test_pages_are_gzipped_and_forbid_inline_and_outside_scripts(
        start_server: Callable[..., LiveServer]) -> None:
    server = start_server(server_services=False)
    seed(server.server.config.app.state.backend, 60)
    with httpx.Client(base_url=_origin(server), timeout=10) as web:
        raw = web.get("/runs", headers={"Accept-Encoding": "gzip"})
        assert raw.headers["content-encoding"] == "gzip"
        assert "script-src 'self'" in raw.headers["content-security-policy"]
        assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', raw.text)
        assert len(assets) == 1 and re.fullmatch(r"/static/app\.[0-9a-f]{12}\.js", assets[0])
        assert not re.search(r"<script(?![^>]*\bsrc=)", raw.text)  # no inline script
        # The one inline style is our sheet, allowed by its hash and by nothing looser.
        csp = raw.headers["content-security-policy"]
        styles = re.findall(r"<style>(.*?)</style>", raw.text, re.S)
        assert len(styles) == 1 and "unsafe-inline" not in csp
        digest = base64.b64encode(hashlib.sha256(styles[0].encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp
        for path in assets:
            asset = web.get(path, headers={"Accept-Encoding": "gzip"})
            assert asset.status_code == 200 and asset.headers["content-encoding"] == "gzip"
            assert "immutable" in asset.headers["cache-control"]
            assert asset.headers["content-type"].startswith(("text/javascript", "text/css"))
        plain = httpx.get(f"{_origin(server)}{assets[0]}", headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in plain.headers
        assert plain.content.startswith(b"var htmx=")  # the bundle, htmx first
        assert web.get("/static/htmx.min.0000.js").status_code == 404


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_pages_keep_the_api_guards(start_server: Callable[..., LiveServer]) -> None:
    server = start_server(server_services=False, server_api_key="s3cret")
    origin = _origin(server)
    rebound = httpx.get(f"{origin}/runs", headers={"Host": "attacker.example:4200"})
    assert rebound.status_code == 400 and "does not answer for the host" in rebound.text
    assert httpx.get(f"{origin}/runs").status_code == 401
    assert httpx.get(f"{origin}/", follow_redirects=False).status_code == 401
    keyed = httpx.get(f"{origin}/runs", headers={"X-API-Key": "s3cret"})
    assert keyed.status_code == 200 and "Flow runs" in keyed.text
    asset = re.findall(r'src="(/static/[^"]+)"', keyed.text)[0]
    assert httpx.get(f"{origin}{asset}").status_code == 200  # a static file holds no data
    form = httpx.post(f"{origin}/runs", data={"state": "x"}, headers={"X-API-Key": "s3cret"})
    assert form.status_code == 405


def test_times_shown_are_utc_and_labelled() -> None:
    from transom.server.ui.render import when

    assert str(when(T0 + timedelta(microseconds=5))) == (
        '<time datetime="2026-01-05T09:00:00.000005+00:00">2026-01-05 09:00:00 UTC</time>')
    assert "–" in str(when(None))


def test_the_runs_list_is_sent_again_when_it_changes(
        start_server: Callable[..., LiveServer]) -> None:
    import threading
    import time
    import uuid

    from transom.core import states as st
    from transom.core.recorder import FlowRunCreated, StateChanged

    server = start_server(server_services=False)
    backend = server.server.config.app.state.backend
    seed(backend, 3)
    with httpx.Client(base_url=_origin(server), timeout=10) as web:
        page = web.get("/runs", params={"flow": "etl"}).text
        live = re.search(r'data-live="([^"]+)"', page)
        assert live and "flow=etl" in live.group(1) and "seen=" in live.group(1)
        run_id = uuid.uuid4()

        def later() -> None:
            time.sleep(0.5)
            backend.send_events([FlowRunCreated(run_id, "etl", "brand-new", {}, created=T0 + timedelta(days=1), process=None),
                                 StateChanged(run_id, False, st.Running(), 1)])

        writer = threading.Thread(target=later)
        writer.start()
        started = time.monotonic()
        with web.stream("GET", live.group(1).replace("&amp;", "&")) as stream:
            data: list[str] = []
            ids: list[str] = []
            for raw in stream.iter_lines():
                if raw.startswith("data: "):
                    data.append(raw[6:])
                elif raw.startswith("id: "):
                    ids.append(raw[4:])
                elif raw == "" and data:
                    break  # the first event: nothing was sent while nothing changed
                assert time.monotonic() - started < 20, "no update came"
        writer.join()
    fragment = "\n".join(data)
    assert "4 runs match" in fragment and ">brand-new</a>" in fragment
    assert fragment.index("brand-new") < fragment.index("run-00002")  # newest first
    assert "<html" not in fragment
    bad = httpx.get(_origin(server) + "/runs/live", params={"after": "garbage"})
    assert bad.status_code == 400 and "cursor" in bad.text
    # The event's id is the digest of the list it holds (a reopened stream sends it as `seen`);
    # a Last-Event-ID that is none is refused.
    assert len(ids) == 1 and re.fullmatch("[0-9a-f]{16}", ids[0]) and ids[0] not in live.group(1)
    bad = httpx.get(_origin(server) + "/runs/live", headers={"Last-Event-ID": "12; drop"})
    assert bad.status_code == 400 and bad.text == "Last-Event-ID is not a digest this stream sent.\n"


def test_a_page_size_chosen_once_is_remembered(start_server: Callable[..., LiveServer]) -> None:
    server = start_server(server_services=False)
    seed(server.server.config.app.state.backend, 60)
    with httpx.Client(base_url=_origin(server), timeout=10) as web:
        assert len(re.findall(r">(run-\d{5})</a>", web.get("/runs").text)) == 50
        chosen = web.get("/runs", params={"limit": 25})
        assert "transom_page_size=25" in chosen.headers["set-cookie"]
        later = web.get("/runs").text  # no limit in the URL: the remembered one
        assert len(re.findall(r">(run-\d{5})</a>", later)) == 25
        assert '<option value="25" selected>' in later
        assert len(re.findall(r">(run-\d{5})</a>", web.get("/runs?limit=50").text)) == 50


def _failing_task_run(backend: Any) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:
    """A flow run with two task runs: `load` (upstream `extract`) failed with a traceback and
    logged three lines."""
    run_id, events = flow_run("etl", "nightly", created=T0, tasks=0, logs=2)
    extract, load = uuid.uuid4(), uuid.uuid4()
    at = T0 + timedelta(seconds=1)
    try:
        raise KeyError("no column 'amount' in <input.csv>")
    except KeyError as exc:
        failed = dataclasses.replace(st.Failed(exc), timestamp=at + timedelta(seconds=1))
    events[2:2] = [
        TaskRunCreated(extract, run_id, "etl.extract", "extract-0", 0, created=at),
        StateChanged(extract, True, dataclasses.replace(st.Running(), timestamp=at), 1),
        StateChanged(extract, True, dataclasses.replace(st.Completed(), timestamp=at), 1),
        TaskRunCreated(load, run_id, "etl.load", "load-0", 0, upstream=[extract], created=at),
        StateChanged(load, True, dataclasses.replace(st.Running(), timestamp=at), 1),
        *[LogRecorded(run_id, load, 20 if i < 2 else 40, "transom.task_runs",
                      f"load line {i}", at + timedelta(microseconds=i)) for i in range(3)],
        StateChanged(load, True, failed, 1)]
    backend.send_events(events)
    return run_id, extract, load


def test_a_task_run_page_shows_states_inputs_error_logs_and_its_flow_run(
        start_server: Callable[..., LiveServer]) -> None:
    server = start_server(server_services=False)
    run_id, extract, load = _failing_task_run(server.server.config.app.state.backend)
    with httpx.Client(base_url=_origin(server), timeout=10) as web:
        run_page = web.get(f"/runs/{run_id}").text
        assert f'<a href="/task-runs/{load}">load-0</a>' in run_page
        page = web.get(f"/task-runs/{load}")
        assert page.status_code == 200
        text = page.text
        assert "<title>load-0 · Failed · Transom</title>" in text
        assert f'id="flow-run" href="/runs/{run_id}">nightly</a>' in text
        assert re.findall(r'class="state s-(\w+)"', text.split('id="states"')[1].split("</ol>")[0]) \
            == ["RUNNING", "FAILED"]
        error = text.split('id="error"')[1].split("</section>")[0]
        assert "KeyError: &#34;no column &#39;amount&#39; in &lt;input.csv&gt;&#34;" in error
        assert "<pre>Traceback (most recent call last)" in error and "raise KeyError" in error
        assert f'href="/task-runs/{extract}"' in text.split('id="upstream"')[1]
        logs = text.split('id="logs"')[1]
        assert re.findall(r"load line \d", logs) == ["load line 0", "load line 1", "load line 2"]
        assert "line 0 of nightly" not in logs  # the flow run's own lines stay on its page
        assert '<tr class="lvl-40">' in logs
        upstream = web.get(f"/task-runs/{extract}").text
        assert "<title>extract-0 · Completed · Transom</title>" in upstream
        assert 'id="error"' not in upstream and "No log lines." in upstream
        for bad, sentence in ((uuid.uuid4(), "no task run has the id"),
                              ("not-an-id", "is not a task run id")):
            missing = web.get(f"/task-runs/{bad}")
            assert missing.status_code == 404 and sentence in missing.text
            assert missing.headers["content-type"].startswith("text/html")


def test_pages_answer_bad_query_parameters_with_an_html_page(
        start_server: Callable[..., LiveServer]) -> None:
    server = start_server(server_services=False)
    with httpx.Client(base_url=_origin(server), timeout=10) as web:
        for path, params in (("/runs", {"limit": "0"}), ("/runs", {"limit": "many"}),
                             ("/runs/0123", {"logs_from": "-1"}), ("/runs/0123", {"tasks": "x"})):
            answer = web.get(path, params=params)
            assert answer.status_code == 422, (path, params)
            assert answer.headers["content-type"].startswith("text/html")
            assert "<h1>Bad request</h1>" in answer.text and "query." in answer.text
        api = web.get("/api/flow_runs", params={"limit": "0"})  # the API still answers JSON
        assert api.status_code == 422 and api.json()["detail"].startswith("query.limit")


def test_every_page_has_the_header_nav_marking_where_it_is_and_says_it_in_the_title(
        start_server: Callable[..., LiveServer]) -> None:
    from transom.schemas import (
        ArtifactCreate,
        BlockDocumentCreate,
        BlockTypeIn,
        ConcurrencyLimitCreate,
        DeploymentCreate,
        WorkPoolCreate,
    )

    server = start_server(server_services=False)
    backend = server.server.config.app.state.backend
    run_id, events = flow_run("etl", "nightly", created=T0, tasks=1)
    backend.send_events(events)
    task_id = backend.flow_run_task_runs(run_id)[0].id
    backend.create_work_pool(WorkPoolCreate(name="main"))
    deployment = backend.upsert_deployment(DeploymentCreate(
        flow_name="etl", name="daily", entrypoint="flows/etl.py:etl", work_pool="main"))
    backend.create_artifact(ArtifactCreate(key="sales", type="markdown", data="# Sales"))
    backend.save_block(BlockDocumentCreate(name="db", block_type=BlockTypeIn(
        slug="secret", name="Secret"), data={"value": "x"}, secret_fields=["value"]))
    backend.create_concurrency_limit(ConcurrencyLimitCreate(name="tag:db", limit=2))
    pages = [("/", "Dashboard", "Dashboard · last 24 hours"),
             ("/runs", "Flow runs", "Flow runs"),
             (f"/runs/{run_id}", "Flow runs", "nightly · Completed"),
             (f"/task-runs/{task_id}", "Flow runs", "step-0 · Completed"),
             ("/deployments", "Deployments", "Deployments"),
             (f"/deployments/{deployment.id}", "Deployments", "etl/daily · deployment"),
             ("/work-pools", "Work pools", "Work pools"),
             ("/work-pools/main", "Work pools", "main · work pool"),
             ("/artifacts", "Artifacts", "Artifacts"),
             ("/artifacts/sales", "Artifacts", "sales · Artifact"),
             ("/variables", "Variables", "Variables"),
             ("/blocks", "Blocks", "Blocks"),
             ("/blocks/secret/db", "Blocks", "secret/db · Block"),
             ("/concurrency-limits", "Concurrency", "Concurrency limits"),
             ("/concurrency-limits/tag:db", "Concurrency", "tag:db · Concurrency limit"),
             ("/settings", "Settings", "Settings")]
    with httpx.Client(base_url=_origin(server), timeout=10) as web:
        for path, current, title in pages:
            page = web.get(path).text
            nav = page.split('<nav class="main"')[1].split("</nav>")[0]
            assert re.findall(r'href="([^"]+)"', nav) == [
                "/", "/runs", "/deployments", "/work-pools", "/artifacts", "/variables",
                "/blocks", "/concurrency-limits", "/settings"], path
            assert re.findall(r'aria-current="page">([^<]+)<', nav) == [current], path
            assert f"<title>{title} · Transom</title>" in page, path
            assert 'id="zone">Times in UTC<' in page  # transom.js names the browser's zone


def test_odd_paths_and_values_answer_an_html_page_never_json_or_a_500(
        start_server: Callable[..., LiveServer]) -> None:
    # NUL is refused by PostgreSQL's text type (a TransomError there, a miss on SQLite); a path
    # no route has, or a method a page lacks, is a page too.
    server = start_server(server_services=False)
    origin = _origin(server)
    for method, path, statuses in (
        ("GET", "/deployments/%00", {404, 422}), ("GET", "/work-pools/%00", {404, 422}),
        ("GET", "/runs?flow=%00", {400}), ("GET", "/runs?tag=%00&pool=x", {400}),
        ("GET", "/runs/%00", {404}),
        ("GET", "/task-runs/%00", {404}), ("GET", "/?window=%00", {400}),
        ("GET", "/work-pools/" + "x" * 5000, {404}), ("GET", "/deployments/%F0%9F%98%80", {404}),
        ("POST", "/deployments/a%00b/run", {404, 422}), ("GET", "/no/such/page", {404}),
        ("POST", "/runs", {405}), ("PUT", "/work-pools/main", {405}), ("DELETE", "/", {405}),
        # "²" is a digit to str.isdigit() but not to int()
        ("GET", "/artifacts?after=%C2%B2", {400}), ("GET", "/variables?offset=%C2%B2", {400}),
        ("GET", "/blocks?offset=%C2%B2", {400}),
        ("GET", "/concurrency-limits?offset=%C2%B2", {400}),
    ):
        answer = httpx.request(method, origin + path, data={"csrf": "x"} if method == "POST"
                               else None)
        assert answer.status_code in statuses, (method, path, answer.status_code)
        assert answer.headers["content-type"].startswith("text/html"), (method, path)
        if answer.status_code >= 400:
            assert re.search(r"<p>[^<]+</p>", answer.text.split("<h1>")[1]), (method, path)
    assert "GET" in httpx.post(f"{origin}/runs").headers["allow"]
    odd = httpx.get(f"{origin}/runs", headers={"Cookie": b"transom_page_size=\xb2"})
    assert odd.status_code == 200 and "<h1>Flow runs</h1>" in odd.text
    tail = httpx.get(f"{origin}/runs/{'0' * 8}-0000-0000-0000-{'0' * 12}/logs/live",
                     headers={"Last-Event-ID": b"\xb2"})
    assert tail.status_code == 400 and "Last-Event-ID must be the id of a log line" in tail.text


def _raised(error: Exception) -> Exception:
    try:
        raise error
    except Exception as caught:  # with its traceback, as a task's failure has one
        return caught


def test_a_failed_run_names_the_task_it_failed_in_with_that_task_s_traceback(
        start_server: Callable[..., LiveServer]) -> None:
    server = start_server(server_services=False)
    backend = server.server.config.app.state.backend
    run_id, events = flow_run("etl", "nightly", created=T0, failed=True, tasks=2)
    # Two tasks fail after the two that completed: the first to end is the one named.
    first, later = uuid.uuid4(), uuid.uuid4()
    for task_id, name, offset, error in [
            (later, "load-0", 900, RuntimeError("the warehouse is away")),
            (first, f"parse-{XSS}", 500, ValueError("row 7 has no date"))]:
        at = T0 + timedelta(seconds=1)
        end = at + timedelta(milliseconds=offset)
        events[-1:-1] = [
            TaskRunCreated(task_id, run_id, name.split("-")[0], name, 0, created=at),
            StateChanged(task_id, True, dataclasses.replace(st.Running(), timestamp=at), 1),
            StateChanged(task_id, True, dataclasses.replace(st.Failed(_raised(error)),
                                                            timestamp=end), 1)]
    flow_failed = dataclasses.replace(st.Failed(_raised(ValueError("2 tasks failed"))),
                                      timestamp=T0 + timedelta(seconds=3))
    events[-1] = StateChanged(run_id, False, flow_failed, 1)
    backend.send_events(events)
    ok_id, ok_events = flow_run("etl", "no-task-failed", created=T0, failed=True, tasks=2)
    ok_events[-1] = StateChanged(ok_id, False, flow_failed, 1)
    backend.send_events(ok_events)
    with httpx.Client(base_url=_origin(server), timeout=10) as web:
        page = web.get(f"/runs/{run_id}").text
        named = page.split('id="failed-task"')[1].split("</section>")[0]
        assert f'href="/task-runs/{first}"' in named and "parse-&lt;script&gt;" in named
        assert "ValueError: row 7 has no date" in named and "Traceback" in named
        assert "_raised" in named  # the task's own traceback, not the flow's
        assert "warehouse" not in named
        # It comes before the flow's own error, whose traceback is folded away under it.
        assert page.index('id="failed-task"') < page.index('id="error"')
        own = page.split('id="error"')[1].split("</section>")[0]
        assert re.search(r"<details><summary>The flow(&#39;|')s traceback</summary><pre>Traceback", own)
        # With no task failed, the flow's traceback is open at the top.
        plain = web.get(f"/runs/{ok_id}").text
        assert 'id="failed-task"' not in plain
        assert "<pre>Traceback" in plain.split('id="error"')[1] and "<details>" not in plain
