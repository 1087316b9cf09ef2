"""OpenTelemetry GenAI spans as OTLP JSON (``resourceSpans`` → ``scopeSpans`` → ``spans``).

A file is one OTLP export or one per line (the collector's file exporter); spans are grouped
by ``traceId`` into one trajectory each, and read in start order. Spans are recognised by
``gen_ai.operation.name``:

* ``chat`` / ``text_completion`` / ``generate_content``: an assistant step; the output is read
  from ``gen_ai.output.messages`` (parts or role/content messages), the ``gen_ai.choice`` or
  ``gen_ai.content.completion`` events, or the flat ``gen_ai.completion.N.*`` attributes;
  user messages not seen before come from ``gen_ai.input.messages`` / the prompt events.
* ``execute_tool``: a ``tool`` step with ``gen_ai.tool.call.result`` (an ERROR status or
  ``error.type`` marks it an error), answering the call ``gen_ai.tool.call.id`` of an earlier
  step, or else called by an assistant step made for it (``gen_ai.tool.name``,
  ``gen_ai.tool.call.arguments``).
* ``invoke_agent`` / ``create_agent``: ``gen_ai.agent.name`` names the agent that acts in the
  span's subtree; when another agent's span starts, that is a hand-off (an ``agent`` step).

``gen_ai.tool.definitions`` (JSON), where a span has it, gives the tool list.
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
    tools_from_openai,
)

NAME = "otel"
_CHAT_OPS = frozenset({"chat", "text_completion", "generate_content"})
_AGENT_OPS = frozenset({"invoke_agent", "create_agent"})


def detect(sample: Any) -> bool:
    return isinstance(sample, dict) and isinstance(sample.get("resourceSpans"), list)


def _value(v: Any) -> Any:
    if not isinstance(v, dict):
        return v
    if "stringValue" in v:
        return v["stringValue"]
    if "intValue" in v:
        return int(v["intValue"])
    if "doubleValue" in v:
        return float(v["doubleValue"])
    if "boolValue" in v:
        return bool(v["boolValue"])
    if "arrayValue" in v:
        return [_value(x) for x in (v["arrayValue"] or {}).get("values") or []]
    if "kvlistValue" in v:
        return _attrs((v["kvlistValue"] or {}).get("values"))
    return None


def _attrs(kvs: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kv in kvs or []:
        if isinstance(kv, dict) and isinstance(kv.get("key"), str):
            out[kv["key"]] = _value(kv.get("value"))
    return out


def _json(v: Any) -> Any:
    if isinstance(v, str):
        try:
            return json.loads(v)
        except ValueError:
            return v
    return v


def _messages(v: Any) -> list[dict[str, Any]]:
    """Messages from a semconv value: ``[{"role", "parts": [...]}]`` or ``[{"role", "content"}]``."""
    v = _json(v)
    if isinstance(v, dict):
        v = [v]
    if isinstance(v, str):
        return [{"role": "user", "content": v, "tool_calls": []}]
    out = []
    for m in v if isinstance(v, list) else []:
        if not isinstance(m, dict):
            continue
        if isinstance(m.get("message"), dict):  # a gen_ai.choice body
            m = {"role": "assistant", **m["message"]}
        texts: list[str] = []
        calls: list[dict[str, Any]] = []
        results: list[dict[str, Any]] = []
        for part in m.get("parts") or []:
            if not isinstance(part, dict):
                continue
            t = part.get("type")
            if t == "text" and isinstance(part.get("content"), str):
                texts.append(part["content"])
            elif t == "tool_call" and isinstance(part.get("name"), str):
                calls.append(
                    clean(
                        {
                            "id": part.get("id"),
                            "name": part["name"],
                            "arguments": parse_arguments(part.get("arguments")),
                        }
                    )
                )
            elif t == "tool_call_response":
                resp = part.get("response", part.get("result"))
                results.append(
                    clean(
                        {
                            "call_id": part.get("id"),
                            "content": resp if isinstance(resp, str) else json.dumps(resp),
                        }
                    )
                )
        text = as_text(m.get("content"))
        if text:
            texts.append(text)
        for c in _json(m.get("tool_calls")) or []:
            if isinstance(c, dict):
                f = obj(c.get("function")) or c
                if isinstance(f.get("name"), str):
                    calls.append(
                        clean(
                            {
                                "id": c.get("id"),
                                "name": f["name"],
                                "arguments": parse_arguments(f.get("arguments")),
                            }
                        )
                    )
        out.append(
            {
                "role": m.get("role", "assistant"),
                "content": "\n".join(texts) or None,
                "tool_calls": calls,
                "results": results,
            }
        )
    return out


def _flat_messages(attrs: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    """OpenLLMetry's ``gen_ai.prompt.0.role`` / ``gen_ai.completion.0.tool_calls.1.name`` attributes."""
    rows: dict[int, dict[str, Any]] = {}
    for k, v in attrs.items():
        if not k.startswith(prefix + "."):
            continue
        parts = k[len(prefix) + 1 :].split(".")
        if not (parts[0].isascii() and parts[0].isdigit()):
            continue
        m = rows.setdefault(int(parts[0]), {"role": "assistant", "content": None, "calls": {}})
        if len(parts) == 2 and parts[1] in ("role", "content"):
            m[parts[1]] = v
        elif len(parts) == 4 and parts[1] == "tool_calls" and parts[2].isascii() and parts[2].isdigit():
            m["calls"].setdefault(int(parts[2]), {})[parts[3]] = v
    out = []
    for i in sorted(rows):
        m = rows[i]
        calls = [
            clean({"id": c.get("id"), "name": c["name"], "arguments": parse_arguments(c.get("arguments"))})
            for _, c in sorted(m["calls"].items())
            if isinstance(c.get("name"), str)
        ]
        out.append({"role": m["role"], "content": m["content"], "tool_calls": calls, "results": []})
    return out


def _io(span: dict[str, Any], attrs: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    inputs: list[dict[str, Any]] = []
    outputs: list[dict[str, Any]] = []
    if "gen_ai.input.messages" in attrs:
        inputs = _messages(attrs["gen_ai.input.messages"])
    if "gen_ai.output.messages" in attrs:
        outputs = _messages(attrs["gen_ai.output.messages"])
    for ev in span.get("events") or []:
        if not isinstance(ev, dict):
            continue
        name = ev.get("name")
        ea = _attrs(ev.get("attributes"))
        if name == "gen_ai.content.prompt" and not inputs:
            inputs = _messages(ea.get("gen_ai.prompt"))
        elif name == "gen_ai.content.completion" and not outputs:
            outputs = _messages(ea.get("gen_ai.completion"))
        elif name == "gen_ai.choice" and not outputs:
            body = ea.get("message", ea)
            msgs = _messages(_json(body) if isinstance(body, str) else {"role": "assistant", **body})
            outputs.extend(msgs)
        elif isinstance(name, str) and name.startswith("gen_ai.") and name.endswith(".message"):
            role = name[len("gen_ai.") : -len(".message")]
            inputs.extend(_messages({"role": role, **{k: v for k, v in ea.items() if k != "role"}}))
    if not inputs:
        inputs = _flat_messages(attrs, "gen_ai.prompt")
    if not outputs:
        outputs = _flat_messages(attrs, "gen_ai.completion")
    return inputs, outputs


def _spans(doc: Any) -> Iterator[dict[str, Any]]:
    for rs in doc.get("resourceSpans") or [] if isinstance(doc, dict) else []:
        for ss in rs.get("scopeSpans") or rs.get("instrumentationLibrarySpans") or []:
            for sp in ss.get("spans") or []:
                if isinstance(sp, dict):
                    yield sp


def _is_error(span: dict[str, Any], attrs: dict[str, Any]) -> bool:
    status = obj(span.get("status"))
    code = status.get("code")
    return code in (2, "2", "STATUS_CODE_ERROR", "ERROR") or "error.type" in attrs


def convert(spans: list[dict[str, Any]]) -> dict[str, Any]:
    """One trace's spans as a trajectory value."""
    by_id = {str(s.get("spanId")): s for s in spans}
    attrs = {str(s.get("spanId")): _attrs(s.get("attributes")) for s in spans}

    def agent_of(sid: str | None) -> str | None:
        seen = set()
        while sid is not None and sid in by_id and sid not in seen:
            seen.add(sid)
            name = attrs[sid].get("gen_ai.agent.name")
            if isinstance(name, str):
                return name
            parent = by_id[sid].get("parentSpanId")
            sid = str(parent) if parent else None
        return None

    ordered = sorted(spans, key=lambda s: int(s.get("startTimeUnixNano") or 0))
    steps: list[dict[str, Any]] = []
    agents: list[str] = []
    tools: list[dict[str, Any]] = []
    pending: dict[str, dict[str, Any]] = {}
    users_seen: set[str] = set()
    current: str | None = None
    for sp in ordered:
        sid = str(sp.get("spanId"))
        a = attrs[sid]
        op = a.get("gen_ai.operation.name")
        ts = int(sp.get("startTimeUnixNano") or 0) / 1e9 or None
        if "gen_ai.tool.definitions" in a:
            known = {t["name"] for t in tools}
            tools += [
                t for t in tools_from_openai(_json(a["gen_ai.tool.definitions"])) if t["name"] not in known
            ]
        actor = agent_of(sid)
        if op in _AGENT_OPS:
            name = a.get("gen_ai.agent.name")
            if isinstance(name, str):
                if name not in agents:
                    agents.append(name)
                # a hand-off, unless the step before already announced it (transfer_to_<name>)
                if (
                    op == "invoke_agent"
                    and current is not None
                    and name != current
                    and not any(s.get("handoff", {}).get("to") == name for s in steps[-2:])
                ):
                    steps.append(
                        {"role": "agent", "actor": current, "handoff": {"from": current, "to": name}}
                    )
                if op == "invoke_agent":
                    current = name
            continue
        if op in _CHAT_OPS:
            inputs, outputs = _io(sp, a)
            for m in inputs:
                if m["role"] in ("user", "system") and m["content"] and m["content"] not in users_seen:
                    users_seen.add(m["content"])
                    steps.append({"role": m["role"], "content": m["content"]})
            texts = [m["content"] for m in outputs if m["content"]]
            calls = [c for m in outputs for c in m["tool_calls"]]
            step: dict[str, Any] = clean(
                {"role": "assistant", "actor": actor, "content": "\n".join(texts) or None, "timestamp": ts}
            )
            if calls:
                step["tool_calls"] = calls
                for c in calls:
                    if "id" in c:
                        pending[c["id"]] = c
                    target = agent_from_transfer(c["name"], agents)
                    if target is not None and actor is not None:
                        step["handoff"] = {"from": actor, "to": target}
            tok = [a.get("gen_ai.usage.input_tokens"), a.get("gen_ai.usage.output_tokens")]
            if all(isinstance(t, int) for t in tok):
                step["tokens"] = int(tok[0]) + int(tok[1])  # type: ignore[arg-type]
            steps.append(step)
            if actor is not None:
                current = actor
            continue
        if op == "execute_tool":
            name = a.get("gen_ai.tool.name") or sp.get("name")
            call_id = a.get("gen_ai.tool.call.id")
            call = pending.pop(str(call_id), None) if call_id is not None else None
            if call is None:
                call_id = str(call_id or sid)
                call = {
                    "id": call_id,
                    "name": str(name),
                    "arguments": parse_arguments(a.get("gen_ai.tool.call.arguments")),
                }
                steps.append(
                    clean({"role": "assistant", "actor": actor, "tool_calls": [call], "timestamp": ts})
                )
            result_value = a.get("gen_ai.tool.call.result")
            status = obj(sp.get("status"))
            if result_value is None and _is_error(sp, a):
                result_value = status.get("message") or a.get("error.type") or "error"
            text = result_value if isinstance(result_value, str) else json.dumps(result_value)
            result: dict[str, Any] = {"call_id": str(call_id), "content": text}
            if _is_error(sp, a):
                result["is_error"] = True
            steps.append(clean({"role": "tool", "actor": actor, "tool_results": [result], "timestamp": ts}))
    value: dict[str, Any] = {"steps": steps}
    task = next((s["content"] for s in steps if s["role"] == "user"), None)
    if task:
        value["task"] = task
    actors = [s["actor"] for s in steps if isinstance(s.get("actor"), str)]
    if agents or actors:
        value["agents"] = list(dict.fromkeys([*agents, *actors]))
    if tools:
        value["tools"] = tools
    return value


def read(path: Path) -> Iterator[TraceItem]:
    traces: dict[str, list[dict[str, Any]]] = {}
    first: dict[str, int] = {}
    for place, doc in json_items(path):
        if not detect(doc):
            raise ValidationError(
                "is not an OTLP JSON export (no 'resourceSpans')", file=path.name, line=place
            )
        for sp in _spans(doc):
            tid = str(sp.get("traceId") or "trace")
            traces.setdefault(tid, []).append(sp)
            first.setdefault(tid, place)
    for tid, spans in traces.items():
        try:
            value = convert(spans)
        except ValidationError as e:
            raise e.at(file=path.name, line=first[tid]) from None
        yield TraceItem(first[tid], tid, value, metadata={"trace_id": tid})
