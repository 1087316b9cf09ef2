"""Pre-checks on an agent trajectory: faults a machine can see before any person looks.

:func:`run_checks` takes a trajectory value (as :func:`assay.domain.fields.normalize_trajectory`
returns it) and returns :class:`Finding` s, each naming a step, the check, the verdict it
suggests and a comment. The checks:

``undeclared_tool``
    a call of a tool the run's ``tools`` list does not declare (only when it declares some).
``invalid_arguments``
    arguments that are not a JSON object, or that fail the declared tool's JSON Schema.
``repeated_call``
    the same tool called again with the same arguments.
``ignored_error``
    a tool result marked ``is_error``, and the next assistant step answers in text without
    acknowledging it (no word of failure, nothing of the error message).
``unknown_agent``
    a hand-off (or a ``transfer_to_<agent>`` call) to an agent the run's ``agents`` list
    does not name (only when it names some).

:func:`as_step_review` folds findings into a ``step_review`` answer value — imports store it
as a *suggestion* (model ``assay-precheck``) that a reviewer accepts or rejects, never as a label.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import jsonschema

__all__ = ["CHECKS", "PRECHECK_MODEL", "Finding", "as_step_review", "run_checks"]

PRECHECK_MODEL = "assay-precheck"
CHECKS: dict[str, str] = {
    "undeclared_tool": "wrong_tool",
    "invalid_arguments": "wrong_arguments",
    "repeated_call": "unnecessary",
    "ignored_error": "harmful",
    "unknown_agent": "wrong_tool",
}
"""Each check and the ``step_review`` verdict it suggests."""

# verdicts from the worst down, to pick one when several checks hit a step
_SEVERITY = ("harmful", "wrong_tool", "wrong_arguments", "unnecessary")


@dataclass(frozen=True, slots=True)
class Finding:
    check: str
    step: int
    verdict: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"check": self.check, "step": self.step, "verdict": self.verdict, "message": self.message}


def _canon(value: Any) -> Any:
    """A JSON value with integral floats as ints and keys sorted, for comparing arguments."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {str(k): _canon(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, list):
        return [_canon(v) for v in value]
    return value


def call_key(name: str, arguments: Any) -> str:
    """A string that is equal for two calls of one tool with equal arguments."""
    return name + "\x00" + json.dumps(_canon(arguments), sort_keys=True, ensure_ascii=False)


def _short(arguments: Any, limit: int = 80) -> str:
    text = json.dumps(arguments, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _style(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def _steps(value: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    steps = value.get("steps")
    return [s for s in steps if isinstance(s, Mapping)] if isinstance(steps, list) else []


def _calls(step: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    calls = step.get("tool_calls")
    return [c for c in calls if isinstance(c, Mapping)] if isinstance(calls, list) else []


def _idx(step: Mapping[str, Any], fallback: int) -> int:
    i = step.get("index")
    return i if isinstance(i, int) and not isinstance(i, bool) else fallback


def _check_tools(value: Mapping[str, Any], out: list[Finding]) -> None:
    tools = value.get("tools")
    declared: dict[str, Mapping[str, Any]] = {}
    if isinstance(tools, list):
        for t in tools:
            if isinstance(t, Mapping) and isinstance(t.get("name"), str):
                declared[str(t["name"])] = t
    agents = value.get("agents")
    agent_styles = {_style(a) for a in agents if isinstance(a, str)} if isinstance(agents, list) else set()
    for pos, step in enumerate(_steps(value)):
        i = _idx(step, pos)
        for call in _calls(step):
            name = str(call.get("name"))
            args = call.get("arguments")
            is_transfer = name.startswith("transfer_to_") and (
                bool(agent_styles) or step.get("handoff") is not None
            )
            if declared and name not in declared and not is_transfer:
                out.append(
                    Finding(
                        "undeclared_tool",
                        i,
                        CHECKS["undeclared_tool"],
                        f"calls tool {name!r}, which the run's tool list does not declare "
                        f"(declared: {', '.join(sorted(declared)[:12])})",
                    )
                )
                continue
            if not isinstance(args, Mapping) or "_raw" in args and len(args) == 1:
                raw = args.get("_raw") if isinstance(args, Mapping) else args
                out.append(
                    Finding(
                        "invalid_arguments",
                        i,
                        CHECKS["invalid_arguments"],
                        f"the arguments of {name!r} are not a JSON object: {str(raw)[:80]!r}",
                    )
                )
                continue
            schema = declared.get(name, {}).get("parameters")
            if isinstance(schema, Mapping):
                problem = _schema_problem(dict(schema), dict(args))
                if problem is not None:
                    out.append(
                        Finding(
                            "invalid_arguments",
                            i,
                            CHECKS["invalid_arguments"],
                            f"the arguments of {name!r} do not fit its schema: {problem}",
                        )
                    )


def _schema_problem(schema: dict[str, Any], args: dict[str, Any]) -> str | None:
    try:
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
        validator = cls(schema)
        error = jsonschema.exceptions.best_match(validator.iter_errors(args))
    except jsonschema.exceptions.SchemaError:
        return None  # a broken tool declaration is not the agent's fault
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path)
    return f"{where + ': ' if where else ''}{error.message}"


def _check_repeats(value: Mapping[str, Any], out: list[Finding]) -> None:
    seen: dict[str, int] = {}
    for pos, step in enumerate(_steps(value)):
        i = _idx(step, pos)
        for call in _calls(step):
            name = str(call.get("name"))
            key = call_key(name, call.get("arguments"))
            if key in seen:
                out.append(
                    Finding(
                        "repeated_call",
                        i,
                        CHECKS["repeated_call"],
                        f"repeats the call {name}({_short(call.get('arguments'))}) of step {seen[key]} "
                        "with the same arguments",
                    )
                )
            else:
                seen[key] = i


_ACK = re.compile(
    r"\b(error|errors|fail\w*|unable|unfortunately|sorry|apolog\w*|couldn'?t|could not|cannot|can'?t|"
    r"not able|issue|problem|invalid|not found|denied|retry|again|instead|wrong|mistake|incorrect|"
    r"insufficient|not enough|exceed\w*|not possible|unsuccessful|didn'?t work|did not work|"
    r"doesn'?t|does not|isn'?t|is not|wasn'?t|was not|however)\b",
    re.I,
)
_WORD = re.compile(r"[a-z0-9_]{5,}", re.I)
_COMMON = frozenset({"error", "about", "there", "their", "which", "would", "could", "should", "please"})


def _acknowledges(text: str, error_text: str) -> bool:
    if _ACK.search(text):
        return True
    words = {w.lower() for w in _WORD.findall(error_text)} - _COMMON
    low = text.lower()
    return any(w in low for w in words)


def _check_ignored_errors(value: Mapping[str, Any], out: list[Finding]) -> None:
    steps = _steps(value)
    for pos, step in enumerate(steps):
        results = step.get("tool_results")
        if not isinstance(results, list):
            continue
        errors = [r for r in results if isinstance(r, Mapping) and r.get("is_error") is True]
        if not errors:
            continue
        error_text = " ".join(str(r.get("content")) for r in errors)
        nxt = next((s for s in steps[pos + 1 :] if s.get("role") == "assistant"), None)
        if nxt is None or _calls(nxt):
            continue  # the run ends, or it acts again (a retry or another way): not ignored
        text = nxt.get("content")
        if not isinstance(text, str) or not text.strip() or _acknowledges(text, error_text):
            continue
        j = _idx(nxt, steps.index(nxt))
        out.append(
            Finding(
                "ignored_error",
                j,
                CHECKS["ignored_error"],
                f"goes on as if the tool call had worked, but step {_idx(step, pos)} returned an error: "
                f"{error_text[:100]!r}",
            )
        )


def _check_handoffs(value: Mapping[str, Any], out: list[Finding]) -> None:
    agents = value.get("agents")
    if not isinstance(agents, list) or not agents:
        return
    names = [a for a in agents if isinstance(a, str)]
    styles = {_style(a) for a in names}
    for pos, step in enumerate(_steps(value)):
        i = _idx(step, pos)
        targets: list[str] = []
        h = step.get("handoff")
        if isinstance(h, Mapping) and isinstance(h.get("to"), str):
            targets.append(str(h["to"]))
        else:
            targets += [
                str(c["name"])[len("transfer_to_") :]
                for c in _calls(step)
                if isinstance(c.get("name"), str) and str(c["name"]).startswith("transfer_to_")
            ]
        for t in targets:
            if t not in names and _style(t) not in styles:
                out.append(
                    Finding(
                        "unknown_agent",
                        i,
                        CHECKS["unknown_agent"],
                        f"hands off to {t!r}, which is not one of the run's agents: {', '.join(names)}",
                    )
                )


_RUNNERS = {
    "undeclared_tool": _check_tools,
    "invalid_arguments": _check_tools,
    "repeated_call": _check_repeats,
    "ignored_error": _check_ignored_errors,
    "unknown_agent": _check_handoffs,
}


def run_checks(value: Mapping[str, Any], checks: Iterable[str] | None = None) -> list[Finding]:
    """The findings of the named checks (all by default) on a normalised trajectory value."""
    wanted = set(CHECKS if checks is None else checks)
    unknown = wanted - set(CHECKS)
    if unknown:
        raise ValueError(f"unknown check {sorted(unknown)[0]!r}; checks are: {', '.join(CHECKS)}")
    found: list[Finding] = []
    done: set[object] = set()
    for name in CHECKS:
        runner = _RUNNERS[name]
        if name in wanted and runner not in done:
            done.add(runner)
            runner(value, found)
    found = [f for f in found if f.check in wanted]
    return sorted(found, key=lambda f: (f.step, f.check))


def as_step_review(findings: Iterable[Finding], verdicts: Collection[str] | None = None) -> dict[str, Any]:
    """Findings as a ``step_review`` value ``{"<step>": {"verdict", "comment"}}``, one entry per step
    (the worst verdict, every finding's message in the comment). ``verdicts`` are the question's
    verdicts: a suggested verdict it lacks becomes its last one (verdicts are listed from good to bad)."""
    by_step: dict[int, list[Finding]] = {}
    for f in findings:
        by_step.setdefault(f.step, []).append(f)
    allowed = list(verdicts) if verdicts is not None else None
    fallback = next((v for v in reversed(allowed or []) if v != "correct"), None)
    out: dict[str, Any] = {}
    for step in sorted(by_step):
        fs = by_step[step]
        verdict = min((f.verdict for f in fs), key=lambda v: _SEVERITY.index(v) if v in _SEVERITY else 99)
        if allowed is not None and verdict not in allowed:
            if fallback is None:
                continue
            verdict = fallback
        comment = "; ".join(f"[{f.check}] {f.message}" for f in fs)
        out[str(step)] = {"verdict": verdict, "comment": comment}
    return out
