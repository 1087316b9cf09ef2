"""``assay datacard``: the data card (Hugging Face dataset-card layout) of a project or of a frozen
version (``PROJECT@VERSION``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from assay.cli.common import DbOpt, HomeOpt, JsonOpt, console, open_cli_store, print_json


def datacard(
    project: Annotated[
        str,
        typer.Argument(
            help="Project name or id, or PROJECT@VERSION for a frozen version (assay dataset freeze)."
        ),
    ],
    out: Annotated[Path | None, typer.Option(help="Write the card here (default: print it).")] = None,
    license: Annotated[
        str, typer.Option(help="The data's licence (an SPDX id such as cc-by-4.0).")
    ] = "other",
    language: Annotated[
        list[str] | None, typer.Option(help="A language of the data (ISO 639-1, e.g. en); repeat for more.")
    ] = None,
    home: HomeOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write the data card of a project, or of a frozen version (PROJECT@VERSION: every figure read
    from the version's files), with ``--out`` its charts beside it as SVG: YAML header (licence,
    languages, size, tasks), sources, contributors, guidelines version, consensus labels, agreement
    per question, gold accuracy, model and synthetic shares, known limitations."""
    from assay.cli.common import versions_place
    from assay.services import datacard as cards

    with open_cli_store(home, db) as (store, actor):
        text, figures = cards.card_for(
            store,
            actor,
            versions_place(home, db),
            project,
            license=license,
            languages=tuple(language or ()),
        )
    if out is not None:  # the card, and its charts beside it
        cards.card_files(out, text, figures)
    if as_json:
        print_json(figures | {"out": str(out) if out else None})
    elif out is None:
        console.print(text, markup=False, highlight=False, soft_wrap=True)
    else:
        what = figures["name"] + (f"@{figures['version']['name']}" if figures.get("version") else "")
        console.print(f"Wrote the data card of {what!r} to {out}", markup=False)


def register(app: typer.Typer) -> None:
    app.command("datacard")(datacard)
