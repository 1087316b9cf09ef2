"""``assay datacard``: a project's data card (Hugging Face dataset-card layout)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from assay.cli.common import DbOpt, HomeOpt, JsonOpt, console, open_cli_store, print_json


def datacard(
    project: Annotated[str, typer.Argument(help="Project name or id.")],
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
    """Write the project's data card (with ``--out``, its agreement chart beside it as SVG): YAML header (licence, languages, size, tasks), sources,
    contributors, guidelines version, agreement per question, gold accuracy, model and synthetic
    shares, known limitations."""
    from assay.services import datacard as cards

    with open_cli_store(home, db) as (store, actor):
        text, figures = cards.datacard(
            store, actor, project, license=license, languages=tuple(language or ())
        )
    if out is not None:  # the card, and its figure beside it
        plot = out.with_name(f"{out.stem}-agreement.svg")
        out.write_text(
            text.replace("## Quality\n", f"## Quality\n\n![agreement per question]({plot.name})\n", 1),
            encoding="utf-8",
        )
        plot.write_text(cards.agreement_svg(figures), encoding="utf-8")
    if as_json:
        print_json(figures | {"out": str(out) if out else None})
    elif out is None:
        console.print(text, markup=False, highlight=False, soft_wrap=True)
    else:
        console.print(f"Wrote the data card of {figures['name']!r} to {out}", markup=False)


def register(app: typer.Typer) -> None:
    app.command("datacard")(datacard)
