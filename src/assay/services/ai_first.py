"""AI-first routing with calibrated trust, and the savings it brings, measured.

Models answer every record first (their suggestions: pre-labeling jobs, rule graders, imports).
:func:`trust` measures each model per question and per answer it gives: how often that answer was
right, against gold and against the people who answered the same records, as a Beta posterior
whose lower credible bound must reach the bar. :func:`route` settles by the models alone the
records where they agree and are trusted for that answer (audit events name each), sends a random
``audit_rate`` share of those to people anyway so that the estimate stays honest, and orders the
rest of the people's queue by how unsure the models are (active learning: the most uncertain
first). Trust is estimated anew at each run, so a model whose answers stop matching the people's
stops settling records. :func:`savings` reports what it saved against the same project sent wholly
to people.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Connection

from assay.domain import events as ev
from assay.domain.errors import ValidationError
from assay.domain.gold import categorical_key
from assay.domain.workflow import AIFirst
from assay.quality.trust import precision_lower_bound
from assay.services.actors import Actor
from assay.services.audit import audit
from assay.services.blind import Blinder
from assay.services.policies import load_project
from assay.services.schemas import compiled
from assay.store import ai_first as ai_store
from assay.store.engine import Store

__all__ = [
    "DEFAULT_BAR",
    "queue_due",
    "queue_due_routes",
    "queue_due_trains",
    "PRIORITY_SCALE",
    "Plan",
    "is_audited",
    "plan_routing",
    "route",
    "savings",
    "trust",
]

DEFAULT_BAR = 0.9  # the bar when neither the schema nor the people's accuracy on gold gives one
PRIORITY_SCALE = 1000  # an unsettled record's priority: its models' uncertainty × this
MAX_ANCHORS = 2000  # diversity: the records people answered that distances are measured to (newest)
ROUTABLE = ("label", "preference", "rating")


def _draw(kind: str, project_id: int, record_id: int) -> float:
    """A fixed pseudo-random number in [0, 1) per record (so reruns agree)."""
    digest = hashlib.sha256(f"assay-{kind}:{project_id}:{record_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def is_audited(project_id: int, record_id: int, rate: float) -> bool:
    """Whether the record is drawn for the audit share."""
    return _draw("audit", project_id, record_id) < rate


def priority_of(project_id: int, record_id: int, uncertainty: float) -> int:
    """A record's place in the people's queue: its models' uncertainty (0..1) × 990, plus a fixed
    random 0..9, so that records equally uncertain come in a random order and the people's answers
    (the evidence trust is measured on) sample the project evenly, not in the order it was imported."""
    return round(PRIORITY_SCALE * 0.99 * uncertainty) + int(10 * _draw("order", project_id, record_id))


@dataclass
class Plan:
    """What one routing run decides: records to settle (with their consensus), records audited,
    the people's queue order, and the trust table it used."""

    bar: float
    bar_source: str
    trust: list[dict[str, Any]]
    settle: list[dict[str, Any]] = field(default_factory=list)
    audit: list[int] = field(default_factory=list)
    priorities: dict[int, int] = field(default_factory=dict)
    diverse: int = 0  # records ordered farthest-first by the local model's embeddings


def _config(project: dict[str, Any]) -> AIFirst:
    cfg = compiled(project).schema.workflow.ai_first
    if cfg is None:
        raise ValidationError(
            "the project's workflow has no ai_first section (add `ai_first: {}` to use the defaults)",
            field="workflow.ai_first",
        )
    return cfg


def _questions(project: dict[str, Any]) -> dict[str, str]:
    """The questions models may settle (name → type): the required ones, all of a routable type."""
    schema = compiled(project).schema
    required: dict[str, str] = {q.name: str(q.type) for q in schema.questions if q.required}
    if not required or any(t not in ROUTABLE for t in required.values()):
        return {}
    return required


def _majority(keys: list[str]) -> str | None:
    """The people's answer: the most frequent, when it is the only one with that count."""
    if not keys:
        return None
    top = Counter(keys).most_common(2)
    if len(top) > 1 and top[0][1] == top[1][1]:
        return None
    return top[0][0]


class _Data:
    def __init__(self, conn: Connection, project: dict[str, Any], cfg: AIFirst) -> None:
        pid = int(project["id"])
        self.project_id = pid
        self.questions = _questions(project)
        self.records = ai_store.project_records(conn, pid)
        allowed = set(cfg.models)
        # record → question → model → (key, value, score)
        self.votes: dict[int, dict[str, dict[str, tuple[str, Any, float | None]]]] = defaultdict(
            lambda: defaultdict(dict)
        )
        for s in ai_store.model_suggestions(conn, pid):
            qtype = self.questions.get(s["question"])
            if qtype is None or (allowed and s["model"] not in allowed):
                continue
            if cfg.min_score is not None and (s["score"] is None or s["score"] < cfg.min_score):
                continue  # with min_score, a model is judged (and settles) on its confident answers only
            key = categorical_key(qtype, s["value"])
            if key is not None:
                self.votes[int(s["record_id"])][s["question"]][str(s["model"])] = (
                    key,
                    s["value"],
                    s["score"],
                )
        self.human: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for a in ai_store.human_answers(conn, pid):
            self.human[int(a["record_id"])].append(a)

    def reference(self, rec: dict[str, Any], question: str) -> tuple[str | None, str]:
        """The answer a model's is checked against: gold, else the people's majority."""
        qtype = self.questions[question]
        if rec["is_gold"] and rec["gold"] and question in rec["gold"]:
            return categorical_key(qtype, rec["gold"][question]), "gold"
        keys = [
            k
            for a in self.human.get(int(rec["id"]), [])
            if (k := categorical_key(qtype, (a["values"] or {}).get(question))) is not None
        ]
        return _majority(keys), "people"

    def people_accuracy_on_gold(self) -> tuple[int, int]:
        right = total = 0
        for rec in self.records:
            if not (rec["is_gold"] and rec["gold"]):
                continue
            for a in self.human.get(int(rec["id"]), []):
                for q, qtype in self.questions.items():
                    if q not in rec["gold"]:
                        continue
                    k = categorical_key(qtype, (a["values"] or {}).get(q))
                    if k is None:
                        continue
                    total += 1
                    right += k == categorical_key(qtype, rec["gold"][q])
        return right, total


def _trust_table(data: _Data, cfg: AIFirst) -> tuple[list[dict[str, Any]], float, str]:
    counts: dict[tuple[str, str, str], list[int]] = defaultdict(
        lambda: [0, 0, 0, 0]
    )  # n, right, gold n, gold right
    for rec in data.records:
        votes = data.votes.get(int(rec["id"]))
        if not votes:
            continue
        for q, by_model in votes.items():
            ref, source = data.reference(rec, q)
            if ref is None:
                continue
            for model, (key, _v, _s) in by_model.items():
                c = counts[(model, q, key)]
                c[0] += 1
                c[1] += key == ref
                if source == "gold":
                    c[2] += 1
                    c[3] += key == ref
    if cfg.bar is not None:
        bar, source = cfg.bar, "schema"
    else:
        right, total = data.people_accuracy_on_gold()
        if total >= cfg.min_evidence:
            bar, source = right / total, f"people's accuracy on gold ({total} answers)"
        else:
            bar, source = DEFAULT_BAR, "default"
    keys = sorted(counts)
    lower = precision_lower_bound([counts[k][1] for k in keys], [counts[k][0] for k in keys], cfg.confidence)
    table = []
    for k, lo in zip(keys, lower.tolist(), strict=True):
        n, right, gn, gr = counts[k]
        table.append(
            {
                "model": k[0],
                "question": k[1],
                "answer": k[2],
                "checked": n,
                "right": right,
                "precision": right / n if n else None,
                "gold_checked": gn,
                "gold_right": gr,
                "lower_bound": round(float(lo), 6),
                "trusted": n >= cfg.min_evidence and lo >= bar,
            }
        )
    return table, bar, source


def _decide(
    votes: dict[str, dict[str, tuple[str, Any, float | None]]],
    questions: dict[str, str],
    trusted: dict[tuple[str, str, str], dict[str, Any]],
    cfg: AIFirst,
) -> tuple[list[dict[str, Any]] | None, float]:
    """The models' consensus for a record when they may settle it (else None), and their uncertainty."""
    out: list[dict[str, Any]] = []
    uncertainty = 0.0
    for q in questions:
        by_model = votes.get(q) or {}
        if not by_model:
            return None, 1.0
        tally = Counter(k for k, _v, _s in by_model.values())
        key, agree = tally.most_common(1)[0]
        share = agree / len(by_model)
        rows = [trusted.get((m, q, key)) for m, (k, _v, _s) in by_model.items() if k == key]
        best = max((r["lower_bound"] for r in rows if r), default=0.0)
        uncertainty = max(uncertainty, 1.0 - share * best)
        ok = (
            share == 1.0
            and any(r and r["trusted"] for r in rows)
            and (
                cfg.min_score is None
                or all(s is not None and s >= cfg.min_score for _k, _v, s in by_model.values())
            )
        )
        if not ok:
            return None, uncertainty
        value = next(v for k, v, _s in by_model.values() if k == key)
        out.append(
            {
                "question": q,
                "value": value,
                "confidence": best,
                "details": {"models": sorted(by_model), "trust_lower_bound": best},
            }
        )
    return out, uncertainty


def _diverse_priorities(conn: Connection, data: _Data, cfg: AIFirst, base: dict[int, int]) -> dict[int, int]:
    """Diversity by embeddings: the ``diversity_pool`` records of highest priority (the most
    uncertain), ordered farthest-first from the records people answered, in the embedding space of
    the project's last trained local model, get the priorities ``1000 + pool size`` down to
    ``1001``: above every other record, the farthest first. Nothing without a trained model."""
    from assay.connectors.base import ConnectorError
    from assay.connectors.embeddings import embedder, record_text
    from assay.quality.diversity import farthest_first

    if not cfg.diversity_pool or not base:
        return {}
    trained = ai_store.last_job(conn, data.project_id, "train")
    if trained is None:
        return {}
    params = trained["params"] or {}
    try:
        emb = embedder(str(params.get("embedder", "hashing")))
    except (ValueError, ConnectorError):  # the model's embedder is not installed here
        return {}
    names = [str(n) for n in params.get("fields") or []]
    pool = sorted(base, key=lambda r: (-base[r], r))[: cfg.diversity_pool]
    answered = sorted(data.human, reverse=True)[:MAX_ANCHORS]
    fields = ai_store.record_fields(conn, pool + answered)
    x = emb.encode([record_text(fields.get(r, {}), names) for r in pool + answered])
    order = farthest_first(x[: len(pool)], len(pool), x[len(pool) :])
    top = PRIORITY_SCALE + len(pool)
    return {pool[i]: top - rank for rank, i in enumerate(order)}


def plan_routing(conn: Connection, project: dict[str, Any], cfg: AIFirst, *, diversity: bool = False) -> Plan:
    """What a routing run would do; with ``diversity``, the people's queue is also spread out in
    the local model's embedding space (:func:`_diverse_priorities`)."""
    data = _Data(conn, project, cfg)
    table, bar, source = _trust_table(data, cfg)
    plan = Plan(bar=bar, bar_source=source, trust=table)
    if not data.questions:
        return plan
    by_key = {(r["model"], r["question"], r["answer"]): r for r in table}
    people: dict[int, int] = {}  # records left to people → their priority
    current: dict[int, int] = {}
    for rec in data.records:
        rid = int(rec["id"])
        if rec["is_gold"] or rec["status"] == "done":
            continue
        settled, uncertainty = _decide(data.votes.get(rid, {}), data.questions, by_key, cfg)
        open_to_settle = rec["status"] == "open" and rec["submitted"] == 0 and rec["leased"] == 0
        if settled is not None and open_to_settle:
            if is_audited(data.project_id, rid, cfg.audit_rate):
                plan.audit.append(rid)
            else:
                plan.settle.append({"record_id": rid, "consensus": settled})
                continue
        people[rid] = priority_of(data.project_id, rid, uncertainty)
        current[rid] = rec["priority"]
    if diversity:
        diverse = _diverse_priorities(conn, data, cfg, people)
        people.update(diverse)
        plan.diverse = len(diverse)
    plan.priorities = {rid: p for rid, p in people.items() if p != current[rid]}
    return plan


def trust(store: Store, actor: Actor, project_ref: int | str) -> dict[str, Any]:
    """The trust table of the project's models (reviewers and up; without an ``ai_first`` section,
    with its defaults)."""
    with store.read() as conn:
        project = load_project(conn, actor, project_ref, need="reviewer")
        plan = plan_routing(conn, project, compiled(project).schema.workflow.ai_first or AIFirst())
    hidden = Blinder(compiled(project), project["role"]).naming()  # answers that name candidates
    rows = [r for r in plan.trust if r.get("question") not in hidden]
    return {"bar": plan.bar, "bar_source": plan.bar_source, "models": rows}


def route(
    store: Store,
    actor: Actor,
    project_ref: int | str,
    *,
    step: Callable[[Connection, int], None] | None = None,
) -> dict[str, Any]:
    """Estimate trust, settle what the models may settle, send the audit share and the rest to
    people in order of uncertainty (managers). ``step(conn, n)`` is called in the writing
    transaction (a job's checkpoint)."""
    with store.read() as conn:
        project = load_project(conn, actor, project_ref, need="manager")
    pid = int(project["id"])
    cfg = _config(project)
    # Planning reads the whole project: in a read transaction, so writers are not held up; the
    # writes then settle only records still open, unanswered and unleased (checked as they are made).
    with store.read() as conn:
        plan = plan_routing(conn, project, cfg, diversity=True)
    decided = {int(r["record_id"]): r["consensus"] for r in plan.settle}
    with store.tx() as conn:
        settled = ai_store.settle_by_models(conn, pid, plan.settle)
        known = ai_store.audited_records(conn, pid, ev.RECORD_AUDITED)
        for rid in settled:
            audit(conn, actor, ev.RECORD_SETTLED_BY_MODELS, "record", rid, project_id=pid,
                  after={"consensus": decided[rid]})  # fmt: skip
        for rid in plan.audit:
            if rid not in known:
                audit(
                    conn,
                    actor,
                    ev.RECORD_AUDITED,
                    "record",
                    rid,
                    project_id=pid,
                    after={"reason": "audit share"},
                )
        ai_store.set_priorities(conn, plan.priorities)
        summary = {
            "bar": plan.bar,
            "bar_source": plan.bar_source,
            "settled": len(settled),
            "audited": len(plan.audit),
            "reprioritised": len(plan.priorities),
            "diverse": plan.diverse,
            "trusted": [f"{r['model']}:{r['question']}={r['answer']}" for r in plan.trust if r["trusted"]],
        }
        audit(conn, actor, ev.TRUST_ESTIMATED, "project", pid, project_id=pid, after=summary)
        if step is not None:
            step(conn, len(settled))
    return summary


def _answer_cost(a: dict[str, Any]) -> float | None:
    per_item, per_hour = a.get("cost_per_item"), a.get("cost_per_hour")
    if per_item is None and per_hour is None:
        return None
    return (per_item or 0.0) + (per_hour or 0.0) * (a.get("duration_ms") or 0) / 3_600_000


def savings(store: Store, actor: Actor, project_ref: int | str) -> dict[str, Any]:
    """What AI-first routing saved in the project, against every record sent to people at its
    overlap: records settled by models, by people, by both (the audit share); human answers spent,
    and still to come for the records open (at the overlap), against all-human;
    accuracy on gold of the models' decisions and of the people's; model cost and human cost."""
    with store.read() as conn:
        project = load_project(conn, actor, project_ref, need="reviewer")
        pid = int(project["id"])
        cs = compiled(project)
        cfg = cs.schema.workflow.ai_first or AIFirst()
        data = _Data(conn, project, cfg)
        by_models = ai_store.settled_by_models(conn, pid)
        audited = ai_store.audited_records(conn, pid, ev.RECORD_AUDITED)
        model_cost = ai_store.model_costs(conn, pid)
        table, bar, _source = _trust_table(data, cfg)
    ordinary = [r for r in data.records if not r["is_gold"]]
    human_answers = sum(len(data.human.get(int(r["id"]), [])) for r in ordinary)
    both = {int(r["id"]) for r in ordinary if int(r["id"]) in audited and data.human.get(int(r["id"]))}
    people = {
        int(r["id"])
        for r in ordinary
        if data.human.get(int(r["id"])) and int(r["id"]) not in both and int(r["id"]) not in by_models
    }
    overlap = cs.schema.workflow.overlap.min
    all_human = overlap * len(ordinary)
    # what the records still open will need from people, at the project's overlap
    to_come = sum(
        max(0, overlap - len(data.human.get(int(r["id"]), [])))
        for r in ordinary
        if int(r["id"]) not in by_models and r["status"] != "done"
    )
    # accuracy on gold: the models' decision on each gold record (as routing would take it) and the
    # people's majority there
    by_key = {(r["model"], r["question"], r["answer"]): r for r in table}
    model_right = model_n = people_right = people_n = 0
    for rec in data.records:
        if not (rec["is_gold"] and rec["gold"]) or not data.questions:
            continue
        rid = int(rec["id"])
        decided, _u = _decide(data.votes.get(rid, {}), data.questions, by_key, cfg)
        gold = {q: categorical_key(t, rec["gold"].get(q)) for q, t in data.questions.items()}
        if decided is not None:
            model_n += 1
            model_right += all(
                categorical_key(data.questions[c["question"]], c["value"]) == gold[c["question"]]
                for c in decided
            )
        refs = {q: data.reference({**rec, "is_gold": False}, q)[0] for q in data.questions}
        if all(v is not None for v in refs.values()):
            people_n += 1
            people_right += refs == gold
    costs = [
        c for r in ordinary for a in data.human.get(int(r["id"]), []) if (c := _answer_cost(a)) is not None
    ]
    per_answer = sum(costs) / len(costs) if costs else None
    return {
        "project_id": pid,
        "records": len(ordinary),
        "settled_by_models": len(by_models),
        "settled_by_people": len(people),
        "settled_by_both": len(both),
        "open": len(ordinary) - len(by_models) - len(people) - len(both),
        "overlap": overlap,
        "human_answers": human_answers,
        "human_answers_all_human": all_human,
        "human_answers_to_come": to_come,
        "human_answers_saved": all_human - human_answers - to_come,
        "saved_share": (all_human - human_answers - to_come) / all_human if all_human else None,
        "accuracy_on_gold": {
            "models": model_right / model_n if model_n else None,
            "models_gold_records": model_n,
            "people": people_right / people_n if people_n else None,
            "people_gold_records": people_n,
        },
        "bar": bar,
        "model_cost": round(model_cost, 6),
        "human_cost": round(sum(costs), 6) if costs else None,
        "human_cost_all_human": round(per_answer * all_human, 6) if per_answer is not None else None,
    }


def queue_due_routes(store: Store, *, submit: bool = True) -> list[int]:
    """Queue a ``route`` job for each AI-first project whose people gave ``reroute_after`` answers or
    more since its last routing (and that has none queued): trust is estimated anew as answers come
    in. The job runners call this now and then; returns the jobs queued."""
    from assay.services import jobs
    from assay.services.actors import SYSTEM
    from assay.store import projects as proj_store

    due: list[int] = []
    with store.read() as conn:
        for project in proj_store.list_projects(conn, limit=100_000):
            cfg = compiled(project).schema.workflow.ai_first
            if cfg is None or cfg.reroute_after is None:
                continue
            n, busy = ai_store.answers_since(conn, int(project["id"]), ev.TRUST_ESTIMATED)
            if n >= cfg.reroute_after and not busy:
                due.append(int(project["id"]))
    return [int(jobs.enqueue(store, SYSTEM, pid, "route", submit=submit)["id"]) for pid in due]


def queue_due_trains(store: Store, *, submit: bool = True) -> list[int]:
    """Queue a ``train`` job (the parameters of the project's last one) for each AI-first project
    whose local model is behind: ``retrain_after`` records or more got a new consensus of people
    since it was trained (and none is queued). Returns the jobs queued."""
    from assay.services import jobs
    from assay.services.actors import SYSTEM
    from assay.store import projects as proj_store

    due: list[tuple[int, dict[str, Any]]] = []
    with store.read() as conn:
        for project in proj_store.list_projects(conn, limit=100_000):
            cfg = compiled(project).schema.workflow.ai_first
            if cfg is None or cfg.retrain_after is None:
                continue
            pid = int(project["id"])
            trained = ai_store.last_job(conn, pid, "train")
            if trained is None:
                continue
            n, busy = ai_store.consensus_since(conn, pid, "train", trained["created_at"])
            if n >= cfg.retrain_after and not busy:
                due.append((pid, dict(trained["params"] or {})))
    return [
        int(jobs.enqueue(store, SYSTEM, pid, "train", params, submit=submit)["id"]) for pid, params in due
    ]


def queue_due(store: Store, *, submit: bool = True) -> list[int]:
    """The retraining and the routing that new answers made due (the job runners call this now and
    then): local models first, so that a routing queued with them may use the new one."""
    return queue_due_trains(store, submit=submit) + queue_due_routes(store, submit=submit)
