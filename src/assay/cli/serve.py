"""``assay serve``, and the ``--url/--token`` options of commands that can act on a served instance."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Annotated

import typer

from assay.cli.common import DbOpt, HomeOpt, console, settings_for

if TYPE_CHECKING:
    from assay.sdk import Client

__all__ = ["TokenOpt", "UrlOpt", "register", "remote_client", "require_free_port", "serve"]

UrlOpt = Annotated[
    str | None,
    typer.Option(
        "--url", envvar="ASSAY_URL", help="Act on a running assay server at this URL (through the SDK)."
    ),
]
TokenOpt = Annotated[
    str | None,
    typer.Option("--token", envvar="ASSAY_TOKEN", help="API token for --url."),
]


def require_free_port(host: str, port: int) -> None:
    """Refuse, with a clear message, an address that something else already listens on (before
    any work is done: ``assay demo`` would otherwise seed everything, then die on a bind error)."""
    import socket

    from assay.domain.errors import Conflict

    try:
        family, kind, proto, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, proto) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server will
            s.bind(addr)
    except OSError as e:
        raise Conflict(
            f"cannot listen on {host}:{port} ({e.strerror or e}): another program uses that port; "
            "pass --port with a free one (or stop the other program)",
            field="port",
        ) from None


def remote_client(url: str, token: str | None) -> Client:
    """An SDK client for ``--url``; a token is required."""
    from assay.domain.errors import Unauthenticated
    from assay.sdk import Client

    if not token:
        raise Unauthenticated("--url needs --token (or ASSAY_TOKEN)")
    return Client(url, token)


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    workers: Annotated[
        int, typer.Option(min=1, help="Server processes (PostgreSQL; SQLite works best with 1).")
    ] = 1,
    log_level: Annotated[str, typer.Option(help="Uvicorn log level.")] = "warning",
    home: HomeOpt = None,
    db: DbOpt = None,
) -> None:
    """Serve the HTTP API (/api/v1) and the web UI."""
    import uvicorn

    from assay.cli.workers import run_workers, spread_workers
    from assay.store.engine import open_store

    require_free_port(host, port)
    settings = settings_for(home, db)
    settings.home.mkdir(parents=True, exist_ok=True)
    open_store(settings.db_url).dispose()  # migrate once, before any worker starts
    os.environ["ASSAY_HOME"] = str(settings.home.resolve())
    os.environ["ASSAY_DATABASE_URL"] = settings.db_url
    console.print(f"assay serving {settings.db_url} on http://{host}:{port}/ (API at /api/v1)")
    options = {
        "app": "assay.api.app:app_from_env",
        "factory": True,
        "log_level": log_level,
        "access_log": False,
        "timeout_graceful_shutdown": 5,
        # X-Forwarded-For is believed only from ASSAY_TRUSTED_PROXIES, by the application itself
        # (Uvicorn's default would believe it from 127.0.0.1, a proxy on the same machine).
        "proxy_headers": False,
    }
    if workers > 1 and spread_workers():  # a socket per worker: connections spread over them
        run_workers(workers, host, port, **options)
    else:
        uvicorn.run(host=host, port=port, workers=workers, **options)  # type: ignore[arg-type]


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
