"""``assay import-traces``: agent traces (OpenAI, Anthropic, LangSmith, OpenTelemetry, SWE-agent …) into a project."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from assay.cli.common import DbOpt, HomeOpt, JsonOpt, console, open_cli_store, print_json

_FORMATS = "auto, openai-chat, openai-responses, anthropic, langsmith, otel, steps, swe-agent or tau-bench"


def import_traces(
    project: Annotated[str, typer.Argument(help="Project name or id.")],
    file: Annotated[Path, typer.Argument(help="A trace file, or a folder of trace files.")],
    format: Annotated[str, typer.Option("--format", help=f"Trace format: {_FORMATS}.")] = "auto",
    field: Annotated[
        str | None, typer.Option("--field", help="The trajectory field (default: the project's only one).")
    ] = None,
    checks: Annotated[
        bool, typer.Option(help="Run the pre-checks and attach their findings as suggestions.")
    ] = True,
    home: HomeOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Import agent traces as trajectory records (all or nothing), with pre-check suggestions."""
    from assay.services import trace_imports

    with open_cli_store(home, db) as (store, actor):
        report = trace_imports.import_traces(
            store, actor, project, file, fmt=format, field=field, checks=checks
        )
    if as_json:
        print_json(report.__dict__)
        return
    fmts = ", ".join(f"{n} {k}" for k, n in sorted(report.formats.items()))
    console.print(
        f"Imported {report.rows} traces ({fmts}) into project {project}: "
        f"{report.created} new, {report.updated} updated."
    )
    if report.findings:
        found = ", ".join(f"{n} {k}" for k, n in sorted(report.findings.items()))
        console.print(
            f"Pre-checks flagged {report.flagged} traces: {found} (suggestions from assay-precheck)."
        )


def register(app: typer.Typer) -> None:
    app.command("import-traces")(import_traces)
