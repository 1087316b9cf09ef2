"""``assay import`` and ``assay export``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from assay.cli.common import DbOpt, HomeOpt, JsonOpt, console, open_cli_store, print_json, progress_bar
from assay.cli.serve import TokenOpt, UrlOpt, remote_client


def import_(
    project: Annotated[str, typer.Argument(help="Project name or id.")],
    file: Annotated[Path, typer.Argument(help="File of records.")],
    format: Annotated[
        str,
        typer.Option(
            "--format",
            help="auto, jsonl, json, csv, parquet, coco, yolo (a data.yaml or its folder), voc (XML files) "
            "or conll (BIO tags, for a span question).",
        ),
    ] = "auto",
    coco_as: Annotated[
        str, typer.Option(help="COCO, YOLO, VOC, CoNLL: the annotations become suggestions, answers or gold.")
    ] = "suggestions",
    annotator: Annotated[
        str | None,
        typer.Option(help="COCO, YOLO, VOC, CoNLL answers: the user of annotations that name none."),
    ] = None,
    media_prefix: Annotated[
        str, typer.Option(help="COCO, YOLO, VOC: put this before each image's path (media/coco/).")
    ] = "",
    home: HomeOpt = None,
    db: DbOpt = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Import records (all or nothing; re-importing an external_id updates that record)."""
    from assay.cli.common import settings_for
    from assay.formats.coco import CocoOptions
    from assay.services import imports
    from assay.services.media import MediaRoots

    if url:
        with remote_client(url, token) as client:
            report: Any = client.import_file(project, file, format=format)
    else:
        with open_cli_store(home, db) as (store, actor), progress_bar(f"importing {file.name}") as update:
            media = MediaRoots.from_settings(settings_for(home, db))
            coco = CocoOptions(as_=coco_as, annotator=annotator, media_prefix=media_prefix)
            report = imports.import_file(
                store, actor, project, file, fmt=format, on_progress=update, media=media, coco=coco
            )
    if as_json:
        print_json({k: v for k, v in report.__dict__.items() if k != "raw"})
    else:
        console.print(
            f"Imported {report.rows} rows into project {project}: {report.created} new, {report.updated} updated."
        )
        found = getattr(report, "personal_data", None)
        if found:  # what the project's privacy policy found (masked or allowed)
            counts = ", ".join(f"{n} {kind}" for kind, n in found.items())
            console.print(f"  personal data found: {counts} (assay personal-data {project})", markup=False)


def export(
    project: Annotated[str, typer.Argument(help="Project name or id.")],
    out: Annotated[Path, typer.Option("--out", help="Output file.")],
    format: Annotated[
        str,
        typer.Option(
            "--format",
            help="jsonl, json, csv, parquet, coco, yolo, voc (yolo, voc: --out is a folder) or conll.",
        ),
    ] = "jsonl",
    coco_from: Annotated[
        str,
        typer.Option(
            help="COCO, YOLO, VOC, CoNLL: annotations from consensus, answers (COCO), suggestions or gold."
        ),
    ] = "consensus",
    lineage: Annotated[
        bool, typer.Option(help="Add lineage: who answered when, versions, suggestions kept.")
    ] = False,
    csv_formulas: Annotated[
        str,
        typer.Option(
            help="CSV: 'escape' puts a ' before cells a spreadsheet would run as formulas "
            "(=, +, -, @ first); 'raw' writes them unchanged."
        ),
    ] = "escape",
    min_confidence: Annotated[
        float, typer.Option(help="Training formats: drop examples whose consensus confidence is lower.")
    ] = 0.0,
    ties: Annotated[str, typer.Option(help="Training formats: drop or keep ties.")] = "drop",
    remove_unnecessary: Annotated[
        bool, typer.Option(help="Trajectory SFT: remove steps reviewers judged unnecessary.")
    ] = False,
    max_synthetic_share: Annotated[
        float | None,
        typer.Option(
            help="Training formats: at most this share of synthetic examples (unverified go first)."
        ),
    ] = None,
    provenance: Annotated[
        bool, typer.Option(help="Training formats: state each example's origin and teacher.")
    ] = False,
    contributors: Annotated[
        str,
        typer.Option(
            help="How answers name their authors: names, pseudonyms (contributor-1, -2 … in this "
            "file) or none."
        ),
    ] = "names",
    withhold_harmful: Annotated[
        bool,
        typer.Option(help="safety-sft, safety-pairs: replace every reply graded harmful with a placeholder."),
    ] = False,
    home: HomeOpt = None,
    db: DbOpt = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Export records with their responses (nested) and consensus, one row per record; or training data."""
    from assay.formats import EXPORT_FORMATS
    from assay.formats.training import TrainingOptions
    from assay.services import exports, training_exports

    if url:
        with remote_client(url, token) as client:
            client.export(
                project,
                out,
                format=format,
                lineage=lineage,
                csv_formulas=csv_formulas,
                contributors=contributors,
            )
        if as_json:
            print_json({"path": str(out), "format": format})
        else:
            console.print(f"Exported project {project} to {out} ({format}).")
        return
    if format not in EXPORT_FORMATS:
        options = TrainingOptions(
            min_confidence=min_confidence,
            ties=ties,
            remove_unnecessary=remove_unnecessary,
            max_synthetic_share=max_synthetic_share,
            extra=({"provenance": True} if provenance else {})
            | ({"withhold_harmful": True} if withhold_harmful else {}),
        )
        with open_cli_store(home, db) as (store, actor):
            summary = training_exports.export_training_report(store, actor, project, out, format, options)
        if as_json:
            print_json({"rows": summary.rows, "path": str(out), "format": format}
                       | ({k: v for k, v in summary.to_dict().items() if k != "rows"} if summary.origins else {}))  # fmt: skip
        else:
            console.print(f"Exported {summary.rows} {format} examples to {out}.")
            if summary.origins:
                console.print(f"  {summary.summary()}", markup=False, highlight=False, soft_wrap=True)
        return
    with open_cli_store(home, db) as (store, actor):
        with progress_bar(f"exporting {project}") as update:
            report = exports.export_file(
                store,
                actor,
                project,
                out,
                fmt=format,
                lineage=lineage,
                csv_formulas=csv_formulas,
                on_progress=update,
                coco_from=coco_from,
                contributors=contributors,
            )
        if as_json:
            print_json(report.__dict__)
        else:
            console.print(f"Exported {report.rows} records to {report.path} ({report.format}).")


def register(app: typer.Typer) -> None:
    app.command("import")(import_)
    app.command("export")(export)
