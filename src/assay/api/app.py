"""The HTTP face: ``create_app(settings)`` builds the FastAPI application.

The JSON API lives under ``/api/v1`` (OpenAPI at ``/api/v1/openapi.json``); the built web UI,
when ``assay/web/static/index.html`` exists, is served at ``/`` with ``index.html`` for any
other path that is not under ``/api/`` (the UI routes on the client).

Routes are plain ``def`` functions: the services are synchronous, and FastAPI runs them in
its thread pool. The dispatch routes (most of the traffic) are ``async def`` and run their
service call on :mod:`assay.api.offload`'s leaner pool.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import FileResponse, RedirectResponse

import assay
from assay.api import models as m
from assay.api import offload, openapi
from assay.api.access import access
from assay.api.errors import install_error_handlers, problem
from assay.api.headers import SecurityHeaders
from assay.api.hot import HotLane
from assay.api.limits import BodySizeLimit, LoginLimiter
from assay.api.routes import (
    ai_first,
    audit,
    auth,
    datasets,
    dispatch,
    exposure,
    jobs,
    media,
    out,
    projects,
    records,
    safety,
    safety_writing,
    synthetic,
    users,
)
from assay.services import dispatch as dispatch_services
from assay.settings import Settings
from assay.store.engine import Store, open_store

__all__ = ["API_PREFIX", "STATIC_DIR", "app_from_env", "create_app"]

API_PREFIX = "/api/v1"
API_DOCS = ("openapi.json", "docs")
# Threads that run the (synchronous) routes. SQLite takes one writer at a time and makes the
# others sleep and poll for its lock, so a few threads serve more than many; PostgreSQL's row
# locks let more run at once (4, 6 and 8 per process measured the same; bench/dispatch.py).
SQLITE_THREADS = 2
SERVER_DB_THREADS = 4
STATIC_DIR = Path(__file__).resolve().parent.parent / "web" / "static"


def _version() -> str:
    return str(getattr(assay, "__version__", "0"))


def create_app(
    settings: Settings | None = None,
    store: Store | None = None,
    *,
    static_dir: Path | None = None,
    threads: int | None = None,
    run_jobs: bool = True,
) -> FastAPI:
    """The application over ``store`` (or the database ``settings`` name, opened and migrated).
    On SQLite it runs background jobs in a thread of its own (``run_jobs``)."""
    settings = settings or Settings()
    owned = store is None
    the_store = store or open_store(settings.db_url)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        limit = threads or (SQLITE_THREADS if the_store.is_sqlite else SERVER_DB_THREADS)
        anyio.to_thread.current_default_thread_limiter().total_tokens = limit
        offload.configure(
            limit,
            inline_when_idle=not the_store.is_sqlite,
            group_commit=True,
            before_turn=dispatch_services.read_ahead,
        )
        runner = None
        if the_store.is_sqlite and run_jobs:  # PostgreSQL: `assay worker` runs them
            from assay.services.job_queue import InProcessRunner

            runner = InProcessRunner(the_store).start()
        yield
        if runner is not None:
            runner.stop()
        offload.shutdown()
        if owned:
            the_store.dispose()

    app = FastAPI(
        title="assay",
        version=_version(),
        description="An open data engine for human and AI feedback. Errors are RFC 9457 problem+json.",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.store = the_store
    app.state.login_limiter = LoginLimiter()
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    if settings.trusted_proxies:
        # The client's address (which the sign-in limiter counts) from X-Forwarded-For, but only
        # when the connection comes from a configured proxy; `assay serve` turns Uvicorn's own off.
        from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=list(settings.trusted_proxies))

    api = APIRouter(prefix=API_PREFIX)

    @api.get("/health", tags=["health"], response_model=m.Health, **access("public"))
    def health() -> Response:
        return out({"status": "ok", "version": _version(), "database": the_store.dialect})

    # Routes are matched in order: dispatch first, since next and submit are most of the traffic.
    for module in (
        dispatch,
        auth,
        users,
        projects,
        records,
        media,
        jobs,
        ai_first,
        synthetic,
        safety,
        audit,
        datasets,
        exposure,
        safety_writing,
    ):
        api.include_router(module.router)

    app.include_router(api)
    openapi.install(app)  # every operation's problem+json answers (assay.api.openapi)
    _mount_ui(app, static_dir or STATIC_DIR)
    # next and submit for API-token callers skip the middleware stack (assay.api.hot); the
    # security headers (assay.api.headers) wrap both.
    build_stack = app.build_middleware_stack
    app.build_middleware_stack = lambda: SecurityHeaders(  # type: ignore[method-assign]
        HotLane(build_stack(), the_store, settings.max_body_bytes), API_PREFIX
    )
    return app


def _mount_ui(app: FastAPI, static: Path) -> None:
    """Serve the built UI: real files as they are, ``index.html`` for every other non-API path."""
    root = static.resolve()

    @app.get("/{path:path}", include_in_schema=False)
    def ui(path: str, request: Request) -> Response:
        if path in API_DOCS:  # where people look for the API's description: it lives under /api/v1
            return RedirectResponse(f"{API_PREFIX}/{path}", status_code=307)
        index = root / "index.html"
        if path.startswith("api/") or not index.is_file():
            return problem(404, "not_found", "Not found", f"no route {request.url.path}")
        if path:
            candidate = (root / path).resolve()
            if candidate.is_relative_to(root) and candidate.is_file():
                return FileResponse(candidate)
            if "." in path.rsplit("/", 1)[-1]:  # a file that is not there, not a page of the UI
                return problem(404, "not_found", "Not found", f"no file {request.url.path}")
        return FileResponse(index, headers={"Cache-Control": "no-cache"})


def app_from_env() -> FastAPI:
    """The application with settings from the environment (``uvicorn --factory`` and ``--workers``)."""
    return create_app(Settings())
