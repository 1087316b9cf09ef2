"""Workforce figures: what each contributor did and cost, and how a project is going.

Per contributor (in a project): answers, time spent (sum of ``duration_ms``), gold accuracy
(mean gold score, with its count), agreement with consensus (the share of its answers on
ordinary records equal to the consensus value, question by question), and cost
(``cost_per_item`` × answers + ``cost_per_hour`` × hours spent).

Per project: progress (records done of total, responses), submits per hour (a series for
plots), cost so far, Krippendorff's alpha per question with the distance the question type's
registry entry names (:mod:`assay.services.agreement`: nominal for labels and preferences,
ordinal for ratings, interval for numbers, IoU for boxes, span overlap for spans …) and, per
the observed agreement (the share of pairs of answers to a record that agree: alpha near 0
beside a high observed agreement means nearly every answer is the same), and, per
categorical question, the confusion matrix of contributors' answers (rows) against the
consensus (columns).
"""

from __future__ import annotations

from typing import Any

from assay.domain.gold import CATEGORICAL_TYPES, categorical_key, released
from assay.domain.question_types import REGISTRY
from assay.services import agreement
from assay.services.actors import Actor
from assay.services.blind import Blinder
from assay.services.policies import load_project
from assay.services.schemas import CompiledSchema, compiled
from assay.store import projects as proj_store
from assay.store import stats as stats_store
from assay.store.engine import Store

__all__ = ["contributor_stats", "my_stats", "project_stats"]


def _same(qtype: str, a: Any, b: Any) -> bool:
    if qtype in CATEGORICAL_TYPES:
        return categorical_key(qtype, a) == categorical_key(qtype, b)
    return agreement.agrees(qtype, a, b)


def _cost(row: dict[str, Any]) -> float | None:
    per_item, per_hour = row.get("cost_per_item"), row.get("cost_per_hour")
    if per_item is None and per_hour is None:
        return None
    return round(
        (per_item or 0.0) * int(row["answered"]) + (per_hour or 0.0) * int(row["time_ms"]) / 3_600_000, 4
    )


def _figures(row: dict[str, Any], agreement: tuple[int, int] | None) -> dict[str, Any]:
    gold_n = int(row["gold_answered"])
    matched, compared = agreement or (0, 0)
    return {
        "answered": int(row["answered"]),
        "answered_today": int(row.get("answered_today") or 0),
        "time_ms": int(row["time_ms"]),
        "gold_answered": gold_n,
        "gold_accuracy": round(float(row["gold_right"]) / gold_n, 4) if gold_n else None,
        "agreement": round(matched / compared, 4) if compared else None,
        "agreement_n": compared,
        "first_at": row["first_at"],
        "last_at": row["last_at"],
    }


def _agreement_by_user(
    cs: CompiledSchema, answers: list[dict[str, Any]], cons: dict[tuple[int, str], Any]
) -> dict[int, tuple[int, int]]:
    out: dict[int, list[int]] = {}
    types = {q.name: q.type for q in cs.schema.questions}
    for a in answers:
        tally = out.setdefault(int(a["user_id"]), [0, 0])
        for q, v in (a["values"] or {}).items():
            c = cons.get((int(a["record_id"]), q))
            if c is None or v is None or q not in types:
                continue
            tally[1] += 1
            tally[0] += _same(types[q], v, c)
    return {u: (t[0], t[1]) for u, t in out.items()}


def contributor_stats(store: Store, actor: Actor, project_ref: int | str) -> list[dict[str, Any]]:
    """One row per contributor who answered in the project."""
    with store.read() as conn:
        project = load_project(conn, actor, project_ref, need="reviewer")
        pid = int(project["id"])
        sums = stats_store.contributor_sums(conn, pid)
        answers = stats_store.answer_rows(conn, pid)
        cons = stats_store.consensus_values(conn, pid)
    agree = _agreement_by_user(compiled(project), answers, cons)
    return [
        {"user_id": r["user_id"], "name": r["name"], "kind": r["kind"]}
        | _figures(r, agree.get(int(r["user_id"])))
        | {"cost": _cost(r)}
        for r in sums
    ]


def _observed(cs: CompiledSchema, question: str, answers: list[dict[str, Any]]) -> float | None:
    """The share of pairs of answers to the same record that agree (None without such pairs).

    Shown beside alpha: when nearly every answer is the same, chance agreement is high too and
    alpha falls to about 0 although people agree (the "high agreement, low alpha" paradox)."""
    qtype = cs.schema.question(question).type
    by_record: dict[int, list[Any]] = {}
    for a in answers:
        v = (a["values"] or {}).get(question)
        if v is not None:
            by_record.setdefault(int(a["record_id"]), []).append(v)
    pairs = agree = 0
    for vs in by_record.values():
        for i in range(len(vs)):
            for j in range(i + 1, len(vs)):
                pairs += 1
                agree += agreement.agrees(qtype, vs[i], vs[j])
    return round(agree / pairs, 4) if pairs else None


def _alpha(cs: CompiledSchema, question: str, answers: list[dict[str, Any]]) -> float | None:
    q = cs.schema.question(question)
    return agreement.alpha(q, ((int(a["record_id"]), (a["values"] or {}).get(question)) for a in answers))


def _confusion(
    cs: CompiledSchema, question: str, answers: list[dict[str, Any]], cons: dict[tuple[int, str], Any]
) -> dict[str, Any]:
    qtype = cs.schema.question(question).type
    pairs: list[tuple[str, str]] = []
    for a in answers:
        mine = categorical_key(qtype, (a["values"] or {}).get(question))
        agreed = categorical_key(qtype, cons.get((int(a["record_id"]), question)))
        if mine is not None and agreed is not None:
            pairs.append((mine, agreed))
    options = [o.value for o in getattr(cs.schema.question(question), "options", []) or []]
    labels = options + sorted({x for p in pairs for x in p} - set(options))
    index = {lab: i for i, lab in enumerate(labels)}
    matrix = [[0] * len(labels) for _ in labels]
    for mine, agreed in pairs:
        matrix[index[mine]][index[agreed]] += 1
    return {"labels": labels, "matrix": matrix, "rows": "answer", "columns": "consensus"}


def project_stats(store: Store, actor: Actor, project_ref: int | str) -> dict[str, Any]:
    """Progress, throughput per hour, cost so far, agreement and confusion per question."""
    with store.read() as conn:
        project = load_project(conn, actor, project_ref, need="reviewer")
        pid = int(project["id"])
        counts = stats_store.record_counts(conn, pid)
        pending = stats_store.pending_review_count(conn, pid)
        sums = stats_store.contributor_sums(conn, pid)
        hourly = stats_store.hourly_submits(conn, pid)
        answers = stats_store.answer_rows(conn, pid)
        cons = stats_store.consensus_values(conn, pid)
    cs = compiled(project)
    ordinary = counts["records"] - counts["gold_records"]
    responses = sum(int(r["answered"]) for r in sums)
    costs = [c for r in sums if (c := _cost(r)) is not None]
    return {
        "project_id": pid,
        "progress": {
            "records": counts["records"],
            "gold_records": counts["gold_records"],
            "done": counts["done"],
            "open": ordinary - counts["done"],
            "share_done": round(counts["done"] / ordinary, 4) if ordinary else None,
            "responses": responses,
            "contributors": len(sums),
            "pending_reviews": pending,
            "time_ms": sum(int(r["time_ms"]) for r in sums),
        },
        "throughput": [{"hour": h, "submits": n} for h, n in hourly],
        "cost": round(sum(costs), 4) if costs else None,
        "agreement": {q.name: _alpha(cs, q.name, answers) for q in cs.schema.questions},
        # the distance each question's alpha uses, as the question-type registry names it
        "agreement_distance": {q.name: REGISTRY[q.type].agreement for q in cs.schema.questions},
        "observed_agreement": {q.name: _observed(cs, q.name, answers) for q in cs.schema.questions},
        "confusion": {
            q.name: _confusion(cs, q.name, answers, cons)
            for q in cs.schema.questions
            # (a preference's labels are the candidates: models, which only managers read)
            if q.type in CATEGORICAL_TYPES and q.name not in Blinder(cs, project["role"]).naming()
        },
    }


def my_stats(store: Store, actor: Actor) -> dict[str, Any]:
    """The caller's own figures, per project it answered in, and in total.

    Its gold figures and its agreement with consensus cover its answers up to the last whole
    block of ``FEEDBACK_BLOCK`` (``feedback_through``: how many), so that no figure tells which
    record was gold (:mod:`assay.domain.gold`); counts, time and cost cover every answer.
    """
    if actor.id is None:
        return {"projects": [], "total": {"answered": 0, "time_ms": 0, "cost": None}}
    rows = []
    with store.read() as conn:
        given: dict[int, list[dict[str, Any]]] = {}
        for a in stats_store.user_answers(conn, actor.id):
            given.setdefault(int(a["project_id"]), []).append(a)
        for r in stats_store.user_project_sums(conn, actor.id):
            project = proj_store.get_project(conn, int(r["project_id"]))
            if project is None:
                continue
            mine = given.get(int(project["id"]), [])
            shown = mine[: released(len(mine))]
            gold = [a["gold_score"] for a in shown if a["gold_score"] is not None]
            ordinary = [a | {"user_id": actor.id} for a in shown if not a["is_gold"]]
            cons = stats_store.consensus_values(conn, int(project["id"]))
            agree = _agreement_by_user(compiled(project), ordinary, cons).get(actor.id)
            row = r | {
                "cost_per_hour": actor.cost_per_hour,
                "cost_per_item": actor.cost_per_item,
                "gold_answered": len(gold),
                "gold_right": sum(gold),
            }
            rows.append(
                {"project_id": project["id"], "project": project["name"]}
                | _figures(row, agree)
                | {"feedback_through": len(shown), "cost": _cost(row)}
            )
    costs = [c for r in rows if (c := r["cost"]) is not None]
    return {
        "projects": rows,
        "total": {
            "answered": sum(r["answered"] for r in rows),
            "answered_today": sum(r["answered_today"] for r in rows),
            "time_ms": sum(r["time_ms"] for r in rows),
            "cost": round(sum(costs), 4) if costs else None,
        },
    }
