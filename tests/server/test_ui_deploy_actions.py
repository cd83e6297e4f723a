"""The deployment and work pool pages' actions and lists over HTTP, from a real server on SQLite
and PostgreSQL: pause and resume (a deployment's and a pool's, CSRF-checked, through the
service operation, the scheduler then making no runs), "Run again with these parameters" from a
run's page, the deployments list paged with its filters kept and the state of each one's last
run (one query for the page), and the pool page's count of its deployments."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from tests.server.conftest import LiveServer

from transom.core.states import StateType
from transom.schemas import (
    DeploymentCreate,
    DeploymentRunCreate,
    ScheduleIn,
    StateIn,
    WorkerPoll,
    WorkPoolCreate,
)
from transom.services.embedded import EmbeddedBackend
from transom.store import overview

SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "count": {"type": "integer", "default": 3},
        "ratio": {"type": "number"},
        "dry": {"type": "boolean", "default": False},
        "options": {"type": "object", "default": {"fast": True}},
    },
    "required": ["name"],
}


class Browser:
    """A client of the pages as a browser is: the CSRF cookie, and the token of the last form
    page it opened."""

    def __init__(self, server: LiveServer) -> None:
        self.backend: EmbeddedBackend = server.server.config.app.state.backend
        self.origin = server.url.removesuffix("/api")
        self.web = httpx.Client(base_url=self.origin, timeout=10, headers={"Origin": self.origin})
        self.token = ""

    def open(self, path: str, status: int = 200) -> str:
        answer = self.web.get(path)
        assert answer.status_code == status, (path, answer.status_code, answer.text[:500])
        found = re.search(r'name="csrf" value="([0-9a-f]+)"', answer.text)
        self.token = found.group(1) if found else self.token
        return answer.text

    def post(self, path: str, **fields: str) -> httpx.Response:
        return self.web.post(path, data={"csrf": self.token, **fields})


@pytest.fixture
def browser(start_server: Callable[..., LiveServer]) -> Iterator[Browser]:
    made = Browser(start_server(server_services=False))
    yield made
    made.web.close()


def _deploy(backend: EmbeddedBackend, name: str = "nightly", *, flow: str = "etl",
            pool: str | None = "main", **extra: Any) -> uuid.UUID:
    if pool and not any(p.name == pool for p in backend.list_work_pools()):
        backend.create_work_pool(WorkPoolCreate(name=pool))
    values: dict[str, Any] = {"flow_name": flow, "name": name, "entrypoint": "flows/etl.py:etl",
                              "work_pool": pool, "parameter_schema": SCHEMA,
                              "parameters": {"count": 5}, **extra}
    return backend.upsert_deployment(DeploymentCreate.model_validate(values)).id


def _scheduled(backend: EmbeddedBackend, deployment_id: uuid.UUID) -> list[Any]:
    return [r for r in backend.deployment_runs(deployment_id, limit=1000)
            if r.state_name == "Scheduled"]


def _text(page: str, element_id: str, end: str = "</p>") -> str:
    """The text of an element by its id, tags dropped and entities read."""
    assert f'id="{element_id}"' in page, element_id
    part = page.split(f'id="{element_id}"', 1)[1].split(">", 1)[1].split(end, 1)[0]
    return html.unescape(re.sub(r"<[^>]+>", "", part)).strip()


def test_a_deployment_is_paused_and_resumed_from_its_page(browser: Browser) -> None:
    backend = browser.backend
    deployment_id = _deploy(backend, schedules=[ScheduleIn(interval=600)])
    assert len(_scheduled(backend, deployment_id)) == 6  # the next hour's, every 10 minutes
    page = browser.open(f"/deployments/{deployment_id}")
    assert 'id="paused">Active' in page and 'id="notice"' not in page
    form = page.split('id="pause-form"')[1].split("</form>")[0]
    assert 'name="paused" value="true"' in form and ">Pause</button>" in form

    answer = browser.post(f"/deployments/{deployment_id}/pause", paused="true")
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/deployments/{deployment_id}?done=paused"
    paused = browser.open(answer.headers["location"])
    assert 'id="paused">Paused' in paused
    assert _text(paused, "notice") == ("Paused: its schedules make no run until it is resumed, "
                                       "and the scheduled runs it had not started are removed.")
    assert "(paused: none is made until it is resumed)" in paused  # over the fire times
    assert ">Resume</button>" in paused and 'name="paused" value="false"' in paused
    assert backend.read_deployment(deployment_id).paused  # the service's state, as the API's
    assert _scheduled(backend, deployment_id) == []
    later = datetime.now(timezone.utc) + timedelta(hours=2)
    backend.housekeeping(later)  # the scheduler's pass, two hours on: nothing for a paused one
    assert _scheduled(backend, deployment_id) == []
    # Sent twice (a second tab, a double click): it stays paused, nothing toggles back.
    assert browser.post(f"/deployments/{deployment_id}/pause", paused="true").status_code == 303
    assert backend.read_deployment(deployment_id).paused

    resumed = browser.post(f"/deployments/{deployment_id}/pause", paused="false")
    assert resumed.headers["location"].endswith("?done=resumed")
    shown = browser.open(resumed.headers["location"])
    assert 'id="paused">Active' in shown
    assert _text(shown, "notice") == "Resumed: its schedules make runs again."
    assert not backend.read_deployment(deployment_id).paused
    assert len(_scheduled(backend, deployment_id)) == 6
    # By flow/name too, as the CLI names it; one without a schedule says it runs when asked.
    _deploy(backend, "adhoc", paused=True)
    answer = browser.post("/deployments/etl/adhoc/pause", paused="false")
    assert answer.status_code == 303
    assert _text(browser.open(answer.headers["location"]), "notice") == \
        "Resumed: it has no active schedule, so it runs when asked."
    # A `done` no form redirect makes says nothing.
    assert 'id="notice"' not in browser.open(f"/deployments/{deployment_id}?done=<b>hi</b>")


def test_a_refused_pause_form_says_why_in_one_sentence(browser: Browser) -> None:
    backend = browser.backend
    deployment_id = _deploy(backend)
    browser.open(f"/deployments/{deployment_id}")
    action = f"/deployments/{deployment_id}/pause"
    no_token = browser.web.post(action, data={"paused": "true"})
    assert no_token.status_code == 403 and no_token.headers["content-type"].startswith("text/html")
    assert ("the form&#39;s security token does not match this browser&#39;s: reload the page "
            "and send the form again") in no_token.text
    forged = browser.web.post(action, data={"csrf": browser.token, "paused": "true"},
                              headers={"Origin": "http://attacker.example"})
    assert forged.status_code == 403
    assert "a form from http://attacker.example may not change this server" in forged.text
    cross_site = httpx.post(browser.origin + action, data={"csrf": browser.token,
                                                           "paused": "true"})
    assert cross_site.status_code == 403  # no SameSite=Strict cookie from another site
    odd = browser.post(action, paused="maybe")
    assert odd.status_code == 400 and "(true or false)" in odd.text
    assert browser.web.post(action, json={"csrf": browser.token}).status_code == 400
    missing = browser.post(f"/deployments/{uuid.uuid4()}/pause", paused="true")
    assert missing.status_code == 404 and "No such deployment" in missing.text
    assert "no deployment has the id" in missing.text
    assert browser.post("/deployments/etl/nope/pause", paused="true").status_code == 404
    assert not backend.read_deployment(deployment_id).paused  # nothing refused changed it
    pool = browser.post("/work-pools/nope/pause", paused="true")
    assert pool.status_code == 404 and "No such work pool" in pool.text
    assert browser.web.post("/work-pools/main/pause", data={"paused": "true"}).status_code == 403
    assert not backend.read_work_pool("main").paused


def test_a_work_pool_is_paused_and_resumed_from_its_page(browser: Browser) -> None:
    backend = browser.backend
    deployment_id = _deploy(backend, pool="night shift")
    backend.create_deployment_run(deployment_id, DeploymentRunCreate(parameters={"name": "a"}))
    page = browser.open("/work-pools/night%20shift")
    assert 'id="paused">Ready' in page
    assert 'action="/work-pools/night%20shift/pause"' in page
    answer = browser.post("/work-pools/night%20shift/pause", paused="true")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/work-pools/night%20shift?done=paused"
    shown = browser.open(answer.headers["location"])
    assert 'id="paused">Paused' in shown and ">Resume</button>" in shown
    assert _text(shown, "notice") == \
        "Paused: no worker takes a run from this pool until it is resumed."
    assert backend.read_work_pool("night shift").paused
    worker = uuid.uuid4()
    polled = backend.poll_worker(WorkerPoll(name="w", instance=worker,
                                            work_pool="night shift", limit=5))
    assert polled.pool_paused and polled.runs == []  # what pausing means to its workers
    listing = browser.open("/work-pools")
    row = listing.split('id="pools"')[1].split("night shift</a>")[1].split("</tr>")[0]
    assert "Paused" in row
    back = browser.post("/work-pools/night%20shift/pause", paused="false")
    assert _text(browser.open(back.headers["location"]), "notice") == \
        "Resumed: its workers take its runs again."
    assert not backend.read_work_pool("night shift").paused
    row = browser.open("/work-pools").split('id="pools"')[1].split("night shift</a>")[1] \
        .split("</tr>")[0]
    assert "Ready" in row and "Paused" not in row
    taken = backend.poll_worker(WorkerPoll(name="w", instance=worker,
                                           work_pool="night shift", limit=5))
    assert len(taken.runs) == 1


def _run_form(page: str) -> dict[str, str]:
    """The Run form's fields as shown: inputs' values, a select's chosen option, textareas."""
    form = page.split('id="run-form"')[1].split("</form>")[0]
    shown = {name: html.unescape(value) for name, value in
             re.findall(r'<input name="p\.(\w+)" value="([^"]*)"', form)}
    for name, options in re.findall(r'<select name="p\.(\w+)">(.*?)</select>', form, re.S):
        chosen = re.search(r'<option value="(\w*)" selected>', options)
        shown[name] = chosen.group(1) if chosen else ""
    shown.update({name: html.unescape(text) for name, text in
                  re.findall(r'<textarea name="p\.(\w+)"[^>]*>(.*?)</textarea>', form, re.S)})
    return shown


def test_run_again_fills_the_form_with_a_run_s_parameters(browser: Browser) -> None:
    backend = browser.backend
    deployment_id = _deploy(backend)
    other_id = _deploy(backend, "other")
    made = backend.create_deployment_run(deployment_id, DeploymentRunCreate(parameters={
        "name": 'Ada "<3"', "count": 7, "ratio": 0.25, "dry": True,
        "options": {"fast": False, "n": [1, 2]}}))
    run_page = browser.open(f"/runs/{made.id}")
    link = re.search(r'<p id="run-again"><a href="([^"]+)">Run again with these parameters</a>',
                     run_page)
    assert link, "no Run again link on a deployment run's page"
    target = html.unescape(link.group(1))
    assert target == f"/deployments/{deployment_id}?from_run={made.id}#run-title"
    page = browser.open(target.split("#")[0])
    assert _run_form(page) == {"name": 'Ada "<3"', "count": "7", "ratio": "0.25", "dry": "true",
                               "options": '{\n  "fast": false,\n  "n": [\n    1,\n    2\n  ]\n}'}
    assert _text(page, "from-run") == (f"The form holds the parameters of flow run "
                                       f"'{made.name}': change any, then Run.")
    assert 'id="run-title"' in page
    # Sent as shown, the new run has the same parameters.
    again = browser.post(f"/deployments/{deployment_id}/run",
                         **{f"p.{k}": v for k, v in _run_form(page).items()})
    assert again.status_code == 303
    rerun = backend.read_flow_run(again.headers["location"].removeprefix("/runs/"))
    assert rerun.id != made.id and rerun.parameters == made.parameters

    defaults = {"name": "", "count": "5", "ratio": "", "dry": "false",
                "options": '{\n  "fast": true\n}'}
    elsewhere = backend.create_deployment_run(other_id, DeploymentRunCreate(
        parameters={"name": "b"}))
    for source, note in (
        ("not-a-run", "'not-a-run' is not a flow run id, so the form holds the deployment's "
                      "defaults."),
        (str(uuid.UUID(int=7)), f"No flow run has the id {uuid.UUID(int=7)}, so the form holds "
                                "the deployment's defaults."),
        (str(elsewhere.id), f"Flow run '{elsewhere.name}' is not a run of this deployment, so "
                            "the form holds the deployment's defaults."),
        ("x" * 5000, f"'{'x' * 40}' is not a flow run id, so the form holds the deployment's "
                     "defaults."),
    ):
        shown = browser.open(f"/deployments/{deployment_id}?from_run={source}")
        assert _run_form(shown) == defaults, source[:50]
        assert _text(shown, "from-run") == note
    # A run that is no deployment's has no such link.
    from tests.server.test_ui_run_actions import _run

    loose = _run(backend, "loose")
    assert 'id="run-again"' not in browser.open(f"/runs/{loose}")


def test_run_again_says_which_parameters_the_form_leaves_out(browser: Browser) -> None:
    backend = browser.backend
    deployment_id = _deploy(backend, "free", parameter_schema=None, parameters={"a": 1})
    made = backend.create_deployment_run(deployment_id, DeploymentRunCreate(
        parameters={"a": 2, "extra": "x", "more": [1]}))
    page = browser.open(f"/deployments/{deployment_id}?from_run={made.id}")
    assert _run_form(page) == {"a": "2"}
    assert _text(page, "from-run").endswith(
        "Its parameters extra, more are not in this deployment's form, so left out.")


def _rows(page: str) -> list[tuple[str, str]]:
    """(flow, name) of each row of the deployments table."""
    if 'id="deployments"' not in page:
        return []
    table = page.split('id="deployments"')[1].split("</table>")[0]
    return [(flow, name) for name, flow in
            re.findall(r'<a href="/deployments/[^"]+">([^<]+)</a></td><td>([^<]+)</td>', table)]


def test_the_deployments_list_is_paged_and_filtered_and_the_pager_keeps_the_filter(
        browser: Browser) -> None:
    backend = browser.backend
    for i in range(130):
        _deploy(backend, f"d{i:03}", flow="etl" if i % 2 else "load",
                pool="main" if i % 5 else "gpu")
    _deploy(backend, "solo", flow="zeta", pool=None)
    page = browser.open("/deployments")
    assert _text(page, "count") == "131 deployments: 1 to 100 shown."
    first = _rows(page)
    assert len(first) == 100 and first[0] == ("etl", "d001") and first == sorted(first)
    assert 'id="previous"' not in page
    next_link = html.unescape(re.search(r'id="next" rel="next" href="([^"]+)"', page).group(1))
    assert next_link == "/deployments?offset=100"
    second_page = browser.open(next_link)
    second = _rows(second_page)
    assert len(second) == 31 and second[-1] == ("zeta", "solo") and not set(first) & set(second)
    assert _text(second_page, "count") == "131 deployments: 101 to 131 shown."
    assert 'id="next"' not in second_page
    assert html.unescape(re.search(r'id="previous" rel="prev" href="([^"]+)"', second_page)
                         .group(1)) == "/deployments"

    # flow etl: 65 of them; in pool main: 52 (i odd and not a multiple of 5).
    assert _text(browser.open("/deployments?flow=etl"), "count") == \
        "65 deployments match these filters."
    filtered = browser.open("/deployments?flow=etl&pool=main")
    assert "<title>Deployments · flow etl · pool main · Transom</title>" in filtered
    assert _text(filtered, "count") == "52 deployments match these filters."
    assert 'id="next"' not in filtered
    assert all(flow == "etl" for flow, _ in _rows(filtered))
    assert '<option value="main" selected>main</option>' in filtered
    assert 'name="flow" value="etl"' in filtered
    load = browser.open("/deployments?flow=load")  # 65 as well: two pages
    assert _text(load, "count") == "65 deployments match these filters."
    for name in range(110):
        _deploy(backend, f"e{name:03}", flow="load", pool="gpu")
    gpu = browser.open("/deployments?flow=load&pool=gpu")  # 13 + 110 of them
    assert _text(gpu, "count") == "123 deployments match these filters: 1 to 100 shown."
    link = html.unescape(re.search(r'id="next" rel="next" href="([^"]+)"', gpu).group(1))
    assert parse_qs(urlsplit(link).query) == {"flow": ["load"], "pool": ["gpu"],
                                             "offset": ["100"]}
    rest = browser.open(link)
    assert _text(rest, "count") == "123 deployments match these filters: 101 to 123 shown."
    assert len(_rows(rest)) == 23 and all(flow == "load" for flow, _ in _rows(rest))
    back = html.unescape(re.search(r'id="previous" rel="prev" href="([^"]+)"', rest).group(1))
    assert parse_qs(urlsplit(back).query) == {"flow": ["load"], "pool": ["gpu"]}
    assert _rows(browser.open(back)) == _rows(gpu)

    none = browser.open("/deployments?flow=nothing")
    assert _text(none, "count") == "0 deployments match these filters."
    assert "No deployments match these filters" in none
    past = browser.open("/deployments?offset=1000")
    assert _text(past, "count") == "241 deployments: none on this page."
    for bad in ("offset=-1", "offset=abc", "offset=99999999999"):
        answer = browser.web.get(f"/deployments?{bad}")
        assert answer.status_code == 422 and answer.headers["content-type"].startswith("text/html")
    nul = browser.web.get("/deployments?flow=a%00b")
    assert nul.status_code == 400 and "holds a NUL character" in nul.text

    pool_page = browser.open("/work-pools/gpu")  # 26 + 110 use it: a first page and a link
    assert _text(pool_page, "pool-deployment-count") == (
        "136 deployments use this pool: the first 100 are listed, see them all.")
    assert 'href="/deployments?pool=gpu" id="all-deployments"' in pool_page
    assert len(re.findall(r"<li><a href=\"/deployments/", pool_page)) == 100
    small = browser.open("/work-pools/main")
    assert _text(small, "pool-deployment-count") == "104 deployments use this pool: the first " \
        "100 are listed, see them all."
    backend.create_work_pool(WorkPoolCreate(name="one"))
    _deploy(backend, "single", pool="one")
    assert _text(browser.open("/work-pools/one"), "pool-deployment-count") == \
        "1 deployment uses this pool."


def test_the_list_shows_each_deployment_s_last_run(browser: Browser) -> None:
    backend = browser.backend
    # 12 runs ahead, the first at least 150 s away: none comes due while the test runs.
    start = datetime.now(timezone.utc) + timedelta(seconds=150)
    busy = _deploy(backend, "busy", schedules=[ScheduleIn(interval=300, anchor_date=start)])
    ahead = sorted(r.expected_start_time for r in _scheduled(backend, busy))
    assert len(ahead) == 12 and ahead[0] >= start
    idle = _deploy(backend, "idle")
    failed = _deploy(backend, "failed")
    done = backend.create_deployment_run(busy, DeploymentRunCreate(parameters={"name": "x"}))
    for kind in (StateType.PENDING, StateType.RUNNING, StateType.COMPLETED):
        backend.set_flow_run_state(done.id, StateIn(type=kind))
    bad = backend.create_deployment_run(failed, DeploymentRunCreate(parameters={"name": "y"}))
    backend.create_deployment_run(failed, DeploymentRunCreate(  # due next week: left out
        parameters={"name": "z"}, scheduled_time=datetime.now(timezone.utc) + timedelta(days=7)))
    for kind in (StateType.PENDING, StateType.RUNNING, StateType.FAILED):
        backend.set_flow_run_state(bad.id, StateIn(type=kind))
    page = browser.open("/deployments")
    table = page.split('id="deployments"')[1].split("</table>")[0]
    cells = {name: cell for name, cell in re.findall(
        r'>(busy|idle|failed)</a></td>.*?<td class="last-run">(.*?)</td></tr>', table, re.S)}
    assert f'href="/runs/{done.id}"' in cells["busy"] and "Completed" in cells["busy"]
    assert f'href="/runs/{bad.id}"' in cells["failed"] and "Failed" in cells["failed"]
    assert "none yet" in cells["idle"]
    assert idle not in backend.deployments_page().last_runs

    # The store's query, on its own: one statement for any number of deployments.
    now = datetime.now(timezone.utc)
    with backend.ctx.db.read() as conn:
        found = overview.last_runs(conn, [busy, idle, failed, uuid.uuid4()], now=now)
        assert {k: v.id for k, v in found.items()} == {busy: done.id, failed: bad.id}
        assert overview.last_runs(conn, [], now=now) == {}
        # Half an hour on, the latest of the schedule's runs due by then is the last one, not
        # the manual run made after the schedule made them.
        cutoff = now + timedelta(minutes=30)
        later = overview.last_runs(conn, [busy], now=cutoff)
    assert later[busy].state_name == "Scheduled"
    assert later[busy].expected_start_time == max(t for t in ahead if t <= cutoff)
