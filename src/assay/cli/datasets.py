"""``assay dataset``: freeze a project as an immutable version, list, show, export and diff versions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from assay.cli.common import (
    DbOpt,
    HomeOpt,
    JsonOpt,
    console,
    new_app,
    open_cli_store,
    print_json,
    progress_bar,
    versions_place,
)

app = new_app(
    "dataset",
    "Dataset versions: immutable snapshots of a project (Parquet files and a manifest in the data "
    "directory), their exports and diffs.",
)

ProjectArg = Annotated[str, typer.Argument(help="Project name or id.")]
VersionArg = Annotated[str, typer.Argument(help="Version name (v1, v2 … or the --name it was frozen with).")]


@app.command("freeze")
def freeze(
    project: ProjectArg,
    name: Annotated[str | None, typer.Option("--name", help="Version name (default v1, v2 …).")] = None,
    filter: Annotated[
        list[str] | None,
        typer.Option(
            "--filter",
            help="Keep only records that match (repeat: all must): done, open, low_confidence, "
            "gold_failed, flagged, disagreement, gold, not_gold, or metadata.KEY=VALUE.",
        ),
    ] = None,
    home: HomeOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Freeze the project's records, answers and labels as an immutable version: records.parquet,
    labels.parquet and manifest.json under the data directory's datasets/ folder (or the object
    store ASSAY_DATASETS_URL names)."""
    from assay.services import datasets

    place = versions_place(home, db)
    with open_cli_store(home, db) as (store, actor):
        v = datasets.freeze(store, actor, place, project, name=name, filters=tuple(filter or ()))
    if as_json:
        print_json(v)
        return
    counts = v["manifest"]["counts"]
    console.print(
        f"Froze {counts['records']} records ({counts['labels']} labels) of {v['project']} as "
        f"{v['name']}: {v['content_hash']}",
        markup=False,
        soft_wrap=True,
    )
    console.print(f"Files: {_where(place.home, v['path'])}", markup=False, highlight=False, soft_wrap=True)


@app.command("list")
def list_(project: ProjectArg, home: HomeOpt = None, db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """The project's versions, oldest first."""
    from assay.services import datasets

    with open_cli_store(home, db) as (store, actor):
        rows = datasets.list_versions(store, actor, project)
    if as_json:
        print_json(rows)
        return
    if not rows:
        console.print(f"{project} has no versions: assay dataset freeze {project}", markup=False)
    for v in rows:
        stored = "" if v["stored"] else "  (hash only: frozen before versions kept content)"
        filters = f"  filters: {', '.join(v['filters'])}" if v["filters"] else ""
        console.print(
            f"{v['name']}\t{v['record_count']} records\t{v['created_at']:%Y-%m-%d %H:%M}\t"
            f"{v['content_hash']}{filters}{stored}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )


@app.command("show")
def show(
    project: ProjectArg, version: VersionArg, home: HomeOpt = None, db: DbOpt = None, as_json: JsonOpt = False
) -> None:
    """A version's manifest, and whether its files still match their hashes (exit 1 if not)."""
    from assay.services import datasets

    with open_cli_store(home, db) as (store, actor):
        v = datasets.show(store, actor, versions_place(home, db), project, version)
    if as_json:
        print_json(v)
    else:
        m = v["manifest"]
        c = m["counts"]
        console.print(f"{v['project']} {v['name']}: {v['content_hash']}", markup=False, soft_wrap=True)
        console.print(
            f"  {c['records']} records ({c['gold_records']} gold), {c['labels']} labels, "
            f"{c['responses']} answers; schema version {m['schema_version']}, guidelines version "
            f"{m['guidelines_version']}; consensus {m['consensus']['method']}",
            markup=False,
        )
        if m["filters"]:
            console.print(f"  filters: {', '.join(m['filters'])}", markup=False)
        console.print(
            f"  files: {_where(versions_place(home, db).home, str(v['path']))}", markup=False, highlight=False
        )
        console.print("  verified: every hash matches" if v["verified"] else "  NOT VERIFIED:", markup=False)
        for p in v["problems"]:
            console.print(f"    {p}", markup=False)
    if not v["verified"]:
        raise typer.Exit(1)


@app.command("export")
def export(
    project: ProjectArg,
    version: VersionArg,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output file.")],
    format: Annotated[
        str | None, typer.Option("--format", help="jsonl, json, csv or parquet (default: from the suffix).")
    ] = None,
    home: HomeOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write a version's records, answers and labels in the layout of ``assay export`` (its hashes
    are checked first)."""
    from assay.formats import detect_format
    from assay.services import datasets

    fmt = format or detect_format(out)
    with open_cli_store(home, db) as (store, actor), progress_bar("exporting") as update:
        rep = datasets.export_version(
            store, actor, versions_place(home, db), project, version, out, fmt=fmt, on_progress=update
        )
    if as_json:
        print_json(rep)
    else:
        console.print(
            f"Wrote {rep['rows']} records of {rep['project']} {rep['version']} to {out}", markup=False
        )


@app.command("diff")
def diff(
    project: ProjectArg,
    old: Annotated[str, typer.Argument(help="The older version.")],
    new: Annotated[str, typer.Argument(help="The newer version.")],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write every change here as JSON Lines.")
    ] = None,
    limit: Annotated[int, typer.Option(help="Changes to print (the counts cover all).")] = 50,
    home: HomeOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """What changed between two versions, record by record: added, removed, content changed, label
    changed (old → new, with the answers behind it and why), confidence changed."""
    from assay.services import datasets

    with open_cli_store(home, db) as (store, actor):
        d = datasets.diff(store, actor, versions_place(home, db), project, old, new, limit=limit, out=out)
    if as_json:
        print_json(d)
        return
    counts = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in d["counts"].items())
    console.print(f"{d['project']} {old} → {new}: {counts}", markup=False, soft_wrap=True)
    for c in d["changes"]:
        console.print("  " + _line(c), markup=False, highlight=False, soft_wrap=True)
    if d["truncated"]:
        more = f"; all of them in {out}" if out else "; --out FILE writes all"
        console.print(f"  … {d['total'] - len(d['changes'])} more{more}", markup=False)


def _where(home: Path, path: str) -> str:
    return path if "://" in path else str(home / path)


def _line(c: dict[str, object]) -> str:
    import json

    kind, key = c["change"], c["external_id"]
    if kind in ("added", "removed"):
        return f"{kind} {key}"
    if kind == "content_changed":
        return f"content changed {key}: {', '.join(c['parts'])}"  # type: ignore[arg-type]
    if kind == "label_changed":
        return (
            f"label changed {key} {c['question']}: {json.dumps(c['old'], ensure_ascii=False)} → "
            f"{json.dumps(c['new'], ensure_ascii=False)} ({c['why']})"
        )
    return f"confidence changed {key} {c['question']}: {c['old']} → {c['new']} ({c['why']})"


def register(app_: typer.Typer) -> None:
    app_.add_typer(app, name="dataset")
