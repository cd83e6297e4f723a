"""The runs list's filters (deployment, work pool, tag, time range, name or id prefix, with
state and flow) through every layer, on a live server over SQLite and PostgreSQL: the page and
its URL, keyset paging through a filtered list, the live list and the bulk actions keeping the
filters, the API, the client, and bad input answered with one sentence and a 4xx."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from tests.server.conftest import LiveServer
from tests.support.seed import T0, seed

from transom.client.http import TransomClient
from transom.client.orchestration import SyncOrchestrationClient
from transom.exceptions import Ambiguous, NotFound
from transom.schemas import DeploymentCreate, DeploymentRunCreate, FlowRunCreate, WorkPoolCreate

NAMES = re.compile(r'<td[^>]*><a href="/runs/[0-9a-f-]+">([^<]+)</a>')


def _names(page: str) -> list[str]:
    return NAMES.findall(page)


def _link(page: str, element_id: str) -> str | None:
    match = re.search(rf'id="{element_id}"[^>]*href="([^"]*)"', page)
    return match.group(1).replace("&amp;", "&") if match else None


def _count(page: str) -> str:
    match = re.search(r'id="count">([^<]*)<', page)
    assert match, "no count"
    return match.group(1)


def _seeded(server: LiveServer) -> dict[str, Any]:
    """30 finished runs of `etl` a minute apart from T0 (run-00000..run-00029), deployment runs
    in two pools (etl/nightly: 3 in main tagged blue, etl/hourly: 2 in gpu, report/nightly: 1
    in main) and tagged runs whose names hold LIKE's wildcards."""
    backend = server.server.config.app.state.backend
    seed(backend, 30)
    for pool in ("main", "gpu"):
        backend.create_work_pool(WorkPoolCreate(name=pool))
    made = {}
    for flow, name, pool, runs, tags in (("etl", "nightly", "main", 3, ["blue"]),
                                         ("etl", "hourly", "gpu", 2, []),
                                         ("report", "nightly", "main", 1, ["blue", "red"])):
        deployment = backend.upsert_deployment(DeploymentCreate(
            flow_name=flow, name=name, entrypoint=f"flows/{flow}.py:{flow}", work_pool=pool))
        made[f"{flow}/{name}"] = deployment.id
        for i in range(runs):
            backend.create_deployment_run(deployment.id, DeploymentRunCreate(
                name=f"{flow}-{name}-{i}", tags=tags))
    for name, tags in (("a_b-1", ["100%"]), ("axb-2", ["100x"]), ("50%off", ["blue"]),
                       ("50xoff", [])):
        backend.create_flow_run(FlowRunCreate(flow_name="misc", name=name, tags=tags))
    return made


def test_each_filter_alone_and_combined_on_the_page(
        start_server: Callable[..., LiveServer]) -> None:
    server = start_server(server_services=False)
    deployments = _seeded(server)
    origin = server.url.removesuffix("/api")
    with httpx.Client(base_url=origin, timeout=10) as web:
        def shown(**params: str) -> tuple[str, list[str]]:
            answer = web.get("/runs", params=params)
            assert answer.status_code == 200, answer.text
            return answer.text, _names(answer.text)

        page, names = shown(deployment="etl/nightly")
        assert sorted(names) == ["etl-nightly-0", "etl-nightly-1", "etl-nightly-2"]
        assert _count(page) == "3 runs match"
        assert "<title>Flow runs · deployment etl/nightly · Transom</title>" in page
        assert '<option value="etl/nightly" selected>' in page  # the select shows it
        assert '<option value="report/nightly">' in page and '<option value="gpu">' in page
        assert sorted(shown(deployment=str(deployments["report/nightly"]))[1]) \
            == ["report-nightly-0"]
        page, names = shown(pool="main")
        assert len(names) == 4 and {n.rsplit("-", 1)[0] for n in names} \
            == {"etl-nightly", "report-nightly"}
        assert '<option value="main" selected>' in page
        assert sorted(shown(pool="gpu")[1]) == ["etl-hourly-0", "etl-hourly-1"]
        assert sorted(shown(tag="blue")[1]) == ["50%off", "etl-nightly-0", "etl-nightly-1",
                                                "etl-nightly-2", "report-nightly-0"]
        assert shown(tag="red")[1] == ["report-nightly-0"]
        assert shown(tag="100%")[1] == ["a_b-1"]  # a tag is matched whole, not as a pattern
        assert shown(tag="blu")[1] == []
        # The time range: [since, until), the form's datetime-local values read as UTC.
        since, until = (T0 + timedelta(minutes=10)), (T0 + timedelta(minutes=20))
        page, names = shown(since=since.strftime("%Y-%m-%dT%H:%M"),
                            until=until.strftime("%Y-%m-%dT%H:%M"))
        assert names == [f"run-{i:05d}" for i in range(19, 9, -1)]
        assert "created from 2026-01-05 09:10 UTC" in page
        assert 'name="since" value="2026-01-05T09:10"' in page
        assert shown(until="2026-01-05T09:00:30")[1] == ["run-00000"]  # seconds count
        assert shown(since="2026-01-05T10:10+01:00", until="2026-01-05T09:11Z")[1] \
            == ["run-00010"]  # a time with its own offset is taken as it says
        # The name or id prefix: any case for a name; LIKE's % and _ are plain characters.
        assert shown(prefix="RUN-0001")[1] == [f"run-{i:05d}" for i in range(19, 9, -1)]
        assert shown(prefix="a_")[1] == ["a_b-1"]
        assert shown(prefix="50%")[1] == ["50%off"]
        backend = server.server.config.app.state.backend
        target = backend.list_flow_runs(flow_name="misc", prefix="axb").items[0]
        for prefix in (target.id.hex[:10], str(target.id)[:14], str(target.id).upper()):
            assert target.name in shown(prefix=prefix)[1], prefix
        # Combined: every filter narrows the others.
        page, names = shown(pool="main", tag="blue", flow="etl", state="SCHEDULED")
        assert sorted(names) == ["etl-nightly-0", "etl-nightly-1", "etl-nightly-2"]
        assert "<title>Flow runs · Scheduled · flow etl · pool main · tagged blue · Transom" \
            in page
        assert shown(deployment="etl/nightly", pool="gpu")[1] == []
        assert shown(flow="etl", prefix="run-0000", since="2026-01-05T09:05")[1] \
            == [f"run-{i:05d}" for i in range(9, 4, -1)]
        assert shown(state="FAILED", until="2026-01-05T09:15")[1] == ["run-00010", "run-00003"]
        assert "No flow runs match these filters." in shown(tag="nothing")[0]
        # Empty fields (what the form sends when left blank) are no filter.
        assert _count(shown(deployment="", pool="", tag="", since="", until="", prefix="")[0]) \
            == "40 runs"


def test_a_filtered_list_pages_by_cursor_and_keeps_its_filters_live_and_in_bulk(
        start_server: Callable[..., LiveServer]) -> None:
    server = start_server(server_services=False)
    _seeded(server)
    origin = server.url.removesuffix("/api")
    wanted = {"prefix": "run-0000", "since": "2026-01-05T09:01", "flow": "etl"}  # 00001..00009
    with httpx.Client(base_url=origin, timeout=10, headers={"Origin": origin}) as web:
        page = web.get("/runs", params={**wanted, "limit": "4"}).text
        assert _count(page) == "9 runs match"
        seen, pages = _names(page), [page]
        while (older := _link(pages[-1], "older")) is not None:
            query = parse_qs(urlsplit(older).query)
            assert {k: v[0] for k, v in query.items() if k in wanted} == wanted
            pages.append(web.get(older).text)
            seen += _names(pages[-1])
        assert seen == [f"run-{i:05d}" for i in range(9, 0, -1)] and len(pages) == 3
        newer = _link(pages[-1], "newer")
        assert newer is not None and _names(web.get(newer).text) == _names(pages[1])
        # The live list follows the same filters and cursor.
        live = re.search(r'data-live="([^"]*)"', pages[1])
        assert live
        params = parse_qs(urlsplit(live.group(1).replace("&amp;", "&")).query)
        assert {k: params[k][0] for k in wanted} == wanted and "after" in params
        with web.stream("GET", live.group(1).replace("&amp;", "&").replace("seen=", "old=")) \
                as stream:
            data: list[str] = []
            for raw in stream.iter_lines():
                if raw.startswith("data: "):
                    data.append(raw[6:])
                elif raw == "" and data:
                    break
        assert _names("\n".join(data)) == _names(pages[1])
        # The bulk form's way back is this page, its filters and cursor; the notice lands there.
        back = re.search(r'name="back" value="([^"]*)"', pages[1])
        assert back
        answer = web.post("/runs/bulk", data={"action": "", "back": back.group(1).replace(
            "&amp;", "&")})
        assert answer.status_code == 303
        landed = parse_qs(urlsplit(answer.headers["location"]).query)
        assert {k: landed[k][0] for k in wanted} == wanted and "after" in landed
        assert _names(web.get(answer.headers["location"]).text) == _names(pages[1])


@pytest.mark.parametrize(("params", "says"), [
    ({"deployment": "etl/nope"}, "no deployment named 'etl/nope'"),
    ({"deployment": "nightly"}, "more than one flow has a deployment named 'nightly'"),
    ({"pool": "nope"}, "no work pool named 'nope'"),
    ({"since": "yesterday"}, "the since time 'yesterday' is not a date and time"),
    ({"until": "2026-13-01T00:00"}, "the until time"),
    ({"until": "0001-01-01T00:00"}, "out of range"),
    ({"tag": "x" * 256}, "the tag filter is longer than 255 characters"),
    ({"prefix": "y" * 5000}, "the name or id filter is longer than 255 characters"),
    ({"tag": "a\x00b"}, "NUL"),
])
def test_bad_filters_are_a_one_sentence_400_page(
        start_server: Callable[..., LiveServer], params: dict[str, str], says: str) -> None:
    server = start_server(server_services=False)
    _seeded(server)
    origin = server.url.removesuffix("/api")
    for path in ("/runs", "/runs/live"):
        answer = httpx.get(origin + path, params=params, timeout=10)
        assert answer.status_code == 400, (path, answer.text[:300])
        assert says in answer.text.replace("&#39;", "'"), answer.text[:500]
        assert "Traceback" not in answer.text


def test_the_api_and_the_client_filter_the_same_way(
        start_server: Callable[..., LiveServer]) -> None:
    server = start_server(server_services=False)
    deployments = _seeded(server)
    with httpx.Client(base_url=server.url, timeout=10) as api:
        def names(**params: str) -> list[str]:
            answer = api.get("/flow_runs", params=params)
            assert answer.status_code == 200, answer.text
            return [r["name"] for r in answer.json()["items"]]

        assert sorted(names(deployment="etl/hourly")) == ["etl-hourly-0", "etl-hourly-1"]
        assert names(deployment=str(deployments["report/nightly"])) == ["report-nightly-0"]
        assert len(names(work_pool="main")) == 4
        assert names(tag="red") == ["report-nightly-0"]
        assert names(prefix="A_") == ["a_b-1"]
        assert names(since="2026-01-05T09:28:00Z", until="2026-01-05T09:29:30Z") \
            == ["run-00029", "run-00028"]
        # Paging a filtered list by cursor: the cursor stays valid with its filters.
        first = api.get("/flow_runs", params={"tag": "blue", "limit": 2}).json()
        second = api.get("/flow_runs", params={"tag": "blue", "limit": 2,
                                                "after": first["next_cursor"]}).json()
        third = api.get("/flow_runs", params={"tag": "blue", "limit": 2,
                                               "after": second["next_cursor"]}).json()
        paged = [r["name"] for p in (first, second, third) for r in p["items"]]
        assert sorted(paged) == sorted(names(tag="blue")) and len(set(paged)) == 5
        assert first["total"] == 5 and third["next_cursor"] is None
        # Bad values: 4xx with a sentence, each documented.
        for params, status, says in (
                ({"deployment": "etl/nope"}, 404, "no deployment named"),
                ({"deployment": "nightly"}, 409, "more than one flow"),
                ({"work_pool": "nope"}, 404, "no work pool named"),
                ({"tag": "x" * 256}, 422, "tag"),
                ({"prefix": ""}, 422, "prefix"),
                ({"until": "tomorrow"}, 422, "until"),
                ({"work_pool": "a\x00"}, 422, "work_pool")):
            answer = api.get("/flow_runs", params=params)
            assert (answer.status_code, says in answer.json()["detail"]) == (status, True), \
                (params, answer.text)
        schema = api.get("/openapi.json").json()
        documented = {p["name"]: p for p in schema["paths"]["/api/flow_runs"]["get"]["parameters"]}
        assert documented["tag"]["schema"]["anyOf"][0]["maxLength"] == 255
        assert {"deployment", "work_pool", "tag", "until", "prefix"} <= set(documented)
    with TransomClient(server.url) as client:
        page = client.list_flow_runs(deployment="etl/nightly", work_pool="main", tag="blue",
                                     prefix="ETL-")
        assert sorted(r.name for r in page.items) == ["etl-nightly-0", "etl-nightly-1",
                                                      "etl-nightly-2"]
        assert [r.name for r in client.list_flow_runs(
            until=T0 + timedelta(seconds=30)).items] == ["run-00000"]
        with pytest.raises(NotFound, match="no work pool named 'gone'"):
            client.list_flow_runs(work_pool="gone")
        with pytest.raises(Ambiguous, match="write it as FLOW/NAME"):
            client.list_flow_runs(deployment="nightly")
        # get_client()'s read_flow_runs passes them on.
        orchestration = SyncOrchestrationClient(client)
        assert [r.name for r in orchestration.read_flow_runs(
            work_pool="main", tag="red", deployment="report/nightly")] == ["report-nightly-0"]
        assert [r.name for r in orchestration.read_flow_runs(
            prefix="run-0002", since=T0 + timedelta(minutes=27),
            until=T0 + timedelta(minutes=29))] == ["run-00028", "run-00027"]
