"""Training data from reviewed agent trajectories: process reward (``prm``), outcome reward (``orm``)
and supervised fine-tuning on trajectories judged correct (``sft-trajectories``).

The per-step verdicts and plan-level answers are aggregated across reviewers first
(:mod:`assay.services.trajectory_stats`). A trajectory's *prompt* is the text of its steps
before the first assistant step (system and user messages), or its task. Its *agent steps*
are the ``assistant`` steps; each is rendered as its text, then its tool calls as
``<tool_call>{"name", "arguments"}</tool_call>``, then what came back before the next agent
step (``<tool_result>…</tool_result>``, ``<user>…</user>``).

* ``prm`` — ``{"prompt", "completions": [one string per agent step], "labels": [bool per step]}``
  (TRL's stepwise-supervision layout): a step is ``true`` when its consensus verdict is
  ``correct``. A step nobody judged gets no label: the example ends before the first such step
  (and is left out when that is the first agent step), unless the question says
  ``unjudged: correct`` (reviewers mark only the faults; then it counts as correct once some step
  of that trajectory is judged). Trajectories nobody reviewed are left out, and so are those with
  a step verdict less confident than ``min_confidence``.
* ``orm`` — ``{"prompt", "completion", "label"}``: the whole run and whether it succeeded (the
  plan-level success question, else the trajectory's outcome); unknown success is left out.
* ``sft-trajectories`` — ``{"messages", "tools"}`` in OpenAI chat layout (tool calls with JSON
  arguments, ``tool`` messages), for trajectories that succeeded and have no step judged an
  error; ``remove_unnecessary`` drops the steps judged unnecessary (and their tool results).
  ``tools`` is the tool list as JSON text (``json.loads`` it), so rows of different tools share
  one column type.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from assay.domain.schema import ProjectSchema
from assay.formats.training import TrainingOptions, register_transform
from assay.formats.trajectory_summary import ERROR_VERDICTS, TrajectorySummary, trajectory_stats

__all__ = ["orm", "prm", "sft_trajectories"]

AGENT_ROLES = ("assistant",)


def _text(v: Any) -> str:
    if v is None:
        return ""
    return v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)


def _traj(schema: ProjectSchema, row: dict[str, Any], field: str) -> dict[str, Any]:
    v = (row.get("fields") or {}).get(field)
    if isinstance(v, list):
        return {"steps": v}
    return v if isinstance(v, dict) else {"steps": []}


def _prompt(traj: dict[str, Any]) -> str:
    lead: list[str] = []
    for s in traj.get("steps") or []:
        if s.get("role") in AGENT_ROLES:
            break
        if s.get("content"):
            lead.append(_text(s["content"]))
    return "\n\n".join(lead) or _text(traj.get("task"))


def _render_step(s: dict[str, Any]) -> str:
    parts = [_text(s["content"])] if s.get("content") else []
    for c in s.get("tool_calls") or []:
        call = {"name": c.get("name"), "arguments": c.get("arguments") or {}}
        parts.append(f"<tool_call>{json.dumps(call, ensure_ascii=False)}</tool_call>")
    return "\n".join(parts)


def _render_after(s: dict[str, Any]) -> str:
    role = s.get("role")
    parts: list[str] = []
    if role == "tool" or s.get("tool_results") or s.get("observation"):
        parts += [
            f"<tool_result>{_text(r.get('content'))}</tool_result>" for r in s.get("tool_results") or []
        ]
        if s.get("observation"):
            parts.append(f"<tool_result>{_text(s['observation'])}</tool_result>")
    elif role == "user" and s.get("content"):
        parts.append(f"<user>{_text(s['content'])}</user>")
    elif role == "agent" and s.get("handoff"):
        parts.append(f"<handoff>{s['handoff'].get('from')} -> {s['handoff'].get('to')}</handoff>")
    return "\n".join(parts)


def agent_completions(traj: dict[str, Any]) -> list[tuple[int, str]]:
    """``(step index, rendered text)`` for each agent step, with what followed it until the next."""
    out: list[tuple[int, list[str]]] = []
    for i, s in enumerate(traj.get("steps") or []):
        idx = s.get("index", i)
        if s.get("role") in AGENT_ROLES:
            out.append((idx, [_render_step(s)]))
            own = _render_after(s) if s.get("tool_results") or s.get("observation") else ""
            if own:
                out[-1][1].append(own)
        elif out:
            extra = _render_after(s)
            if extra:
                out[-1][1].append(extra)
    return [(i, "\n".join(p for p in parts if p)) for i, parts in out]


def _stats(
    schema: ProjectSchema, rows: Iterable[dict[str, Any]]
) -> tuple[list[dict[str, Any]], dict[str, TrajectorySummary], str]:
    rows = list(rows)
    stats = trajectory_stats(schema, rows)
    field = next(q.field for q in schema.questions if q.type == "step_review" and q.name == stats.question)
    return rows, {t.external_id: t for t in stats.trajectories}, field


def unjudged_means_correct(schema: ProjectSchema, field: str) -> bool:
    """Whether the field's step_review question says a step nobody judged is correct."""
    q = next(
        (q for q in schema.questions if q.type == "step_review" and getattr(q, "field", None) == field), None
    )
    return getattr(q, "unjudged", "unlabelled") == "correct"


@register_transform("prm")
def prm(
    schema: ProjectSchema, rows: Iterable[dict[str, Any]], options: TrainingOptions
) -> Iterator[dict[str, Any]]:
    rows, summaries, field = _stats(schema, rows)
    unjudged_correct = unjudged_means_correct(schema, field)
    for row in rows:
        s = summaries[str(row.get("external_id"))]
        if not s.reviewed:
            continue
        if any(v.confidence < options.min_confidence for v in s.verdicts.values()):
            continue
        traj = _traj(schema, row, field)
        comps = agent_completions(traj)
        if not comps:
            continue
        labels: list[bool] = []
        for i, _ in comps:
            if i in s.verdicts:
                labels.append(s.verdicts[i].verdict == "correct")
            elif unjudged_correct:
                labels.append(True)
            else:  # nobody judged this step: the example ends before it (no label is invented)
                break
        if labels:
            yield {
                "prompt": _prompt(traj),
                "completions": [c for _, c in comps[: len(labels)]],
                "labels": labels,
            }


@register_transform("orm")
def orm(
    schema: ProjectSchema, rows: Iterable[dict[str, Any]], options: TrainingOptions
) -> Iterator[dict[str, Any]]:
    rows, summaries, field = _stats(schema, rows)
    for row in rows:
        s = summaries[str(row.get("external_id"))]
        if s.success is None:
            continue
        conf = [p.get("confidence") for p in s.plan.values() if isinstance(p.get("confidence"), float)]
        if conf and min(conf) < options.min_confidence:
            continue
        traj = _traj(schema, row, field)
        comps = agent_completions(traj)
        yield {
            "prompt": _prompt(traj),
            "completion": "\n".join(c for _, c in comps),
            "label": bool(s.success),
        }


def _messages(traj: dict[str, Any], drop: set[int]) -> list[dict[str, Any]]:
    msgs: list[dict[str, Any]] = []
    dropped_calls: set[str] = set()
    skipping = False
    for i, s in enumerate(traj.get("steps") or []):
        idx = s.get("index", i)
        role = s.get("role")
        if role in AGENT_ROLES:
            skipping = idx in drop
            calls: list[dict[str, Any]] = []
            for j, c in enumerate(s.get("tool_calls") or []):
                cid = c.get("id") or f"call_{idx}_{j}"
                calls.append(
                    {
                        "id": cid,
                        "type": "function",
                        "function": {
                            "name": c["name"],
                            "arguments": json.dumps(c.get("arguments") or {}, ensure_ascii=False),
                        },
                    }
                )
            if skipping:
                dropped_calls |= {c["id"] for c in calls}
                continue
            msg = {
                "role": "assistant",
                "content": s.get("content"),
                "tool_calls": calls or None,
                "tool_call_id": None,
            }
            msgs.append(msg)
            pending = [c["id"] for c in calls]
            for r in s.get("tool_results") or []:
                msgs.append(
                    {
                        "role": "tool",
                        "content": _text(r.get("content")),
                        "tool_calls": None,
                        "tool_call_id": r.get("call_id") or (pending.pop(0) if pending else None),
                    }
                )
            if s.get("observation") and calls:
                msgs.append(
                    {
                        "role": "tool",
                        "content": _text(s["observation"]),
                        "tool_calls": None,
                        "tool_call_id": calls[0]["id"],
                    }
                )
            continue
        if role == "tool":
            last_calls = (
                next((m["tool_calls"] for m in reversed(msgs) if m["role"] == "assistant"), None) or []
            )
            ids = [c["id"] for c in last_calls]
            for k, r in enumerate(s.get("tool_results") or []):
                cid = r.get("call_id") or (ids[k] if k < len(ids) else None)
                if cid in dropped_calls or (skipping and cid is None):
                    continue
                msgs.append(
                    {
                        "role": "tool",
                        "content": _text(r.get("content")),
                        "tool_calls": None,
                        "tool_call_id": cid,
                    }
                )
            continue
        if role in ("system", "user") and s.get("content") is not None:
            skipping = False
            msgs.append(
                {"role": role, "content": _text(s["content"]), "tool_calls": None, "tool_call_id": None}
            )
    return msgs


@register_transform("sft-trajectories")
def sft_trajectories(
    schema: ProjectSchema, rows: Iterable[dict[str, Any]], options: TrainingOptions
) -> Iterator[dict[str, Any]]:
    rows, summaries, field = _stats(schema, rows)
    for row in rows:
        s = summaries[str(row.get("external_id"))]
        if s.success is not True or any(v.verdict in ERROR_VERDICTS for v in s.verdicts.values()):
            continue
        if any(v.confidence < options.min_confidence for v in s.verdicts.values()):
            continue
        traj = _traj(schema, row, field)
        drop = set(s.unnecessary) if options.remove_unnecessary else set()
        yield {
            "messages": _messages(traj, drop),
            "tools": json.dumps(traj.get("tools") or [], ensure_ascii=False),
        }
