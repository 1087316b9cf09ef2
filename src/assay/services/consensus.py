"""Consensus: the aggregated answer per record and question, with its confidence and lineage.

Every question type has its methods in the type registry (:mod:`assay.domain.question_types`):

* **per record** (:func:`update_record`), run inside every submit: the type's ``consensus``
  method of :mod:`assay.services.consensus_methods` (a reliability-weighted vote for label,
  preference and step_pick, per-label votes for multi_label and step_set, the median for
  ratings and numbers, the most agreed text, a character vote for spans, a time vote for
  segments, IoU/OKS fusion for boxes, polygons and keypoints, Borda for rankings, a per-step
  vote for step reviews). Authors weigh by their gold accuracy (a Beta posterior). Its
  posterior drives adaptive overlap.
* **project-wide** (:func:`recompute_project`), on demand or as a job: the type's ``project``
  method over the whole project: the EM aggregators of :mod:`assay.quality` (Dawid-Skene, GLAD,
  MACE …, ``auto`` by default) for label and preference, with gold clamping the EM; the
  bias-corrected mean for ratings and numbers; box fusion weighted by each worker's estimated
  skill for boxes.

A project-wide fit leaves its estimates for each record in the row's ``details.fit`` (the
likelihood of each author's answer and the prior; each author's bias; each worker's skill), and
a later submit updates the record *with those estimates*, keeping the fit's method, so that a
per-submit update never replaces a project-wide result with a weaker method.

Each consensus row keeps the method, the confidence in [0, 1] and the ids of the responses it
came from.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy.engine import Connection

from assay.domain import events as ev
from assay.domain.errors import ValidationError
from assay.domain.gold import answers_equal, categorical_key
from assay.domain.question_types import REGISTRY
from assay.quality import METHODS, BiasCorrectedMean
from assay.services import consensus_methods as cm
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

Posterior = cm.Posterior


def categorical_labels(cs: CompiledSchema, question: str, fields: dict[str, Any]) -> list[str]:
    """The label space of a categorical question on a record (options, or candidates and tie)."""
    return cm.categorical_space(cs.schema.question(question), fields)


def _accuracy(stats: tuple[int, float] | None) -> float:
    n, right = stats or (0, 0.0)
    return (right + PRIOR_RIGHT) / (n + PRIOR_RIGHT + PRIOR_WRONG)


def effective_values(r: dict[str, Any]) -> dict[str, Any]:
    """An answer's values as they count: a reviewer's correction, where there is one."""
    if r.get("review_verdict") == "correct" and r.get("corrected_values") is not None:
        return dict(r["corrected_values"])
    return dict(r["values"])


def _fit_of(old: dict[str, Any] | None) -> dict[str, Any] | None:
    details = (old or {}).get("details")
    fit = details.get("fit") if isinstance(details, dict) else None
    return fit if isinstance(fit, dict) else None


def _aggregate_question(
    cs: CompiledSchema,
    question: str,
    fields: dict[str, Any],
    answers: list[tuple[int, int, Any]],
    acc: dict[int, float],
    old: dict[str, Any] | None = None,
) -> tuple[Any, float, str, Posterior | None, dict[str, Any] | None]:
    """(value, confidence, method, posterior or None, details) of one question.

    ``answers`` are ``(response, user, value)``; ``old`` the record's consensus row for the
    question, whose project-wide fit (if any) the update keeps.
    """
    q = cs.schema.question(question)
    entry = REGISTRY[q.type]
    fit = _fit_of(old)
    reliability = dict(acc)
    if fit is not None and isinstance(fit.get("skills"), dict):
        reliability.update({int(u): float(s) for u, s in fit["skills"].items()})
    ctx = cm.Ctx(q, fields, entry.options, reliability, fit, cm.categorical_space(q, fields))
    out = cm.METHODS[entry.consensus](ctx, answers)
    method = entry.consensus
    details = out.details
    if fit is not None and old is not None:
        method = str(old["method"])
        details = (details or {}) | {"fit": fit, "incremental": True}
        if out.posterior is not None:
            labels, p, _ = out.posterior
            details["posterior"] = {lab: round(float(x), 6) for lab, x in zip(labels, p, strict=True)}
    conf = min(max(float(out.confidence), 0.0), 1.0)
    return out.value, conf, method, out.posterior, details


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
    A record with no categorical question answered returns its least confident question instead,
    as ``([question], [confidence], answers)``: adaptive overlap and review routing then read the
    confidence of boxes, spans, ratings … the same way.
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
    least: Posterior | None = None
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
        value, conf, method, post, details = _aggregate_question(
            cs, q.name, record["fields"], answers, acc, old.get(q.name)
        )
        if main is None and post is not None:
            main = post
        elif post is None and (least is None or conf < float(least[1][0])):
            least = ([q.name], np.array([conf]), len(answers))
        new_rows.append(
            {
                "project_id": pid,
                "record_id": rid,
                "question": q.name,
                "value": value,
                "confidence": conf,
                "method": method,
                "response_ids": [a[0] for a in answers],
                "details": details,
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
    return main if main is not None else least


def recompute_project(
    store: Store, actor: Actor, project_ref: int | str, method: str | None = None
) -> dict[str, Any]:
    """Recompute every record's consensus with each type's project-wide method (see the module).

    ``method`` (the EM of label and preference questions) is one of ``mv``, ``ds``, ``onecoin``, ``glad``, ``mace``, ``auto`` (default: the
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
        chosen: dict[str, dict[str, Any]] = {}  # what auto chose per question, and by which evidence
        for q in cs.schema.questions:
            project_method = REGISTRY[q.type].project
            if project_method == "em":
                skills[q.name], chose = _em_question(conn, project, cs, q.name, q.type, by_record, method)
                if chose is not None:
                    chosen[q.name] = chose
            elif project_method == "bias_mean":
                skills[q.name] = _bias_question(conn, project, cs, q.name, by_record)
            elif project_method == "iou_fusion_skills":
                skills[q.name] = _box_skills_question(conn, project, cs, q.name, by_record)
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
                **({"chosen": chosen} if chosen else {}),
            },
        )
    summary: dict[str, Any] = {"method": method, "records": len(by_record), "skills": skills}
    if chosen:
        summary["chosen"] = chosen
    return summary


def _em_question(
    conn: Connection,
    project: dict[str, Any],
    cs: CompiledSchema,
    question: str,
    qtype: str,
    by_record: dict[int, list[dict[str, Any]]],
    method: str,
) -> tuple[dict[int, float], dict[str, Any] | None]:
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
        return {}, None
    n_labels = max(len(spaces[rid]) for rid in tasks)
    model: Any = METHODS[method]()
    model.fit(
        np.array(t_arr),
        np.array(w_arr),
        np.array(l_arr),
        n_tasks=len(tasks),
        n_workers=len(users),
        n_labels=n_labels,
        gold=(np.array(gold_t, dtype=np.int64), np.array(gold_l, dtype=np.int64)) if gold_t else None,
    )
    inner = getattr(model, "model_", model)  # auto: the model it chose
    prior = np.asarray(getattr(inner, "priors_", np.full(n_labels, 1.0 / n_labels)), dtype=np.float64)
    skill_of = _skills(inner, len(users))
    liks: dict[int, list[tuple[int, np.ndarray]]] = {}
    given: dict[int, list[tuple[int, str]]] = {}
    for rid in tasks:
        labels = spaces[rid]
        nk = len(labels)
        for r in by_record[rid]:
            key = categorical_key(qtype, effective_values(r).get(question))
            if key is None or key not in labels:
                continue
            u = int(r["user_id"])
            wi, li = users[u], labels.index(key)
            if hasattr(inner, "errors_"):
                lik = np.asarray(inner.errors_)[wi, :nk, li]
            else:
                sk = skill_of[wi]
                sk = 0.7 if math.isnan(sk) else min(max(sk, 1e-3), 1 - 1e-3)
                lik = np.full(nk, (1 - sk) / max(nk - 1, 1))
                lik[li] = sk
            liks.setdefault(rid, []).append((u, lik))
            given.setdefault(rid, []).append((u, key))
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
        fit = {
            "prior": {lab: round(float(prior[i]), 6) for i, lab in enumerate(labels) if i < prior.size},
            "lik": {
                str(u): {lab: round(float(x), 6) for lab, x in zip(labels, lik, strict=True)}
                for u, lik in liks[rid]
            },
            "answers": {str(u): k for u, k in given[rid]},
        }
        rows_out.append(
            {
                "project_id": int(project["id"]),
                "record_id": rid,
                "question": question,
                "value": value,
                "confidence": float(p.max()),
                "method": method,
                "response_ids": resp_ids.get(rid, []),
                "details": {
                    "posterior": {lab: round(float(x), 6) for lab, x in zip(labels, p, strict=True)},
                    **({"chosen": model.method_} if hasattr(model, "method_") else {}),
                    "fit": fit,
                },
            }
        )
    cons_store.upsert_consensus(conn, rows_out)
    skill = _skills(model, len(users))
    inverse = {i: u for u, i in users.items()}
    choice = (
        {"method": model.method_, "rule": model.rule_, "scores": model.scores_}
        if hasattr(model, "method_")
        else None
    )
    return {inverse[i]: s for i, s in enumerate(skill)}, choice


def _skills(model: Any, n_workers: int) -> Sequence[float]:
    if hasattr(model, "skills_"):
        return [float(x) for x in np.asarray(model.skills_).reshape(-1)[:n_workers]]
    if hasattr(model, "errors_"):
        errs = np.asarray(model.errors_)
        return [float(np.trace(e) / e.shape[0]) for e in errs]
    return [float("nan")] * n_workers


def _bias_question(
    conn: Connection,
    project: dict[str, Any],
    cs: CompiledSchema,
    question: str,
    by_record: dict[int, list[dict[str, Any]]],
) -> dict[int, float]:
    """Ratings and numbers over the project: the mean after each worker's additive bias, weighted
    by each worker's precision (:class:`assay.quality.BiasCorrectedMean`). Returns each worker's
    bias."""
    users: dict[int, int] = {}
    tasks: dict[int, int] = {}
    t_arr: list[int] = []
    w_arr: list[int] = []
    v_arr: list[float] = []
    for rid, rows in by_record.items():
        if rows[0]["is_gold"]:
            continue
        for r in rows:
            v = effective_values(r).get(question)
            if isinstance(v, int | float) and not isinstance(v, bool):
                t_arr.append(tasks.setdefault(rid, len(tasks)))
                w_arr.append(users.setdefault(int(r["user_id"]), len(users)))
                v_arr.append(float(v))
    if not t_arr:
        return {}
    model = BiasCorrectedMean().fit(t_arr, w_arr, v_arr, n_tasks=len(tasks), n_workers=len(users))
    noise = np.maximum(model.noise_, 1e-6)
    pooled = float(np.std(v_arr)) or 1.0
    precision = 1.0 / np.maximum(noise**2, (0.05 * pooled) ** 2)
    ref = pooled
    rows_out = []
    for rid in tasks:
        answered = {int(r["user_id"]) for r in by_record[rid]}
        fit = {
            "bias": {str(u): round(float(model.biases_[users[u]]), 6) for u in answered if u in users},
            "precision": {str(u): round(float(precision[users[u]]), 6) for u in answered if u in users},
            "precision0": round(float(np.median(precision)), 6),
            "reference": round(ref, 6),
        }
        q = cs.schema.question(question)
        ctx = cm.Ctx(q, by_record[rid][0]["fields"], REGISTRY[q.type].options, {}, fit)
        answers = [
            (int(r["id"]), int(r["user_id"]), v)
            for r in by_record[rid]
            if (v := effective_values(r).get(question)) is not None
        ]
        out = cm.METHODS[REGISTRY[q.type].consensus](ctx, answers)
        rows_out.append(
            {
                "project_id": int(project["id"]),
                "record_id": rid,
                "question": question,
                "value": out.value,
                "confidence": min(max(out.confidence, 0.0), 1.0),
                "method": "bias_mean",
                "response_ids": [a[0] for a in answers],
                "details": {"fit": fit},
            }
        )
    cons_store.upsert_consensus(conn, rows_out)
    inverse = {i: u for u, i in users.items()}
    return {inverse[i]: float(b) for i, b in enumerate(model.biases_)}


def _box_skills_question(
    conn: Connection,
    project: dict[str, Any],
    cs: CompiledSchema,
    question: str,
    by_record: dict[int, list[dict[str, Any]]],
) -> dict[int, float]:
    """Boxes over the project: each worker's skill is the F1 of its boxes against a plain fusion
    of everyone's (:func:`assay.quality.aggregation.geometry.box_skills`, as
    ``assay quality aggregate --kind boxes`` estimates it, over every record and label, answers
    with no box included); then every record is fused again with its workers weighed by those
    skills. Returns each worker's skill."""
    from assay.quality.aggregation.geometry import box_skills, fuse_boxes

    q = cs.schema.question(question)
    entry = REGISTRY[q.type]
    labels = [o.value for o in getattr(q, "labels", [])]
    records = [rid for rid, rows in by_record.items() if not rows[0]["is_gold"]]
    answers_of: dict[int, list[tuple[int, int, Any]]] = {
        rid: [
            (int(r["id"]), int(r["user_id"]), v)
            for r in by_record[rid]
            if (v := effective_values(r).get(question)) is not None
        ]
        for rid in records
    }
    users: dict[int, int] = {}
    t_arr: list[int] = []
    w_arr: list[int] = []
    boxes: list[list[float]] = []
    a_t: list[int] = []
    a_w: list[int] = []
    for n, answers in enumerate(answers_of.values()):
        for _, u, v in answers:
            wi = users.setdefault(u, len(users))
            for li in range(len(labels)):  # one task per (record, label); every author answered each
                a_t.append(n * len(labels) + li)
                a_w.append(wi)
            for b in v or []:
                if b.get("label") in labels:
                    t_arr.append(n * len(labels) + labels.index(b["label"]))
                    w_arr.append(wi)
                    boxes.append([b["x"], b["y"], b["x"] + b["w"], b["y"] + b["h"]])
    skills: dict[int, float] = {}
    if t_arr:
        th = float(entry.options.get("threshold", 0.5))
        ms = float(entry.options.get("min_support", 0.5))
        n_ann = np.bincount(np.array(a_t), minlength=max(a_t) + 1)
        plain = fuse_boxes(t_arr, w_arr, boxes, threshold=th, min_support=ms, annotators=n_ann)
        est = box_skills(np.array(t_arr), np.array(w_arr), plain, answered=(np.array(a_t), np.array(a_w)))
        skills = {u: min(max(float(est[i]), 0.05), 0.99) for u, i in users.items() if i < est.size}
    rows_out = []
    for rid, answers in answers_of.items():
        if not answers:
            continue
        fit = {"skills": {str(u): round(skills.get(u, 0.7), 6) for _, u, _ in answers}}
        ctx = cm.Ctx(
            q, by_record[rid][0]["fields"], entry.options, {u: skills.get(u, 0.7) for _, u, _ in answers}, fit
        )
        out = cm.METHODS[entry.consensus](ctx, answers)
        rows_out.append(
            {
                "project_id": int(project["id"]),
                "record_id": rid,
                "question": question,
                "value": out.value,
                "confidence": min(max(out.confidence, 0.0), 1.0),
                "method": "iou_fusion_skills",
                "response_ids": [a[0] for a in answers],
                "details": {"fit": fit},
            }
        )
    cons_store.upsert_consensus(conn, rows_out)
    return skills
