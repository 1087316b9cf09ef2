"""Generation runs: answers of N models (× sampling settings) to a prompt set, as comparison records.

A prompt set is a JSONL/JSON/CSV/Parquet file (one prompt a row: ``id``, ``prompt`` or
``messages``, optional ``metadata``, ``category``, ``reference``; other keys go to metadata)
or a text field of an existing project. Each :class:`ModelSpec` (a connector and its
sampling parameters) answers every prompt; the answers become the candidates of one record
per prompt in a comparison project, each candidate carrying its provenance — model,
parameters, time, tokens, cost, latency, whether it came from the cache — and the record's
metadata summing up the run. Records are written with :func:`assay.services.imports.import_rows`
(all or nothing; a rerun updates the same records, and with a response cache costs nothing).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from assay.connectors.base import (
    BaseConnector,
    Completion,
    ConnectorError,
    Message,
    ModelConnector,
    user_message,
)
from assay.domain.errors import NotFound, ValidationError
from assay.domain.schema import ProjectSchema
from assay.formats import open_source
from assay.services import projects as project_service
from assay.services.actors import Actor
from assay.services.exports import iter_export_rows
from assay.services.imports import import_rows
from assay.services.policies import load_project
from assay.store.engine import Store

__all__ = [
    "GenerationReport",
    "ModelSpec",
    "PromptItem",
    "comparison_schema",
    "ensure_project",
    "generate_answers",
    "load_prompts",
    "prompts_from_project",
    "run_generation",
]

_KNOWN_KEYS = ("id", "external_id", "prompt", "messages", "metadata", "reference", "category")


@dataclass
class PromptItem:
    """One prompt: its id, the text (or chat messages), metadata (e.g. ``category``), a reference answer."""

    id: str
    prompt: str | list[Message]
    metadata: dict[str, Any] = field(default_factory=dict)
    reference: str | None = None

    @property
    def text(self) -> str:
        if isinstance(self.prompt, str):
            return self.prompt
        users = [str(m.get("content", "")) for m in self.prompt if m.get("role") == "user"]
        return users[-1] if users else ""

    def messages(self, system: str | None = None) -> list[Message]:
        if isinstance(self.prompt, str):
            return user_message(self.prompt, system)
        msgs = [dict(m) for m in self.prompt]
        if system and not (msgs and msgs[0].get("role") == "system"):
            msgs.insert(0, {"role": "system", "content": system})
        return msgs


@dataclass
class ModelSpec:
    """A connector with sampling parameters; ``label`` is the candidate id (default: the model name)."""

    connector: ModelConnector
    params: dict[str, Any] = field(default_factory=dict)
    label: str | None = None

    @property
    def model(self) -> str:
        return self.connector.model

    @property
    def candidate_id(self) -> str:
        return self.label or self.connector.model


@dataclass
class GenerationReport:
    project: str
    records: int = 0
    candidates: int = 0
    failed: list[dict[str, Any]] = field(default_factory=list)
    cached: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    by_model: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


# --------------------------------------------------------------------------- prompt sets


def _item(row: dict[str, Any], place: int) -> PromptItem:
    pid = row.get("id", row.get("external_id"))
    prompt: Any = row.get("prompt")
    if prompt is None and row.get("messages") is not None:
        prompt = row["messages"]
    if not (isinstance(prompt, str) and prompt.strip()) and not (isinstance(prompt, list) and prompt):
        raise ValidationError(
            "a prompt row needs a non-empty 'prompt' (text) or 'messages' (chat)", line=place
        )
    meta = dict(row.get("metadata") or {})
    if row.get("category") is not None:
        meta["category"] = row["category"]
    for k, v in row.items():
        if k not in _KNOWN_KEYS and v is not None:
            meta.setdefault(k, v)
    ref = row.get("reference")
    return PromptItem(
        id=str(pid) if pid is not None else f"p-{place:06d}",
        prompt=prompt,
        metadata=meta,
        reference=str(ref) if ref is not None else None,
    )


def load_prompts(path: Path) -> list[PromptItem]:
    """Read a prompt set (JSONL, JSON, CSV or Parquet)."""
    source = open_source(Path(path))
    try:
        items = []
        for place, row in source.rows:
            try:
                items.append(_item(row, place))
            except ValidationError as e:
                raise e.at(file=str(path), line=place) from None
    finally:
        source.close()
    seen: set[str] = set()
    for it in items:
        if it.id in seen:
            raise ValidationError(f"prompt id {it.id!r} appears twice", file=str(path))
        seen.add(it.id)
    return items


def prompts_from_project(
    store: Store,
    actor: Actor,
    project_ref: int | str,
    *,
    field: str = "prompt",
    reference_field: str | None = None,
) -> list[PromptItem]:
    """The prompts of an existing project: one per record, from the text (or chat) field ``field``."""
    items = []
    with store.read() as conn:
        project = load_project(conn, actor, project_ref, need="manager")
        schema = ProjectSchema.from_dict(project["schema"])
        if field not in schema.field_names:
            raise ValidationError(
                f"project {project['name']!r} has no field {field!r}; fields: {', '.join(schema.field_names)}",
                field="field",
            )
        for row in iter_export_rows(conn, int(project["id"])):
            value = row["fields"].get(field)
            if value in (None, "", []):
                continue
            ref = row["fields"].get(reference_field) if reference_field else None
            items.append(
                PromptItem(
                    id=str(row["external_id"]),
                    prompt=value,
                    metadata=dict(row.get("metadata") or {}),
                    reference=str(ref) if ref is not None else None,
                )
            )
    return items


# --------------------------------------------------------------------------- projects


def comparison_schema(
    name: str,
    *,
    ties: bool = True,
    strength: bool = True,
    overlap: int | dict[str, Any] = 3,
    guidelines: str = "Prefer the answer that is more helpful, correct and concise.",
    chat: bool = False,
) -> dict[str, Any]:
    """A pairwise/N-way preference project: ``prompt`` + ``candidates`` and a preference question."""
    return {
        "name": name,
        "fields": [
            {"name": "prompt", "type": "chat" if chat else "text"},
            {"name": "candidates", "type": "comparison"},
        ],
        "questions": [
            {
                "name": "preference",
                "type": "preference",
                "field": "candidates",
                "ties": ties,
                "strength": strength,
            },
            {"name": "rationale", "type": "text", "required": False},
        ],
        "workflow": {"overlap": overlap},
        "guidelines": guidelines,
    }


def ensure_project(store: Store, actor: Actor, name: str, schema: dict[str, Any]) -> dict[str, Any]:
    """The project named ``name``, created from ``schema`` when it does not exist yet."""
    try:
        with store.read() as conn:
            return load_project(conn, actor, name, need="manager")
    except NotFound:
        return project_service.create_project(store, actor, {**schema, "name": name})


# --------------------------------------------------------------------------- running models


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def generate_answers(
    items: Sequence[PromptItem], specs: Sequence[ModelSpec], *, system: str | None = None
) -> list[list[Completion | ConnectorError]]:
    """Each spec's answers to every item: ``out[s][i]``. Specs run side by side, each within its
    connector's concurrency limit."""

    def run(spec: ModelSpec) -> list[Completion | ConnectorError]:
        batch = [it.messages(system) for it in items]
        conn = spec.connector
        if isinstance(conn, BaseConnector):
            return conn.complete_many_safe(batch, **spec.params)
        out: list[Completion | ConnectorError] = []
        for m in batch:
            try:
                out.append(conn.complete(m, **spec.params))
            except ConnectorError as e:
                out.append(e)
        return out

    if len(specs) <= 1:
        return [run(s) for s in specs]
    with ThreadPoolExecutor(max_workers=len(specs)) as pool:
        return list(pool.map(run, specs))


def candidate_provenance(spec: ModelSpec, c: Completion, at: str) -> dict[str, Any]:
    """What a candidate records about how it was made (never a key or a secret)."""
    return {
        "params": dict(c.params),
        "generated_at": at,
        "tokens": {"prompt": c.prompt_tokens, "completion": c.completion_tokens},
        "cost": round(c.cost, 10),
        "latency_ms": round(c.latency_ms, 3),
        "cached": c.cached,
    }


def _cid(c: dict[str, Any]) -> str:
    return str(c.get("id", c["model"]))


def _check_specs(specs: Sequence[ModelSpec]) -> None:
    if not specs:
        raise ValidationError("name at least one model", field="models")
    ids = [s.candidate_id for s in specs]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise ValidationError(
            f"candidate ids {dup} repeat: give specs of the same model distinct labels", field="models"
        )


def run_generation(
    store: Store,
    actor: Actor,
    project_ref: int | str,
    prompts: Iterable[PromptItem],
    specs: Sequence[ModelSpec],
    *,
    system: str | None = None,
    prompt_field: str = "prompt",
    candidates_field: str = "candidates",
    run_name: str | None = None,
    pairwise: bool = False,
) -> GenerationReport:
    """Call every spec on every prompt and store one comparison record per prompt.

    With ``pairwise=True`` each prompt gives one record per pair of models instead
    (``<prompt id>/<a>~<b>``), for pairwise A/B campaigns. A prompt with fewer than two
    answers (calls that failed for good) is left out and listed in ``failed``; the rest are
    written in one all-or-nothing import.
    """
    _check_specs(specs)
    items = list(prompts)
    with store.read() as conn:
        project = load_project(conn, actor, project_ref, need="manager")
    schema = ProjectSchema.from_dict(project["schema"])
    ftypes = {f.name: f.type for f in schema.fields}
    if ftypes.get(candidates_field) != "comparison":
        raise ValidationError(
            f"project {project['name']!r} has no comparison field {candidates_field!r}",
            field="candidates_field",
        )
    if prompt_field not in ftypes:
        raise ValidationError(
            f"project {project['name']!r} has no field {prompt_field!r}", field="prompt_field"
        )
    at = _now()
    run = run_name or f"gen-{at}"
    results = generate_answers(items, specs, system=system)
    report = GenerationReport(project=str(project["name"]))
    for s in specs:
        report.by_model[s.candidate_id] = {
            "model": s.model,
            "params": {**s.connector.params, **s.params},
            "answers": 0,
            "failed": 0,
            "cost": 0.0,
            "prompt_tokens": 0,
            "completion_tokens": 0,
            "cached": 0,
        }
    rows: list[tuple[int, dict[str, Any]]] = []
    for i, it in enumerate(items):
        cands: list[dict[str, Any]] = []
        errors: dict[str, str] = {}
        for s, res in zip(specs, (r[i] for r in results), strict=True):
            stats = report.by_model[s.candidate_id]
            if isinstance(res, ConnectorError):
                errors[s.candidate_id] = str(res)
                stats["failed"] += 1
                continue
            cand: dict[str, Any] = {"model": s.model, "text": res.text}
            if s.candidate_id != s.model:
                cand = {"id": s.candidate_id, **cand}
            cand.update(candidate_provenance(s, res, at))
            cands.append(cand)
            stats["answers"] += 1
            stats["cost"] += res.cost
            stats["prompt_tokens"] += res.prompt_tokens
            stats["completion_tokens"] += res.completion_tokens
            stats["cached"] += int(res.cached)
            report.cost += res.cost
            report.prompt_tokens += res.prompt_tokens
            report.completion_tokens += res.completion_tokens
            report.cached += int(res.cached)
        if len(cands) < 2:
            report.failed.append({"id": it.id, "reason": "fewer than 2 answers", "errors": errors})
            continue
        prompt_value: Any = it.prompt if ftypes[prompt_field] == "chat" else it.text
        if ftypes[prompt_field] == "chat" and isinstance(prompt_value, str):
            prompt_value = user_message(prompt_value)
        groups: list[tuple[str, list[dict[str, Any]]]] = [(it.id, cands)]
        if pairwise:
            groups = [
                (f"{it.id}/{_cid(a)}~{_cid(b)}", [a, b]) for k, a in enumerate(cands) for b in cands[k + 1 :]
            ]
        for external_id, group in groups:
            fields: dict[str, Any] = {prompt_field: prompt_value, candidates_field: group}
            if it.reference is not None and "reference" in ftypes:
                fields["reference"] = it.reference
            meta = dict(it.metadata)
            if it.reference is not None and "reference" not in ftypes:
                meta["reference"] = it.reference
            meta["generation"] = {
                "run": run,
                "at": at,
                "prompt_id": it.id,
                "models": [_cid(c) for c in group],
                "cost": round(sum(float(c["cost"]) for c in group), 10),
                "tokens": sum(c["tokens"]["prompt"] + c["tokens"]["completion"] for c in group),
                **({"errors": errors} if errors else {}),
            }
            rows.append((len(rows) + 1, {"external_id": external_id, "fields": fields, "metadata": meta}))
        report.candidates += len(cands)
    if rows:
        imp = import_rows(store, actor, project_ref, rows, name=run)
        report.records = imp.rows
    return report
