"""LangSmith run trees, as exported (``client.read_run(id, load_child_runs=True)`` → JSON, or the
runs of a trace as a flat list with ``parent_run_id``).

A run has ``id``, ``name``, ``run_type`` (``chain``, ``llm``, ``tool``, ``retriever`` …), ``inputs``,
``outputs``, ``error``, ``start_time`` and ``child_runs`` (or ``parent_run_id``). Children are
read in start order: an ``llm`` run becomes an assistant step (its output message's text and
tool calls, LangChain or OpenAI shape), a ``tool``/``retriever`` run a ``tool`` step answering
the matching call (or, when no model call asked for it, an assistant step calling it first).
The root run's input is the task and its output (or error) the outcome. The acting agent is
the run's ``metadata.langgraph_node`` (LangGraph multi-agent graphs) or ``metadata.agent``;
a ``transfer_to_<agent>`` tool call is a hand-off.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from assay.domain.errors import ValidationError
from assay.formats.traces._common import (
    TraceItem,
    agent_from_transfer,
    as_text,
    clean,
    json_items,
    obj,
    parse_arguments,
)

NAME = "langsmith"
_TOOL_TYPES = ("tool", "retriever")


def _is_run(v: Any) -> bool:
    return isinstance(v, dict) and isinstance(v.get("run_type"), str) and "name" in v


def detect(sample: Any) -> bool:
    if isinstance(sample, list):
        return bool(sample) and all(_is_run(r) for r in sample)
    return _is_run(sample) or (isinstance(sample, dict) and isinstance(sample.get("runs"), list))


# --------------------------------------------------------------------------- messages


def _message(m: Any) -> dict[str, Any] | None:
    """A chat message (LangChain serialised / dict, or OpenAI) as ``{"type", "content", "tool_calls"}``."""
    if not isinstance(m, dict):
        return None
    if "lc" in m and isinstance(m.get("kwargs"), dict):
        ids = m.get("id") or []
        cls = ids[-1] if isinstance(ids, list) and ids else ""
        kind = {
            "AIMessage": "ai",
            "AIMessageChunk": "ai",
            "HumanMessage": "human",
            "SystemMessage": "system",
        }.get(str(cls), "tool" if "Tool" in str(cls) else "other")
        return _message({"type": kind, **m["kwargs"]})
    if isinstance(m.get("data"), dict) and "type" in m:
        return _message({"type": m["type"], **m["data"]})
    kind = m.get("type") or {"assistant": "ai", "user": "human", "system": "system", "tool": "tool"}.get(
        str(m.get("role")), "other"
    )
    calls = []
    for c in m.get("tool_calls") or []:
        if not isinstance(c, dict):
            continue
        f = obj(c.get("function")) or c
        if isinstance(f.get("name"), str):
            args = f.get("args", f.get("arguments"))
            calls.append(clean({"id": c.get("id"), "name": f["name"], "arguments": parse_arguments(args)}))
    if not calls:
        extra = m.get("additional_kwargs")
        if isinstance(extra, dict) and isinstance(extra.get("tool_calls"), list):
            return _message({"type": kind, "content": m.get("content"), "tool_calls": extra["tool_calls"]})
    return {"type": kind, "content": as_text(m.get("content")), "tool_calls": calls}


def _llm_output(outputs: Any) -> dict[str, Any]:
    if not isinstance(outputs, dict):
        return {"type": "ai", "content": as_text(outputs), "tool_calls": []}
    gens = outputs.get("generations")
    if isinstance(gens, list) and gens:
        first = gens[0][0] if isinstance(gens[0], list) and gens[0] else gens[0]
        if isinstance(first, dict):
            msg = _message(first.get("message")) if first.get("message") else None
            if msg is not None:
                return msg
            return {"type": "ai", "content": as_text(first.get("text")), "tool_calls": []}
    choices = outputs.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        msg = _message(choices[0].get("message"))
        if msg is not None:
            return msg
    for key in ("output", "message", "messages"):
        v = outputs.get(key)
        if isinstance(v, list) and v:
            v = v[-1]
        if isinstance(v, dict):
            msg = _message(v)
            if msg is not None:
                return msg
        if isinstance(v, str):
            return {"type": "ai", "content": v, "tool_calls": []}
    return {"type": "ai", "content": json.dumps(outputs, ensure_ascii=False), "tool_calls": []}


def _task(inputs: Any) -> str | None:
    if isinstance(inputs, str):
        return inputs
    if not isinstance(inputs, dict):
        return None
    for key in ("input", "question", "query", "task", "prompt"):
        if isinstance(inputs.get(key), str):
            return str(inputs[key])
    msgs = inputs.get("messages")
    if isinstance(msgs, list):
        flat = msgs[0] if msgs and isinstance(msgs[0], list) else msgs
        for m in flat:
            mm = _message(m)
            if mm is not None and mm["type"] == "human" and mm["content"]:
                return str(mm["content"])
    return json.dumps(inputs, ensure_ascii=False) if inputs else None


def _tool_args(inputs: Any) -> dict[str, Any]:
    if isinstance(inputs, dict):
        if set(inputs) == {"input"} and isinstance(inputs["input"], str):
            parsed = parse_arguments(inputs["input"])
            return parsed if "_raw" not in parsed else {"input": inputs["input"]}
        return inputs
    return parse_arguments(inputs)


def _tool_output(outputs: Any) -> str:
    if isinstance(outputs, dict):
        v = outputs.get("output", outputs.get("documents", outputs))
        msg = _message(v) if isinstance(v, dict) and ("lc" in v or "content" in v) else None
        if msg is not None and msg["content"] is not None:
            return str(msg["content"])
        return v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
    return "" if outputs is None else str(outputs)


# --------------------------------------------------------------------------- tree walk


_GENERIC_NODES = frozenset({"agent", "tools", "model", "call_model", "__start__", "__end__"})


def _actor(run: dict[str, Any], inherited: str | None) -> str | None:
    extra = obj(run.get("extra"))
    meta = obj(extra.get("metadata"))
    meta = {**meta, **(obj(run.get("metadata")))}
    for key in ("agent", "agent_name"):
        if isinstance(meta.get(key), str):
            return str(meta[key])
    ns = meta.get("langgraph_checkpoint_ns")
    if isinstance(ns, str) and ns:
        head = ns.split("|")[0].split(":")[0]
        if head and head not in _GENERIC_NODES:
            return head
    node = meta.get("langgraph_node")
    if isinstance(node, str) and node not in _GENERIC_NODES:
        return node
    return inherited


def _children(run: dict[str, Any]) -> list[dict[str, Any]]:
    kids = [c for c in run.get("child_runs") or [] if isinstance(c, dict)]
    return sorted(kids, key=lambda c: (str(c.get("dotted_order") or ""), str(c.get("start_time") or "")))


class _Walk:
    def __init__(self) -> None:
        self.steps: list[dict[str, Any]] = []
        self.pending: list[dict[str, Any]] = []  # tool calls not answered yet

    def run(self, run: dict[str, Any], actor: str | None) -> None:
        actor = _actor(run, actor)
        rt = run.get("run_type")
        if rt == "llm":
            msg = _llm_output(run.get("outputs"))
            step: dict[str, Any] = clean({"role": "assistant", "actor": actor, "content": msg["content"]})
            if msg["tool_calls"]:
                step["tool_calls"] = msg["tool_calls"]
                self.pending.extend(msg["tool_calls"])
                for c in msg["tool_calls"]:
                    target = agent_from_transfer(c["name"])
                    if target is not None and actor is not None:
                        step["handoff"] = {"from": actor, "to": target}
            tokens = run.get("total_tokens")
            if isinstance(tokens, int) and tokens >= 0:
                step["tokens"] = tokens
            cost = run.get("total_cost")
            if isinstance(cost, int | float) and cost >= 0:
                step["cost"] = float(cost)
            if isinstance(run.get("start_time"), str):
                step["timestamp"] = run["start_time"]
            self.steps.append(step)
            return
        if rt in _TOOL_TYPES:
            name = str(run.get("name"))
            match = next((c for c in self.pending if c["name"] == name), None)
            if match is None:
                call_id = str(run.get("id") or f"run{len(self.steps)}")
                match = {"id": call_id, "name": name, "arguments": _tool_args(run.get("inputs"))}
                self.steps.append(clean({"role": "assistant", "actor": actor, "tool_calls": [match]}))
            else:
                self.pending.remove(match)
            error = run.get("error")
            result = clean(
                {
                    "call_id": match.get("id"),
                    "content": str(error) if error else _tool_output(run.get("outputs")),
                }
            )
            if error:
                result["is_error"] = True
            self.steps.append(clean({"role": "tool", "actor": actor, "tool_results": [result]}))
            return
        for child in _children(run):
            self.run(child, actor)


def _tree(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """A flat list of runs (with ``parent_run_id``) as its root, children nested."""
    by_id = {str(r.get("id")): dict(r, child_runs=list(r.get("child_runs") or [])) for r in runs}
    roots = []
    for r in by_id.values():
        parent = r.get("parent_run_id")
        if parent is not None and str(parent) in by_id:
            by_id[str(parent)]["child_runs"].append(r)
        else:
            roots.append(r)
    if len(roots) == 1:
        return roots[0]
    return {"name": "trace", "run_type": "chain", "child_runs": roots, "inputs": roots[0].get("inputs")}


def convert(trace: Any) -> dict[str, Any]:
    if isinstance(trace, dict) and isinstance(trace.get("runs"), list):
        trace = trace["runs"]
    if isinstance(trace, list):
        trace = _tree([r for r in trace if isinstance(r, dict)])
    if not _is_run(trace):
        raise ValidationError("must be a run (with 'run_type' and 'name') or a list of runs")
    w = _Walk()
    task = _task(trace.get("inputs"))
    if task:
        w.steps.append({"role": "user", "content": task})
    w.run(trace, None)
    value: dict[str, Any] = {"steps": w.steps}
    if task:
        value["task"] = task
    if trace.get("error"):
        value["outcome"] = {"error": str(trace["error"])}
    elif trace.get("outputs") is not None:
        value["outcome"] = trace["outputs"]
    actors = [s["actor"] for s in w.steps if isinstance(s.get("actor"), str)]
    if actors:
        value["agents"] = list(dict.fromkeys(actors))
    meta = {k: str(trace[k]) for k in ("id", "trace_id", "name") if trace.get(k) is not None}
    if meta:
        value["metadata"] = meta
    return value


def read(path: Path) -> Iterator[TraceItem]:
    items = json_items(path)
    flat = [v for _, v in items]
    if len(items) > 1 and all(_is_run(v) for v in flat) and any(v.get("parent_run_id") for v in flat):
        # the runs of traces as a flat list: group them by trace
        groups: dict[str, list[dict[str, Any]]] = {}
        first: dict[str, int] = {}
        for place, v in items:
            key = str(v.get("trace_id") or "trace")
            groups.setdefault(key, []).append(v)
            first.setdefault(key, place)
        items = [(first[k], g) for k, g in groups.items()]
    for place, trace in items:
        try:
            value = convert(trace)
        except ValidationError as e:
            raise e.at(file=path.name, line=place) from None
        rid = value.get("metadata", {}).get("trace_id") or value.get("metadata", {}).get("id")
        yield TraceItem(place, str(rid) if rid else f"{path.stem}-{place}", value)
