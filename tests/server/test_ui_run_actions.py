"""A flow run's page: its state strip, copy button, subflow runs and actions (cancel, change
state, resume, retry), each a form post answered with a 303 and one sentence; the retry through
the API (`POST /api/flow_runs/{id}/retry`), the client and `transom runs retry`; and a retried
deployment run that a real worker runs again, its persisted task not run again."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from tests.server.conftest import LiveServer
from tests.support.seed import T0
from tests.worker.conftest import Harness, harness  # noqa: F401 (a fixture)

from transom.client.http import TransomClient
from transom.core import states as st
from transom.core.recorder import FlowRunCreated, StateChanged
from transom.core.states import StateType
from transom.exceptions import InvalidTransition, NotAllowedFor, NotFound
from transom.schemas import (
    DeploymentCreate,
    DeploymentRunCreate,
    PauseCreate,
    StateIn,
    WorkPoolCreate,
)

SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _run(backend: Any, name: str, *states: st.State, parent: uuid.UUID | None = None,
         parameters: dict[str, Any] | None = None, minutes: int = 0) -> uuid.UUID:
    run_id = uuid.uuid4()
    backend.send_events([
        FlowRunCreated(run_id, "etl", name, parameters or {}, parent, created=T0 + timedelta(
            minutes=minutes), process=None),
        *(StateChanged(run_id, False, s, 1) for s in states)])
    return run_id


def _deployment_run(backend: Any, *ending: StateType) -> uuid.UUID:
    """A run of a deployment moved through Pending and Running to `ending` by the API's rules."""
    try:
        backend.create_work_pool(WorkPoolCreate(name="main"))
    except Exception:  # made by an earlier call
        pass
    backend.upsert_deployment(DeploymentCreate(flow_name="etl", name="nightly",
                                               entrypoint="flows.py:etl", work_pool="main"))
    run = backend.create_deployment_run("etl/nightly", DeploymentRunCreate())
    for kind in (StateType.PENDING, StateType.RUNNING, *ending):
        backend.set_flow_run_state(run.id, StateIn(type=kind))
    return uuid.UUID(str(run.id))


def _notice(answer: httpx.Response) -> str:
    assert answer.status_code == 303, answer.text
    location = answer.headers["location"]
    assert location.startswith("/runs/")
    return parse_qs(urlsplit(location).query)["notice"][0]


class Page:
    """A browser-like client of the run pages: the CSRF cookie and the form's token."""

    def __init__(self, server: LiveServer) -> None:
        self.origin = server.url.removesuffix("/api")
        self.web = httpx.Client(base_url=self.origin, timeout=10,
                                headers={"Origin": self.origin})
        self.token = ""

    def open(self, run_id: uuid.UUID) -> str:
        answer = self.web.get(f"/runs/{run_id}")
        assert answer.status_code == 200, answer.text
        found = re.search(r'name="csrf" value="([0-9a-f]+)"', answer.text)
        self.token = found.group(1) if found else self.token
        return answer.text

    def post(self, run_id: uuid.UUID, action: str, **fields: str) -> httpx.Response:
        return self.web.post(f"/runs/{run_id}/{action}", data={"csrf": self.token, **fields})


def _forms(page: str) -> set[str]:
    return set(re.findall(r'action="/runs/[0-9a-f-]+/(\w+)"', page))


@SQLITE
def test_a_running_run_is_cancelled_from_its_page_and_a_second_cancel_is_refused(
        start_server: Callable[..., LiveServer]) -> None:
    server = start_server(server_services=False)
    backend = server.server.config.app.state.backend
    run_id = _run(backend, "busy", st.Pending(), st.Running())
    page = Page(server)
    shown = page.open(run_id)
    assert _forms(shown) == {"cancel", "state"}  # no resume, no retry for a running run
    assert "transom_csrf" in page.web.cookies
    assert _notice(page.post(run_id, "cancel")) == "The run is Cancelled."
    assert backend.read_flow_run(run_id).state_name == "Cancelled"
    after = page.open(run_id)
    assert "cancel" not in _forms(after) and 'id="notice"' not in after
    assert 'id="no-retry"' in after  # ended Cancelled, but no worker could run it again
    # The form of a page opened before: one sentence, the run as it was.
    refused = _notice(page.post(run_id, "cancel"))
    assert refused == "Could not cancel the run: the flow run has already ended (CANCELLED)."
    assert refused in page.web.get(f"/runs/{run_id}", params={"notice": refused}).text

    # What no page of this server sends: refused, and nothing changes.
    other = _run(backend, "other", st.Pending(), st.Running(), minutes=1)
    assert page.web.post(f"/runs/{other}/cancel", data={"x": "1"}).status_code == 403
    assert page.web.post(f"/runs/{other}/cancel", data={"csrf": "0" * 48}).status_code == 403
    forged = page.web.post(f"/runs/{other}/cancel", data={"csrf": page.token},
                           headers={"Origin": "https://attacker.example"})
    assert forged.status_code == 403 and "attacker.example" in forged.text
    assert page.web.post(f"/runs/{other}/cancel", json={"csrf": page.token}).status_code == 400
    missing = page.web.post(f"/runs/{uuid.uuid4()}/cancel", data={"csrf": page.token})
    assert missing.status_code == 404 and "No such flow run" in missing.text
    assert backend.read_flow_run(other).state_name == "Running"


@SQLITE
def test_a_run_s_state_is_changed_by_hand_with_a_message(
        start_server: Callable[..., LiveServer]) -> None:
    server = start_server(server_services=False)
    backend = server.server.config.app.state.backend
    run_id = _run(backend, "stuck", st.Pending(), st.Running())
    page = Page(server)
    shown = page.open(run_id)
    options = re.findall(r'<option value="(COMPLETED|FAILED|CANCELLED|RUNNING)"', shown)
    assert options == ["COMPLETED", "FAILED", "CANCELLED"]
    done = page.post(run_id, "state", state="FAILED", message="checked by hand: the disk died")
    assert _notice(done) == "The run is now Failed."
    last = backend.flow_run_states(run_id)[-1]
    assert (last.name, last.message) == ("Failed", "checked by hand: the disk died")
    assert _notice(page.post(run_id, "state", state="COMPLETED")) == "The run is now Completed."
    assert backend.flow_run_states(run_id)[-1].message == "set by hand in the web UI"
    # The current state is not offered; a state that is not one of the three is refused.
    assert re.findall(r'<option value="(COMPLETED|FAILED|CANCELLED)"', page.open(run_id)) == [
        "FAILED", "CANCELLED"]
    assert _notice(page.post(run_id, "state", state="RUNNING")) == (
        "Could not change the run's state: choose Completed, Failed or Cancelled as the run's "
        "new state.")
    assert backend.read_flow_run(run_id).state_name == "Completed"


@SQLITE
def test_a_paused_run_is_resumed_from_its_page_with_input_its_schema_checks(
        start_server: Callable[..., LiveServer]) -> None:
    server = start_server(server_services=False)
    backend = server.server.config.app.state.backend
    run_id = _run(backend, "approval", st.Pending(), st.Running())
    schema = {"type": "object", "title": "Approval", "required": ["approved"], "properties": {
        "approved": {"type": "boolean", "description": "ship it?"},
        "note": {"type": "string", "title": "Note"}}}
    backend.pause_flow_run(run_id, PauseCreate(key="gate", timeout_seconds=600,
                                               run_input_schema=schema))
    page = Page(server)
    shown = page.open(run_id)
    assert _forms(shown) == {"cancel", "state", "resume"}
    assert 'name="input"' in shown and "gate" in shown
    assert 'id="waiting"' not in shown  # it waits for its resume, not for a worker
    fields = re.findall(r'<tr><td class="mono">(\w+)</td><td>(\w+)</td><td>(\w+)</td><td>([^<]*)',
                        shown)
    assert fields == [("approved", "boolean", "yes", "ship it?"), ("note", "string", "no", "Note")]
    bad_json = _notice(page.post(run_id, "resume", input="{approved: yes"))
    assert bad_json.startswith("Could not resume the run: the input is not JSON (")
    wrong = _notice(page.post(run_id, "resume", input='{"approved": "maybe"}'))
    assert wrong.startswith("Could not resume the run: the input does not match what flow run")
    assert "['approved']" in wrong and wrong.endswith("it stays paused.")
    assert backend.read_flow_run(run_id).state_name == "Paused"
    done = page.post(run_id, "resume", input='{"approved": true, "note": "ok"}')
    assert _notice(done) == "The run is resumed: it is Running."
    assert backend.read_pause(run_id, "gate").run_input == {"approved": True, "note": "ok"}
    assert "resume" not in _forms(page.open(run_id))
    again = _notice(page.post(run_id, "resume", input="{}"))
    assert again.startswith("Could not resume the run: flow run") and "is not paused" in again

    # A pause that waits for no input: a button, no textarea.
    plain = _run(backend, "plain", st.Pending(), st.Running(), minutes=1)
    backend.pause_flow_run(plain, PauseCreate(key="wait", timeout_seconds=600))
    assert 'name="input"' not in page.open(plain)
    assert _notice(page.post(plain, "resume")) == "The run is resumed: it is Running."


@SQLITE
def test_a_failed_deployment_run_is_retried_from_its_page_once(
        start_server: Callable[..., LiveServer]) -> None:
    server = start_server(server_services=False)
    backend = server.server.config.app.state.backend
    run_id = _deployment_run(backend, StateType.FAILED)
    page = Page(server)
    shown = page.open(run_id)
    assert _forms(shown) == {"retry", "state"}
    assert "tasks whose results were persisted are not run again" in shown
    notice = _notice(page.post(run_id, "retry"))
    assert notice.startswith("The run is AwaitingRetry: a worker of its deployment's pool")
    run = backend.read_flow_run(run_id)
    assert (run.state_type, run.state_name, run.worker_id) == (
        StateType.SCHEDULED, "AwaitingRetry", None)
    after = page.open(run_id)
    assert "retry" not in _forms(after) and "cancel" in _forms(after)
    assert 'id="waiting"' in after  # no worker polls its pool: the page says so
    refused = _notice(page.post(run_id, "retry"))
    assert refused.startswith("Could not retry the run: flow run ")
    assert refused.endswith("is AwaitingRetry; only a run that ended Failed, Crashed or "
                            "Cancelled can be retried.")
    # A run of no deployment: the page says why there is no Retry, and a post is refused.
    local = _run(backend, "local", st.Pending(), st.Running(), st.Failed(message="boom"))
    assert 'id="no-retry"' in page.open(local) and "retry" not in _forms(page.open(local))
    assert "is not a run of a deployment" in _notice(page.post(local, "retry"))


@SQLITE
def test_the_page_shows_a_state_strip_a_copy_button_and_the_subflow_runs(
        start_server: Callable[..., LiveServer]) -> None:
    server = start_server(server_services=False)
    backend = server.server.config.app.state.backend
    parent = _run(backend, "parent", st.Pending(), st.Running(),
                  parameters={"day": "2026-01-05", "n": 3})
    children = [_run(backend, f"child-{i}", st.Pending(), st.Running(), st.Completed(),
                     parent=parent, minutes=i + 1) for i in range(2)]
    _run(backend, "stranger", st.Pending(), minutes=5)
    page = Page(server)
    shown = page.open(parent)
    strip = shown.split('id="states"')[1].split("</ol>")[0]
    assert re.findall(r'<li class="s-(\w+)"', strip) == ["PENDING", "RUNNING"]
    assert re.findall(r'<span class="state s-\w+">(\w+)</span> <time datetime=', strip) == [
        "Pending", "Running"]
    assert shown.index('id="states"') < shown.index('id="actions"') < shown.index('id="parameters"')
    # The copy button: shown by transom.js (no inline script), the JSON there without it.
    button = re.search(r'<button type="button" class="copy"[^>]*>', shown)
    assert button and 'data-copy="parameters"' in button.group(0) and "hidden" in button.group(0)
    assert "&#34;day&#34;: &#34;2026-01-05&#34;" in shown.split('id="parameters"')[1]
    assert "<script>" not in shown.split("</head>")[1]
    subflows = shown.split('id="subflows"')[1].split("</table>")[0]
    assert re.findall(r'<a href="/runs/([0-9a-f-]+)">', subflows) == [str(c) for c in children[::-1]]
    assert subflows.count("s-COMPLETED") == 2
    child_page = page.open(children[0])
    assert 'id="subflows"' not in child_page and f'href="/runs/{parent}"' in child_page
    # The API's filter, which the page uses.
    with httpx.Client(base_url=server.url, timeout=10) as api:
        listed = api.get("/flow_runs", params={"parent": str(parent)}).json()
        assert listed["total"] == 2 and {r["name"] for r in listed["items"]} == {
            "child-0", "child-1"}
        assert api.get("/flow_runs", params={"parent": "nope"}).status_code == 422
    with TransomClient(server.url) as client:
        assert client.list_flow_runs(parent_flow_run_id=children[0]).total == 0


def test_the_api_retries_an_ended_deployment_run_and_refuses_the_others(
        start_server: Callable[..., LiveServer]) -> None:
    server = start_server(server_services=False)
    backend = server.server.config.app.state.backend
    crashed = _deployment_run(backend, StateType.CRASHED)
    completed = _deployment_run(backend, StateType.COMPLETED)
    local = _run(backend, "local", st.Pending(), st.Running(), st.Cancelled())
    with httpx.Client(base_url=server.url, timeout=10) as api:
        done = api.post(f"/flow_runs/{str(crashed)[:12]}/retry", json={})
        assert done.status_code == 201, done.text
        assert (done.json()["type"], done.json()["name"]) == ("SCHEDULED", "AwaitingRetry")
        twice = api.post(f"/flow_runs/{crashed}/retry", json={})
        assert twice.status_code == 409 and twice.json()["error"] == "InvalidTransition"
        finished = api.post(f"/flow_runs/{completed}/retry", json={})
        assert finished.status_code == 409 and "is Completed" in finished.json()["detail"]
        nowhere = api.post(f"/flow_runs/{local}/retry", json={})
        assert nowhere.status_code == 409 and nowhere.json()["error"] == "NotAllowedFor"
        assert "no worker can run it again" in nowhere.json()["detail"]
        assert api.post(f"/flow_runs/{uuid.uuid4()}/retry", json={}).status_code == 404
        assert api.post(f"/flow_runs/{crashed}/retry").status_code in (400, 415)
        route = api.get("/openapi.json").json()["paths"]["/api/flow_runs/{run_id}/retry"]["post"]
        assert {"201", "404", "409", "422"} <= set(route["responses"])
        assert "Failed, Crashed or Cancelled" in route["responses"]["409"]["description"]
    states = [s.name for s in backend.flow_run_states(crashed)]
    assert states[-2:] == ["Crashed", "AwaitingRetry"]
    with TransomClient(server.url) as client:
        backend.set_flow_run_state(crashed, StateIn(type=StateType.CANCELLED, force=True))
        assert client.retry_flow_run(crashed).name == "AwaitingRetry"
        with pytest.raises(NotAllowedFor):
            client.retry_flow_run(local)
        with pytest.raises(InvalidTransition):
            client.retry_flow_run(completed)
        with pytest.raises(NotFound):
            client.retry_flow_run(uuid.uuid4())


@SQLITE
def test_a_retried_run_whose_deployment_is_deleted_keeps_its_record_and_ends_cancelled(
        start_server: Callable[..., LiveServer]) -> None:
    server = start_server(server_services=False)
    backend = server.server.config.app.state.backend
    retried = _deployment_run(backend, StateType.FAILED)
    backend.retry_flow_run(retried)
    waiting = backend.create_deployment_run("etl/nightly", DeploymentRunCreate())
    backend.delete_deployment("etl/nightly")
    with pytest.raises(NotFound):
        backend.read_flow_run(waiting.id)  # never started: gone with its deployment
    run = backend.read_flow_run(retried)
    assert run.state_name == "Cancelled"
    assert [s.name for s in backend.flow_run_states(retried)] == [
        "Scheduled", "Pending", "Running", "Failed", "AwaitingRetry", "Cancelled"]
    assert "deployment was deleted" in (run.state_message or "")


@SQLITE
def test_transom_runs_retry_against_a_server_and_the_embedded_database(start_server: Callable[..., LiveServer],
                                             tmp_path: Path) -> None:
    server = start_server(server_services=False)
    backend = server.server.config.app.state.backend
    failed = _deployment_run(backend, StateType.FAILED)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRANSOM_")}
    env.update({"TRANSOM_HOME": str(tmp_path / "cli home"), "TRANSOM_API_URL": server.url,
                "COLUMNS": "200", "NO_COLOR": "1"})

    def transom(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "transom", *args], capture_output=True,
                              text=True, encoding="utf-8", env=env, timeout=120)

    done = transom("runs", "retry", str(failed)[:8])
    assert done.returncode == 0, done.stderr
    assert f"Flow run {failed} is AwaitingRetry: a worker of its pool runs it again." in \
        done.stdout
    again = transom("runs", "retry", str(failed))
    assert again.returncode == 1 and "Traceback" not in again.stderr
    assert again.stderr.strip().startswith("Error: flow run ")
    assert "only a run that ended Failed, Crashed or Cancelled can be retried" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1, again.stderr
    assert backend.read_flow_run(failed).state_name == "AwaitingRetry"

    # With no server: the embedded database of the command's home.
    from transom.services import open_backend
    from transom.settings import Settings

    del env["TRANSOM_API_URL"]
    with open_backend(Settings.load({}, home=tmp_path / "cli home")) as embedded:
        local = _deployment_run(embedded, StateType.CANCELLED)
    done = transom("runs", "retry", str(local))
    assert done.returncode == 0 and "is AwaitingRetry" in done.stdout, done.stderr
    missing = transom("runs", "retry", "ffffffff")
    assert missing.returncode == 1 and missing.stderr.startswith("Error: ") \
        and "ffffffff" in missing.stderr and "Traceback" not in missing.stderr


FLOWS = '''
from pathlib import Path
from transom import flow, task
from transom.runtime import flow_run

@task(persist_result=True)
def extract(marker: str) -> int:
    path = Path(marker)
    visits = int(path.read_text()) + 1 if path.exists() else 1
    path.write_text(str(visits))
    return 40

@task
def load(value: int, switch: str) -> int:
    if Path(switch).exists():
        raise RuntimeError("the warehouse is down")
    return value + 2

@flow
def pipeline(marker: str, switch: str, counts: str) -> int:
    with open(counts, "a", encoding="utf-8") as out:
        out.write(f"{flow_run.run_count}\\n")
    return load(extract(marker), switch)
'''


@SQLITE
def test_a_retried_deployment_run_runs_again_through_a_worker_and_reuses_persisted_results(
        harness: Harness, tmp_path: Path) -> None:  # noqa: F811
    (harness.project / "pipeline.py").write_text(FLOWS, encoding="utf-8")
    harness.deploy("pipeline.py:pipeline")
    marker, switch, counts = tmp_path / "visits", tmp_path / "down", tmp_path / "counts"
    switch.write_text("on")
    run_id = harness.run("pipeline/pipeline", marker=str(marker), switch=str(switch),
                         counts=str(counts))
    harness.start_worker()
    first = harness.final(run_id, timeout=60)
    assert first.state_name == "Failed" and first.run_count == 1, "\n".join(harness.lines)
    assert marker.read_text() == "1"
    switch.unlink()
    assert harness.client.retry_flow_run(run_id).name == "AwaitingRetry"
    final = harness.final(run_id, timeout=60)  # the worker that ran it claims it again
    assert final.state_name == "Completed", "\n".join(harness.lines)
    assert final.run_count == 2 and final.id == run_id
    assert counts.read_text().split() == ["1", "2"]  # flow_run.run_count inside the run
    assert marker.read_text() == "1"  # the persisted task was not run again
    tasks = harness.client.flow_run_task_runs(run_id)
    assert sorted((t.task_key.rsplit(".", 1)[-1], t.state_name) for t in tasks) == [
        ("extract", "Cached"), ("extract", "Completed"), ("load", "Completed"),
        ("load", "Failed")]
    names = [s.name for s in harness.client.flow_run_states(run_id)]
    assert names == ["Scheduled", "Pending", "Running", "Failed", "AwaitingRetry", "Pending",
                     "Running", "Completed"]
