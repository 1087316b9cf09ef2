"""What the trace codecs share: reading JSON / JSON Lines, text of content parts, tool-call arguments."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assay.domain.errors import ValidationError

__all__ = [
    "arr",
    "obj",
    "TraceItem",
    "agent_from_transfer",
    "as_text",
    "json_items",
    "looks_like_error",
    "parse_arguments",
    "read_json_or_jsonl",
    "tools_from_openai",
]


@dataclass
class TraceItem:
    """One converted trace: where it came from, its id and the trajectory value (plus extras)."""

    place: int  # line (JSON Lines) or 1-based item number (JSON array), 1 for a single JSON object
    external_id: str
    trajectory: dict[str, Any]
    metadata: dict[str, Any] = field(default_factory=dict)


def read_json_or_jsonl(path: Path) -> tuple[str, Any]:
    """``("json", value)`` for a JSON document, ``("jsonl", [(line, value), ...])`` for JSON Lines."""
    text = path.read_text(encoding="utf-8-sig")
    stripped = text.strip()
    if not stripped:
        raise ValidationError("the file is empty", file=str(path))
    try:
        return "json", json.loads(stripped)
    except json.JSONDecodeError as first:
        lines: list[tuple[int, Any]] = []
        for n, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                lines.append((n, json.loads(line)))
            except json.JSONDecodeError as e:
                if n == 1 and not lines:
                    raise ValidationError(
                        f"not JSON: {first.msg}", file=str(path), line=first.lineno
                    ) from None
                raise ValidationError(f"not JSON: {e.msg}", file=str(path), line=n) from None
        return "jsonl", lines


def json_items(path: Path) -> list[tuple[int, Any]]:
    """A file as ``(place, value)`` pairs: one per JSON Lines line, per JSON array item, or the one object."""
    kind, value = read_json_or_jsonl(path)
    if kind == "jsonl":
        return list(value)
    if isinstance(value, list):
        return [(i, v) for i, v in enumerate(value, start=1)]
    return [(1, value)]


def obj(value: Any) -> dict[str, Any]:
    """``value`` when it is an object, else an empty one."""
    return value if isinstance(value, dict) else {}


def arr(value: Any) -> list[Any]:
    """``value`` when it is a list, else an empty one."""
    return value if isinstance(value, list) else []


def as_text(content: Any) -> str | None:
    """The text of a message content: a string, or the text parts of a list of content blocks."""
    if content is None:
        return None
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts: list[str] = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict):
                t = part.get("text")
                if isinstance(t, str):
                    parts.append(t)
                elif isinstance(t, dict) and isinstance(t.get("value"), str):
                    parts.append(t["value"])
                elif part.get("type") in ("refusal",) and isinstance(part.get("refusal"), str):
                    parts.append(part["refusal"])
        return "\n".join(parts) if parts else None
    if isinstance(content, dict):
        if isinstance(content.get("text"), str):
            return str(content["text"])
        return json.dumps(content, ensure_ascii=False)
    return str(content)


def parse_arguments(raw: Any) -> dict[str, Any]:
    """Tool-call arguments as an object: JSON text is parsed; text that is not a JSON object is kept
    under ``_raw`` (the pre-checks report it), so a malformed call still imports."""
    if raw is None:
        return {}
    if isinstance(raw, dict):
        return raw
    if isinstance(raw, str):
        if not raw.strip():
            return {}
        try:
            value = json.loads(raw)
        except ValueError:
            return {"_raw": raw}
        return value if isinstance(value, dict) else {"_raw": raw}
    return {"_raw": json.dumps(raw, ensure_ascii=False)}


_ERROR_PREFIX = re.compile(r"^\s*(error\b|an error occurred|traceback \(most recent call last\))", re.I)


def looks_like_error(text: Any) -> bool:
    """A tool output that reports an error by its first words (``Error: ...``)."""
    return isinstance(text, str) and bool(_ERROR_PREFIX.match(text))


def _style(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def agent_from_transfer(tool_name: str, agents: list[str] | tuple[str, ...] = ()) -> str | None:
    """The agent a ``transfer_to_<agent>`` tool hands off to (an agent's own spelling where known)."""
    if not tool_name.startswith("transfer_to_"):
        return None
    target = tool_name[len("transfer_to_") :]
    for a in agents:
        if _style(a) == _style(target):
            return a
    return target


def tools_from_openai(tools: Any) -> list[dict[str, Any]]:
    """Tool declarations in OpenAI chat (``{"type": "function", "function": {...}}``), Responses
    (``{"type": "function", "name", ...}``) or Anthropic (``{"name", "input_schema"}``) shape."""
    out: list[dict[str, Any]] = []
    if not isinstance(tools, list):
        return out
    for t in tools:
        if not isinstance(t, dict):
            continue
        f = obj(t.get("function")) or t
        name = f.get("name")
        if not isinstance(name, str) or not name:
            continue
        d: dict[str, Any] = {"name": name}
        if isinstance(f.get("description"), str):
            d["description"] = f["description"]
        params = f.get("parameters", f.get("input_schema"))
        if isinstance(params, dict):
            d["parameters"] = params
        out.append(d)
    return out


def clean(d: dict[str, Any]) -> dict[str, Any]:
    """``d`` without its ``None`` values."""
    return {k: v for k, v in d.items() if v is not None}
