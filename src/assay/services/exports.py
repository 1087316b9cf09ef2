"""Exports: one row per record with its responses (nested) and consensus, streamed page by page.

The row layout is the import layout plus what people and models answered, so an export
imports back into a project unchanged (``responses`` and ``consensus`` are read past)::

    {"external_id", "fields" | <field columns>, "metadata", "priority", "gold", "suggestions",
     "responses": [{"user", "kind", "values", ...lineage}], "consensus": {question: {...}}}

JSON Lines keeps ``fields`` as one object; CSV and Parquet spread the fields into their own
columns (nested values as JSON text), which the importer reads the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Connection

from assay.domain import events as ev
from assay.domain.errors import ValidationError
from assay.domain.question_types import REGISTRY
from assay.domain.schema import ProjectSchema
from assay.formats import open_writer
from assay.formats.atomic import atomic_output
from assay.formats.coco import CocoTarget, write_coco
from assay.formats.conll import SpanTarget, write_conll
from assay.formats.voc import write_voc
from assay.formats.yolo import write_yolo
from assay.services.actors import Actor
from assay.services.audit import audit
from assay.services.personal_data import Pseudonyms
from assay.services.policies import load_project
from assay.services.schemas import compiled
from assay.store import personal_data as pii_store
from assay.store import records as rec_store
from assay.store.engine import Store

__all__ = ["ExportReport", "export_file", "iter_export_rows"]


@dataclass(frozen=True)
class ExportReport:
    project_id: int
    rows: int
    path: str
    format: str


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _response(r: dict[str, Any], lineage: bool, names: Pseudonyms) -> dict[str, Any]:
    user = names.name(r["user_name"])
    out: dict[str, Any] = ({"user": user} if user is not None else {}) | {
        "kind": r["user_kind"],
        "values": r["values"],
    }
    if r.get("review_verdict") and r["review_verdict"] != "pending":
        out["review"] = {"verdict": r["review_verdict"]}
        if r.get("review_corrected") is not None:
            out["review"]["corrected_values"] = r["review_corrected"]
    if lineage:
        out.update(
            {
                "response_id": r["id"],
                "submitted_at": _iso(r["updated_at"]),
                "duration_ms": r["duration_ms"],
                "schema_version": r["schema_version"],
                "guidelines_version": r["guidelines_version"],
                "suggestion_shown": bool(r.get("suggestions_shown")),
                "suggestions_kept": r["suggestions_kept"],
                "gold_score": r["gold_score"],
            }
        )
        if r.get("extra"):
            out["extra"] = r["extra"]
    return out


def _row(
    rec: dict[str, Any],
    responses: list[dict[str, Any]],
    consensus: list[dict[str, Any]],
    suggestions: list[dict[str, Any]],
    *,
    flat_fields: bool,
    lineage: bool,
    names: Pseudonyms,
    found: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    row: dict[str, Any] = {"external_id": rec["external_id"]}
    if flat_fields:
        row.update(rec["fields"])
    else:
        row["fields"] = rec["fields"]
    row["metadata"] = rec["metadata"] or {}
    row["priority"] = rec["priority"]
    row["gold"] = rec["gold"]
    row["suggestions"] = [
        {k: s[k] for k in ("question", "value", "score", "model") if s[k] is not None or k == "value"}
        for s in suggestions
    ]
    row["responses"] = [_response(r, lineage, names) for r in responses]
    row["consensus"] = {
        c["question"]: {"value": c["value"], "confidence": c["confidence"], "method": c["method"]}
        | ({"responses": c["response_ids"]} if lineage else {})
        for c in consensus
    }
    if lineage:
        row["record_id"] = rec["id"]
        row["status"] = rec["status"]
        if found is not None:
            row["personal_data"] = found
    return row


def _cell(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind == "integer" and isinstance(value, int | float) and not isinstance(value, bool):
        return int(round(value))
    if kind == "number" and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if kind == "text" and not isinstance(value, str):
        return str(value)
    return value


def render_consensus(schema: ProjectSchema, row: dict[str, Any]) -> dict[str, Any]:
    """A row's consensus as the file exports write it: each value in the cell type its question
    type's registry entry names (``export``), and each consensus span with the ``text`` it covers
    (sliced in code points, as the offsets count)."""
    cons = row.get("consensus")
    if not cons:
        return row
    fields = row.get("fields") if "fields" in row else row
    out = {}
    for name, c in cons.items():
        try:
            q = schema.question(name)
        except ValidationError:  # a question the schema no longer has
            out[name] = c
            continue
        value = _cell(REGISTRY[q.type].export, c.get("value"))
        if q.type == "span" and isinstance(value, list):
            text = (fields or {}).get(q.target or "")
            if isinstance(text, str):
                value = [s | {"text": text[int(s["start"]) : int(s["end"])]} for s in value]
        out[name] = c | {"value": value}
    return row | {"consensus": out}


def iter_export_rows(
    conn: Connection,
    project_id: int,
    *,
    flat_fields: bool = False,
    lineage: bool = False,
    page_size: int = 5000,
    contributors: str = "names",
) -> Iterator[dict[str, Any]]:
    """The export rows of a project, one page of records (and their answers) in memory at a time.

    ``contributors``: ``names`` (as stored), ``pseudonyms`` (``contributor-1`` … in the order they
    first appear in this export) or ``none`` (each answer without its author). With ``lineage``,
    each row also says what personal data the import found in it (kind, field, span)."""
    names = Pseudonyms(contributors)
    for page in rec_store.iter_export_pages(conn, project_id, page_size=page_size):
        ids = [r["id"] for r in page]
        responses = rec_store.responses_for_records(conn, project_id, ids)
        consensus = rec_store.consensus_for_records(conn, project_id, ids)
        suggestions = rec_store.suggestions_for_records(conn, ids)
        found = pii_store.findings_for_records(conn, ids) if lineage else {}
        for rec in page:
            rid = rec["id"]
            yield _row(
                rec,
                responses.get(rid, []),
                consensus.get(rid, []),
                suggestions.get(rid, []),
                flat_fields=flat_fields,
                lineage=lineage,
                names=names,
                found=found.get(rid, []) if lineage else None,
            )


def export_file(
    store: Store,
    actor: Actor,
    project_ref: int | str,
    path: Path,
    *,
    fmt: str = "jsonl",
    lineage: bool = False,
    csv_formulas: str = "escape",
    on_progress: Callable[[int, int | None], None] | None = None,
    coco_from: str = "consensus",
    contributors: str = "names",
) -> ExportReport:
    """Write a project's records with responses and consensus to ``path`` as JSONL, JSON, CSV or
    Parquet; or as COCO (``fmt="coco"``, annotations taken from ``coco_from``: consensus, answers,
    suggestions or gold). CSV cells that a spreadsheet would run as formulas are made text unless
    ``csv_formulas="raw"`` (:mod:`assay.formats.csv_`). ``path`` appears only when every row
    is written (:func:`assay.formats.atomic.atomic_output`). ``contributors`` says how answers
    name their authors (:func:`iter_export_rows`)."""
    Pseudonyms(contributors)  # a bad value fails before anything is written
    with store.read() as conn:
        project = load_project(conn, actor, project_ref, need="manager")
        pid = int(project["id"])
        schema = compiled(project).schema
        total = rec_store.count_records(conn, pid)
        if fmt == "coco":  # one document: images, annotations (from ``coco_from``), categories
            with atomic_output(path) as tmp:
                n = write_coco(tmp, iter_export_rows(conn, pid), CocoTarget.of(schema), coco_from)
        elif fmt == "voc":  # a folder of <external_id>.xml
            n = write_voc(path, iter_export_rows(conn, pid), CocoTarget.of(schema), coco_from)
        elif fmt == "conll":  # one file: a sentence per record, a BIO tag per token
            with atomic_output(path) as tmp:
                n = write_conll(tmp, iter_export_rows(conn, pid), SpanTarget.of(schema), coco_from)
        elif fmt == "yolo":  # a folder: data.yaml and labels/*.txt
            n = write_yolo(path, iter_export_rows(conn, pid), CocoTarget.of(schema), coco_from)
        else:
            n = _write_rows(
                conn, pid, schema, path, fmt, lineage, csv_formulas, on_progress, total, contributors
            )
    if on_progress is not None:
        on_progress(n, n)
    with store.tx() as conn:
        audit(
            conn,
            actor,
            ev.EXPORTED,
            "project",
            pid,
            project_id=pid,
            after={"path": str(path), "format": fmt, "rows": n}
            | ({"contributors": contributors} if contributors != "names" else {}),
        )
    return ExportReport(project_id=pid, rows=n, path=str(path), format=fmt)


def _write_rows(
    conn: Connection,
    pid: int,
    schema: ProjectSchema,
    path: Path,
    fmt: str,
    lineage: bool,
    csv_formulas: str,
    on_progress: Callable[[int, int | None], None] | None,
    total: int,
    contributors: str = "names",
) -> int:
    n = 0
    with atomic_output(path) as tmp:
        writer = open_writer(tmp, fmt, csv_formulas=csv_formulas)
        try:
            rows = iter_export_rows(
                conn, pid, flat_fields=fmt in ("csv", "parquet"), lineage=lineage, contributors=contributors
            )
            for row in rows:
                writer.write(render_consensus(schema, row))
                n += 1
                if on_progress is not None and n % 5000 == 0:
                    on_progress(n, total)
        finally:
            writer.close()
    return n
