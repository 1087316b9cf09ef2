"""Golden benchmarks: freeze a project of prompts with references, run models on it, grade, report.

1. :func:`freeze_version` snapshots a benchmark project as an immutable dataset version with its
   content (:mod:`assay.services.datasets`: Parquet files and a manifest in the data directory).
2. :func:`run_eval` reads the version's prompts and references from its files (checked against
   their hashes; a version frozen before versions kept content is read from the project, which
   must still match its hash), generates each
   model's answer to every prompt, and writes them into a *grading project* — one record per
   (item, model) with the prompt, the reference answer and the model's answer, and rubric
   questions (ratings with anchors) for human or model graders (an LLM judge is a contributor
   like any other: ``assay judge run``).
3. :func:`eval_results` reads the grades (consensus where computed, else the mean of the
   submitted answers) and reports per model (mean and 95 % interval per rubric question) and
   per item.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from typing import Any

import orjson

from assay.connectors.base import ConnectorError
from assay.domain.errors import Conflict, NotFound, ValidationError
from assay.domain.schema import ProjectSchema
from assay.services import datasets
from assay.services.actors import Actor
from assay.services.exports import iter_export_rows
from assay.services.generation import (
    ModelSpec,
    PromptItem,
    _check_specs,
    _now,
    candidate_provenance,
    ensure_project,
    generate_answers,
)
from assay.services.imports import import_rows
from assay.services.policies import load_project
from assay.store import datasets as ds_store
from assay.store.engine import Store

__all__ = [
    "DEFAULT_RUBRIC",
    "benchmark_items",
    "eval_results",
    "freeze_version",
    "frozen_rows",
    "grading_schema",
    "list_versions",
    "model_contributor",
    "run_eval",
]

DEFAULT_RUBRIC: list[dict[str, Any]] = [
    {
        "name": "correct",
        "type": "rating",
        "scale": 5,
        "description": "Does the answer agree with the reference answer?",
        "anchors": {
            1: "wrong, or contradicts the reference",
            3: "partly right: some of the reference's key points",
            5: "fully agrees with the reference",
        },
    },
    {
        "name": "helpful",
        "type": "rating",
        "scale": 5,
        "required": False,
        "anchors": {1: "not helpful", 5: "as helpful as the reference or more"},
    },
    {"name": "comment", "type": "text", "required": False},
]


def _content_hash(rows: list[dict[str, Any]]) -> str:
    h = hashlib.sha256()
    for r in sorted(rows, key=lambda r: str(r["external_id"])):
        doc = {"external_id": r["external_id"], "fields": r["fields"], "gold": r.get("gold")}
        h.update(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS))
        h.update(b"\n")
    return "sha256:" + h.hexdigest()


def freeze_version(
    store: Store, actor: Actor, project_ref: int | str, *, home: datasets.Where, name: str | None = None
) -> dict[str, Any]:
    """Snapshot a benchmark project as a new dataset version (``v1``, ``v2`` … unless named): its
    content kept under ``home`` (:func:`assay.services.datasets.freeze`, kind ``benchmark``)."""
    v = datasets.freeze(store, actor, home, project_ref, name=name, kind="benchmark")
    return {k: v[k] for k in v if k != "manifest"}


def list_versions(store: Store, actor: Actor, project_ref: int | str) -> list[dict[str, Any]]:
    return datasets.list_versions(store, actor, project_ref)


def _frozen_rows(
    store: Store, actor: Actor, home: datasets.Where, project_ref: int | str, version: str
) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    """(project, version row, rows) of a version: read from its files; a version frozen before
    versions kept content is read from the project, which must still match its hash."""
    with store.read() as conn:
        project = load_project(conn, actor, project_ref, need="manager")
        pid = int(project["id"])
        v = ds_store.get_version(conn, pid, version)
        if v is None:
            raise NotFound(f"project {project['name']!r} has no version {version!r}", field="version")
        rows = list(iter_export_rows(conn, pid)) if v["format"] == "benchmark" else []
    if v["format"] != "benchmark":
        opened = datasets.open_version(store, actor, home, project_ref, version)
        problems = datasets.verify(opened)
        if problems:
            raise Conflict(
                f"version {version!r} does not match what was frozen: {'; '.join(problems)}", field="version"
            )
        return project, v, list(datasets.iter_version_rows(opened.folder))
    wanted = set((v.get("lineage") or {}).get("external_ids") or [])
    rows = [r for r in rows if str(r["external_id"]) in wanted]
    if len(rows) != len(wanted) or _content_hash(rows) != v["content_hash"]:
        raise Conflict(
            f"the records of {project['name']!r} changed since version {version!r} was frozen "
            f"({v['content_hash']}); freeze a new version",
            field="version",
        )
    return project, v, rows


def frozen_rows(
    store: Store, actor: Actor, home: datasets.Where, project_ref: int | str, version: str
) -> list[dict[str, Any]]:
    """The export rows of a frozen version, as frozen, by ``external_id`` (raises :class:`Conflict`
    when its files, or for an older version the project, no longer match its hashes)."""
    _, _, rows = _frozen_rows(store, actor, home, project_ref, version)
    return sorted(rows, key=lambda r: str(r["external_id"]))


def benchmark_items(
    store: Store,
    actor: Actor,
    project_ref: int | str,
    version: str,
    *,
    home: datasets.Where,
    prompt_field: str = "prompt",
    reference_field: str = "reference",
) -> tuple[dict[str, Any], list[PromptItem]]:
    """The version and its prompts, as frozen (a version stored before versions kept content:
    from the project, which must not have changed since)."""
    project, v, rows = _frozen_rows(store, actor, home, project_ref, version)
    schema = ProjectSchema.from_dict(v["schema"])
    for f in (prompt_field, reference_field):
        if f not in schema.field_names:
            raise ValidationError(
                f"benchmark {project['name']!r} has no field {f!r}; fields: {', '.join(schema.field_names)}",
                field="field",
            )
    items = [
        PromptItem(
            id=str(r["external_id"]),
            prompt=r["fields"][prompt_field],
            metadata=dict(r.get("metadata") or {}),
            reference=None if r["fields"].get(reference_field) is None else str(r["fields"][reference_field]),
        )
        for r in sorted(rows, key=lambda r: str(r["external_id"]))
    ]
    return {**datasets.public(v), "project": project["name"]}, items


def grading_schema(
    name: str, rubric: list[dict[str, Any]] | None = None, *, overlap: int | dict[str, Any] = 1
) -> dict[str, Any]:
    """A grading project: prompt, reference and answer shown; rubric questions asked."""
    return {
        "name": name,
        "fields": [
            {"name": "prompt", "type": "text"},
            {"name": "reference", "type": "text", "required": False},
            {"name": "answer", "type": "text"},
        ],
        "questions": rubric or DEFAULT_RUBRIC,
        "workflow": {"overlap": overlap},
        "guidelines": "Grade the answer against the reference answer with the rubric's anchors.",
    }


def run_eval(
    store: Store,
    actor: Actor,
    benchmark_ref: int | str,
    specs: Sequence[ModelSpec],
    *,
    home: datasets.Where,
    version: str | None = None,
    grading_project: str | None = None,
    rubric: list[dict[str, Any]] | None = None,
    overlap: int | dict[str, Any] = 1,
    system: str | None = None,
    prompt_field: str = "prompt",
    reference_field: str = "reference",
) -> dict[str, Any]:
    """Generate every model's answers on a frozen benchmark and send them to grading.

    ``version`` names a frozen version (default: freeze a new one now). The grading project
    (default ``<benchmark>-grading``) is made when missing; its records are
    ``<item>::<model>`` with metadata ``eval: {benchmark, version, content_hash, item, model,
    generation: provenance}``.
    """
    _check_specs(specs)
    if version is None:
        version = str(freeze_version(store, actor, benchmark_ref, home=home)["name"])
    v, items = benchmark_items(
        store,
        actor,
        benchmark_ref,
        version,
        home=home,
        prompt_field=prompt_field,
        reference_field=reference_field,
    )
    gname = grading_project or f"{v['project']}-grading"
    grading = ensure_project(store, actor, gname, grading_schema(gname, rubric, overlap=overlap))
    at = _now()
    results = generate_answers(items, specs, system=system)
    rows: list[tuple[int, dict[str, Any]]] = []
    failed: list[dict[str, Any]] = []
    per_model: dict[str, dict[str, Any]] = {
        s.candidate_id: {"model": s.model, "answers": 0, "failed": 0, "cost": 0.0, "tokens": 0, "cached": 0}
        for s in specs
    }
    place = 0
    for s, answers in zip(specs, results, strict=True):
        stats = per_model[s.candidate_id]
        for it, res in zip(items, answers, strict=True):
            place += 1
            if isinstance(res, ConnectorError):
                failed.append({"item": it.id, "model": s.candidate_id, "reason": str(res)})
                stats["failed"] += 1
                continue
            stats["answers"] += 1
            stats["cost"] += res.cost
            stats["tokens"] += res.total_tokens
            stats["cached"] += int(res.cached)
            meta = dict(it.metadata)
            meta["eval"] = {
                "benchmark": v["project"],
                "version": v["name"],
                "content_hash": v["content_hash"],
                "item": it.id,
                "model": s.candidate_id,
                "generation": {"model": s.model, **candidate_provenance(s, res, at)},
            }
            prompt_text = it.text
            fields = {"prompt": prompt_text, "answer": res.text}
            if it.reference is not None:
                fields["reference"] = it.reference
            rows.append(
                (place, {"external_id": f"{it.id}::{s.candidate_id}", "fields": fields, "metadata": meta})
            )
    if rows:
        import_rows(store, actor, int(grading["id"]), rows, name=f"eval-{v['name']}")
    return {
        "benchmark": v["project"],
        "version": v,
        "grading_project": gname,
        "records": len(rows),
        "failed": failed,
        "models": per_model,
        "cost": sum(m["cost"] for m in per_model.values()),
    }


def _mean_ci(xs: list[float]) -> tuple[float, float, float]:
    n = len(xs)
    mean = sum(xs) / n
    if n < 2:
        return mean, math.nan, math.nan
    sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1))
    half = 1.96 * sd / math.sqrt(n)
    return mean, mean - half, mean + half


def eval_results(store: Store, actor: Actor, grading_ref: int | str) -> dict[str, Any]:
    """Grades per model (mean and 95 % interval per numeric rubric question) and per item."""
    with store.read() as conn:
        project = load_project(conn, actor, grading_ref, need="manager")
        schema = ProjectSchema.from_dict(project["schema"])
        numeric = [q.name for q in schema.questions if q.type in ("rating", "number")]
        items: list[dict[str, Any]] = []
        for row in iter_export_rows(conn, int(project["id"])):
            info = (row.get("metadata") or {}).get("eval") or {}
            grades: dict[str, float] = {}
            for q in numeric:
                cons = (row.get("consensus") or {}).get(q)
                if cons and isinstance(cons.get("value"), int | float):
                    grades[q] = float(cons["value"])
                    continue
                vals = [
                    float(r["values"][q])
                    for r in row.get("responses") or []
                    if isinstance(r["values"].get(q), int | float)
                ]
                if vals:
                    grades[q] = sum(vals) / len(vals)
            items.append(
                {
                    "item": info.get("item", row["external_id"]),
                    "model": info.get("model"),
                    "graders": len(row.get("responses") or []),
                    "grades": grades,
                }
            )
    by_model: dict[str, list[dict[str, Any]]] = {}
    for it in items:
        by_model.setdefault(str(it["model"]), []).append(it)
    models = []
    for m, its in by_model.items():
        entry: dict[str, Any] = {"model": m, "items": len(its), "graded": sum(1 for i in its if i["grades"])}
        for q in numeric:
            xs = [i["grades"][q] for i in its if q in i["grades"]]
            if xs:
                mean, lo, hi = _mean_ci(xs)
                entry[q] = {"mean": mean, "ci_low": lo, "ci_high": hi, "n": len(xs)}
        models.append(entry)
    key = numeric[0] if numeric else None

    def order(e: dict[str, Any]) -> float:
        return -float(e[key]["mean"]) if key and key in e else math.inf

    models.sort(key=order)
    return {"project": project["name"], "questions": numeric, "models": models, "items": items}


def model_contributor(
    store: Store, actor: Actor, name: str, *, create: bool = False, config: dict[str, Any] | None = None
) -> Actor:
    """The contributor ``name`` as an :class:`Actor` (for an LLM judge); made as a ``kind=model``
    annotator when ``create`` and missing. Only managers may act for another contributor."""
    from assay.domain.errors import PermissionDenied
    from assay.services import accounts
    from assay.services.actors import actor_from_row
    from assay.services.policies import manages_user
    from assay.store import accounts as acc

    if not actor.at_least("manager"):
        raise PermissionDenied("only managers and admins run judges for a contributor")
    with store.read() as conn:
        row = acc.get_user_by_name(conn, name)
        if row is not None and not manages_user(conn, actor, row):
            raise PermissionDenied(f"you may not act for {name!r}", field="user")
    if row is None:
        if not create:
            raise NotFound(f"no user named {name!r}; add it (kind model) or pass --create", field="user")
        accounts.add_user(store, actor, name, role="annotator", kind="model", config=config)
        with store.read() as conn:
            row = acc.get_user_by_name(conn, name)
        assert row is not None
    return actor_from_row(row)
