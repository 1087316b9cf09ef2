"""OpenAI Chat Completions messages: ``tool_calls`` on assistant messages, ``tool`` role results.

A trace is a list of messages, or ``{"messages": [...], "tools"?: [...], "id"?, "task"?,
"outcome"?, "metadata"?}`` (the fine-tuning layout). A file holds one trace (JSON), a JSON
array of traces, or one trace per line (JSON Lines). Multi-agent runs name the acting agent
in each assistant message's ``name``; a ``transfer_to_<agent>`` call then hands off.
"""

from __future__ import annotations

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
    looks_like_error,
    obj,
    parse_arguments,
    tools_from_openai,
)

NAME = "openai-chat"
_ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}


def is_messages(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(m, dict) and "role" in m for m in value)


def detect(sample: Any) -> bool:
    msgs = sample.get("messages") if isinstance(sample, dict) else sample
    if not is_messages(msgs):
        return False
    assert isinstance(msgs, list)
    for m in msgs:
        if m.get("role") not in (*_ROLES, "tool", "function"):
            return False
        if any(k in m for k in ("tool_results", "observation", "handoff", "actor")):
            return False  # assay's own step format
        calls = m.get("tool_calls")
        if isinstance(calls, list) and any(isinstance(c, dict) and "function" not in c for c in calls):
            return False
    for m in msgs:
        if (
            m.get("tool_calls")
            or m.get("role") in ("tool", "function", "developer")
            or m.get("function_call")
        ):
            return True
    # plain text messages (no tool use at all) read the same way in either dialect
    return all(isinstance(m.get("content"), str | None) for m in msgs)


def _calls(m: dict[str, Any], where: str) -> list[dict[str, Any]]:
    out = []
    raw = m.get("tool_calls") or []
    if not isinstance(raw, list):
        raise ValidationError("must be a list", field=f"{where}.tool_calls")
    for j, c in enumerate(raw):
        if not isinstance(c, dict):
            raise ValidationError("must be an object", field=f"{where}.tool_calls[{j}]")
        f = obj(c.get("function")) or c
        name = f.get("name")
        if not isinstance(name, str) or not name:
            raise ValidationError("is missing", field=f"{where}.tool_calls[{j}].function.name")
        out.append(clean({"id": c.get("id"), "name": name, "arguments": parse_arguments(f.get("arguments"))}))
    fc = m.get("function_call")  # the legacy single function call
    if isinstance(fc, dict) and isinstance(fc.get("name"), str):
        out.append({"name": fc["name"], "arguments": parse_arguments(fc.get("arguments"))})
    return out


def convert_messages(
    messages: list[Any],
    *,
    agents: list[str] | None = None,
    error_prefix: bool = True,
    where: str = "messages",
) -> list[dict[str, Any]]:
    """Steps from chat messages: one step per message (tool results as ``tool`` steps)."""
    steps: list[dict[str, Any]] = []
    multi_agent = any(
        isinstance(m, dict) and m.get("role") == "assistant" and isinstance(m.get("name"), str)
        for m in messages
    )
    agent_names = list(agents or [])
    actor: str | None = None
    for i, m in enumerate(messages):
        p = f"{where}[{i}]"
        if not isinstance(m, dict):
            raise ValidationError("must be an object (a message)", field=p)
        role = m.get("role")
        if role in ("tool", "function"):
            content = m.get("content")
            text = as_text(content) if not isinstance(content, str) else content
            result = clean(
                {
                    "call_id": m.get("tool_call_id"),
                    "name": m.get("name"),
                    "content": text if text is not None else "",
                }
            )
            ids = m.get("tool_call_ids")  # SWE-agent writes a list
            if "call_id" not in result and isinstance(ids, list) and ids and isinstance(ids[0], str):
                result["call_id"] = ids[0]
            if error_prefix and looks_like_error(result["content"]):
                result["is_error"] = True
            prev = steps[-1] if steps else None
            if prev is not None and prev["role"] == "tool" and prev.get("_merge"):
                prev["tool_results"].append(result)
            else:
                steps.append(
                    clean({"role": "tool", "actor": actor, "tool_results": [result], "_merge": True})
                )
            continue
        if role not in _ROLES:
            raise ValidationError(
                f"unknown role {role!r}; expected system, developer, user, assistant, tool", field=f"{p}.role"
            )
        step: dict[str, Any] = {"role": _ROLES[role], "content": as_text(m.get("content"))}
        if role == "assistant":
            if multi_agent and isinstance(m.get("name"), str):
                actor = m["name"]
            step["actor"] = actor
            calls = _calls(m, p)
            if calls:
                step["tool_calls"] = calls
                for c in calls:
                    target = agent_from_transfer(c["name"], agent_names) if multi_agent else None
                    if target is not None and actor is not None:
                        step["handoff"] = {"from": actor, "to": target}
            reasoning = m.get("reasoning_content") or m.get("reasoning")
            if isinstance(reasoning, str) and reasoning:
                step["reasoning"] = reasoning
        elif role == "user" and isinstance(m.get("name"), str):
            step["name"] = m["name"]
        steps.append(clean(step))
    for s in steps:
        s.pop("_merge", None)
    return steps


def convert(trace: Any, where: str = "") -> dict[str, Any]:
    """One trace (messages, or an object with ``messages``) as a trajectory value."""
    if isinstance(trace, list):
        trace = {"messages": trace}
    if not isinstance(trace, dict) or not isinstance(trace.get("messages"), list):
        raise ValidationError("must be a list of messages or an object with 'messages'", field=where or None)
    agents = trace.get("agents")
    agent_names = (
        [a if isinstance(a, str) else a.get("name") for a in agents] if isinstance(agents, list) else []
    )
    agent_names = [a for a in agent_names if isinstance(a, str)]
    steps = convert_messages(trace["messages"], agents=agent_names, where="messages")
    value: dict[str, Any] = {"steps": steps}
    task = trace.get("task")
    if not isinstance(task, str):
        task = next((s.get("content") for s in steps if s["role"] == "user" and s.get("content")), None)
    if task:
        value["task"] = task
    tools = tools_from_openai(trace.get("tools"))
    if tools:
        value["tools"] = tools
    actors = sorted({s["actor"] for s in steps if isinstance(s.get("actor"), str)})
    if agent_names or actors:
        known = list(dict.fromkeys([*agent_names, *actors]))
        value["agents"] = known
    if "outcome" in trace:
        value["outcome"] = trace["outcome"]
    if isinstance(trace.get("metadata"), dict):
        value["metadata"] = trace["metadata"]
    return value


def read(path: Path) -> Iterator[TraceItem]:
    items = json_items(path)
    if (
        len(items) >= 1
        and is_messages([v for _, v in items])
        and not any(isinstance(v, dict) and "messages" in v for _, v in items)
    ):
        # a whole file of messages is one trace
        items = [(1, [v for _, v in items])]
    for place, trace in items:
        tid = trace.get("id") if isinstance(trace, dict) else None
        try:
            value = convert(trace)
        except ValidationError as e:
            raise e.at(file=path.name, line=place) from None
        yield TraceItem(place, str(tid) if tid is not None else f"{path.stem}-{place}", value)
