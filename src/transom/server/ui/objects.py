"""The web UI's pages of the server's objects: artifacts (each key's newest version, one key's
versions, its content rendered by type), variables, and the settings/about page. Like pages.py,
each route is a thin adapter over the backend's operations, one or two queries a page.

Artifacts hold what a run wrote, so nothing in them may run or load from elsewhere: markdown is
rendered with raw HTML escaped and only http(s) and relative links kept; an image is shown only
from this server or a data: URL (the pages' CSP says `img-src 'self' data:`), any other as a
link. Query parameters are read here, not by FastAPI, so a bad one gets an HTML 400 page."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import Response
from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict
from markupsafe import Markup, escape

from transom._version import __version__
from transom.exceptions import UserInputError
from transom.schemas import ArtifactRead, RunCursor
from transom.server.routes import Api
from transom.server.ui.render import error_page, render

__all__ = ["ARTIFACTS_PAGE", "PAGES", "VALUE_SHOWN", "VARIABLES_PAGE", "VERSIONS_SHOWN",
           "markdown_html", "router"]

PAGES = ("/artifacts", "/variables", "/settings")
"""The paths (and their sub-paths) of this module's pages, which need the server's credentials."""
ARTIFACTS_PAGE = 50
"""Keys on one page of the artifacts list."""
VERSIONS_SHOWN = 100
"""Versions of a key listed on its page (the newest)."""
VARIABLES_PAGE = 100
"""Variables on one page of the variables list."""
VALUE_SHOWN = 200
"""Characters of a variable's value shown before the toggle that shows all of it."""
_MAX_OFFSET = 1_000_000

router = APIRouter(include_in_schema=False)


# -- query parameters ---------------------------------------------------------------------------
def _number(request: Request, name: str, default: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdigit()) or not 0 <= int(raw) <= high:  # not "²"
        raise UserInputError(f"{name} must be a whole number from 0 to {high}, not {raw[:40]!r}")
    return int(raw)


def _text(request: Request, name: str, longest: int) -> str | None:
    raw = (request.query_params.get(name) or "").strip()
    if len(raw) > longest or "\x00" in raw:
        raise UserInputError(f"{name} must be at most {longest} characters of text")
    return raw or None


def _bad_query(request: Request, exc: UserInputError) -> Response:
    return error_page(request, 400, "Bad page link", str(exc))


# -- artifacts' content ---------------------------------------------------------------------------
_KEY = re.compile(r"[a-z0-9-]{1,255}")
_DATA_IMAGE = re.compile(r"data:image/(png|gif|jpeg|webp);", re.IGNORECASE)
_LINK_REL = "noopener noreferrer nofollow"


def _safe_link(url: str) -> bool:
    """A URL a page may link to: http(s), relative, or a data: image (shown, never followed)."""
    if _DATA_IMAGE.match(url):
        return True
    scheme = urlsplit(url).scheme.lower() if ":" in url else ""
    return scheme in ("", "http", "https")


def _own_image(url: str, origin: str) -> bool:
    """An image URL the page may load: this server's (relative or its origin) or data:."""
    if _DATA_IMAGE.match(url):
        return True
    if url.startswith("/") and not url.startswith("//") and "\\" not in url:
        return True
    parts = urlsplit(url)
    return bool(parts.scheme) and f"{parts.scheme}://{parts.netloc}".lower() == origin.lower()


def _href(url: str) -> bool:
    return not _DATA_IMAGE.match(url) and _safe_link(url)


def _image_rule(renderer: RendererHTML, tokens: Sequence[Token], idx: int,
                options: OptionsDict, env: EnvType) -> str:
    token = tokens[idx]
    src = str(token.attrGet("src") or "")
    if _own_image(src, env.get("origin", "")):
        return renderer.image(tokens, idx, options, env)
    alt = renderer.renderInlineAsText(token.children or [], options, env) or src
    if not _href(src):
        return str(escape(alt))
    return str(Markup('<a href="{}" rel="{}">{} (image)</a>').format(src, _LINK_REL, alt))


def _link_rule(renderer: RendererHTML, tokens: Sequence[Token], idx: int,
               options: OptionsDict, env: EnvType) -> str:
    token = tokens[idx]
    if not _href(str(token.attrGet("href") or "")):  # a data: URL is for images only
        token.attrs.pop("href", None)
    token.attrSet("rel", _LINK_REL)
    return renderer.renderToken(tokens, idx, options, env)


_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
_md.enable(["table", "strikethrough"])
_md.validateLink = _safe_link  # type: ignore[method-assign]
_md.add_render_rule("image", _image_rule)
_md.add_render_rule("link_open", _link_rule)


def markdown_html(text: str, origin: str) -> Markup:
    """Markdown as HTML that is safe to show: its raw HTML escaped, only http(s) and relative
    links, images only from `origin` (this server) or data: (others become links)."""
    return Markup(_md.render(text, {"origin": origin}))


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _table(data: Any) -> tuple[list[str], list[list[str]]] | None:
    """The header and rows of a table artifact (rows of dicts, a dict of columns, or rows of
    lists); None for data of another shape."""
    if isinstance(data, Mapping) and all(isinstance(v, list) for v in data.values()):
        columns = [str(k) for k in data]
        rows = itertools.zip_longest(*data.values())
        return columns, [[_cell(c) for c in row] for row in rows]
    if isinstance(data, list) and data and all(isinstance(row, Mapping) for row in data):
        columns = list(dict.fromkeys(str(k) for row in data for k in row))
        return columns, [[_cell(row.get(c)) for c in columns] for row in data]
    if isinstance(data, list) and all(isinstance(row, list) for row in data):
        return [], [[_cell(c) for c in row] for row in data]
    return None


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str, ensure_ascii=False)


def artifact_html(artifact: ArtifactRead, origin: str) -> Markup:
    """An artifact's content as the page shows it, by its type."""
    data = artifact.data
    if artifact.type == "markdown" and isinstance(data, str):
        return Markup('<div class="markdown" id="content">{}</div>').format(
            markdown_html(data, origin))
    if artifact.type == "table" and (table := _table(data)) is not None:
        columns, rows = table
        head = Markup("").join(Markup("<th>{}</th>").format(c) for c in columns)
        body = Markup("").join(
            Markup("<tr>{}</tr>").format(Markup("").join(Markup("<td>{}</td>").format(c)
                                                        for c in row)) for row in rows)
        return Markup('<table id="content" class="artifact-table">{}<tbody>{}</tbody></table>'
                      ).format(Markup("<thead><tr>{}</tr></thead>").format(head) if columns
                               else "", body)
    if artifact.type == "link" and isinstance(data, Mapping) and isinstance(data.get("link"), str):
        link, shown = data["link"], data.get("text") or data["link"]
        if _href(link):
            return Markup('<p id="content"><a href="{}" rel="{}">{}</a></p>').format(
                link, _LINK_REL, shown)
        return Markup('<p id="content">{}</p>').format(shown)
    if artifact.type == "progress" and isinstance(data, (int, float)):
        return Markup('<p id="content"><progress max="100" value="{0}">{0}%</progress> {0}%</p>'
                      ).format(round(float(data), 1))
    if artifact.type == "image" and isinstance(data, str):
        if _own_image(data, origin):
            return Markup('<p id="content"><img src="{}" alt="{}"></p>').format(
                data, artifact.description or artifact.key or "image")
        if _href(data):
            return Markup('<p id="content">An image elsewhere (not loaded here): '
                          '<a href="{0}" rel="{1}">{0}</a></p>').format(data, _LINK_REL)
    return Markup('<pre id="content">{}</pre>').format(_pretty(data))


def _origin(request: Request) -> str:
    return str(request.base_url).rstrip("/")


# -- routes ---------------------------------------------------------------------------------------
@router.get("/artifacts")
def artifacts(request: Request, api: Api) -> Response:
    """The newest version of each key, newest first, a page at a time by keyset (`after` /
    `before` an artifact's cursor, as the runs list); `key` filters by the key's start."""
    try:
        prefix = _text(request, "key", 255)
        after = _text(request, "after", 64)
        before = _text(request, "before", 64)
        found = api.list_artifacts(key_prefix=prefix, limit=ARTIFACTS_PAGE + 1, after=after,
                                   before=before)
    except UserInputError as exc:
        return _bad_query(request, exc)
    more = len(found) > ARTIFACTS_PAGE
    if before is not None and after is None:  # newest first: the extra one is the newest
        shown = found[1:] if more else found
        has_newer, has_older = more, bool(shown)
    else:
        shown = found[:ARTIFACTS_PAGE]
        has_newer, has_older = after is not None and bool(shown), more
    filters = {"key": prefix} if prefix else {}
    older = urlencode({**filters, "after": RunCursor.of(shown[-1]).encode()}) \
        if has_older else None
    newer = urlencode({**filters, "before": RunCursor.of(shown[0]).encode()}) \
        if has_newer else None
    return render(request, "artifacts.html", nav="artifacts", artifacts=shown,
                  prefix=prefix, older=older, newer=newer)


@router.get("/artifacts/{key:path}")  # a key with a slash is none, said on a page
def artifact(key: str, request: Request, api: Api) -> Response:
    """A key's newest version rendered by its type, then its versions with their runs."""
    # Keys are checked when made, so another string names none (and is not sent to the
    # database: PostgreSQL refuses a NUL byte).
    versions = api.list_artifacts(key=key, limit=VERSIONS_SHOWN + 1) \
        if _KEY.fullmatch(key) else []
    if not versions:
        return error_page(request, 404, "No such artifact",
                          f"There is no artifact with the key {key[:255]!r}.")
    latest = versions[0]
    return render(request, "artifact.html", nav="artifacts", artifact=latest,
                  versions=versions[:VERSIONS_SHOWN], more=len(versions) > VERSIONS_SHOWN,
                  content=artifact_html(latest, _origin(request)),
                  description=markdown_html(latest.description or "", _origin(request)))


@router.get("/variables")
def variables(request: Request, api: Api) -> Response:
    """The variables by name, a page at a time: each value as pretty JSON, long ones cut with
    a toggle that shows all."""
    try:
        offset = _number(request, "offset", 0, _MAX_OFFSET)
    except UserInputError as exc:
        return _bad_query(request, exc)
    found = api.list_variables(limit=VARIABLES_PAGE + 1, offset=offset)
    shown = [(v, _pretty(v.value)) for v in found[:VARIABLES_PAGE]]
    older = f"offset={offset + VARIABLES_PAGE}" if len(found) > VARIABLES_PAGE else None
    newer = (f"offset={offset - VARIABLES_PAGE}" if offset > VARIABLES_PAGE else "") \
        if offset else None
    return render(request, "variables.html", nav="variables", variables=shown, cut=VALUE_SHOWN,
                  offset=offset, older=older, newer=newer)


@router.get("/settings")
def settings(request: Request, api: Api) -> Response:
    """About this server: Transom's version, the database (kind and file or host, never its
    password), the API URL, the server's time zone and time, how many flow runs it holds."""
    db = request.app.state.db
    local = datetime.now().astimezone()
    return render(request, "settings.html", nav="settings", version=__version__,
                  database_kind=db.engine.dialect.name, database_where=db.where,
                  api_url=_origin(request) + "/api", zone=local.tzname() or str(local.tzinfo),
                  offset=local.strftime("%z"), now=datetime.now(timezone.utc),
                  flow_runs=api.list_flow_runs(limit=1).total)
