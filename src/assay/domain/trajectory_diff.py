"""Compare an agent's tool calls with a reference (gold) trajectory.

:func:`diff_tool_calls` lines up the two call sequences:

* ``match``: the same tool with equal arguments, in order (a longest common subsequence);
* ``reordered``: the same tool with equal arguments, but out of the reference's order;
* ``different_arguments``: the same tool, other arguments (``argument_diff`` names the keys);
* ``missing``: a reference call the agent never made; ``extra``: an agent call the reference lacks.

and scores tool-call precision / recall / F1 (a call counts when the tool *and* arguments agree;
``name_*`` scores count the tool alone) and the plan length against the reference's.
Arguments compare as JSON (``1 == 1.0``, key order ignored).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CallDiff", "ToolCallRef", "TrajectoryDiff", "diff_tool_calls", "diff_trajectory", "tool_calls_of"]


@dataclass(frozen=True, slots=True)
class ToolCallRef:
    """One tool call of a trajectory: the step it is in, its position among the calls."""

    step: int
    position: int
    name: str
    arguments: Any


@dataclass(frozen=True, slots=True)
class CallDiff:
    kind: str  # match | reordered | different_arguments | missing | extra
    name: str
    agent: ToolCallRef | None
    reference: ToolCallRef | None
    argument_diff: dict[str, list[str]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "name": self.name}
        if self.agent is not None:
            out["agent_step"] = self.agent.step
            out["agent_arguments"] = self.agent.arguments
        if self.reference is not None:
            out["reference_step"] = self.reference.step
            out["reference_arguments"] = self.reference.arguments
        if self.argument_diff:
            out["argument_diff"] = self.argument_diff
        return out


@dataclass(frozen=True, slots=True)
class TrajectoryDiff:
    calls: tuple[CallDiff, ...]
    precision: float
    recall: float
    f1: float
    name_precision: float
    name_recall: float
    name_f1: float
    plan_length: int  # the agent's tool calls
    reference_length: int  # the reference's tool calls
    agent_steps: int  # the agent's assistant steps
    reference_steps: int

    @property
    def exact(self) -> bool:
        return all(c.kind == "match" for c in self.calls)

    def count(self, kind: str) -> int:
        return sum(1 for c in self.calls if c.kind == kind)

    def to_dict(self) -> dict[str, Any]:
        return {
            "calls": [c.to_dict() for c in self.calls],
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "name_precision": self.name_precision,
            "name_recall": self.name_recall,
            "name_f1": self.name_f1,
            "plan_length": self.plan_length,
            "reference_length": self.reference_length,
            "length_ratio": self.plan_length / self.reference_length if self.reference_length else None,
            "agent_steps": self.agent_steps,
            "reference_steps": self.reference_steps,
            "counts": {
                k: self.count(k) for k in ("match", "reordered", "different_arguments", "missing", "extra")
            },
            "exact": self.exact,
        }


def _canon(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {str(k): _canon(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_canon(v) for v in value]
    return value


def _key(c: ToolCallRef) -> str:
    return c.name + "\x00" + json.dumps(_canon(c.arguments), sort_keys=True, ensure_ascii=False)


def tool_calls_of(steps: Sequence[Mapping[str, Any]], ignore: Collection[str] = ()) -> list[ToolCallRef]:
    """The tool calls of a list of step dicts, in order (tools named in ``ignore`` left out)."""
    out: list[ToolCallRef] = []
    for pos, s in enumerate(steps):
        idx = s.get("index")
        step = idx if isinstance(idx, int) and not isinstance(idx, bool) else pos
        for c in s.get("tool_calls") or ():
            if isinstance(c, Mapping) and isinstance(c.get("name"), str) and c["name"] not in ignore:
                out.append(ToolCallRef(step, len(out), str(c["name"]), c.get("arguments") or {}))
    return out


def _lcs(a: list[str], b: list[str]) -> list[tuple[int, int]]:
    n, m = len(a), len(b)
    table = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            table[i][j] = table[i + 1][j + 1] + 1 if a[i] == b[j] else max(table[i + 1][j], table[i][j + 1])
    pairs = []
    i = j = 0
    while i < n and j < m:
        if a[i] == b[j]:
            pairs.append((i, j))
            i += 1
            j += 1
        elif table[i + 1][j] >= table[i][j + 1]:
            i += 1
        else:
            j += 1
    return pairs


def _arg_diff(a: Any, r: Any) -> dict[str, list[str]]:
    if not isinstance(a, Mapping) or not isinstance(r, Mapping):
        return {"changed": ["(value)"]}
    ca, cr = _canon(dict(a)), _canon(dict(r))
    out = {
        "missing": sorted(k for k in cr if k not in ca),
        "extra": sorted(k for k in ca if k not in cr),
        "changed": sorted(k for k in ca if k in cr and ca[k] != cr[k]),
    }
    return {k: v for k, v in out.items() if v}


def _prf(tp: int, n_agent: int, n_ref: int) -> tuple[float, float, float]:
    p = tp / n_agent if n_agent else (1.0 if n_ref == 0 else 0.0)
    r = tp / n_ref if n_ref else 1.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def _name_tp(agent: list[ToolCallRef], ref: list[ToolCallRef]) -> int:
    counts: dict[str, int] = {}
    for c in ref:
        counts[c.name] = counts.get(c.name, 0) + 1
    tp = 0
    for c in agent:
        if counts.get(c.name, 0) > 0:
            counts[c.name] -= 1
            tp += 1
    return tp


def diff_tool_calls(
    steps: Sequence[Mapping[str, Any]],
    reference: Sequence[Mapping[str, Any]],
    *,
    ignore: Collection[str] = (),
) -> TrajectoryDiff:
    """Line up the tool calls of ``steps`` (the agent's) with those of ``reference``."""
    agent = tool_calls_of(steps, ignore)
    ref = tool_calls_of(reference, ignore)
    ak, rk = [_key(c) for c in agent], [_key(c) for c in ref]
    used_a: set[int] = set()
    used_r: set[int] = set()
    diffs: list[tuple[float, CallDiff]] = []
    for i, j in _lcs(ak, rk):
        used_a.add(i)
        used_r.add(j)
        diffs.append((j, CallDiff("match", ref[j].name, agent[i], ref[j])))
    for j in range(len(ref)):  # equal calls out of order
        if j in used_r:
            continue
        k = next((i for i in range(len(agent)) if i not in used_a and ak[i] == rk[j]), None)
        if k is not None:
            used_a.add(k)
            used_r.add(j)
            diffs.append((j, CallDiff("reordered", ref[j].name, agent[k], ref[j])))
    for j in range(len(ref)):  # same tool, other arguments
        if j in used_r:
            continue
        k = next((i for i in range(len(agent)) if i not in used_a and agent[i].name == ref[j].name), None)
        if k is not None:
            used_a.add(k)
            used_r.add(j)
            d = _arg_diff(agent[k].arguments, ref[j].arguments)
            diffs.append((j, CallDiff("different_arguments", ref[j].name, agent[k], ref[j], d)))
    for j in range(len(ref)):
        if j not in used_r:
            diffs.append((j, CallDiff("missing", ref[j].name, None, ref[j])))
    for i in range(len(agent)):
        if i not in used_a:
            # place an extra call after the reference call that precedes it in the agent's order
            before = [d[0] for d in diffs if d[1].agent is not None and d[1].agent.position < i]
            diffs.append((max(before, default=-1) + 0.5, CallDiff("extra", agent[i].name, agent[i], None)))
    diffs.sort(key=lambda d: (d[0], d[1].agent.position if d[1].agent else -1))
    tp = sum(1 for _, d in diffs if d.kind in ("match", "reordered"))
    p, r, f = _prf(tp, len(agent), len(ref))
    np_, nr, nf = _prf(_name_tp(agent, ref), len(agent), len(ref))
    return TrajectoryDiff(
        calls=tuple(d for _, d in diffs),
        precision=p,
        recall=r,
        f1=f,
        name_precision=np_,
        name_recall=nr,
        name_f1=nf,
        plan_length=len(agent),
        reference_length=len(ref),
        agent_steps=sum(1 for s in steps if s.get("role") == "assistant"),
        reference_steps=sum(1 for s in reference if s.get("role") == "assistant"),
    )


def diff_trajectory(value: Mapping[str, Any], *, ignore: Collection[str] = ()) -> TrajectoryDiff | None:
    """The diff of a trajectory value against its ``reference``; ``None`` when it has none."""
    ref = value.get("reference")
    steps = value.get("steps")
    if not isinstance(ref, list) or not isinstance(steps, list):
        return None
    return diff_tool_calls(
        [s for s in steps if isinstance(s, Mapping)],
        [s for s in ref if isinstance(s, Mapping)],
        ignore=ignore,
    )
