"""The concurrency limits pages: every limit (its limit, the slots in use, how many hold them,
its slot decay) with the form that makes one, and one limit's page with its holders (their
slots and when their lease ends unless renewed) and the forms that change and delete it.

Each form is a CSRF-checked post (`csrf.checked_form`) that calls the backend's operation, as
the API and `transom concurrency-limit` do; input it refuses re-renders the page with the
sentence that says why (a 4xx), a change done redirects (303) to a page that says so."""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import TypeAdapter, ValidationError

from transom.exceptions import AlreadyExists, NotFound, UserInputError
from transom.fields import INT32
from transom.schemas import ConcurrencyLimitCreate, ConcurrencyLimitRead, ConcurrencyLimitUpdate
from transom.schemas.concurrency import ConcurrencyLimitName
from transom.server.routes import Api
from transom.server.ui import csrf
from transom.server.ui.render import error_page, render

__all__ = ["LIMITS_PAGE", "PAGES", "parse_decay", "parse_limit", "router", "slots"]

PAGES = ("/concurrency-limits",)
"""The paths (and their sub-paths) of this module's pages, which need the server's credentials."""
LIMITS_PAGE = 200
"""Limits on one page of the list."""
_MAX_OFFSET = 1_000_000
_MAX_DECAY = 1e9
_DONE = {"created": "Concurrency limit created.", "updated": "Concurrency limit changed."}
_name = TypeAdapter(ConcurrencyLimitName)

router = APIRouter(include_in_schema=False)


def parse_limit(text: str) -> int:
    """A limit as typed in a form: a whole number from 0 (nothing may run) to 2**31 - 1."""
    value = text.strip()
    if not (value.isascii() and value.isdigit()) or int(value) > INT32:  # not "²"
        raise UserInputError(f"the limit must be a whole number from 0 to {INT32}, not "
                             f"{value[:40]!r}")
    return int(value)


def parse_decay(text: str) -> float:
    """Slot decay per second as typed in a form (empty: none); at least 0, finite."""
    value = text.strip()
    if not value:
        return 0.0
    try:
        decay = float(value)
    except ValueError:
        decay = math.nan
    if not 0 <= decay <= _MAX_DECAY:  # NaN fails too
        raise UserInputError(f"the slot decay must be a number of slots a second from 0 to "
                             f"{_MAX_DECAY:g}, not {value[:40]!r}")
    return decay


def slots(value: float) -> str:
    """Slots in use as a page shows them: whole for held ones, two decimals while a rate
    limit's slots decay."""
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}"


def _reason(exc: ValidationError) -> str:
    problems = exc.errors()
    reason = str(problems[0]["msg"]) if problems else "the form's values are not valid"
    return reason.removeprefix("Value error, ")


def _sentence(text: str) -> str:
    text = text.strip()
    return (text[:1].upper() + text[1:]).rstrip(".") + "."


def _limit_path(name: str) -> str:
    return "/concurrency-limits/" + quote(name, safe="")


def _list_page(request: Request, api: Api, *, status: int = 200, problem: str | None = None,
               given: dict[str, str] | None = None) -> Response:
    raw_offset = request.query_params.get("offset") or "0"
    if not (raw_offset.isascii() and raw_offset.isdigit()) or int(raw_offset) > _MAX_OFFSET:
        return error_page(request, 400, "Bad page link",
                          f"offset must be a whole number from 0 to {_MAX_OFFSET}")
    offset = int(raw_offset)
    found = api.list_concurrency_limits(limit=LIMITS_PAGE + 1, offset=offset)
    more = urlencode({"offset": offset + LIMITS_PAGE}) if len(found) > LIMITS_PAGE else None
    back = (urlencode({"offset": offset - LIMITS_PAGE}) if offset > LIMITS_PAGE else "") \
        if offset else None
    deleted = _gone(api, request.query_params.get("deleted"))
    token = csrf.token(request)
    response = render(request, "limits.html", status, nav="limits", limits=found[:LIMITS_PAGE],
                      more=more, back=back, offset=offset, problem=problem, given=given or {},
                      deleted=deleted, csrf=token, slots=slots, path=_limit_path)
    return csrf.with_cookie(request, response, token)


def _limit_page(request: Request, api: Api, name: str, *, status: int = 200,
                problem: str | None = None, done: str | None = None) -> Response:
    found = _read(api, name)
    if found is None:
        return _missing(request, name)
    held = sum(lease.slots for lease in found.leases)
    token = csrf.token(request)
    response = render(request, "limit.html", status, nav="limits", limit=found, held=held,
                      decaying=max(found.active_slots - held, 0.0), problem=problem,
                      done=_DONE.get(done or ""), csrf=token, slots=slots,
                      path=_limit_path(found.name))
    return csrf.with_cookie(request, response, token)


def _read(api: Api, name: str) -> ConcurrencyLimitRead | None:
    try:
        return api.read_concurrency_limit(_name.validate_python(name))
    except (ValidationError, NotFound):  # a name no limit may have names none
        return None


def _gone(api: Api, name: str | None) -> str | None:
    """The name a deletion's redirect gives, when it is a limit's name and none has it (so a
    link cannot make the page say a limit that is there was deleted)."""
    try:
        valid = _name.validate_python(name) if name else None
    except ValidationError:
        return None
    return valid if valid is not None and _read(api, valid) is None else None


def _missing(request: Request, name: str) -> Response:
    return error_page(request, 404, "No such concurrency limit",
                      f"There is no concurrency limit named {name[:255]!r}.")


async def _form(request: Request) -> dict[str, str] | Response:
    try:
        return await csrf.checked_form(request, max_bytes=16 * 1024)
    except csrf.Refused as exc:
        return error_page(request, exc.status, "Refused", str(exc))


@router.get("/concurrency-limits")
def limits(request: Request, api: Api) -> Response:
    """The limits by name, and the form that makes one."""
    return _list_page(request, api)


@router.post("/concurrency-limits")
async def create_limit(request: Request, api: Api) -> Response:
    """Make a limit from the list's form; then its page."""
    form = await _form(request)
    if isinstance(form, Response):
        return form
    given = {key: form.get(key, "") for key in ("name", "limit", "decay")}
    status, problem = 422, None
    try:
        body: dict[str, Any] = {"name": given["name"].strip(),
                                "limit": parse_limit(given["limit"]),
                                "slot_decay_per_second": parse_decay(given["decay"]),
                                "active": form.get("active") == "yes"}
        created = api.create_concurrency_limit(ConcurrencyLimitCreate(**body))
    except AlreadyExists:
        status, problem = 409, (f"There is a concurrency limit named {given['name'].strip()!r} "
                                "already: change its limit on its page instead.")
    except UserInputError as exc:
        problem = _sentence(str(exc))
    except ValidationError as exc:
        problem = _sentence(_reason(exc))
    else:
        return RedirectResponse(_limit_path(created.name) + "?done=created", status_code=303)
    return _list_page(request, api, status=status, problem=problem, given=given)


@router.get("/concurrency-limits/{name}")
def limit(name: str, request: Request, api: Api) -> Response:
    """A limit: how full it is, who holds its slots and until when, and its forms."""
    return _limit_page(request, api, name, done=request.query_params.get("done"))


@router.post("/concurrency-limits/{name}/update")
async def update_limit(name: str, request: Request, api: Api) -> Response:
    """Change a limit's limit, slot decay and whether it is active; then its page."""
    form = await _form(request)
    if isinstance(form, Response):
        return form
    if _read(api, name) is None:
        return _missing(request, name)
    try:
        change = ConcurrencyLimitUpdate(limit=parse_limit(form.get("limit", "")),
                                        slot_decay_per_second=parse_decay(form.get("decay", "")),
                                        active=form.get("active") == "yes")
        api.update_concurrency_limit(name, change)
    except NotFound:
        return _missing(request, name)
    except UserInputError as exc:
        return _limit_page(request, api, name, status=422, problem=_sentence(str(exc)))
    except ValidationError as exc:
        return _limit_page(request, api, name, status=422, problem=_sentence(_reason(exc)))
    return RedirectResponse(_limit_path(name) + "?done=updated", status_code=303)


@router.post("/concurrency-limits/{name}/delete")
async def delete_limit(name: str, request: Request, api: Api) -> Response:
    """Delete a limit once the form's box confirms it (the slots it had are let go); then the
    list, saying so."""
    form = await _form(request)
    if isinstance(form, Response):
        return form
    if _read(api, name) is None:
        return _missing(request, name)
    if form.get("confirm") != "yes":
        return _limit_page(request, api, name, status=422, problem=(
            "Tick the box to confirm that the concurrency limit is to be deleted."))
    try:
        api.delete_concurrency_limit(name)
    except NotFound:
        return _missing(request, name)
    return RedirectResponse("/concurrency-limits?" + urlencode({"deleted": name}),
                            status_code=303)
