"""What every page shares: the Jinja2 environment (autoescape; filters for times, durations,
states), the response headers (a CSP allowing this server's own files only), gzip, and the HTML
error page of one sentence."""

from __future__ import annotations

import gzip
import json
import logging
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from jinja2 import Environment, FileSystemLoader
from markupsafe import Markup

from transom.core.states import StateType
from transom.server.root_path import rooted
from transom.server.ui.assets import Assets
from transom.server.ui.logs import log_row

__all__ = ["assets", "error_page", "render", "render_fragment", "when"]

assets = Assets()

# Pages load only this server's files; no inline script, and no inline style but our own sheets
# (assets.inline), each allowed by its hash (htmx's own indicator style is switched off in
# base.html so it needs none).
_CSP = (f"default-src 'self'; script-src 'self'; style-src 'self' {assets.style_hashes()}; "
        "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'")
_PAGE_HEADERS = {"Content-Security-Policy": _CSP, "X-Content-Type-Options": "nosniff",
                 "Referrer-Policy": "same-origin", "Cache-Control": "no-store",
                 "Vary": "Accept-Encoding"}


def when(value: datetime | None) -> Markup:
    """A time as <time>, in UTC and saying so; the page's script shows it in the browser's
    zone, named."""
    if value is None:
        return Markup('<span class="muted">–</span>')
    utc = value.astimezone(timezone.utc)
    return Markup('<time datetime="{}">{} UTC</time>').format(
        utc.isoformat(), utc.strftime("%Y-%m-%d %H:%M:%S"))


def _seconds(value: float | None) -> str:
    if value is None:
        return "–"
    if value < 60:
        return f"{value:.2f} s" if value < 10 else f"{value:.1f} s"
    minutes, secs = divmod(int(value), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {secs:02d} s"


def _state(kind: StateType | None, name: str | None) -> Markup:
    kind_text = kind.value if kind is not None else "NONE"
    return Markup('<span class="state s-{}">{}</span>').format(kind_text, name or kind_text.title())


_env = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                   autoescape=True, trim_blocks=True, lstrip_blocks=True)
_env.globals.update(asset=assets.url, inline_style=assets.inline, state=_state, state_types=list(StateType), log_row=log_row)
_env.filters.update(when=when, seconds=_seconds, level=logging.getLevelName,
                    pretty=lambda value: json.dumps(value, indent=2, sort_keys=True, default=str))


def render(request: Request, template: str, status: int = 200,
           headers: dict[str, str] | None = None, **context: Any) -> Response:
    """A page from its template, gzipped when the browser takes it and it is worth it."""
    html = _env.get_template(template).render(request=request, **context)
    body = rooted(html, request.scope.get("root_path", "")).encode()
    sent = {**_PAGE_HEADERS, **(headers or {})}
    if len(body) > 1024 and "gzip" in request.headers.get("accept-encoding", ""):
        body = gzip.compress(body, 6)
        sent["Content-Encoding"] = "gzip"
    return Response(body, status_code=status, headers=sent,
                    media_type="text/html; charset=utf-8")


def error_page(request: Request, status: int, title: str, message: str) -> Response:
    """An HTML page of one sentence (pages never answer JSON, nor a traceback)."""
    return render(request, "error.html", status, title=title, message=message)


def render_fragment(template: str, root: str = "", **context: Any) -> str:
    """A template rendered on its own (a part of a page that live updates send again), its
    links under the server's root path when it has one."""
    return rooted(_env.get_template(template).render(**context), root)
