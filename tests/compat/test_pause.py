"""`pause_flow_run` / `resume_flow_run` as Prefect 3 documents them (docs: "Pause or suspend a
flow run", "Wait for input when pausing or suspending"): a pause that waits for a pydantic model
or a plain type, resumed from elsewhere, in sync and async flows (the functions are awaitable in
async code), embedded and against a live server (TRANSOM_API_URL)."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pydantic
import pytest

from tests.compat.conftest import Where
from transom import flow, pause_flow_run, resume_flow_run, task
from transom.exceptions import InvalidTransition, MissingContextError, RunInputInvalid
from transom.flow_runs import apause_flow_run, aresume_flow_run
from transom.services import open_backend


class Approval(pydantic.BaseModel):
    approved: bool
    reviewer: str


def _resume_when_paused(run_input: Any, refused: list[str]) -> threading.Thread:
    """A thread that waits for a Paused run, tries a wrong input, then resumes it."""

    def resume() -> None:
        deadline = time.monotonic() + 30
        with open_backend() as backend:
            while time.monotonic() < deadline:
                runs = backend.list_flow_runs(limit=1).items
                if runs and runs[0].state_name == "Paused":
                    try:
                        resume_flow_run(runs[0].id, run_input={"wrong": "shape"})
                    except RunInputInvalid as exc:
                        refused.append(str(exc))
                    resume_flow_run(runs[0].id, run_input=run_input)
                    return
                time.sleep(0.05)

    thread = threading.Thread(target=resume, daemon=True)
    thread.start()
    return thread


def test_a_pause_returns_the_model_the_resume_carried(where: Where) -> None:
    @flow
    def review() -> str:
        answer = pause_flow_run(wait_for_input=Approval, timeout=30)
        assert isinstance(answer, Approval)
        return f"{answer.approved} by {answer.reviewer}"

    refused: list[str] = []
    thread = _resume_when_paused(Approval(approved=True, reviewer="ada"), refused)
    assert review() == "True by ada"
    thread.join(5)
    assert refused and "does not match" in refused[0]
    with open_backend() as backend:
        run = backend.list_flow_runs(limit=1).items[0]
        names = [s.name for s in backend.flow_run_states(run.id)]
    assert names == ["Pending", "Running", "Paused", "Running", "Completed"]


def test_an_async_flow_awaits_its_pause_for_a_plain_type(where: Where) -> None:
    @flow
    async def count() -> int:
        number: int = await pause_flow_run(wait_for_input=int, timeout=30)
        return number + 1

    refused: list[str] = []
    thread = _resume_when_paused(41, refused)
    assert asyncio.run(count()) == 42
    thread.join(5)
    assert "is not of type 'integer'" in refused[0]


def test_resume_is_awaitable_in_async_code(where: Where) -> None:
    @flow
    async def waits() -> None:
        assert await apause_flow_run(timeout=30) is None

    async def resume_later() -> None:
        while True:
            with open_backend() as backend:
                runs = backend.list_flow_runs(limit=1).items
            if runs and runs[0].state_name == "Paused":
                assert await resume_flow_run(runs[0].id) is None
                await aresume_flow_run(runs[0].id)  # not paused any more: refused
                return
            await asyncio.sleep(0.05)

    refused: list[BaseException] = []

    def resume_in_a_loop() -> None:
        try:
            asyncio.run(resume_later())
        except InvalidTransition as exc:
            refused.append(exc)

    thread = threading.Thread(target=resume_in_a_loop, daemon=True)
    thread.start()
    assert asyncio.run(waits()) is None
    thread.join(5)
    assert "is not paused" in str(refused[0])


def test_pause_is_called_in_a_flow_not_outside_nor_in_a_task(where: Where) -> None:
    with pytest.raises(MissingContextError, match="inside a flow run"):
        pause_flow_run(timeout=1)

    @task
    def inner() -> None:
        pause_flow_run(timeout=1)

    @flow
    def outer() -> None:
        inner()

    state = outer(return_state=True)
    assert state.is_failed() and "cannot be called from a task run" in (state.message or "")
    with pytest.raises(TypeError, match="wait_for_input takes a pydantic model"):
        @flow
        def odd() -> None:
            pause_flow_run(wait_for_input=object(), timeout=1)

        odd()


def test_a_timeout_or_key_the_pause_cannot_take_is_one_sentence(where: Where) -> None:
    @flow
    def bad_timeout() -> None:
        pause_flow_run(timeout=0)

    @flow
    def bad_key() -> None:
        pause_flow_run(timeout=5, key="has space")

    with pytest.raises(ValueError, match="pause_flow_run: timeout_seconds: Input should be greater than 0"):
        bad_timeout()
    with pytest.raises(ValueError, match="'has space' cannot be a pause key"):
        bad_key()
