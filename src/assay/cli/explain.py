"""``assay explain``: the chain behind one record's labels; ``assay personal-data``: what the
imports' personal-data screen found in a project."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from assay.cli.common import DbOpt, HomeOpt, JsonOpt, console, open_cli_store, print_json


def _value(v: Any) -> str:
    return json.dumps(v, ensure_ascii=False, default=str)


def render(doc: dict[str, Any]) -> str:
    """The explanation as text, in the order a label was made: record, suggestions, answers
    (with their reviews), consensus per question and the exported value."""
    rec = doc["record"]
    lines = [
        f"Record {rec['external_id']} (id {rec['id']}) of project {rec['project']}: {rec['status']}"
        + (" — gold" if rec["is_gold"] else ""),
        f"  imported {rec['created_at']}, last changed {rec['updated_at']}",
    ]
    for f in doc["personal_data"]:
        lines.append(f"  personal data: {f['kind']} in {f['field']} [{f['start']}:{f['end']}] {f['action']}")
    if doc["suggestions"]:
        lines.append("Suggestions (pre-labels):")
        for s in doc["suggestions"]:
            score = "" if s["score"] is None else f" score {s['score']:.2f}"
            lines.append(f"  {s['question']}: {_value(s['value'])} by {s['model'] or '?'}{score}")
    lines.append(f"Answers ({len(doc['answers'])}):")
    for a in doc["answers"]:
        secs = "" if a["duration_ms"] is None else f", {a['duration_ms'] / 1000:.1f} s"
        shown = "suggestion shown" if a["suggestion_shown"] else "no suggestion shown"
        kept = a["suggestions_kept"]
        if kept:
            shown += (
                " (kept: " + ", ".join(q for q, k in kept.items() if k) + ")"
                if any(kept.values())
                else " (changed)"
            )
        lines.append(
            f"  #{a['response_id']} {a['user']} ({a['kind']}) {a['submitted_at']}{secs}; "
            f"schema v{a['schema_version']}, guidelines v{a['guidelines_version']}; {shown}"
            + ("" if a["status"] == "submitted" else f"; {a['status']}")
        )
        lines.append(f"      {_value(a['values'])}")
        for v in a["reviews"]:
            who = v["reviewer"] or "?"
            lines.append(
                f"      review: {v['verdict']} by {who}"
                + (f" ({v['reason']})" if v["reason"] else "")
                + (f" → {_value(v['corrected_values'])}" if v["corrected_values"] is not None else "")
            )
    lines.append("Consensus:")
    if not doc["consensus"]:
        lines.append("  none yet")
    for q, c in doc["consensus"].items():
        conf = "?" if c["confidence"] is None else f"{c['confidence']:.3f}"
        lines.append(f"  {q}: {_value(c['value'])} by {c['method']}, confidence {conf}")
        for i in c["inputs"]:
            lines.append(
                f"      from #{i['response_id']} {i['user']} ({i['kind']}): {_value(i['value'])}"
                + (" (corrected by review)" if i["corrected"] else "")
            )
        lines.append(f"      exported as {_value(c['exported_value'])}")
    lines.append(f"History: {len(doc['history'])} events (--json lists them)")
    return "\n".join(lines)


def explain(
    project: Annotated[str, typer.Argument(help="Project name or id.")],
    record: Annotated[str, typer.Argument(help="The record's external id (or its numeric id).")],
    home: HomeOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Explain a record's labels: each answer (person or model, schema and guidelines version,
    time spent, suggestion shown or kept), the reviews, the consensus (method, inputs, confidence)
    and the value an export writes."""
    from assay.services import explain as service

    with open_cli_store(home, db) as (store, actor):
        rid = service.find_record(store, actor, project, record)
        doc = service.explain_record(store, actor, rid)
    if as_json:
        print_json(doc)
    else:
        console.print(render(doc), markup=False, highlight=False, soft_wrap=True)


def personal_data(
    project: Annotated[str, typer.Argument(help="Project name or id.")],
    home: HomeOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The project's personal-data policy and what its imports found (by kind: masked or allowed)."""
    from assay.services import personal_data as service

    with open_cli_store(home, db) as (store, actor):
        found = service.project_findings(store, actor, project)
    if as_json:
        print_json(found)
        return
    policy = found["policy"]
    if policy is None:
        console.print(
            f"Project {found['project']!r} has no privacy policy: imports do not look for personal data.",
            markup=False,
        )
        return
    console.print(
        f"Project {found['project']!r}: personal data: {policy['personal_data']} "
        f"(looking for {', '.join(policy['detect'])} in {', '.join(found['fields']) or 'no field'}).",
        markup=False,
    )
    if not found["found"]:
        console.print("  nothing found so far", markup=False)
    for kind, by in sorted(found["found"].items()):
        console.print("  " + kind + ": " + ", ".join(f"{n} {a}" for a, n in sorted(by.items())), markup=False)


def register(app: typer.Typer) -> None:
    app.command("explain")(explain)
    app.command("personal-data")(personal_data)
