"""Rule-based graders as connectors: regular expressions, exact match against a reference, JSON Schema.

A grader answers like a model, with JSON text (``{"<question>": value, "score": 1.0}``), so it
enters pre-labeling and routing as a contributor like any other (verifiable rewards). It reads the
record's fields from the message it is sent: the JSON object of the fields (what
:func:`fields_message` makes). Each rule names a question, a field and a test, and the value to
answer when the test holds; the first rule of a question that holds answers it, else the
question's ``default`` (when given), else the question is left unanswered.

Patterns are bounded: at most :data:`MAX_PATTERN` characters, no nested quantifiers (the shapes
that backtrack exponentially, such as ``(a+)+``), searched in at most :data:`MAX_TEXT` characters.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from assay.connectors.base import BaseConnector, Completion, ConnectorError, Message

__all__ = ["MAX_PATTERN", "MAX_TEXT", "RuleGrader", "check_pattern", "fields_message"]

MAX_PATTERN = 500
MAX_TEXT = 100_000
# A group holding a quantifier, itself quantified: (a+)+, (a*)*, (a|aa){2,} …
_NESTED = re.compile(r"\((?:[^()\\]|\\.)*(?:[+*]|\{\d*,?\d*\})(?:[^()\\]|\\.)*\)\s*(?:[+*]|\{\d*,?\d*\})")
_BACKREF = re.compile(r"\\[1-9]|\(\?P=")


def check_pattern(pattern: str) -> re.Pattern[str]:
    """The compiled pattern, or ``ValueError`` naming why it is refused."""
    if not isinstance(pattern, str) or not pattern:
        raise ValueError("a pattern must be a non-empty string")
    if len(pattern) > MAX_PATTERN:
        raise ValueError(f"a pattern may have at most {MAX_PATTERN} characters")
    if _NESTED.search(pattern):
        raise ValueError(f"nested quantifiers may backtrack without end: {pattern!r}")
    if _BACKREF.search(pattern):
        raise ValueError(f"back-references are not allowed: {pattern!r}")
    try:
        return re.compile(pattern)
    except re.error as e:
        raise ValueError(f"not a regular expression ({e}): {pattern!r}") from None


def fields_message(fields: dict[str, Any]) -> list[Message]:
    """The message a grader reads: the record's fields as a JSON object."""
    return [{"role": "user", "content": json.dumps(fields, ensure_ascii=False, default=str)}]


def _text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text[:MAX_TEXT]


class _Rule:
    def __init__(self, spec: dict[str, Any]) -> None:
        if not isinstance(spec, dict) or not spec.get("question") or not spec.get("field"):
            raise ValueError("each rule needs a question and a field")
        self.question = str(spec["question"])
        self.field = str(spec["field"])
        self.value = spec.get("value", True)
        tests = [k for k in ("pattern", "equals_field", "equals", "json_schema") if k in spec]
        if len(tests) != 1:
            raise ValueError("each rule needs one of pattern, equals, equals_field, json_schema")
        self.test = tests[0]
        self.pattern = check_pattern(spec["pattern"]) if self.test == "pattern" else None
        self.arg = spec[self.test]
        if self.test == "json_schema":
            from jsonschema import Draft202012Validator

            Draft202012Validator.check_schema(self.arg)
            self.validator: Any = Draft202012Validator(self.arg)

    def holds(self, fields: dict[str, Any]) -> bool:
        value = fields.get(self.field)
        if self.pattern is not None:
            return value is not None and self.pattern.search(_text(value)) is not None
        if self.test == "equals":
            return bool(_norm(value) == _norm(self.arg))
        if self.test == "equals_field":
            return value is not None and bool(_norm(value) == _norm(fields.get(str(self.arg))))
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                return False
        return bool(self.validator.is_valid(value))


def _norm(value: Any) -> Any:
    return " ".join(value.split()).casefold() if isinstance(value, str) else value


class RuleGrader(BaseConnector):
    """A connector that grades a record's fields by rules (see the module's doc)."""

    def __init__(
        self,
        rules: Sequence[dict[str, Any]],
        *,
        name: str = "rules",
        defaults: dict[str, Any] | None = None,
        max_concurrency: int = 1,
    ) -> None:
        super().__init__(name, params={}, max_concurrency=max_concurrency)
        if not rules:
            raise ValueError("a rule grader needs at least one rule")
        self.rules = [_Rule(r) for r in rules]
        self.defaults = dict(defaults or {})
        self.spec = {"rules": list(rules), "defaults": self.defaults}

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "rules": len(self.rules)}

    def _call(self, messages: Sequence[Message], params: dict[str, Any]) -> Completion:
        self._count_call()
        try:
            fields = json.loads(str(messages[-1].get("content") or "{}"))
        except ValueError as e:
            raise ConnectorError(f"{self.model}: the message is not the record's fields as JSON") from e
        if not isinstance(fields, dict):
            raise ConnectorError(f"{self.model}: the message is not the record's fields as JSON")
        answer: dict[str, Any] = {}
        for rule in self.rules:
            if rule.question not in answer and rule.holds(fields):
                answer[rule.question] = rule.value
        for q, v in self.defaults.items():
            answer.setdefault(q, v)
        return Completion(text=json.dumps({**answer, "score": 1.0}))
