"""The FastAPI app factory: routes under /api, the web UI's pages, errors as readable 4xx,
optional auth."""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response

from transom._version import __version__
from transom.exceptions import TransomError, http_status
from transom.services.context import Context
from transom.services.embedded import EmbeddedBackend
from transom.settings import Settings
from transom.store import Database, open_database

__all__ = ["create_app"]


def create_app(settings: Settings | None = None, *, database: Database | None = None) -> FastAPI:
    """The API app. The database is opened (and migrated) here, so a bad one fails at start."""
    settings = settings or Settings.load()
    db = database or open_database(settings.database_url_resolved,
                                   busy_timeout=settings.sqlite_busy_timeout)

    backend = EmbeddedBackend(Context(db, settings), owns_database=database is None)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from transom.server.services import start_services

        services = start_services(backend, settings) if settings.server_services else None
        yield
        if services is not None:
            services.stop()
        backend.close()

    app = FastAPI(title="Transom", version=__version__, openapi_url="/api/openapi.json",
                  docs_url="/docs", redoc_url=None, lifespan=lifespan)
    app.state.db = db
    app.state.backend = backend
    app.state.settings = settings
    from transom.server.ui.login import Sessions

    app.state.sessions = Sessions(settings)
    _add_error_handlers(app)
    _add_auth(app, settings)
    from transom.server import (
        artifacts,
        blocks,
        concurrency,
        deployments,
        overview,
        pauses,
        routes,
        ui,
        variables,
    )
    from transom.server.guards import Guards

    api_routes = [*overview.router.routes, *routes.router.routes, *deployments.router.routes, *variables.router.routes,
                  *artifacts.router.routes, *pauses.router.routes, *blocks.router.routes,
                  *concurrency.router.routes]
    # outermost: before auth and routing
    app.add_middleware(Guards, settings=settings, methods=_path_methods(api_routes, "/api"))

    # overview first: routes.py's /flow_runs/{run_id} would take /flow_runs/counts
    app.include_router(overview.router, prefix="/api")
    app.include_router(routes.router, prefix="/api")
    app.include_router(deployments.router, prefix="/api")
    app.include_router(variables.router, prefix="/api")
    app.include_router(artifacts.router, prefix="/api")
    app.include_router(pauses.router, prefix="/api")
    app.include_router(blocks.router, prefix="/api")
    app.include_router(concurrency.router, prefix="/api")
    app.include_router(ui.router)
    _document_validation_errors(app)
    if settings.server_root_path:  # outermost: every other part sees the path without it
        from transom.server.root_path import RootPath

        app.add_middleware(RootPath, root=settings.server_root_path)
    return app


def _path_methods(routes: list[Any], prefix: str) -> Callable[[Any], frozenset[str] | None]:
    """What Guards asks of a request no route may take: the methods of its path's routes (empty:
    no such path), or None when a route takes it. Starlette's own 405 names the methods of the
    first route of the path only, and a path has one route per method here."""
    from starlette.routing import Match

    def methods(scope: Any) -> frozenset[str] | None:
        path = str(scope.get("path", ""))
        if not path.startswith(prefix + "/"):
            return frozenset()
        scope = {**scope, "path": path[len(prefix):], "root_path": ""}
        template = None
        for route in routes:
            match, _ = route.matches(scope)
            if match is Match.FULL:
                return None
            if match is Match.PARTIAL and template is None:
                template = route.path
        return frozenset(method for route in routes if template is not None
                         and route.path == template for method in (route.methods or ()))

    return methods


def _document_validation_errors(app: FastAPI) -> None:
    """FastAPI documents its own 422 body on every route with a body or a parameter; ours
    (`invalid_request` below) is a ValidationErrorBody, so the spec says that instead."""
    from fastapi.openapi.utils import get_openapi

    from transom.schemas import ValidationErrorBody

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = get_openapi(title=app.title, version=app.version, routes=app.routes)
            schemas = spec.setdefault("components", {}).setdefault("schemas", {})
            ours = ValidationErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas.update(ours.pop("$defs", {}))
            schemas["HTTPValidationError"] = ours
            schemas.pop("ValidationError", None)
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _error(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"detail": message, **extra}, status_code=status)


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        errors = exc.errors()
        first = errors[0] if errors else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "request"
        reason = str(first.get("msg", "invalid request")).removeprefix("Value error, ")
        message = f"{where}: {reason}"
        from transom.server import ui

        if ui.is_page(request.url.path):  # a page answers a page, not JSON
            return ui.error_page(request, 422, "Bad request", message)
        return _error(422, message, errors=[
            {"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")}
            for e in errors])

    from fastapi.exception_handlers import http_exception_handler
    from starlette.exceptions import HTTPException

    @app.exception_handler(HTTPException)
    async def no_route(request: Request, exc: HTTPException) -> Response:
        # A path no route has, or a method it lacks: outside /api, a page of one sentence in
        # HTML; JSON under it.
        from transom.server import ui

        path = request.url.path
        if exc.status_code == 404 and not path.startswith(("/api", "/static/")) \
                and path not in ("/docs", "/docs/oauth2-redirect"):
            return ui.error_page(request, 404, "No such page",
                                 f"this server has no page at {path}")
        if exc.status_code == 405 and ui.is_page(path):
            page = ui.error_page(request, 405, "Not allowed",
                                 f"{request.method} is not a method of the page {path}")
            page.headers.update(exc.headers or {})
            return page
        return await http_exception_handler(request, exc)

    @app.exception_handler(TransomError)
    async def transom_error(request: Request, exc: TransomError) -> Response:
        # One table for server and client: the client raises the same class again.
        known = http_status(exc)
        if known is None:
            raise exc  # not an error a client caused: a bug, answered 500
        status, name = known
        from transom.server import ui

        if ui.is_page(request.url.path):  # e.g. a value the database refuses, or it is away
            return ui.error_page(request, status, "Refused" if status < 500 else "Unavailable",
                                 str(exc))
        return _error(status, str(exc), error=name)


def _add_auth(app: FastAPI, settings: Settings) -> None:
    """With TRANSOM_SERVER_API_AUTH_STRING (basic) or TRANSOM_SERVER_API_KEY set, every /api
    request and every page must carry it (a browser asks for basic auth's user and password)."""
    from transom.server import ui

    basic = settings.server_api_auth_string
    key = settings.server_api_key
    if not basic and not key:
        return

    def allowed(request: Request) -> bool:
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if key:
            given = request.headers.get("x-api-key") or (value if scheme.lower() == "bearer" else "")
            if given and secrets.compare_digest(given.encode(), key.encode()):
                return True
        if basic and scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(value, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return False
            return secrets.compare_digest(decoded.encode(), basic.encode())
        return False

    from transom.server.ui.login import COOKIE

    sessions = app.state.sessions

    @app.middleware("http")
    async def require_auth(request: Request,
                           call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        path = request.url.path
        page = ui.is_page(path)
        if (path.startswith("/api") or page) and not allowed(request):
            if page and sessions.valid(request.cookies.get(COOKIE)):
                return await call_next(request)  # signed in on the login page
            if page and "text/html" in request.headers.get("accept", ""):
                target = path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(f"/login?{urlencode({'next': target})}", status_code=303)
            return JSONResponse(
                {"detail": "this server needs credentials: set TRANSOM_API_KEY or "
                           "TRANSOM_API_AUTH_STRING for the client"},
                status_code=401,
                headers={"WWW-Authenticate": 'Basic realm="transom"' if basic else "Bearer"})
        return await call_next(request)
