"""``assay demo``: a demo instance with three projects, served with the web UI."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import typer

from assay.cli.common import console, open_cli_store
from assay.cli.serve import require_free_port
from assay.cli.serve import serve as run_server


def demo(
    home: Annotated[
        Path | None,
        typer.Option("--home", help="Data directory for the demo (default: a new temporary one)."),
    ] = None,
    host: Annotated[str, typer.Option(help="Address to serve on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to serve on.")] = 8080,
    serve: Annotated[bool, typer.Option(help="Serve the demo (use --no-serve to only create it).")] = True,
) -> None:
    """Create a demo instance (SQLite, three projects, simulated contributors) and serve it."""
    from assay.services.demo import build_demo

    if serve:
        require_free_port(host, port)  # before seeding: a busy port is told at once
    home = home or Path(tempfile.mkdtemp(prefix="assay-demo-"))
    home.mkdir(parents=True, exist_ok=True)
    db = f"sqlite:///{(home / 'assay.db').resolve()}"
    with open_cli_store(home, db, create=True) as (store, _):
        made = build_demo(store)
    console.print(f"Demo data in [bold]{home}[/bold]")
    for name, pid in made.projects.items():
        console.print(f"  project {name} (id {pid})")
    console.print(f"  {made.responses} answers from simulated contributors")
    console.print("Sign in as (name / password):")
    for name, role, password in made.logins:
        console.print(f"  {name:<6} {role:<9} {password}", markup=False, highlight=False)
    if not serve:
        return
    console.print("Open the URL below and sign in; Ctrl-C stops the server.")
    run_server(host=host, port=port, workers=1, log_level="warning", home=home, db=db)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
