"""OpenAI Responses API / Agents SDK items: ``message``, ``function_call``, ``function_call_output``,
``reasoning``, hosted tool calls (``web_search_call`` …) and hand-offs.

A trace is a list of items, a Response object (``{"output": [...], "input"?, "tools"?,
"instructions"?}``) or ``{"items": [...], "agents"?, "tools"?, "id"?, "task"?, "outcome"?,
"metadata"?}``. Agents SDK run items (``{"type": "tool_call_item", "raw_item": {...},
"agent": {"name": ...}}``, ``handoff_output_item`` with ``source_agent``/``target_agent``) are
unwrapped; any item may name the agent that produced it in ``agent``. A ``transfer_to_<agent>``
call is a hand-off (the SDK's naming), and the agent it names acts next. ``agents`` may list
names or ``{"name", "handoffs"?, "tools"?}``; their tools join the run's tool list.

Consecutive items of one agent's turn (reasoning, text, function calls) form one assistant
step; consecutive outputs form one ``tool`` step.
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
    arr,
    as_text,
    clean,
    json_items,
    looks_like_error,
    obj,
    parse_arguments,
    tools_from_openai,
)

NAME = "openai-responses"
_TYPES = frozenset(
    {
        "function_call",
        "function_call_output",
        "reasoning",
        "handoff",
        "message_output_item",
        "tool_call_item",
        "tool_call_output_item",
        "handoff_call_item",
        "handoff_output_item",
        "reasoning_item",
    }
)


def _items_of(sample: Any) -> Any:
    if isinstance(sample, dict):
        if isinstance(sample.get("items"), list):
            return sample["items"]
        if isinstance(sample.get("output"), list):
            inp = sample.get("input")
            return [*(inp if isinstance(inp, list) else []), *sample["output"]]
    return sample


def detect(sample: Any) -> bool:
    if isinstance(sample, dict) and sample.get("object") == "response":
        return True
    items = _items_of(sample)
    if not isinstance(items, list):
        return False
    return any(
        isinstance(i, dict)
        and (
            i.get("type") in _TYPES
            or (isinstance(i.get("type"), str) and str(i["type"]).endswith(("_call", "_call_output")))
        )
        for i in items
    )


def _agent_name(v: Any) -> str | None:
    if isinstance(v, str):
        return v
    if isinstance(v, dict) and isinstance(v.get("name"), str):
        return str(v["name"])
    return None


def _output_text(output: Any) -> str:
    if isinstance(output, str):
        return output
    text = as_text(output) if isinstance(output, list) else None
    if text is not None:
        return text
    return json.dumps(output, ensure_ascii=False)


class _Builder:
    def __init__(self, agents: list[str]) -> None:
        self.agents = agents
        self.steps: list[dict[str, Any]] = []
        self.actor: str | None = None
        self.open: dict[str, Any] | None = None  # the assistant step being filled
        self.pending_actor: str | None = None  # who acts after a hand-off completes

    def _assistant(self) -> dict[str, Any]:
        if self.open is None or self.open.get("actor") != self.actor:
            self.open = clean({"role": "assistant", "actor": self.actor})
            self.steps.append(self.open)
        return self.open

    def close(self) -> None:
        self.open = None

    def add(self, item: dict[str, Any], where: str) -> None:
        raw = obj(item.get("raw_item")) or None
        agent = _agent_name(item.get("agent"))
        t = item.get("type")
        if t == "handoff_output_item" or t == "handoff":
            src = _agent_name(item.get("source_agent", item.get("from"))) or self.actor
            dst = _agent_name(item.get("target_agent", item.get("to")))
            if dst is None:
                raise ValidationError("is missing (the agent handed off to)", field=f"{where}.to")
            if raw is not None and raw.get("type") == "function_call_output":
                self._output(raw, where)
            already = any(s.get("handoff", {}).get("to") == dst for s in self.steps[-3:])
            if not already and src is not None:
                self.close()
                self.steps.append({"role": "agent", "actor": src, "handoff": {"from": src, "to": dst}})
            self.actor, self.pending_actor = dst, None
            self.close()
            return
        if raw is not None:
            inner = dict(raw)
            if agent is not None:
                inner["agent"] = agent
            if t == "tool_call_output_item" and "output" in item and "output" not in inner:
                inner["output"] = item["output"]
            self.add(inner, where)
            return
        if agent is not None and agent != self.actor:
            self.close()
            self.actor = agent
        if t == "message" or (t is None and "role" in item):
            role = item.get("role")
            text = as_text(item.get("content"))
            if role == "assistant":
                step = self._assistant()
                step["content"] = f"{step['content']}\n{text}" if step.get("content") and text else text
                if step["content"] is None:
                    del step["content"]
            elif role in ("user", "system", "developer"):
                self.close()
                self.steps.append(clean({"role": "user" if role == "user" else "system", "content": text}))
            else:
                raise ValidationError(f"unknown role {role!r}", field=f"{where}.role")
        elif t == "reasoning":
            text = as_text(item.get("summary")) or as_text(item.get("content"))
            if text:
                step = self._assistant()
                step["reasoning"] = f"{step['reasoning']}\n{text}" if step.get("reasoning") else text
        elif t == "function_call":
            name = item.get("name")
            if not isinstance(name, str) or not name:
                raise ValidationError("is missing (the function's name)", field=f"{where}.name")
            step = self._assistant()
            call = clean({"id": item.get("call_id", item.get("id")), "name": name})
            call["arguments"] = parse_arguments(item.get("arguments"))
            step.setdefault("tool_calls", []).append(call)
            target = agent_from_transfer(name, self.agents)
            if target is not None and self.actor is not None:
                step["handoff"] = {"from": self.actor, "to": target}
                self.pending_actor = target
        elif t == "function_call_output" or (isinstance(t, str) and t.endswith("_call_output")):
            self._output(item, where)
        elif isinstance(t, str) and t.endswith("_call"):
            step = self._assistant()
            args = item.get("action")
            if not isinstance(args, dict):
                args = {k: v for k, v in item.items() if k not in ("type", "id", "status", "agent")}
            step.setdefault("tool_calls", []).append(
                clean(
                    {"id": item.get("call_id", item.get("id")), "name": t[: -len("_call")], "arguments": args}
                )
            )
        elif t == "item_reference":
            return
        else:
            raise ValidationError(f"unknown item type {t!r}", field=f"{where}.type")

    def _output(self, item: dict[str, Any], where: str) -> None:
        self.close()
        text = _output_text(item.get("output"))
        result = clean({"call_id": item.get("call_id"), "content": text})
        if looks_like_error(text):
            result["is_error"] = True
        prev = self.steps[-1] if self.steps else None
        if prev is not None and prev["role"] == "tool":
            prev["tool_results"].append(result)
        else:
            self.steps.append(clean({"role": "tool", "actor": self.actor, "tool_results": [result]}))
        if self.pending_actor is not None:
            self.actor, self.pending_actor = self.pending_actor, None


def convert(trace: Any) -> dict[str, Any]:
    items = _items_of(trace)
    if not isinstance(items, list):
        raise ValidationError("must be a list of items, a Response object or an object with 'items'")
    meta = trace if isinstance(trace, dict) else {}
    declared = arr(meta.get("agents"))
    agents = [n for n in (_agent_name(a) for a in declared) if n is not None]
    tools = tools_from_openai(meta.get("tools"))
    for a in declared:
        if isinstance(a, dict):
            tools += tools_from_openai(a.get("tools"))
    b = _Builder(agents)
    if isinstance(meta.get("instructions"), str):
        b.steps.append({"role": "system", "content": meta["instructions"]})
    if isinstance(meta.get("input"), str):
        b.steps.append({"role": "user", "content": meta["input"]})
    for i, item in enumerate(items):
        if isinstance(item, str):
            b.close()
            b.steps.append({"role": "user", "content": item})
            continue
        if not isinstance(item, dict):
            raise ValidationError("must be an object (an item)", field=f"items[{i}]")
        b.add(item, f"items[{i}]")
    value: dict[str, Any] = {"steps": b.steps}
    task = meta.get("task")
    if not isinstance(task, str):
        task = next((s.get("content") for s in b.steps if s["role"] == "user" and s.get("content")), None)
    if task:
        value["task"] = task
    if tools:
        seen: dict[str, dict[str, Any]] = {}
        for t in tools:
            seen.setdefault(t["name"], t)
        value["tools"] = list(seen.values())
    actors = [s["actor"] for s in b.steps if isinstance(s.get("actor"), str)]
    if agents or actors:
        value["agents"] = list(dict.fromkeys([*agents, *actors]))
    if "outcome" in meta:
        value["outcome"] = meta["outcome"]
    if isinstance(meta.get("metadata"), dict):
        value["metadata"] = meta["metadata"]
    return value


def read(path: Path) -> Iterator[TraceItem]:
    items = json_items(path)
    if items and not any(isinstance(v, dict) and ("items" in v or "output" in v) for _, v in items):
        # a file of items (JSON array or JSON Lines) is one trace
        flat = [v for _, v in items]
        if all(isinstance(v, dict) and not isinstance(v.get("items"), list) for v in flat):
            items = [(1, flat)]
    for place, trace in items:
        try:
            value = convert(trace)
        except ValidationError as e:
            raise e.at(file=path.name, line=place) from None
        tid = trace.get("id") if isinstance(trace, dict) else None
        yield TraceItem(place, str(tid) if tid is not None else f"{path.stem}-{place}", value)
