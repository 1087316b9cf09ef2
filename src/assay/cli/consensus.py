"""``assay consensus``: recompute a project's consensus with an EM aggregator."""

from __future__ import annotations

from typing import Annotated

import typer

from assay.cli.common import DbOpt, HomeOpt, JsonOpt, console, new_app, open_cli_store, print_json

app = new_app("consensus", "Recompute consensus labels of a project.")


@app.command("recompute")
def recompute(
    project: Annotated[str, typer.Argument(help="Project name or id.")],
    method: Annotated[
        str | None,
        typer.Option(help="mv, ds, onecoin, glad, mace or auto (default: the project's workflow)."),
    ] = None,
    home: HomeOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Recompute every record's consensus; categorical questions through an EM aggregator with gold clamped."""
    from assay.services import consensus

    with open_cli_store(home, db) as (store, actor):
        summary = consensus.recompute_project(store, actor, project, method)
    if as_json:
        print_json(summary)
    else:
        console.print(f"Recomputed consensus of {summary['records']} records with {summary['method']}.")


def register(main: typer.Typer) -> None:
    main.add_typer(app, name="consensus")
