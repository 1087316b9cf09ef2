"""A project's data card in the Hugging Face dataset-card layout: a YAML header (licence,
languages, size category, task categories) and sections on sources, collection, guidelines,
quality figures and known limitations, every figure read from the project as it stands."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import orjson
import yaml

from assay.domain.errors import Conflict, NotFound
from assay.domain.schema import ProjectSchema
from assay.formats import snapshot as snap
from assay.formats.training.provenance import HUMAN, provenance
from assay.services import agreement, datasets
from assay.services.actors import Actor
from assay.services.exports import iter_export_rows
from assay.services.policies import load_project
from assay.services.schemas import compiled
from assay.services.stats import project_stats
from assay.store import stats as stats_store
from assay.store.engine import Store

__all__ = [
    "agreement_svg",
    "card_files",
    "datacard",
    "figures",
    "labels_svg",
    "render",
    "size_category",
    "version_datacard",
    "version_figures",
]

# Question types → the Hugging Face task category their answers train for.
_TASKS = {
    "label": "text-classification",
    "multi_label": "text-classification",
    "rating": "text-classification",
    "number": "tabular-regression",
    "span": "token-classification",
    "text": "text-generation",
    "preference": "text-generation",
    "ranking": "text-generation",
    "step_pick": "text-generation",
    "step_review": "text-generation",
    "step_set": "text-generation",
    "bbox": "object-detection",
    "polygon": "image-segmentation",
    "segment": "image-segmentation",
    "keypoints": "keypoint-detection",
}

# Below this Krippendorff's alpha a question's labels are called tentative (Krippendorff's own
# lowest bar for tentative conclusions is 0.667).
LOW_ALPHA = 0.667


def size_category(n: int) -> str:
    """The Hugging Face ``size_categories`` value for ``n`` rows."""
    bounds = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")]
    for bound, name in bounds:
        if n < bound:
            return name
    return "1M<n<10M" if n < 10_000_000 else "n>10M"


def figures(store: Store, actor: Actor, project_ref: int | str) -> dict[str, Any]:
    """What the card states, as numbers (managers of the project)."""
    stats = project_stats(store, actor, project_ref)
    with store.read() as conn:
        project = load_project(conn, actor, project_ref, need="manager")
        pid = int(project["id"])
        sums = stats_store.contributor_sums(conn, pid)
        origins: Counter[str] = Counter()
        labels: dict[str, Counter[str]] = {}
        for row in iter_export_rows(conn, pid):
            prov = provenance(row)
            origins["rejected" if prov.rejected else prov.origin] += 1
            _count_labels(labels, row)
    cs = compiled(project)
    kinds: Counter[str] = Counter(str(r["kind"]) for r in sums)
    answers: Counter[str] = Counter()
    gold_n: Counter[str] = Counter()
    gold_right: dict[str, float] = {}
    for r in sums:
        answers[str(r["kind"])] += int(r["answered"])
        gold_n[str(r["kind"])] += int(r["gold_answered"])
        gold_right[str(r["kind"])] = gold_right.get(str(r["kind"]), 0.0) + float(r["gold_right"])
    total_answers = sum(answers.values())
    records = int(stats["progress"]["records"])
    synthetic = sum(n for o, n in origins.items() if o != HUMAN)
    return {
        "name": project["name"],
        "schema_version": project["schema_version"],
        "guidelines_version": project["guidelines_version"],
        "records": records,
        "gold_records": stats["progress"]["gold_records"],
        "done": stats["progress"]["done"],
        "answers": total_answers,
        "contributors": {k: kinds[k] for k in sorted(kinds)},
        "answers_by_kind": {k: answers[k] for k in sorted(answers)},
        "model_share": round(answers["model"] / total_answers, 4) if total_answers else None,
        "synthetic_share": round(synthetic / records, 4) if records else None,
        "origins": dict(sorted(origins.items())),
        "gold_accuracy": {k: round(gold_right[k] / gold_n[k], 4) for k in sorted(gold_n) if gold_n[k]},
        "agreement": stats["agreement"],
        "questions": [{"name": q.name, "type": q.type} for q in cs.schema.questions],
        "fields": [{"name": f.name, "type": f.type} for f in cs.schema.fields],
        "consensus_method": cs.schema.workflow.consensus_method,
        "guidelines": cs.schema.guidelines,
        "label_counts": _label_counts(labels, cs.schema),
        "synthetic": _synthetic(store, actor, pid) if synthetic else None,
    }


def _synthetic(
    store: Store,
    actor: Actor,
    project_ref: int | str,
    *,
    version: str | None = None,
    home: datasets.Where | None = None,
) -> dict[str, Any]:
    """The diversity report of the synthetic records, of the project or of a frozen version
    (:func:`assay.services.synthesis.project_report`)."""
    from assay.services.synthesis import project_report

    rep = project_report(store, actor, project_ref, version=version, home=home)
    removed: Counter[str] = Counter()
    for run in rep["runs"]:
        removed.update({k: int(v) for k, v in (run.get("removed") or {}).items() if v})
    emb = rep.get("embedding") or {}
    return {
        "teacher_shares": rep["teacher_shares"],
        "modes": rep["modes"],
        "runs": len(rep["runs"]),
        "distinct_1": rep["distinct_1"],
        "distinct_2": rep["distinct_2"],
        "distinct_3": rep["distinct_3"],
        "near_duplicate_rate": rep["near_duplicate_rate"],
        "embedding_spread": emb.get("spread"),
        "embedding_model": emb.get("model"),
        "cluster_balance": emb.get("cluster_balance"),
        "topics": rep["topics"],
        "removed": dict(sorted(removed.items())),
    }


def _label_key(v: Any) -> str:
    return v if isinstance(v, str) else orjson.dumps(v, option=orjson.OPT_SORT_KEYS).decode()


def _count_labels(labels: dict[str, Counter[str]], row: dict[str, Any]) -> None:
    for q, c in (row.get("consensus") or {}).items():
        if c.get("value") is not None:
            labels.setdefault(q, Counter())[_label_key(c["value"])] += 1


def _label_counts(labels: dict[str, Counter[str]], schema: ProjectSchema) -> dict[str, dict[str, int]]:
    """Consensus labels per question, most frequent first (ties by value)."""
    return {
        q.name: dict(sorted(labels[q.name].items(), key=lambda kv: (-kv[1], kv[0])))
        for q in schema.questions
        if q.name in labels
    }


def version_figures(
    store: Store, actor: Actor, home: datasets.Where, project_ref: int | str, version: str
) -> dict[str, Any]:
    """What a frozen version's card states, read from its files alone (checked against their
    hashes first): the figures of :func:`figures` as they were when it was frozen, and the version."""
    v = datasets.open_version(store, actor, home, project_ref, version)
    problems = datasets.verify(v)
    if problems:
        raise Conflict(
            f"version {version!r} does not match what was frozen: {'; '.join(problems)}", field="version"
        )
    manifest = v.manifest()
    schema = ProjectSchema.from_dict(manifest["schema"])
    origins: Counter[str] = Counter()
    labels: dict[str, Counter[str]] = {}
    users: dict[str, set[str]] = {}
    answers: Counter[str] = Counter()
    gold_n: Counter[str] = Counter()
    gold_right: dict[str, float] = {}
    records = gold_records = done = 0
    per_question: dict[str, list[tuple[int, Any]]] = {q.name: [] for q in schema.questions}
    for i, row in enumerate(datasets.iter_version_rows(v.folder)):
        records += 1
        is_gold = row["gold"] is not None
        gold_records += is_gold
        prov = provenance(row)
        origins["rejected" if prov.rejected else prov.origin] += 1
        _count_labels(labels, row)
        for a in row["responses"]:
            kind = str(a["kind"])
            users.setdefault(kind, set()).add(str(a["user"]))
            answers[kind] += 1
            if a.get("gold_score") is not None:
                gold_n[kind] += 1
                gold_right[kind] = gold_right.get(kind, 0.0) + float(a["gold_score"])
            if not is_gold:
                for q, vals in per_question.items():
                    vals.append((i, (a["values"] or {}).get(q)))
    done = _done(v.folder)
    total_answers = sum(answers.values())
    synthetic = sum(n for o, n in origins.items() if o != HUMAN)
    return {
        "name": manifest["project"]["name"],
        "version": {
            "name": manifest["name"],
            "content_hash": manifest["content_hash"],
            "created_at": v.row["created_at"],
            "created_by": manifest.get("created_by"),
            "filters": manifest["filters"],
        },
        "schema_version": manifest["schema_version"],
        "guidelines_version": manifest["guidelines_version"],
        "records": records,
        "gold_records": gold_records,
        "done": done,
        "answers": total_answers,
        "contributors": {k: len(users[k]) for k in sorted(users)},
        "answers_by_kind": {k: answers[k] for k in sorted(answers)},
        "model_share": round(answers["model"] / total_answers, 4) if total_answers else None,
        "synthetic_share": round(synthetic / records, 4) if records else None,
        "origins": dict(sorted(origins.items())),
        "gold_accuracy": {k: round(gold_right[k] / gold_n[k], 4) for k in sorted(gold_n) if gold_n[k]},
        "agreement": {q.name: agreement.alpha(q, iter(per_question[q.name])) for q in schema.questions},
        "questions": [{"name": q.name, "type": q.type} for q in schema.questions],
        "fields": [{"name": f.name, "type": f.type} for f in schema.fields],
        "consensus_method": manifest["consensus"]["method"],
        "guidelines": schema.guidelines,
        "label_counts": _label_counts(labels, schema),
        "synthetic": _synthetic(store, actor, project_ref, version=version, home=home) if synthetic else None,
    }


def _done(folder: Path) -> int:
    """Ordinary (not gold) records whose status was ``done`` when frozen."""
    import pyarrow.parquet as pq

    n = 0
    for batch in pq.ParquetFile(folder / snap.RECORDS_FILE).iter_batches(columns=["status", "is_gold"]):
        cols = batch.to_pydict()
        n += sum(1 for st, g in zip(cols["status"], cols["is_gold"], strict=True) if st == "done" and not g)
    return n


def _pct(x: float | None) -> str:
    return "unknown" if x is None else f"{100 * x:.1f} %"


def render(f: dict[str, Any], *, license: str = "other", languages: tuple[str, ...] = ()) -> str:
    """The card's Markdown (YAML header first)."""
    tasks = sorted({_TASKS.get(q["type"], "other") for q in f["questions"]})
    header: dict[str, Any] = {
        "pretty_name": f["name"],
        "license": license,
        "language": list(languages),
        "size_categories": [size_category(f["records"])],
        "task_categories": tasks,
        "tags": ["assay", "human-feedback"] + (["synthetic"] if f["synthetic_share"] else []),
    }
    lines = ["---", yaml.safe_dump(header, sort_keys=False, allow_unicode=True).rstrip(), "---", ""]
    title = f["name"] + (f" ({f['version']['name']})" if f.get("version") else "")
    lines += [f"# Dataset Card for {title}", "", "## Dataset Description", ""]
    if f.get("version"):
        v = f["version"]
        at = v["created_at"].isoformat() if hasattr(v["created_at"], "isoformat") else v["created_at"]
        lines += [
            f"Frozen version `{v['name']}` of the project {f['name']}, frozen at {at}"
            + (f" by {v['created_by']}" if v.get("created_by") else "")
            + f"; content hash `{v['content_hash']}`"
            + (
                f"; records kept by the filters {', '.join(f'`{x}`' for x in v['filters'])}"
                if v["filters"]
                else ""
            )
            + ". Every figure below is read from the version's files.",
            "",
        ]
    lines += [
        f"Annotated with assay: {f['records']} records ({f['gold_records']} of them gold), "
        f"{f['done']} settled, {f['answers']} answers. Schema version {f['schema_version']}, "
        f"guidelines version {f['guidelines_version']}.",
        "",
        "## Dataset Structure",
        "",
        "| field | type |",
        "| --- | --- |",
        *[f"| {x['name']} | {x['type']} |" for x in f["fields"]],
        "",
        "| question | type |",
        "| --- | --- |",
        *[f"| {x['name']} | {x['type']} |" for x in f["questions"]],
        "",
        "## Dataset Creation",
        "",
        "### Source Data",
        "",
        "| origin | records |",
        "| --- | --- |",
        *[f"| {o} | {n} |" for o, n in f["origins"].items()],
        "",
        "### Annotations",
        "",
        "#### Annotation process",
        "",
        f"Guidelines version {f['guidelines_version']}; consensus method `{f['consensus_method']}`.",
        "",
        "#### Who are the annotators?",
        "",
        "| contributor kind | contributors | answers |",
        "| --- | --- | --- |",
        *[f"| {k} | {n} | {f['answers_by_kind'].get(k, 0)} |" for k, n in f["contributors"].items()],
        "",
        *_label_lines(f),
        "## Quality",
        "",
        "| question | Krippendorff's alpha |",
        "| --- | --- |",
        *[f"| {q} | {'n/a' if a is None else f'{a:.4f}'} |" for q, a in f["agreement"].items()],
        "",
        "- Gold accuracy: "
        + (
            ", ".join(f"{k} {_pct(v)}" for k, v in f["gold_accuracy"].items())
            if f["gold_accuracy"]
            else "no gold answered"
        ),
        f"- Model share of answers: {_pct(f['model_share'])}",
        f"- Synthetic share of records: {_pct(f['synthetic_share'])}",
        "",
        *_synthetic_lines(f.get("synthetic")),
        "## Bias, Risks, and Limitations",
        "",
        *[f"- {x}" for x in limitations(f)],
        "",
        "## Licensing Information",
        "",
        f"`{license}`" + ("" if license != "other" else " (not stated: set it with `--license`)"),
        "",
    ]
    return "\n".join(lines)


def _label_lines(f: dict[str, Any], top: int = 10) -> list[str]:
    out: list[str] = []
    for q, counts in (f.get("label_counts") or {}).items():
        if not out:
            out += ["### Labels", "", "Consensus labels per question (the most frequent first).", ""]
        items = list(counts.items())
        out += [f"| {q} | records |", "| --- | --- |"]
        out += [f"| {_cell(k)} | {n} |" for k, n in items[:top]]
        if len(items) > top:
            out.append(f"| … {len(items) - top} more values | {sum(n for _, n in items[top:])} |")
        out.append("")
    return out


def _cell(text: str, width: int = 60) -> str:
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


def labels_svg(f: dict[str, Any], top: int = 8) -> str:
    """Bars of the most frequent consensus labels of each question (records per label)."""
    bar, gap, left, width = 18, 4, 200, 280
    rows: list[tuple[str, str, int, int]] = []  # (question, label, count, the question's largest)
    for q, counts in (f.get("label_counts") or {}).items():
        items = list(counts.items())[:top]
        most = max((n for _, n in items), default=1)
        rows += [(q, k, n, most) for k, n in items]
    height = 24 + len(rows) * (bar + gap) + 24 * len(f.get("label_counts") or {})
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 70}" height="{max(height, 40)}" '
        'font-family="sans-serif" font-size="12">',
        f'<text x="{left}" y="14">Consensus labels per question (records)</text>',
    ]
    y, last = 24, None
    for q, k, n, most in rows:
        if q != last:
            y += 6
            out.append(f'<text x="4" y="{y + 12}" font-weight="bold">{escape(q)}</text>')
            y += 18
            last = q
        label = k if len(k) <= 28 else k[:27] + "…"
        out.append(f'<text x="{left - 6}" y="{y + 13}" text-anchor="end">{escape(label)}</text>')
        out.append(f'<rect x="{left}" y="{y}" width="{n / most * width:.1f}" height="{bar}" fill="#72b7b2"/>')
        out.append(f'<text x="{left + n / most * width + 6:.1f}" y="{y + 13}">{n}</text>')
        y += bar + gap
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _synthetic_lines(syn: dict[str, Any] | None) -> list[str]:
    if not syn:
        return []
    lines = [
        "## Synthetic data",
        "",
        f"Written by {len(syn['teacher_shares'])} teacher models in {syn['runs']} synthesis runs"
        + (f" ({', '.join(f'{m} {n}' for m, n in sorted(syn['modes'].items()))})" if syn["modes"] else "")
        + ".",
        "",
        "| teacher | share |",
        "| --- | --- |",
        *[f"| {t} | {_pct(v)} |" for t, v in syn["teacher_shares"].items()],
        "",
        f"- Distinct-1 / 2 / 3 of the answers: {syn['distinct_1']} / {syn['distinct_2']} / {syn['distinct_3']}",
        f"- Near-duplicates among the answers: {_pct(syn['near_duplicate_rate'])}",
    ]
    if syn.get("embedding_spread") is not None:
        lines.append(
            f"- Embedding spread ({syn['embedding_model']}): {syn['embedding_spread']}; "
            f"cluster balance {syn['cluster_balance']}"
        )
    if syn["removed"]:
        lines.append("- Removed by the filters: " + ", ".join(f"{k} {v}" for k, v in syn["removed"].items()))
    if syn["topics"]:
        lines.append("- Topics: " + ", ".join(f"{k} {v}" for k, v in syn["topics"].items()))
    return [*lines, ""]


def agreement_svg(f: dict[str, Any]) -> str:
    """A bar chart of Krippendorff's alpha per question (0 to 1; a question without one: no bar),
    with the tentative bar (:data:`LOW_ALPHA`) drawn across."""
    items = list(f["agreement"].items())
    bar, gap, left, width = 22, 8, 160, 300
    height = 30 + len(items) * (bar + gap)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 60}" height="{height}" '
        'font-family="sans-serif" font-size="12">',
        f'<text x="{left}" y="14">Krippendorff\'s alpha per question</text>',
    ]
    for i, (q, a) in enumerate(items):
        y = 24 + i * (bar + gap)
        out.append(f'<text x="{left - 6}" y="{y + 15}" text-anchor="end">{escape(q)}</text>')
        if a is not None:
            w = max(0.0, min(1.0, float(a))) * width
            out.append(f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar}" fill="#4c78a8"/>')
        label = "n/a" if a is None else f"{a:.2f}"
        out.append(f'<text x="{left + width + 6}" y="{y + 15}">{label}</text>')
    x = left + LOW_ALPHA * width
    out.append(
        f'<line x1="{x:.1f}" y1="20" x2="{x:.1f}" y2="{height}" stroke="#e45756" stroke-dasharray="4"/>'
    )
    out.append("</svg>")
    return "\n".join(out) + "\n"


def limitations(f: dict[str, Any]) -> list[str]:
    """What the figures say the data cannot be trusted for."""
    out = []
    for q, a in f["agreement"].items():
        if a is None:
            out.append(f"`{q}`: too few overlapping answers to measure agreement.")
        elif a < LOW_ALPHA:
            out.append(f"`{q}`: agreement (alpha {a:.2f}) below {LOW_ALPHA}: its labels are tentative.")
    if not f["gold_accuracy"]:
        out.append("No gold answers: annotators' accuracy is not measured.")
    open_ = f["records"] - f["gold_records"] - f["done"]
    if open_ > 0:
        out.append(f"{open_} records are not settled yet.")
    if f["model_share"]:
        out.append(f"{_pct(f['model_share'])} of the answers come from models, not people.")
    if f["synthetic_share"]:
        out.append(f"{_pct(f['synthetic_share'])} of the records were written by teacher models.")
    if not out:
        out.append("None found in the figures; they do not cover bias in the source data.")
    return out


def datacard(
    store: Store,
    actor: Actor,
    project_ref: int | str,
    *,
    license: str = "other",
    languages: tuple[str, ...] = (),
) -> tuple[str, dict[str, Any]]:
    """The card's Markdown and the figures it states."""
    f = figures(store, actor, project_ref)
    return render(f, license=license, languages=languages), f


def version_datacard(
    store: Store,
    actor: Actor,
    home: datasets.Where,
    project_ref: int | str,
    version: str,
    *,
    license: str = "other",
    languages: tuple[str, ...] = (),
) -> tuple[str, dict[str, Any]]:
    """A frozen version's card (Markdown) and the figures it states, read from its files."""
    f = version_figures(store, actor, home, project_ref, version)
    return render(f, license=license, languages=languages), f


def card_for(
    store: Store,
    actor: Actor,
    home: datasets.Where,
    ref: str,
    *,
    license: str = "other",
    languages: tuple[str, ...] = (),
) -> tuple[str, dict[str, Any]]:
    """The card of ``PROJECT`` or of the frozen version ``PROJECT@VERSION`` (a project whose own
    name holds an ``@`` is taken whole first)."""
    if "@" in ref:
        project, _, version = ref.rpartition("@")
        try:
            return datacard(store, actor, ref, license=license, languages=languages)
        except NotFound:
            return version_datacard(
                store, actor, home, project, version, license=license, languages=languages
            )
    return datacard(store, actor, ref, license=license, languages=languages)


def card_files(out: Path, text: str, f: dict[str, Any]) -> list[Path]:
    """Write the card to ``out`` with its charts beside it as SVG (``<stem>-agreement.svg`` and,
    when there are labels, ``<stem>-labels.svg``), linked from the card; the files written."""
    plot = out.with_name(f"{out.stem}-agreement.svg")
    text = text.replace("## Quality\n", f"## Quality\n\n![agreement per question]({plot.name})\n", 1)
    written = [out, plot]
    plot.write_text(agreement_svg(f), encoding="utf-8")
    if f.get("label_counts"):
        labels = out.with_name(f"{out.stem}-labels.svg")
        text = text.replace("### Labels\n", f"### Labels\n\n![consensus labels]({labels.name})\n", 1)
        labels.write_text(labels_svg(f), encoding="utf-8")
        written.append(labels)
    out.write_text(text, encoding="utf-8")
    return written
