"""Consensus: the aggregated answer per record and question, with its confidence and lineage.

Two paths share one set of rules:

* **incremental** (:func:`update_record`), run inside every submit: a reliability-weighted
  vote for categorical questions (each contributor weighted by its gold accuracy, a Beta
  posterior), the median for ratings and numbers, a per-step vote for step reviews, and the
  most common answer otherwise. Its posterior drives adaptive overlap.
* **full** (:func:`recompute_project`), on demand or as a job: the EM aggregators of
  :mod:`assay.quality` (Dawid-Skene, GLAD, MACE …, ``auto`` by default) over the whole project,
  with gold answers clamping the EM.

Each consensus row keeps the method, the confidence and the ids of the responses it came from.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import orjson
from sqlalchemy.engine import Connection

from assay.domain import events as ev
from assay.domain.errors import ValidationError
from assay.domain.fields import candidate_ids
from assay.domain.gold import CATEGORICAL_TYPES, answers_equal, categorical_key
from assay.quality import METHODS
from assay.services.actors import Actor
from assay.services.audit import audit
from assay.services.policies import load_project
from assay.services.schemas import CompiledSchema, compiled
from assay.store import consensus as cons_store
from assay.store import dispatch as dstore
from assay.store.engine import Store

__all__ = ["Posterior", "categorical_labels", "effective_values", "recompute_project", "update_record"]

# Prior on a contributor's accuracy before gold says more: Beta(3.5, 1.5), mean 0.7.
PRIOR_RIGHT, PRIOR_WRONG = 3.5, 1.5

Posterior = tuple[list[str], np.ndarray, int]  # labels, probabilities, number of answers


def categorical_labels(cs: CompiledSchema, question: str, fields: dict[str, Any]) -> list[str]:
    """The label space of a categorical question on a record (options, or candidates and tie)."""
    q = cs.schema.question(question)
    if q.type == "label":
        return [o.value for o in getattr(q, "options", [])]
    ids = candidate_ids(fields.get(str(getattr(q, "field", "")), []))
    return [*ids, "tie"] if getattr(q, "ties", True) else ids


def _accuracy(stats: tuple[int, float] | None) -> float:
    n, right = stats or (0, 0.0)
    return (right + PRIOR_RIGHT) / (n + PRIOR_RIGHT + PRIOR_WRONG)


def _weighted_vote(labels: list[str], answers: list[tuple[int, str]], acc: dict[int, float]) -> np.ndarray:
    """One-coin posterior over ``labels``: each answer counts with its contributor's accuracy.

    Plain Python: a record has a handful of answers, where NumPy's per-call cost would dominate.
    """
    k = len(labels)
    index = {lab: i for i, lab in enumerate(labels)}
    logp = [0.0] * k
    for user, lab in answers:
        i = index.get(lab)
        if i is None:
            continue
        a = min(max(acc.get(user, 0.7), 1e-3), 1 - 1e-3)
        right, wrong = math.log(a), math.log((1 - a) / max(k - 1, 1))
        for j in range(k):
            logp[j] += right if j == i else wrong
    top = max(logp)
    p = [math.exp(x - top) for x in logp]
    total = sum(p)
    return np.array([x / total for x in p])


def effective_values(r: dict[str, Any]) -> dict[str, Any]:
    """An answer's values as they count: a reviewer's correction, where there is one."""
    if r.get("review_verdict") == "correct" and r.get("corrected_values") is not None:
        return dict(r["corrected_values"])
    return dict(r["values"])


def _mode(values: list[Any]) -> tuple[Any, float]:
    counts = Counter(orjson.dumps(v, option=orjson.OPT_SORT_KEYS) for v in values)
    text, n = counts.most_common(1)[0]
    return orjson.loads(text), n / len(values)


def _aggregate_question(
    cs: CompiledSchema,
    question: str,
    fields: dict[str, Any],
    answers: list[tuple[int, int, Any]],
    acc: dict[int, float],
) -> tuple[Any, float, str, Posterior | None]:
    """(value, confidence, method, posterior or None) of one question from ``(response, user, value)``."""
    q = cs.schema.question(question)
    values = [v for _, _, v in answers]
    if q.type in CATEGORICAL_TYPES:
        labels = categorical_labels(cs, question, fields)
        keyed = [(u, k) for _, u, v in answers if (k := categorical_key(q.type, v)) is not None]
        p = _weighted_vote(labels, keyed, acc)
        best = labels[int(p.argmax())]
        value: Any = best
        if q.type == "preference":
            strengths: list[float] = [
                float(v["strength"])
                for _, _, v in answers
                if isinstance(v, dict)
                and v.get("choice") == best
                and isinstance(v.get("strength"), int | float)
            ]
            value = {"choice": best} | (
                {"strength": int(round(float(np.median(strengths))))} if strengths else {}
            )
        return value, float(p.max()), "weighted_vote", (labels, p, len(keyed))
    if q.type in ("rating", "number"):
        nums = [float(v) for v in values if isinstance(v, int | float)]
        med = float(np.median(nums))
        if q.type == "rating" or all(float(x).is_integer() for x in nums):
            med_value: Any = int(round(med)) if q.type == "rating" else med
        else:
            med_value = med
        spread = sum(abs(x - med) <= 0.5 for x in nums) / len(nums)
        return med_value, float(spread), "median", None
    if q.type == "multi_label":
        opts = [o.value for o in getattr(q, "options", [])]
        n = len(values)
        shares = {o: sum(o in (v or []) for v in values) / n for o in opts}
        chosen = [o for o in opts if shares[o] > 0.5]
        conf = float(np.mean([max(s, 1 - s) for s in shares.values()])) if shares else 1.0
        return chosen, conf, "per_label_vote", None
    if q.type == "step_review":
        steps: dict[str, list[str]] = {}
        for v in values:
            for step, verdict in (v or {}).items():
                if isinstance(verdict, dict) and "verdict" in verdict:
                    steps.setdefault(str(step), []).append(str(verdict["verdict"]))
        out: dict[str, Any] = {}
        confs = []
        for step, verdicts in sorted(steps.items(), key=lambda kv: int(kv[0])):
            top, n_top = Counter(verdicts).most_common(1)[0]
            out[step] = {"verdict": top}
            confs.append(n_top / len(verdicts))
        return out, float(min(confs) if confs else 1.0), "per_step_vote", None
    value, share = _mode(values)
    return value, share, "mode", None


def update_record(
    conn: Connection,
    actor: Actor,
    project: dict[str, Any],
    cs: CompiledSchema,
    record: dict[str, Any],
    *,
    rows: list[dict[str, Any]] | None = None,
    old: dict[str, dict[str, Any]] | None = None,
) -> Posterior | None:
    """Recompute one record's consensus from its answers; returns the main question's posterior.

    ``rows`` are the record's answers when the caller has read them already (as
    :func:`dstore.record_responses` gives them, with each author's ``gold_n`` and ``gold_sum``);
    ``old`` is the record's consensus by question (at least its ``value``), when read already.

    The main question is the first categorical one (label or preference), used by adaptive overlap.
    """
    pid = int(project["id"])
    rid = int(record["id"])
    if record.get("is_gold"):
        return None
    if rows is None:
        rows = dstore.record_responses(conn, rid)
    acc = {int(r["user_id"]): _accuracy((int(r["gold_n"] or 0), float(r["gold_sum"] or 0.0))) for r in rows}
    if old is None:
        old = cons_store.record_consensus(conn, rid)
    new_rows: list[dict[str, Any]] = []
    main: Posterior | None = None
    gone: list[str] = []
    for q in cs.schema.questions:
        answers = [
            (int(r["id"]), int(r["user_id"]), v)
            for r in rows
            if (v := effective_values(r).get(q.name)) is not None
        ]
        if not answers:
            if q.name in old:
                gone.append(q.name)
            continue
        value, conf, method, post = _aggregate_question(cs, q.name, record["fields"], answers, acc)
        if main is None and post is not None:
            main = post
        new_rows.append(
            {
                "project_id": pid,
                "record_id": rid,
                "question": q.name,
                "value": value,
                "confidence": conf,
                "method": method,
                "response_ids": [a[0] for a in answers],
                "details": None,
            }
        )
    cons_store.delete_record_consensus(conn, rid, gone)
    cons_store.upsert_consensus(conn, new_rows)
    changed = [
        r
        for r in new_rows
        if r["question"] not in old or not answers_equal(old[r["question"]]["value"], r["value"])
    ]
    if changed or gone:
        audit(
            conn,
            actor,
            ev.CONSENSUS_UPDATED,
            "record",
            rid,
            project_id=pid,
            before={q: old[q]["value"] for q in [*(r["question"] for r in changed), *gone] if q in old},
            after={r["question"]: {"value": r["value"], "confidence": r["confidence"]} for r in changed},
        )
    return main


def recompute_project(
    store: Store, actor: Actor, project_ref: int | str, method: str | None = None
) -> dict[str, Any]:
    """Recompute every record's consensus; categorical questions go through an EM aggregator.

    ``method`` is one of ``mv``, ``ds``, ``onecoin``, ``glad``, ``mace``, ``auto`` (default: the
    workflow's ``consensus_method``). Gold records clamp the EM and get no consensus of their own.
    Returns a summary with each contributor's estimated skill per question.
    """
    with store.tx() as conn:
        project = load_project(conn, actor, project_ref, need="manager")
        cs = compiled(project)
        method = method or cs.schema.workflow.consensus_method
        if method not in METHODS:
            raise ValidationError(f"unknown method {method!r}; one of {', '.join(METHODS)}", field="method")
        answers = cons_store.project_answers(conn, int(project["id"]))
        by_record: dict[int, list[dict[str, Any]]] = {}
        for a in answers:
            by_record.setdefault(int(a["record_id"]), []).append(a)
        # Incremental rules first (every question type), then EM for categorical questions.
        for rid, rows in by_record.items():
            if not rows[0]["is_gold"]:
                update_record(
                    conn, actor, project, cs, {"id": rid, "fields": rows[0]["fields"], "is_gold": False}
                )
        skills: dict[str, dict[int, float]] = {}
        for q in cs.schema.questions:
            if q.type in CATEGORICAL_TYPES:
                skills[q.name] = _em_question(conn, project, cs, q.name, q.type, by_record, method)
        audit(
            conn,
            actor,
            ev.CONSENSUS_UPDATED,
            "project",
            project["id"],
            project_id=int(project["id"]),
            after={
                "method": method,
                "records": len(by_record),
                # The worker estimates behind this consensus (lineage): skill per question and user id.
                "skills": {q: {str(u): round(v, 6) for u, v in per.items()} for q, per in skills.items()},
            },
        )
    return {"method": method, "records": len(by_record), "skills": skills}


def _em_question(
    conn: Connection,
    project: dict[str, Any],
    cs: CompiledSchema,
    question: str,
    qtype: str,
    by_record: dict[int, list[dict[str, Any]]],
    method: str,
) -> dict[int, float]:
    """Fit one EM aggregator over a categorical question of the whole project.

    Labels are coded per record: a label question's options by their position; a preference's
    ``tie`` as 0 and its candidates as 1..n in the record's stored order. The EM then learns
    how each contributor answers *positions*, and each record's posterior is kept to its own
    candidates (records compare different models, so candidate ids are no common label space).
    """
    users: dict[int, int] = {}
    tasks: dict[int, int] = {}
    spaces: dict[int, list[str]] = {}
    t_arr: list[int] = []
    w_arr: list[int] = []
    l_arr: list[int] = []
    resp_ids: dict[int, list[int]] = {}
    gold_t: list[int] = []
    gold_l: list[int] = []
    for rid, rows in by_record.items():
        labels = categorical_labels(cs, question, rows[0]["fields"])
        if qtype == "preference":
            labels = ["tie", *(x for x in labels if x != "tie")]
        index = {lab: i for i, lab in enumerate(labels)}
        spaces[rid] = labels
        for r in rows:
            k = categorical_key(qtype, effective_values(r).get(question))
            if k is None or k not in index:
                continue
            t = tasks.setdefault(rid, len(tasks))
            t_arr.append(t)
            w_arr.append(users.setdefault(int(r["user_id"]), len(users)))
            l_arr.append(index[k])
            resp_ids.setdefault(rid, []).append(int(r["id"]))
        first = rows[0]
        if first["is_gold"] and first["gold"] and rid in tasks:
            g = categorical_key(qtype, first["gold"].get(question))
            if g is not None and g in index:
                gold_t.append(tasks[rid])
                gold_l.append(index[g])
    if not t_arr:
        return {}
    n_labels = max(len(spaces[rid]) for rid in tasks)
    model = METHODS[method]()
    model.fit(
        np.array(t_arr),
        np.array(w_arr),
        np.array(l_arr),
        n_tasks=len(tasks),
        n_workers=len(users),
        n_labels=n_labels,
        gold=(np.array(gold_t, dtype=np.int64), np.array(gold_l, dtype=np.int64)) if gold_t else None,
    )
    rows_out = []
    for rid, t in tasks.items():
        if by_record[rid][0]["is_gold"]:
            continue
        labels = spaces[rid]
        allowed = list(range(len(labels)))
        if qtype == "preference" and not getattr(cs.schema.question(question), "ties", True):
            allowed = allowed[1:]
        p = np.zeros(len(labels))
        p[allowed] = model.probas_[t][allowed]
        total = p.sum()
        p = p / total if total > 0 else np.full(len(labels), 1 / len(labels))
        best = labels[int(p.argmax())]
        value: Any = {"choice": best} if qtype == "preference" else best
        if qtype == "preference":
            strengths = [
                v["strength"]
                for r in by_record[rid]
                if isinstance(v := effective_values(r).get(question), dict)
                and v.get("choice") == best
                and "strength" in v
            ]
            if strengths:
                value["strength"] = int(round(float(np.median(strengths))))
        rows_out.append(
            {
                "project_id": int(project["id"]),
                "record_id": rid,
                "question": question,
                "value": value,
                "confidence": float(p.max()),
                "method": method,
                "response_ids": resp_ids.get(rid, []),
                "details": {"posterior": {lab: round(float(x), 6) for lab, x in zip(labels, p, strict=True)}},
            }
        )
    cons_store.upsert_consensus(conn, rows_out)
    skill = _skills(model, len(users))
    inverse = {i: u for u, i in users.items()}
    return {inverse[i]: s for i, s in enumerate(skill)}


def _skills(model: Any, n_workers: int) -> Sequence[float]:
    if hasattr(model, "skills_"):
        return [float(x) for x in np.asarray(model.skills_).reshape(-1)[:n_workers]]
    if hasattr(model, "errors_"):
        errs = np.asarray(model.errors_)
        return [float(np.trace(e) / e.shape[0]) for e in errs]
    return [float("nan")] * n_workers
