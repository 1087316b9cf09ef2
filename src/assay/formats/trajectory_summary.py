"""Aggregate agent-trajectory reviews: per-step verdicts, plan-level answers, per-tool and per-agent error rates.

Input: a project's export rows (:func:`assay.services.exports.iter_export_rows`: fields,
responses with their values, gold). The per-step verdicts of the ``step_review`` question are
aggregated across reviewers with a categorical aggregator of :mod:`assay.quality` (one task
per (record, step); ``method`` is a name of :data:`assay.quality.aggregation.METHODS`, majority
vote by default; gold answers clamp). Plan-level
questions: ``label`` questions with the same aggregator (one task per record), ``step_pick``
and ``step_set`` by majority, ``rating``/``number`` by median.

Per trajectory: the verdict of each reviewed step, the first error step (the first step whose
verdict is an error: ``wrong_tool``, ``wrong_arguments``, ``harmful``), success (the plan-level
success question if there is one, else the trajectory's outcome), and the number of unnecessary
steps (verdict ``unnecessary`` or in the skippable step set). Per tool and per agent: how many
reviewed steps used it / acted, how many were judged wrong, and the rate.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from assay.domain.errors import ValidationError
from assay.domain.schema import ProjectSchema
from assay.quality.aggregation import METHODS

__all__ = [
    "ERROR_VERDICTS",
    "GroupRate",
    "TrajectoryStats",
    "TrajectorySummary",
    "response_values",
    "trajectory_stats",
]

ERROR_VERDICTS = frozenset({"wrong_tool", "wrong_arguments", "harmful"})
SUCCESS_NAMES = ("success", "succeeded", "achieved", "task_achieved", "solved", "resolved", "task_success")
_YES = frozenset(
    {"yes", "true", "success", "succeeded", "achieved", "solved", "resolved", "1", "pass", "passed"}
)


@dataclass
class StepVerdict:
    verdict: str
    confidence: float
    votes: dict[str, int]


@dataclass
class TrajectorySummary:
    external_id: str
    n_steps: int
    verdicts: dict[int, StepVerdict] = field(default_factory=dict)
    first_error_step: int | None = None
    success: bool | None = None
    unnecessary_steps: int = 0
    unnecessary: list[int] = field(default_factory=list)  # the steps judged unnecessary or skippable
    reviewed: bool = False  # whether any reviewer judged a step
    plan: dict[str, Any] = field(default_factory=dict)  # plan-level consensus per question

    def to_dict(self) -> dict[str, Any]:
        return {
            "external_id": self.external_id,
            "n_steps": self.n_steps,
            "verdicts": {
                str(k): {"verdict": v.verdict, "confidence": v.confidence, "votes": v.votes}
                for k, v in sorted(self.verdicts.items())
            },
            "first_error_step": self.first_error_step,
            "success": self.success,
            "unnecessary_steps": self.unnecessary_steps,
            "plan": self.plan,
        }


@dataclass
class GroupRate:
    name: str
    steps: int = 0  # reviewed steps that used the tool / that the agent took
    errors: int = 0  # of those, judged an error (wrong_tool, wrong_arguments, harmful)
    by_verdict: Counter[str] = field(default_factory=Counter)

    @property
    def error_rate(self) -> float:
        return self.errors / self.steps if self.steps else 0.0

    @property
    def unnecessary_rate(self) -> float:
        return self.by_verdict["unnecessary"] / self.steps if self.steps else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "steps": self.steps,
            "errors": self.errors,
            "error_rate": self.error_rate,
            "unnecessary_rate": self.unnecessary_rate,
            "by_verdict": dict(self.by_verdict),
        }


@dataclass
class TrajectoryStats:
    question: str
    method: str
    trajectories: list[TrajectorySummary]
    tools: list[GroupRate]
    agents: list[GroupRate]

    @property
    def success_rate(self) -> float | None:
        known = [t.success for t in self.trajectories if t.success is not None]
        return sum(known) / len(known) if known else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "method": self.method,
            "success_rate": self.success_rate,
            "trajectories": [t.to_dict() for t in self.trajectories],
            "tools": [g.to_dict() for g in self.tools],
            "agents": [g.to_dict() for g in self.agents],
        }


def response_values(response: dict[str, Any]) -> dict[str, Any] | None:
    """A response's answers as they stand after review (corrected values win; rejected → ``None``)."""
    review = response.get("review") or {}
    if review.get("verdict") == "reject":
        return None
    if isinstance(review.get("corrected_values"), dict):
        return dict(review["corrected_values"])
    values = response.get("values")
    return values if isinstance(values, dict) else None


def _steps(fields: dict[str, Any], name: str) -> list[dict[str, Any]]:
    v = fields.get(name)
    steps = v.get("steps") if isinstance(v, dict) else v
    return [s for s in steps if isinstance(s, dict)] if isinstance(steps, list) else []


def _outcome_success(fields: dict[str, Any], name: str) -> bool | None:
    v = fields.get(name)
    out = v.get("outcome") if isinstance(v, dict) else None
    if isinstance(out, bool):
        return out
    if isinstance(out, dict):
        if isinstance(out.get("success"), bool):
            return bool(out["success"])
        r = out.get("reward")
        if isinstance(r, int | float) and not isinstance(r, bool):
            return r >= 1.0
    return None


def _aggregate(
    method: str, triples: list[tuple[int, int, int]], n_tasks: int, n_labels: int, gold: list[tuple[int, int]]
) -> tuple[np.ndarray, np.ndarray, str]:
    agg = METHODS[method]()
    if not triples:
        labels = np.full(n_tasks, -1)
        for gt, gl in gold:
            labels[gt] = gl
        return labels, np.where(labels >= 0, 1.0, 0.0), method
    t, w, lab = (np.array(x, dtype=np.int64) for x in zip(*triples, strict=True))
    g = (
        (np.array([x for x, _ in gold], dtype=np.int64), np.array([y for _, y in gold], dtype=np.int64))
        if gold
        else None
    )
    agg.fit(t, w, lab, n_tasks=n_tasks, n_labels=n_labels, gold=g)
    used = getattr(agg, "method_", method)
    return agg.labels_, agg.confidence_, str(used)


def trajectory_stats(
    schema: ProjectSchema,
    rows: Iterable[dict[str, Any]],
    *,
    question: str | None = None,
    method: str = "mv",
) -> TrajectoryStats:
    """Aggregate the reviews in ``rows`` (export rows) of a project with a ``step_review`` question."""
    if method not in METHODS:
        raise ValidationError(f"unknown method {method!r}; known: {', '.join(METHODS)}", field="method")
    reviews = [q for q in schema.questions if q.type == "step_review"]
    if question is not None:
        reviews = [q for q in reviews if q.name == question]
    if not reviews:
        raise ValidationError(
            "the project has no step_review question" + (f" named {question!r}" if question else ""),
            field="question",
        )
    q = reviews[0]
    traj_field: str = q.field
    verdicts = [o.value for o in q.verdicts]
    vidx = {v: i for i, v in enumerate(verdicts)}
    plan_qs = [
        x for x in schema.questions if x.type in ("label", "step_pick", "step_set", "rating", "number")
    ]
    label_qs = [x for x in plan_qs if x.type == "label"]

    records: list[dict[str, Any]] = []
    workers: dict[str, int] = {}
    step_task: dict[tuple[int, int], int] = {}
    triples: list[tuple[int, int, int]] = []
    gold: list[tuple[int, int]] = []
    votes: dict[int, Counter[str]] = defaultdict(Counter)
    plan_answers: list[dict[str, list[Any]]] = []
    label_triples: dict[str, list[tuple[int, int, int]]] = {x.name: [] for x in label_qs}
    for r_i, row in enumerate(rows):
        fields = row.get("fields") or {}
        records.append({"external_id": str(row.get("external_id")), "fields": fields})
        answers: dict[str, list[Any]] = defaultdict(list)
        for resp in row.get("responses") or []:
            values = response_values(resp)
            if values is None:
                continue
            w = workers.setdefault(str(resp.get("user")), len(workers))
            review = values.get(q.name)
            if isinstance(review, dict):
                for k, v in review.items():
                    verdict = v.get("verdict") if isinstance(v, dict) else None
                    if verdict not in vidx:
                        continue
                    task = step_task.setdefault((r_i, int(k)), len(step_task))
                    triples.append((task, w, vidx[verdict]))
                    votes[task][verdict] += 1
            for pq in plan_qs:
                if pq.name in values and values[pq.name] is not None:
                    answers[pq.name].append(values[pq.name])
                    if pq.type == "label":
                        opts = [o.value for o in pq.options]
                        if values[pq.name] in opts:
                            label_triples[pq.name].append((r_i, w, opts.index(values[pq.name])))
        g = (row.get("gold") or {}).get(q.name) if isinstance(row.get("gold"), dict) else None
        if isinstance(g, dict):
            for k, v in g.items():
                if isinstance(v, dict) and v.get("verdict") in vidx:
                    task = step_task.setdefault((r_i, int(k)), len(step_task))
                    gold.append((task, vidx[v["verdict"]]))
        plan_answers.append(answers)

    labels, conf, used = _aggregate(method, triples, len(step_task), len(verdicts), gold)
    label_consensus: dict[str, dict[int, tuple[str, float]]] = {}
    for lq in label_qs:
        opts = [o.value for o in lq.options]
        if label_triples[lq.name]:
            lab, c, _ = _aggregate(method, label_triples[lq.name], len(records), len(opts), [])
            label_consensus[lq.name] = {
                i: (opts[int(lab[i])], float(c[i])) for i in range(len(records)) if lab[i] >= 0
            }

    success_q = next((x.name for x in label_qs if x.name in SUCCESS_NAMES), None)
    summaries: list[TrajectorySummary] = []
    tools: dict[str, GroupRate] = {}
    agents: dict[str, GroupRate] = {}
    by_record: dict[int, dict[int, StepVerdict]] = defaultdict(dict)
    for (r_i, step), task in step_task.items():
        if labels[task] >= 0:
            by_record[r_i][step] = StepVerdict(
                verdicts[int(labels[task])], float(conf[task]), dict(votes[task])
            )
    for r_i, rec in enumerate(records):
        steps = _steps(rec["fields"], traj_field)
        s = TrajectorySummary(rec["external_id"], len(steps), dict(sorted(by_record[r_i].items())))
        errors = [i for i, v in s.verdicts.items() if v.verdict in ERROR_VERDICTS]
        s.first_error_step = min(errors) if errors else None
        plan: dict[str, Any] = {}
        for pq in plan_qs:
            got = plan_answers[r_i].get(pq.name) or []
            if pq.type == "label" and r_i in label_consensus.get(pq.name, {}):
                value, lc = label_consensus[pq.name][r_i]
                plan[pq.name] = {"value": value, "confidence": lc}
            elif pq.type == "step_pick" and got:
                value, n = Counter(str(v) for v in got).most_common(1)[0]
                plan[pq.name] = {"value": None if value == "None" else int(value), "confidence": n / len(got)}
            elif pq.type == "step_set" and got:
                counts = Counter(i for v in got if isinstance(v, list) for i in v)
                plan[pq.name] = {
                    "value": sorted(i for i, n in counts.items() if n * 2 > len(got)),
                    "confidence": None,
                }
            elif pq.type in ("rating", "number") and got:
                nums = [float(v) for v in got if isinstance(v, int | float)]
                if nums:
                    plan[pq.name] = {"value": statistics.median(nums), "confidence": None}
        s.plan = plan
        unnecessary = {i for i, v in s.verdicts.items() if v.verdict == "unnecessary"}
        for pq in plan_qs:
            if pq.type == "step_set" and pq.name in plan:
                unnecessary |= set(plan[pq.name]["value"])
        s.unnecessary_steps = len(unnecessary)
        s.unnecessary = sorted(unnecessary)
        s.reviewed = bool(s.verdicts)
        if success_q is not None and success_q in plan:
            s.success = str(plan[success_q]["value"]).lower() in _YES
        else:
            s.success = _outcome_success(rec["fields"], traj_field)
        summaries.append(s)
        for i, v in s.verdicts.items():
            if i >= len(steps):
                continue
            st = steps[i]
            names = {str(c.get("name")) for c in st.get("tool_calls") or [] if isinstance(c, dict)}
            for tool in names:
                g_ = tools.setdefault(tool, GroupRate(tool))
                g_.steps += 1
                g_.errors += v.verdict in ERROR_VERDICTS
                g_.by_verdict[v.verdict] += 1
            actor = st.get("actor")
            if isinstance(actor, str):
                a_ = agents.setdefault(actor, GroupRate(actor))
                a_.steps += 1
                a_.errors += v.verdict in ERROR_VERDICTS
                a_.by_verdict[v.verdict] += 1
    order = lambda g: (-g.error_rate, g.name)  # noqa: E731
    return TrajectoryStats(
        q.name, used, summaries, sorted(tools.values(), key=order), sorted(agents.values(), key=order)
    )
