"""Import agent traces into a project: convert each trace, pre-check it, and upsert the records.

:func:`import_traces` reads a trace file (or a folder of them) with a codec of
:mod:`assay.formats.traces`, puts each trajectory in the project's trajectory field (and its
task in a text field named ``task``, ``prompt``, ``instruction``, ``question`` or ``goal``, when
the project has one), runs the pre-checks of :mod:`assay.domain.trajectory_checks` and attaches
their findings as a *suggestion* on the project's ``step_review`` question (model
``assay-precheck``), then writes everything through :func:`assay.services.imports.import_rows`:
all or nothing, and an error names the file, the line or item, and the field.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assay.domain.errors import AssayError, ValidationError
from assay.domain.fields import normalize_trajectory
from assay.domain.schema import ProjectSchema
from assay.domain.trajectory_checks import PRECHECK_MODEL, as_step_review, run_checks
from assay.formats.traces import TRACE_FORMATS, read_traces
from assay.services.actors import Actor
from assay.services.imports import import_rows
from assay.services.policies import load_project
from assay.store.engine import Store

__all__ = ["TASK_FIELD_NAMES", "TraceImportReport", "import_traces", "trace_rows"]

TASK_FIELD_NAMES = ("task", "prompt", "instruction", "question", "goal")


@dataclass(frozen=True)
class TraceImportReport:
    project_id: int
    rows: int
    created: int
    updated: int
    source: str
    formats: dict[str, int] = field(default_factory=dict)
    findings: dict[str, int] = field(default_factory=dict)  # pre-check findings by check
    flagged: int = 0  # records with at least one finding


@dataclass
class _Plan:
    field: str
    task_field: str | None
    question: str | None
    verdicts: list[str] | None


def _plan(schema: ProjectSchema, field_name: str | None) -> _Plan:
    trajs = [f.name for f in schema.fields if f.type == "trajectory"]
    if field_name is None:
        if not trajs:
            raise ValidationError(
                f"project {schema.name!r} has no trajectory field to import traces into", field="field"
            )
        if len(trajs) > 1:
            raise ValidationError(
                f"project {schema.name!r} has several trajectory fields ({', '.join(trajs)}); pick one with --field",
                field="field",
            )
        field_name = trajs[0]
    elif field_name not in trajs:
        raise ValidationError(
            f"{field_name!r} is not a trajectory field of project {schema.name!r}; "
            f"trajectory fields: {', '.join(trajs) or 'none'}",
            field="field",
        )
    task_field = next(
        (
            f.name
            for name in TASK_FIELD_NAMES
            for f in schema.fields
            if f.name == name and f.type in ("text", "markdown")
        ),
        None,
    )
    question = None
    verdicts: list[str] | None = None
    for q in schema.questions:
        if q.type == "step_review" and getattr(q, "field", None) == field_name:
            question = q.name
            verdicts = [o.value for o in q.verdicts]
            break
    return _Plan(field_name, task_field, question, verdicts)


def trace_rows(
    path: Path,
    fmt: str,
    plan: _Plan,
    stats: dict[str, Counter[str]],
    *,
    checks: bool = True,
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Import rows ``(place, row)`` for the traces of ``path`` (pre-check suggestions included)."""
    for file, name, item in read_traces(path, fmt):
        stats["formats"][name] += 1
        row: dict[str, Any] = {
            "external_id": item.external_id,
            "fields": {plan.field: item.trajectory},
            "metadata": {"source_file": file.name, "source_format": name, **item.metadata},
        }
        task = item.trajectory.get("task")
        if plan.task_field is not None and isinstance(task, str):
            row["fields"][plan.task_field] = task
        if checks:
            try:
                value = normalize_trajectory(item.trajectory)
            except AssayError as e:
                raise e.at(field=f"fields.{plan.field}", file=file.name, line=item.place) from None
            findings = run_checks(value)
            for f in findings:
                stats["findings"][f.check] += 1
            if findings:
                stats["flagged"]["records"] += 1
                if plan.question is not None:
                    suggestion = as_step_review(findings, plan.verdicts)
                    if suggestion:
                        row["suggestions"] = [
                            {
                                "question": plan.question,
                                "value": suggestion,
                                "model": PRECHECK_MODEL,
                                "score": 1.0,
                            }
                        ]
                else:
                    row["metadata"]["prechecks"] = [f.to_dict() for f in findings]
        yield item.place, row


def import_traces(
    store: Store,
    actor: Actor,
    project_ref: int | str,
    path: Path,
    fmt: str = "auto",
    field: str | None = None,
    *,
    checks: bool = True,
) -> TraceImportReport:
    """Import the traces of a file (or of a folder's trace files) into a project, all or nothing."""
    if fmt != "auto" and fmt not in TRACE_FORMATS:
        raise ValidationError(
            f"unknown trace format {fmt!r}; known: auto, {', '.join(TRACE_FORMATS)}", field="format"
        )
    with store.read() as conn:
        project = load_project(conn, actor, project_ref, need="manager")
        schema = ProjectSchema.from_dict(project["schema"])
    plan = _plan(schema, field)
    stats: dict[str, Counter[str]] = {"formats": Counter(), "findings": Counter(), "flagged": Counter()}
    current: dict[str, str] = {}

    def rows() -> Iterator[tuple[int, dict[str, Any]]]:
        for place, row in trace_rows(path, fmt, plan, stats, checks=checks):
            current["file"] = row["metadata"]["source_file"]
            yield place, row

    try:
        report = import_rows(store, actor, project_ref, rows(), name=path.name)
    except AssayError as e:
        if path.is_dir() and current.get("file") and e.file == path.name:
            e.file = f"{path.name}/{current['file']}"
        raise
    return TraceImportReport(
        project_id=report.project_id,
        rows=report.rows,
        created=report.created,
        updated=report.updated,
        source=str(path),
        formats=dict(stats["formats"]),
        findings=dict(stats["findings"]),
        flagged=stats["flagged"]["records"],
    )
