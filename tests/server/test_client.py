"""TransomClient against a live server (and, for retries, a scripted transport at the seam)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from transom.client import ApiError, TransomClient
from transom.core import states as st
from transom.core.recorder import FlowRunCreated, StateChanged
from transom.core.states import StateType
from transom.exceptions import InvalidTransition, NotFound, UserInputError
from transom.schemas import FlowRunCreate, StateIn


def test_client_round_trip(start_server: Callable[..., Any]) -> None:
    server = start_server()
    with TransomClient(server.url) as client:
        assert client.health()["status"] == "ok"
        run = client.create_flow_run(FlowRunCreate(flow_name="etl", parameters={"n": 1}))
        assert client.read_flow_run(run.id.hex[:8]).id == run.id
        client.set_flow_run_state(run.id, StateIn(type=StateType.RUNNING))
        assert client.cancel_flow_run(run.id, "stop").name == "Cancelled"  # no worker holds it
        assert [s.name for s in client.flow_run_states(run.id)] == ["Pending", "Running", "Cancelled"]
        other = uuid.uuid4()
        client.send_events([FlowRunCreated(other, "batch", "b"),
                            StateChanged(other, False, st.Completed())])
        page = client.list_flow_runs(state="completed")
        assert [r.id for r in page.items] == [other] and page.total == 1
        with pytest.raises(InvalidTransition, match="cannot move a CANCELLED run to RUNNING"):
            client.set_flow_run_state(run.id, StateIn(type=StateType.RUNNING))
        with pytest.raises(NotFound, match="no flow run has"):
            client.read_flow_run(uuid.uuid4())


def test_client_sends_credentials(start_server: Callable[..., Any]) -> None:
    server = start_server(server_api_key="k-1", server_api_auth_string="ada:pw")
    with TransomClient(server.url, api_key="k-1") as client:
        assert client.health()["status"] == "ok"
    with TransomClient(server.url, auth_string="ada:pw") as client:
        assert client.health()["status"] == "ok"
    with TransomClient(server.url, retries=0) as client, pytest.raises(ApiError) as info:
        client.health()
    assert info.value.status == 401 and info.value.permanent
    assert "TRANSOM_API_KEY" in str(info.value)


def test_503_and_429_are_retried_with_backoff_4xx_and_500_are_not() -> None:
    answers = iter([503, 429, 200])
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        code = next(answers)
        return httpx.Response(code, json={"status": "ok"} if code == 200 else {"detail": "busy"})

    client = TransomClient("http://test/api", transport=httpx.MockTransport(handler), backoff=0.001)
    assert client.health() == {"status": "ok"} and len(seen) == 3

    bad = TransomClient("http://test/api", backoff=0.001, transport=httpx.MockTransport(
        lambda r: httpx.Response(422, json={"detail": "flow_name: Field required"})))
    with pytest.raises(UserInputError, match="flow_name: Field required"):
        bad.health()

    down = TransomClient("http://test/api", retries=2, backoff=0.001, transport=httpx.MockTransport(
        lambda r: httpx.Response(503, json={"detail": "database locked"})))
    with pytest.raises(ApiError, match="answered 503: database locked") as info:
        down.health()
    assert not info.value.permanent

    # A 500 is a bug on the server: asked once, not again and again.
    calls: list[int] = []

    def broken(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(500, json={"detail": "Internal Server Error"})

    buggy = TransomClient("http://test/api", retries=3, backoff=0.001,
                          transport=httpx.MockTransport(broken))
    with pytest.raises(ApiError, match="500"):
        buggy.health()
    assert len(calls) == 1


def test_from_settings_needs_an_api_url() -> None:
    from transom.settings import Settings

    with pytest.raises(UserInputError, match="TRANSOM_API_URL is not set"):
        TransomClient.from_settings(Settings.load({}))
