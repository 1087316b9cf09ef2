"""Field specs: what a record shows to the people and models that answer it.

A field spec is a Pydantic model, discriminated on ``type``. Each spec compiles a value
checker (:meth:`BaseField.checker`) that validates and normalises one record's value for
that field; the checker raises :class:`~assay.domain.errors.ValidationError` with ``field``
set to the path *inside* the value (e.g. ``[1].text``), which callers prefix with
``fields.<name>``.
"""

from __future__ import annotations

import json
import math
import re
from abc import abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .errors import ValidationError
from .numbers import json_int_fits
from .text import check_text

__all__ = [
    "type_name",
    "AudioField",
    "BaseField",
    "ChatField",
    "ComparisonField",
    "FIELD_TYPES",
    "FieldSpec",
    "ImageField",
    "JsonField",
    "MarkdownField",
    "MediaInfo",
    "Step",
    "TextField",
    "ToolCall",
    "ToolResult",
    "Trajectory",
    "TrajectoryField",
    "ValueChecker",
    "VideoField",
    "candidate_ids",
    "check_json",
    "media_info",
    "normalize_trajectory",
    "step_count",
]

ValueChecker = Callable[[Any], Any]
"""Validates one value and returns it normalised; raises ``ValidationError``."""

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

CHAT_ROLES = frozenset({"system", "user", "assistant", "tool"})
STEP_ROLES = frozenset({"user", "assistant", "tool", "system", "agent"})


def check_identifier(value: str) -> str:
    if not IDENTIFIER.match(value):
        raise ValueError(
            f"{value!r} is not a valid name: use letters, digits and underscores, not starting with a digit"
        )
    return value


def type_name(value: Any) -> str:
    """How an error names a JSON value's type: ``null``, ``a boolean``, ``an integer`` …"""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _is_number(value: Any) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool)) or (
        isinstance(value, float) and math.isfinite(value)
    )


def _expect_str(value: Any, path: str, what: str = "a string") -> str:
    if not isinstance(value, str):
        raise ValidationError(f"must be {what}, got {type_name(value)}", field=path or None)
    return value


def _expect_dict(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValidationError(f"must be an object, got {type_name(value)}", field=path or None)
    return value


def _expect_list(value: Any, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise ValidationError(f"must be a list, got {type_name(value)}", field=path or None)
    return value


def _p(base: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{base}[{key}]"
    return f"{base}.{key}" if base else key


# --------------------------------------------------------------------------- specs


class BaseField(BaseModel):
    """Attributes every field spec has."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    title: str | None = None
    required: bool = True
    # Disturbing content (attacks, harmful answers): the UI shows it behind a content warning,
    # blurred until the viewer reveals it, and records how long it stayed revealed.
    sensitive: bool = False

    @field_validator("name")
    @classmethod
    def _name_is_identifier(cls, v: str) -> str:
        return check_identifier(v)

    @abstractmethod
    def checker(self) -> ValueChecker:
        """A function that validates and normalises one value of this field."""

    @property
    def structured(self) -> bool:
        """True when a CSV cell of this field holds JSON."""
        return False


class TextField(BaseField):
    """Plain text, rendered as text."""

    type: Literal["text"] = "text"

    def checker(self) -> ValueChecker:
        return _check_text


class MarkdownField(BaseField):
    """Markdown, rendered safely (no raw HTML)."""

    type: Literal["markdown"] = "markdown"

    def checker(self) -> ValueChecker:
        return _check_text


def _check_text(value: Any) -> str:
    if type(value) is str or isinstance(value, str):
        return value
    raise ValidationError(f"must be a string, got {type_name(value)}")


class _MediaField(BaseField):
    def checker(self) -> ValueChecker:
        return _check_media

    @property
    def structured(self) -> bool:
        return True


class ImageField(_MediaField):
    """An image: a URL/path, or ``{"url", "width", "height"}``."""

    type: Literal["image"] = "image"


class AudioField(_MediaField):
    """An audio clip: a URL/path, or ``{"url", "duration"}``."""

    type: Literal["audio"] = "audio"


class VideoField(_MediaField):
    """A video: a URL/path, or ``{"url", "width", "height", "duration"}``."""

    type: Literal["video"] = "video"


def _check_media(value: Any) -> Any:
    if isinstance(value, str):
        if not value.strip():
            raise ValidationError("must be a non-empty URL or path")
        return value
    if not isinstance(value, dict):
        raise ValidationError(f"must be a URL/path string or an object with 'url', got {type_name(value)}")
    url = value.get("url")
    if not isinstance(url, str) or not url.strip():
        raise ValidationError("must be a non-empty URL or path string", field="url")
    for key in ("width", "height"):
        if key in value and value[key] is not None:
            v = value[key]
            if isinstance(v, float) and v.is_integer():
                v = int(v)
            if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
                raise ValidationError("must be a positive integer (pixels)", field=key)
    if "duration" in value and value["duration"] is not None:
        d = value["duration"]
        if not _is_number(d) or d <= 0:
            raise ValidationError("must be a positive number (seconds)", field="duration")
    return value


@dataclass(frozen=True, slots=True)
class MediaInfo:
    """What is known of a media value: its URL and, when given, its size and duration."""

    url: str
    width: int | None = None
    height: int | None = None
    duration: float | None = None


def media_info(value: Any) -> MediaInfo:
    """The URL/size/duration of an (already valid) media value."""
    if isinstance(value, str):
        return MediaInfo(value)
    if isinstance(value, dict):
        w: Any = value.get("width")
        h: Any = value.get("height")
        d: Any = value.get("duration")
        return MediaInfo(
            str(value.get("url", "")),
            int(w) if _is_number(w) else None,
            int(h) if _is_number(h) else None,
            float(d) if _is_number(d) else None,
        )
    return MediaInfo("")


class ChatField(BaseField):
    """A conversation: ``[{"role", "content", ...}]``."""

    type: Literal["chat"] = "chat"

    def checker(self) -> ValueChecker:
        return _check_chat

    @property
    def structured(self) -> bool:
        return True


def _check_chat(value: Any) -> list[Any]:
    msgs = _expect_list(value, "")
    for i, m in enumerate(msgs):
        p = f"[{i}]"
        if not isinstance(m, dict):
            raise ValidationError(f"a message must be an object, got {type_name(m)}", field=p)
        role = m.get("role")
        if role not in CHAT_ROLES:
            raise ValidationError(
                f"role must be one of {', '.join(sorted(CHAT_ROLES))}, got {role!r}", field=f"{p}.role"
            )
        if "content" not in m:
            raise ValidationError("is missing", field=f"{p}.content")
        content = m["content"]
        if not isinstance(content, str) and not (content is None and m.get("tool_calls")):
            raise ValidationError(f"must be a string, got {type_name(content)}", field=f"{p}.content")
    return msgs


class ComparisonField(BaseField):
    """Two or more candidate responses: ``[{"id"?, "model"?, "text", ...}]``.

    Comparisons are blind: whoever answers through a lease sees each candidate's text under an
    opaque letter (A, B …), never its id, model or provenance; ``show_models: true`` shows them."""

    type: Literal["comparison"] = "comparison"
    show_models: bool = False

    def checker(self) -> ValueChecker:
        return _check_comparison

    @property
    def structured(self) -> bool:
        return True


def _candidate_id(c: dict[str, Any], i: int) -> str:
    cid = c.get("id")
    if cid is None:
        cid = c.get("model")
    return str(i) if cid is None else str(cid)


def candidate_ids(value: Any) -> list[str]:
    """The ids of a comparison value's candidates: ``id``, else ``model``, else the index."""
    if not isinstance(value, list):
        return []
    return [_candidate_id(c, i) if isinstance(c, dict) else str(i) for i, c in enumerate(value)]


def _check_comparison(value: Any) -> list[Any]:
    cands = _expect_list(value, "")
    if len(cands) < 2:
        raise ValidationError(f"must hold at least 2 candidates, got {len(cands)}")
    out: list[Any] = []
    seen: dict[str, int] = {}
    for i, c in enumerate(cands):
        p = f"[{i}]"
        if not isinstance(c, dict):
            raise ValidationError(f"a candidate must be an object with 'text', got {type_name(c)}", field=p)
        for key in ("id", "model"):
            v = c.get(key)
            if v is not None and (not isinstance(v, str | int) or isinstance(v, bool)):
                raise ValidationError(f"must be a string, got {type_name(v)}", field=f"{p}.{key}")
            if isinstance(v, int):
                c = {**c, key: str(v)}
        if "text" not in c:
            raise ValidationError("is missing", field=f"{p}.text")
        if not isinstance(c["text"], str):
            raise ValidationError(f"must be a string, got {type_name(c['text'])}", field=f"{p}.text")
        cid = _candidate_id(c, i)
        if cid in seen:
            raise ValidationError(
                f"candidate id {cid!r} is used twice (candidates {seen[cid]} and {i}); "
                "give each candidate a distinct 'id' or 'model'",
                field=p,
            )
        seen[cid] = i
        out.append(c)
    return out


class TrajectoryField(BaseField):
    """An agent trajectory: ``{"task"?, "steps": [...], "outcome"?, "tools"?, ...}``."""

    type: Literal["trajectory"] = "trajectory"

    def checker(self) -> ValueChecker:
        return normalize_trajectory

    @property
    def structured(self) -> bool:
        return True


class JsonField(BaseField):
    """Any JSON value, shown as a tree."""

    type: Literal["json"] = "json"

    def checker(self) -> ValueChecker:
        return check_json

    @property
    def structured(self) -> bool:
        return True


def check_json(value: Any, path: str = "") -> Any:
    """``value`` if it is JSON that can be stored; else the error, naming the place inside it."""
    if isinstance(value, str):
        return check_text(value, path or None)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if not json_int_fits(value):
            raise ValidationError("is an integer beyond 64 bits", field=path or None)
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValidationError("must be a finite number (JSON has no NaN or Infinity)", field=path or None)
        return value
    if isinstance(value, list):
        for i, v in enumerate(value):
            check_json(v, f"{path}[{i}]")
        return value
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise ValidationError(f"object keys must be strings, got {type_name(k)}", field=path or None)
            check_text(k, path or None)
            check_json(v, _p(path, k))
        return value
    raise ValidationError(f"is not JSON-serialisable ({type(value).__name__})", field=path or None)


FieldSpec = Annotated[
    TextField
    | MarkdownField
    | ImageField
    | AudioField
    | VideoField
    | ChatField
    | ComparisonField
    | TrajectoryField
    | JsonField,
    Field(discriminator="type"),
]
"""Any field spec; Pydantic picks the class by ``type``."""

FIELD_TYPES: tuple[str, ...] = (
    "text",
    "markdown",
    "image",
    "audio",
    "video",
    "chat",
    "comparison",
    "trajectory",
    "json",
)


# --------------------------------------------------------------------------- trajectories

_TRAJ_KEYS = frozenset({"task", "steps", "outcome", "tools", "agents", "reference", "metadata"})


def _opt_str(d: dict[str, Any], key: str, path: str) -> None:
    if key in d and d[key] is not None and not isinstance(d[key], str):
        raise ValidationError(f"must be a string, got {type_name(d[key])}", field=_p(path, key))


def _normalize_step(step: Any, i: int, path: str, agents: set[str] | None) -> dict[str, Any]:
    if not isinstance(step, dict):
        raise ValidationError(f"a step must be an object, got {type_name(step)}", field=path)
    s = dict(step)
    if "index" in s and s["index"] is not None:
        idx = s["index"]
        if not isinstance(idx, int) or isinstance(idx, bool):
            raise ValidationError(f"must be an integer, got {type_name(idx)}", field=f"{path}.index")
        if idx != i:
            raise ValidationError(
                f"is {idx} but this is step {i}; steps are numbered by position from 0 "
                "(leave 'index' out to number them automatically)",
                field=f"{path}.index",
            )
    s["index"] = i
    role = s.get("role")
    if role not in STEP_ROLES:
        raise ValidationError(
            f"must be one of {', '.join(sorted(STEP_ROLES))}, got {role!r}", field=f"{path}.role"
        )
    for key in ("actor", "content", "observation"):
        _opt_str(s, key, path)
    if agents is not None and isinstance(s.get("actor"), str) and s["actor"] not in agents:
        raise ValidationError(
            f"actor {s['actor']!r} is not one of the trajectory's agents: {', '.join(sorted(agents))}",
            field=f"{path}.actor",
        )
    if s.get("tool_calls") is not None:
        calls = _expect_list(s["tool_calls"], f"{path}.tool_calls")
        new_calls = []
        for j, c in enumerate(calls):
            cp = f"{path}.tool_calls[{j}]"
            c = dict(_expect_dict(c, cp))
            _opt_str(c, "id", cp)
            name = c.get("name")
            if not isinstance(name, str) or not name:
                raise ValidationError("must be a non-empty string (the tool's name)", field=f"{cp}.name")
            args = c.get("arguments", {})
            if args is None:
                args = {}
            if isinstance(args, str):
                try:
                    args = json.loads(args) if args.strip() else {}
                except ValueError:
                    raise ValidationError(
                        "must be an object (or a string holding a JSON object)", field=f"{cp}.arguments"
                    ) from None
            if not isinstance(args, dict):
                raise ValidationError(f"must be an object, got {type_name(args)}", field=f"{cp}.arguments")
            c["arguments"] = args
            new_calls.append(c)
        s["tool_calls"] = new_calls
    if s.get("tool_results") is not None:
        results = _expect_list(s["tool_results"], f"{path}.tool_results")
        for j, r in enumerate(results):
            rp = f"{path}.tool_results[{j}]"
            _expect_dict(r, rp)
            _opt_str(r, "call_id", rp)
            if "content" not in r:
                raise ValidationError("is missing", field=f"{rp}.content")
            if "is_error" in r and r["is_error"] is not None and not isinstance(r["is_error"], bool):
                raise ValidationError(
                    f"must be true or false, got {type_name(r['is_error'])}", field=f"{rp}.is_error"
                )
    if s.get("handoff") is not None:
        h = _expect_dict(s["handoff"], f"{path}.handoff")
        for key in ("from", "to"):
            if not isinstance(h.get(key), str):
                raise ValidationError("must be a string (an agent name)", field=f"{path}.handoff.{key}")
    ts = s.get("timestamp")
    if ts is not None and not (isinstance(ts, str) or _is_number(ts)):
        raise ValidationError(f"must be a string or a number, got {type_name(ts)}", field=f"{path}.timestamp")
    cost = s.get("cost")
    if cost is not None and (not _is_number(cost) or cost < 0):
        raise ValidationError("must be a number ≥ 0", field=f"{path}.cost")
    tokens = s.get("tokens")
    if tokens is not None and (not isinstance(tokens, int) or isinstance(tokens, bool) or tokens < 0):
        raise ValidationError("must be an integer ≥ 0", field=f"{path}.tokens")
    return s


def _normalize_steps(value: Any, path: str, agents: set[str] | None) -> list[dict[str, Any]]:
    steps = _expect_list(value, path)
    return [_normalize_step(s, i, f"{path}[{i}]", agents) for i, s in enumerate(steps)]


def normalize_trajectory(value: Any) -> dict[str, Any]:
    """Validate a trajectory value and return it normalised (a dict; every step indexed)."""
    if isinstance(value, list):
        value = {"steps": value}
    if not isinstance(value, dict):
        raise ValidationError(f"must be an object with 'steps' (or a list of steps), got {type_name(value)}")
    unknown = [k for k in value if k not in _TRAJ_KEYS]
    if unknown:
        raise ValidationError(
            f"unknown key {unknown[0]!r}; a trajectory has: {', '.join(sorted(_TRAJ_KEYS))}",
            field=str(unknown[0]),
        )
    if "steps" not in value:
        raise ValidationError("is missing", field="steps")
    out = dict(value)
    _opt_str(out, "task", "")
    agents: set[str] | None = None
    if out.get("agents") is not None:
        names = _expect_list(out["agents"], "agents")
        for i, a in enumerate(names):
            _expect_str(a, f"agents[{i}]")
        agents = set(names)
    out["steps"] = _normalize_steps(out["steps"], "steps", agents)
    if out.get("reference") is not None:
        out["reference"] = _normalize_steps(out["reference"], "reference", agents)
    if out.get("tools") is not None:
        tools = _expect_list(out["tools"], "tools")
        for i, t in enumerate(tools):
            tp = f"tools[{i}]"
            _expect_dict(t, tp)
            if not isinstance(t.get("name"), str) or not t["name"]:
                raise ValidationError("must be a non-empty string", field=f"{tp}.name")
            _opt_str(t, "description", tp)
            if t.get("parameters") is not None:
                _expect_dict(t["parameters"], f"{tp}.parameters")
    if out.get("metadata") is not None:
        _expect_dict(out["metadata"], "metadata")
    if "outcome" in out:
        check_json(out["outcome"], "outcome")
    return out


def step_count(value: Any) -> int:
    """How many steps a trajectory value (dict or bare list) has; 0 when it is not one."""
    if isinstance(value, list):
        return len(value)
    if isinstance(value, dict):
        steps = value.get("steps")
        if isinstance(steps, list):
            return len(steps)
    return 0


@dataclass(frozen=True, slots=True)
class ToolCall:
    name: str
    arguments: dict[str, Any]
    id: str | None = None


@dataclass(frozen=True, slots=True)
class ToolResult:
    content: Any
    call_id: str | None = None
    is_error: bool = False


@dataclass(frozen=True, slots=True)
class Step:
    """A typed view of one normalised trajectory step (``extra`` holds unknown keys)."""

    index: int
    role: str
    actor: str | None = None
    content: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    observation: str | None = None
    tool_results: tuple[ToolResult, ...] = ()
    handoff: tuple[str, str] | None = None
    timestamp: str | float | None = None
    cost: float | None = None
    tokens: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    _KNOWN = frozenset(
        {
            "index",
            "role",
            "actor",
            "content",
            "tool_calls",
            "observation",
            "tool_results",
            "handoff",
            "timestamp",
            "cost",
            "tokens",
        }
    )

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Step:
        h = d.get("handoff")
        return cls(
            index=int(d["index"]),
            role=str(d["role"]),
            actor=d.get("actor"),
            content=d.get("content"),
            tool_calls=tuple(
                ToolCall(c["name"], dict(c.get("arguments") or {}), c.get("id"))
                for c in d.get("tool_calls") or ()
            ),
            observation=d.get("observation"),
            tool_results=tuple(
                ToolResult(r.get("content"), r.get("call_id"), bool(r.get("is_error", False)))
                for r in d.get("tool_results") or ()
            ),
            handoff=(str(h["from"]), str(h["to"])) if isinstance(h, dict) else None,
            timestamp=d.get("timestamp"),
            cost=d.get("cost"),
            tokens=d.get("tokens"),
            extra={k: v for k, v in d.items() if k not in cls._KNOWN},
        )


@dataclass(frozen=True, slots=True)
class Trajectory:
    """A typed view of a trajectory value; build it with :meth:`from_value`."""

    steps: tuple[Step, ...]
    task: str | None = None
    outcome: Any = None
    tools: tuple[dict[str, Any], ...] = ()
    agents: tuple[str, ...] = ()
    reference: tuple[Step, ...] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_value(cls, value: Any) -> Trajectory:
        """Validate, normalise and wrap a trajectory value (dict or bare list of steps)."""
        v = normalize_trajectory(value)
        ref = v.get("reference")
        return cls(
            steps=tuple(Step.from_dict(s) for s in v["steps"]),
            task=v.get("task"),
            outcome=v.get("outcome"),
            tools=tuple(v.get("tools") or ()),
            agents=tuple(v.get("agents") or ()),
            reference=tuple(Step.from_dict(s) for s in ref) if ref is not None else None,
            metadata=dict(v.get("metadata") or {}),
        )

    def __len__(self) -> int:
        return len(self.steps)
