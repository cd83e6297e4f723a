"""The deployment and work pool pages over HTTP, from a real server on SQLite and PostgreSQL:
schedules in words with their next fire times, last runs, the Run form (built from the
parameter schema, validated by the server, CSRF-checked), pools with their workers and the runs
they hold, and why a waiting run has not started."""

from __future__ import annotations

import itertools
import re
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from tests.server.conftest import LiveServer

from transom.schemas import (
    DeploymentCreate,
    DeploymentRunCreate,
    DeploymentUpdate,
    ScheduleIn,
    WorkerPoll,
    WorkPoolCreate,
    WorkPoolUpdate,
)
from transom.services.embedded import EmbeddedBackend
from transom.store import workers

SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "title": "Name"},
        "count": {"type": "integer", "default": 3},
        "ratio": {"type": "number"},
        "dry": {"type": "boolean", "default": False},
        "options": {"type": "object", "default": {"fast": True}},
    },
    "required": ["name"],
    "additionalProperties": False,
}


def _origin(server: LiveServer) -> str:
    return server.url.removesuffix("/api")


def _deploy(backend: EmbeddedBackend, **extra: Any) -> uuid.UUID:
    if not any(p.name == "main" for p in backend.list_work_pools()):
        backend.create_work_pool(WorkPoolCreate(name="main"))
    values: dict[str, Any] = {"flow_name": "etl", "name": "nightly",
                              "entrypoint": "flows/etl.py:etl", "work_pool": "main",
                              "parameter_schema": SCHEMA, "parameters": {"count": 5}}
    values.update(extra)
    return backend.upsert_deployment(DeploymentCreate.model_validate(values)).id


def _token(page: httpx.Response) -> str:
    match = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
    assert match, "no CSRF field in the form"
    return match.group(1)


def test_a_deployment_page_shows_its_schedules_fire_times_and_last_runs(
        start_server: Callable[..., LiveServer]) -> None:
    server = start_server(server_services=False)
    backend: EmbeddedBackend = server.server.config.app.state.backend
    deployment_id = _deploy(backend, schedules=[
        ScheduleIn(cron="0 9 * * *", timezone="Europe/Paris"),
        ScheduleIn(interval=7 * 86400, active=False)])
    _deploy(backend, name="adhoc", paused=True, parameter_schema=None, parameters={})
    made = [backend.create_deployment_run(deployment_id, DeploymentRunCreate(
        parameters={"name": f"n{i}"})) for i in range(3)]
    with httpx.Client(base_url=_origin(server), timeout=10) as web:
        listing = web.get("/deployments").text
        assert "<title>Deployments · Transom</title>" in listing
        rows = listing.split('id="deployments"')[1].split("</table>")[0]
        assert re.findall(r">(adhoc|nightly)</a>", rows) == ["adhoc", "nightly"]
        assert "Paused" in rows.split("nightly")[0]  # adhoc's row comes first
        page = web.get(f"/deployments/{deployment_id}")
        assert page.status_code == 200
        text = page.text
        assert "<title>etl/nightly · deployment · Transom</title>" in text
        schedules = text.split('id="schedules"')[1].split("</ul>")[0]
        assert "every day at 09:00 (cron 0 9 * * * (Europe/Paris))" in schedules
        assert "every 7d (UTC)" in schedules
        assert "(inactive)" in schedules
        fire = re.findall(r'<li><time datetime="([^"]+)">[^<]*</time> <span class="muted">'
                          r'([^<]*) \(Europe/Paris\)</span>', text.split('id="fire-times"')[1])
        assert len(fire) == 10
        times = [datetime.fromisoformat(t) for t, _ in fire]
        assert times == sorted(times) and times[0] > datetime.now(timezone.utc)
        assert all(local.endswith(("09:00 CET", "09:00 CEST")) for _, local in fire)
        assert all(b - a in (timedelta(hours=23), timedelta(days=1), timedelta(hours=25))
                   for a, b in itertools.pairwise(times))
        last = text.split('id="last-runs"')[1].split("</table>")[0]
        assert [f"/runs/{r.id}" for r in reversed(made)] == re.findall(r'href="(/runs/[^"]+)"', last)
        assert 'id="paused">Active' in text
        adhoc = web.get("/deployments/etl/adhoc").text  # by flow/name, as the CLI takes it
        assert 'id="paused">Paused' in adhoc and "No schedule" in adhoc
        assert "The flow takes no parameters." in adhoc
        missing = web.get("/deployments/nope")
        assert missing.status_code == 404 and "no deployment named &#39;nope&#39;" in missing.text
        assert web.get("/deployments/adhoc").status_code == 200  # a name one flow uses
        nowhere = web.get("/no/such/page")  # not a route at all: a page too, not JSON
        assert nowhere.status_code == 404 and nowhere.headers["content-type"].startswith("text/html")
        assert web.get("/api/no/such/route").headers["content-type"] == "application/json"


def test_the_run_form_is_built_from_the_schema_and_the_server_validates_it(
        start_server: Callable[..., LiveServer]) -> None:
    server = start_server(server_services=False)
    backend: EmbeddedBackend = server.server.config.app.state.backend
    deployment_id = _deploy(backend)
    with httpx.Client(base_url=_origin(server), timeout=10) as web:
        page = web.get(f"/deployments/{deployment_id}")
        cookie = page.headers["set-cookie"]
        assert "transom_csrf=" in cookie and "HttpOnly" in cookie
        assert "SameSite=strict" in cookie or "samesite=strict" in cookie.lower()
        token = _token(page)
        form = page.text.split('id="run-form"')[1].split("</form>")[0]
        assert re.findall(r'name="p\.(\w+)"', form) == ["name", "count", "ratio", "dry", "options"]
        assert 'name="p.count" value="5"' in form  # the deployment's default over the schema's
        assert '<option value="false" selected>' in form
        assert "&#34;fast&#34;: true" in form  # a textarea of JSON for an object
        action = f"/deployments/{deployment_id}/run"

        def post(fields: dict[str, str], **headers: str) -> httpx.Response:
            return web.post(action, data={"csrf": token, **fields}, headers=headers)

        for fields, status, sentence in (
            ({"p.name": "x", "p.count": "three"}, 422,
             "Parameter &#39;count&#39; must be a whole number, not &#39;three&#39;."),
            ({"p.name": "x", "p.ratio": "1/2"}, 422, "Parameter &#39;ratio&#39; must be a number"),
            ({"p.name": "x", "p.options": "{fast"}, 422,
             "Parameter &#39;options&#39; is not valid JSON"),
            ({"p.name": "", "p.count": "1"}, 422, "needs the parameter &#39;name&#39;"),
        ):
            refused = post(fields)
            assert refused.status_code == status, fields
            assert refused.headers["content-type"].startswith("text/html")
            problem = refused.text.split('id="problem"')[1].split("</p>")[0]
            assert sentence in problem, (fields, problem)
            if fields.get("p.count"):  # what was typed is kept
                assert f'name="p.count" value="{fields["p.count"]}"' in refused.text
        assert backend.deployment_runs(deployment_id) == []
        made = post({"p.name": "Ada <3", "p.count": "7", "p.ratio": "0.5", "p.dry": "true",
                     "p.options": '{"fast": false, "n": [1, 2]}'})
        assert made.status_code == 303
        run_id = made.headers["location"].removeprefix("/runs/")
        run = backend.read_flow_run(run_id)
        assert run.deployment_id == deployment_id and run.state_name == "Scheduled"
        assert run.parameters == {"name": "Ada <3", "count": 7, "ratio": 0.5, "dry": True,
                                  "options": {"fast": False, "n": [1, 2]}}
        shown = web.get(made.headers["location"]).text
        assert "Ada &lt;3" in shown and 'id="waiting"' in shown
        # Empty fields take the defaults (the deployment's, then the flow's own).
        again = post({"p.name": "b", "p.count": "", "p.dry": "", "p.options": ""})
        assert again.status_code == 303
        assert backend.read_flow_run(again.headers["location"].removeprefix("/runs/")) \
            .parameters == {"name": "b", "count": 5}
        missing = web.post(f"/deployments/{uuid.uuid4()}/run", data={"csrf": token})
        assert missing.status_code == 404 and "no deployment has the id" in missing.text


def test_a_form_post_without_the_token_or_from_another_site_is_refused(
        start_server: Callable[..., LiveServer]) -> None:
    server = start_server(server_services=False)
    backend: EmbeddedBackend = server.server.config.app.state.backend
    deployment_id = _deploy(backend)
    action = f"{_origin(server)}/deployments/{deployment_id}/run"
    with httpx.Client(base_url=_origin(server), timeout=10) as web:
        token = _token(web.get(f"/deployments/{deployment_id}"))
        cases: list[tuple[httpx.Response, int, str]] = [
            # A cross-site form: the browser sends no SameSite=Strict cookie, and cannot read
            # the token.
            (httpx.post(action, data={"csrf": token, "p.name": "x"}), 403, "security token"),
            (web.post(action, data={"p.name": "x"}), 403, "security token"),
            (web.post(action, data={"csrf": "0" * 48, "p.name": "x"}), 403, "security token"),
            (web.post(action, data={"csrf": token, "p.name": "x"},
                      headers={"Origin": "http://attacker.example"}), 403,
             "a form from http://attacker.example may not change this server"),
            (web.post(action, data={"csrf": token, "p.name": "x"},
                      headers={"Referer": "http://attacker.example/page"}), 403,
             "may not change this server"),
            (web.post(action, json={"csrf": token, "name": "x"}), 415, "Run form only"),
        ]
        for answer, status, sentence in cases:
            assert answer.status_code == status and sentence in answer.text, answer.text
            assert answer.headers["content-type"].startswith("text/html")
        assert backend.deployment_runs(deployment_id) == []
        same = web.post(action, data={"csrf": token, "p.name": "x"},
                        headers={"Origin": _origin(server)})
        assert same.status_code == 303
        assert len(backend.deployment_runs(deployment_id)) == 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_form_post_needs_the_servers_credentials(
        start_server: Callable[..., LiveServer]) -> None:
    server = start_server(server_services=False, server_api_key="s3cret")
    backend: EmbeddedBackend = server.server.config.app.state.backend
    deployment_id = _deploy(backend)
    origin = _origin(server)
    for path in ("/", "/deployments", f"/deployments/{deployment_id}", "/work-pools",
                 "/work-pools/main", f"/task-runs/{uuid.uuid4()}"):
        assert httpx.get(f"{origin}{path}").status_code == 401, path
    assert httpx.post(f"{origin}/deployments/{deployment_id}/run",
                      data={"p.name": "x"}).status_code == 401
    keyed = httpx.get(f"{origin}/deployments/{deployment_id}", headers={"X-API-Key": "s3cret"})
    assert keyed.status_code == 200


def test_work_pool_pages_show_limits_counts_workers_and_their_runs(
        start_server: Callable[..., LiveServer]) -> None:
    server = start_server(server_services=False)
    backend: EmbeddedBackend = server.server.config.app.state.backend
    deployment_id = _deploy(backend)
    backend.update_work_pool("main", WorkPoolUpdate(concurrency_limit=4))
    backend.create_work_pool(WorkPoolCreate(name="idle pool", paused=True))
    for i in range(3):
        backend.create_deployment_run(deployment_id, DeploymentRunCreate(parameters={"name": str(i)}))
    claimed = backend.poll_worker(WorkerPoll(name="w-1", instance=uuid.uuid4(), work_pool="main",
                                             limit=2))
    assert len(claimed.runs) == 2
    with backend.ctx.db.write() as conn:  # a worker last heard from an hour ago
        workers.poll(conn, WorkerPoll(name="w-old", instance=uuid.uuid4(), work_pool="main"),
                     now=datetime.now(timezone.utc) - timedelta(hours=1))
    with httpx.Client(base_url=_origin(server), timeout=10) as web:
        listing = web.get("/work-pools").text
        assert "<title>Work pools · Transom</title>" in listing
        rows = listing.split('id="pools"')[1].split("</table>")[0].split("<tr>")[2:]
        assert "idle pool</a>" in rows[0] and "Paused" in rows[0]
        assert re.findall(r'<td class="num">([^<]*)</td>', rows[1]) == ["4", "1", "2", "1"]
        assert 'href="/work-pools/idle%20pool"' in listing
        page = web.get("/work-pools/main").text
        assert "<title>main · work pool · Transom</title>" in page
        assert 'id="queued">1<' in page and 'id="running">2<' in page and 'id="online">1<' in page
        worker_rows = page.split('id="workers"')[1].split("</table>")[0].split("<tr>")[2:]
        assert "w-1" in worker_rows[0] and "Online" in worker_rows[0]
        assert sorted(re.findall(r'href="/runs/([^"]+)"', worker_rows[0])) == \
            sorted(str(r.id) for r in claimed.runs)
        assert "w-old" in worker_rows[1] and "Offline" in worker_rows[1] and "none" in worker_rows[1]
        assert f'href="/deployments/{deployment_id}">etl/nightly' in page
        assert web.get("/work-pools/idle%20pool").status_code == 200
        missing = web.get("/work-pools/nope")
        assert missing.status_code == 404 and "nope" in missing.text


def test_a_waiting_run_says_why_it_has_not_started(
        start_server: Callable[..., LiveServer]) -> None:
    server = start_server(server_services=False)
    backend: EmbeddedBackend = server.server.config.app.state.backend
    deployment_id = _deploy(backend, concurrency_limit=1)
    web = httpx.Client(base_url=_origin(server), timeout=10)

    def why(run_id: uuid.UUID) -> list[str]:
        page = web.get(f"/runs/{run_id}").text
        if 'id="waiting"' not in page:
            return []
        return re.findall(r"<li>([^<]+)</li>", page.split('id="waiting"')[1].split("</ul>")[0])

    with web:
        later = backend.create_deployment_run(deployment_id, DeploymentRunCreate(
            parameters={"name": "a"}, scheduled_time=datetime.now(timezone.utc) + timedelta(days=1)))
        reasons = why(later.id)
        assert reasons[0] == "It is scheduled for later: a worker takes it once its time comes."
        assert "No worker of work pool &#39;main&#39; is online: `transom worker start --pool main`." \
            in reasons
        now = backend.create_deployment_run(deployment_id, DeploymentRunCreate(
            parameters={"name": "b"}))
        backend.update_work_pool("main", WorkPoolUpdate(paused=True))
        backend.update_deployment(deployment_id, DeploymentUpdate(paused=True))
        reasons = why(now.id)
        assert not any("later" in r for r in reasons)
        assert "Its deployment &#39;nightly&#39; is paused." in reasons
        assert "Work pool &#39;main&#39; is paused: `transom work-pool resume main`." in reasons
        backend.update_work_pool("main", WorkPoolUpdate(paused=False, concurrency_limit=1))
        backend.update_deployment(deployment_id, DeploymentUpdate(paused=False))
        taken = backend.poll_worker(WorkerPoll(name="w", instance=uuid.uuid4(), work_pool="main",
                                               limit=5))
        assert [r.id for r in taken.runs] == [now.id]
        extra = backend.create_deployment_run(deployment_id, DeploymentRunCreate(
            parameters={"name": "c"}))
        reasons = why(extra.id)
        assert "Its deployment&#39;s concurrency limit is reached (1 of 1 running)." in reasons
        assert "Work pool &#39;main&#39; has reached its concurrency limit (1 of 1 running)." \
            in reasons
        assert not any("online" in r for r in reasons)
        assert why(now.id) == []  # Pending: taken by a worker


def test_common_cron_shapes_read_as_words() -> None:
    from transom.server.ui.deployments import cron_in_words

    assert {cron: cron_in_words(cron) for cron in (
        "0 9 * * *", "30 7 * * 1-5", "*/15 * * * *", "0 * * * *", "5 * * * *", "0 */6 * * *",
        "0 8 * * 0", "0 8 * * 7", "0 3 1 * *", "@daily", "@yearly", "0 9 * 1 *", "0 9,17 * * *",
        "0 9 * * 1,3")} == {
        "0 9 * * *": "every day at 09:00", "30 7 * * 1-5": "at 07:30 on weekdays",
        "*/15 * * * *": "every 15 minutes", "0 * * * *": "every hour",
        "5 * * * *": "every hour at :05", "0 */6 * * *": "every 6 hours at :00",
        "0 8 * * 0": "every Sunday at 08:00", "0 8 * * 7": "every Sunday at 08:00",
        "0 3 1 * *": "on day 1 of every month at 03:00", "@daily": "every day at 00:00",
        "@yearly": "every year on 1 January at 00:00",
        "0 9 * 1 *": None, "0 9,17 * * *": None, "0 9 * * 1,3": None}
