"""Anthropic Messages: content blocks ``text``, ``thinking``, ``tool_use`` and ``tool_result``.

A trace is ``{"messages": [...], "system"?, "tools"?: [{"name", "description", "input_schema"}],
"id"?, "outcome"?, "metadata"?}`` (a Messages API request plus the assistant turns) or a bare
list of messages; a file holds one trace, a JSON array of traces or one per line. A user
message made of ``tool_result`` blocks becomes a ``tool`` step (``is_error`` kept); thinking
goes to the step's ``reasoning``. Multi-agent logs may name the acting agent in an
assistant message's ``name`` (or ``agent``).
"""

from __future__ import annotations

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
    tools_from_openai,
)

NAME = "anthropic"
_BLOCKS = frozenset({"tool_use", "tool_result", "thinking", "redacted_thinking", "server_tool_use"})


def _msgs(sample: Any) -> Any:
    return sample.get("messages") if isinstance(sample, dict) else sample


def detect(sample: Any) -> bool:
    msgs = _msgs(sample)
    if not isinstance(msgs, list) or not msgs:
        return False
    for m in msgs:
        if not isinstance(m, dict) or "role" not in m:
            return False
        c = m.get("content")
        if isinstance(c, list) and any(isinstance(b, dict) and b.get("type") in _BLOCKS for b in c):
            return True
    return isinstance(sample, dict) and (
        isinstance(sample.get("system"), str | list)
        or any(isinstance(t, dict) and "input_schema" in t for t in sample.get("tools") or [])
    )


def _result_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    text = as_text(content)
    return text if text is not None else ""


def convert(trace: Any) -> dict[str, Any]:
    if isinstance(trace, list):
        trace = {"messages": trace}
    if not isinstance(trace, dict) or not isinstance(trace.get("messages"), list):
        raise ValidationError("must be a list of messages or an object with 'messages'")
    steps: list[dict[str, Any]] = []
    system = trace.get("system")
    if system:
        steps.append({"role": "system", "content": as_text(system) or ""})
    declared = arr(trace.get("agents"))
    names = [a if isinstance(a, str) else a.get("name") for a in declared if isinstance(a, str | dict)]
    agents: list[str] = [a for a in names if isinstance(a, str)]
    actor: str | None = None
    for i, m in enumerate(trace["messages"]):
        p = f"messages[{i}]"
        if not isinstance(m, dict):
            raise ValidationError("must be an object (a message)", field=p)
        role = m.get("role")
        if role not in ("user", "assistant"):
            raise ValidationError(f"must be user or assistant, got {role!r}", field=f"{p}.role")
        content = m.get("content")
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        if not isinstance(blocks, list):
            raise ValidationError("must be a string or a list of content blocks", field=f"{p}.content")
        if role == "assistant":
            name = m.get("name", m.get("agent"))
            if isinstance(name, str):
                actor = name
            texts, thoughts, calls = [], [], []
            for j, b in enumerate(blocks):
                if not isinstance(b, dict):
                    raise ValidationError("must be an object (a content block)", field=f"{p}.content[{j}]")
                t = b.get("type")
                if t == "text" and isinstance(b.get("text"), str):
                    texts.append(b["text"])
                elif t == "thinking" and isinstance(b.get("thinking"), str):
                    thoughts.append(b["thinking"])
                elif t in ("tool_use", "server_tool_use"):
                    if not isinstance(b.get("name"), str):
                        raise ValidationError("is missing", field=f"{p}.content[{j}].name")
                    inp = b.get("input")
                    calls.append(
                        clean(
                            {
                                "id": b.get("id"),
                                "name": b["name"],
                                "arguments": inp if isinstance(inp, dict) else {},
                            }
                        )
                    )
            step: dict[str, Any] = clean(
                {"role": "assistant", "actor": actor, "content": "\n".join(texts) if texts else None}
            )
            if thoughts:
                step["reasoning"] = "\n".join(thoughts)
            if calls:
                step["tool_calls"] = calls
                for c in calls:
                    target = agent_from_transfer(c["name"], agents) if actor else None
                    if target is not None and actor is not None:
                        step["handoff"] = {"from": actor, "to": target}
            usage = m.get("usage")
            if isinstance(usage, dict) and isinstance(usage.get("output_tokens"), int):
                step["tokens"] = int(usage.get("input_tokens") or 0) + int(usage["output_tokens"])
            steps.append(step)
            continue
        results, texts = [], []
        for j, b in enumerate(blocks):
            if not isinstance(b, dict):
                raise ValidationError("must be an object (a content block)", field=f"{p}.content[{j}]")
            if b.get("type") == "tool_result":
                r: dict[str, Any] = clean(
                    {"call_id": b.get("tool_use_id"), "content": _result_text(b.get("content"))}
                )
                if b.get("is_error") is True:
                    r["is_error"] = True
                results.append(r)
            elif b.get("type") == "text" and isinstance(b.get("text"), str):
                texts.append(b["text"])
        if results:
            steps.append(clean({"role": "tool", "actor": actor, "tool_results": results}))
        if texts:
            steps.append({"role": "user", "content": "\n".join(texts)})
    value: dict[str, Any] = {"steps": steps}
    task = trace.get("task")
    if not isinstance(task, str):
        task = next((s.get("content") for s in steps if s["role"] == "user" and s.get("content")), None)
    if task:
        value["task"] = task
    tools = tools_from_openai(trace.get("tools"))
    if tools:
        value["tools"] = tools
    actors = [s["actor"] for s in steps if isinstance(s.get("actor"), str)]
    if agents or actors:
        value["agents"] = list(dict.fromkeys([*agents, *actors]))
    if "outcome" in trace:
        value["outcome"] = trace["outcome"]
    if isinstance(trace.get("metadata"), dict):
        value["metadata"] = trace["metadata"]
    return value


def read(path: Path) -> Iterator[TraceItem]:
    items = json_items(path)
    if items and all(isinstance(v, dict) and "role" in v for _, v in items):
        items = [(1, [v for _, v in items])]
    for place, trace in items:
        try:
            value = convert(trace)
        except ValidationError as e:
            raise e.at(file=path.name, line=place) from None
        tid = trace.get("id") if isinstance(trace, dict) else None
        yield TraceItem(place, str(tid) if tid is not None else f"{path.stem}-{place}", value)
