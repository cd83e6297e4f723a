"""The actions of a flow run's page: cancel, change state (an operator's override), resume a
paused run (with the input it waits for) and retry an ended deployment run. Each is a form post
with the CSRF token (csrf.py), done by the backend operation the API and the CLI use (bulk.py's
for cancel and change state), and answered with a 303 back to the run's page and one sentence:
what was done, or why it was not.

`applicable` says which of them the page shows for a run's state."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from transom.core.states import FINAL_TYPES, PAUSED_NAMES, StateType
from transom.exceptions import NotFound, TransomError, UserInputError
from transom.schemas import FlowRunRead, PauseRead, ResumeIn, StateRecord
from transom.server.routes import Api
from transom.server.ui import csrf
from transom.server.ui.bulk import ACTIONS, mark
from transom.server.ui.login import read_form
from transom.server.ui.render import error_page
from transom.services.backend import Backend
from transom.store.runs import RETRYABLE

__all__ = ["MARKS", "applicable", "input_fields", "router"]

MAX_FORM = 256 * 1024
"""Bytes an action's form may have (a resume's JSON input is the largest part)."""
MARKS = (StateType.COMPLETED, StateType.FAILED, StateType.CANCELLED)
"""The states a run may be set to by hand."""

router = APIRouter(include_in_schema=False)


def applicable(run: FlowRunRead) -> dict[str, Any]:
    """Which actions apply to the run in its state: cancel, resume, retry (and, when a retry
    would apply but the run is of no deployment, why not), the states it may be set to, and
    for a deployment's run, a link to its Run form filled in with this run's parameters."""
    kind = run.state_type
    paused = kind is StateType.SCHEDULED and run.state_name in PAUSED_NAMES
    ended_retryable = kind in RETRYABLE
    return {
        "cancel": kind is not None and kind not in FINAL_TYPES and kind is not StateType.CANCELLING,
        "resume": paused,
        "retry": ended_retryable and run.deployment_id is not None,
        "no_retry": ended_retryable and run.deployment_id is None,
        "marks": [k for k in MARKS if k is not kind],
        "run_again": run.deployment_id is not None,
    }


def input_fields(pause: PauseRead | None) -> list[dict[str, Any]]:
    """The fields of the input a pause waits for, from its JSON Schema: name, type, whether
    it is required, its description."""
    schema = pause.run_input_schema if pause is not None else None
    if not isinstance(schema, dict) or not isinstance(schema.get("properties"), dict):
        return []
    listed = schema.get("required")
    required: list[Any] = listed if isinstance(listed, list) else []
    found = []
    for name, spec in schema["properties"].items():
        spec = spec if isinstance(spec, dict) else {}
        kind = spec.get("type")
        found.append({"name": str(name),
                      "type": " or ".join(map(str, kind)) if isinstance(kind, list)
                      else str(kind or spec.get("$ref", "any")).rsplit("/", 1)[-1],
                      "required": name in required,
                      "description": str(spec.get("description") or spec.get("title") or "")})
    return found


def _cancel(api: Backend, run_id: uuid.UUID, form: dict[str, str]) -> str:
    state = ACTIONS["cancel"][1](api, run_id)
    assert isinstance(state, StateRecord)
    if state.type is StateType.CANCELLING:
        return "The run is Cancelling: its worker stops it now."
    return "The run is Cancelled."


def _set_state(api: Backend, run_id: uuid.UUID, form: dict[str, str]) -> str:
    chosen = form.get("state", "").upper()
    kind = next((k for k in MARKS if k.value == chosen), None)
    if kind is None:
        raise UserInputError("choose Completed, Failed or Cancelled as the run's new state")
    message = form.get("message", "").strip() or None
    state = mark(api, run_id, kind, message)
    return f"The run is now {state.name}."


def _resume(api: Backend, run_id: uuid.UUID, form: dict[str, str]) -> str:
    text = form.get("input", "").strip()
    run_input = None
    if text:
        try:
            run_input = json.loads(text)
        except ValueError as exc:
            raise UserInputError(f"the input is not JSON ({exc})") from None
    state = api.resume_flow_run(run_id, ResumeIn(run_input=run_input))
    return f"The run is resumed: it is {state.name}."


def _retry(api: Backend, run_id: uuid.UUID, form: dict[str, str]) -> str:
    state = api.retry_flow_run(run_id)
    return (f"The run is {state.name}: a worker of its deployment's pool runs it again, and its "
            "tasks whose results were persisted are not run again.")


_DO: dict[str, tuple[str, Callable[[Backend, uuid.UUID, dict[str, str]], str]]] = {
    "cancel": ("cancel the run", _cancel),
    "state": ("change the run's state", _set_state),
    "resume": ("resume the run", _resume),
    "retry": ("retry the run", _retry),
}


def _act(api: Backend, action: str, run_id: uuid.UUID, form: dict[str, str]) -> str:
    what, operation = _DO[action]
    try:
        return operation(api, run_id, form)
    except TransomError as exc:
        return f"Could not {what}: {_sentence(str(exc))}"
    except ValidationError as exc:
        problems = exc.errors()
        reason = str(problems[0]["msg"]) if problems else "the form is not valid"
        return f"Could not {what}: {_sentence(reason.removeprefix('Value error, '))}"


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else text + "."


async def _post(action: str, run_id: str, request: Request, api: Backend) -> Response:
    try:
        run = api.read_flow_run(run_id)
    except (NotFound, UserInputError) as exc:
        return error_page(request, 404, "No such flow run", str(exc))
    fields = await read_form(request, max_bytes=MAX_FORM, max_fields=10)
    if fields is None:
        return error_page(request, 400, "Not the run page's form",
                          f"send the form of the run's page (urlencoded, at most {MAX_FORM} "
                          "bytes)")
    form = {k: v[0] for k, v in fields.items()}
    refused = csrf.refusal(request, form.get(csrf.FIELD))
    if refused:
        return error_page(request, 403, "Refused", refused)
    notice = await run_in_threadpool(_act, api, action, run.id, form)
    return RedirectResponse(f"/runs/{run.id}?{urlencode({'notice': notice[:1000]})}",
                            status_code=303)


@router.post("/runs/{run_id}/cancel")
async def cancel(run_id: str, request: Request, api: Api) -> Response:
    return await _post("cancel", run_id, request, api)


@router.post("/runs/{run_id}/state")
async def set_state(run_id: str, request: Request, api: Api) -> Response:
    return await _post("state", run_id, request, api)


@router.post("/runs/{run_id}/resume")
async def resume(run_id: str, request: Request, api: Api) -> Response:
    return await _post("resume", run_id, request, api)


@router.post("/runs/{run_id}/retry")
async def retry(run_id: str, request: Request, api: Api) -> Response:
    return await _post("retry", run_id, request, api)
