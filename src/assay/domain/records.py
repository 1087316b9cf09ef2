"""Validating record rows (the import hot path) and response values.

Both validators compile the schema once into plain Python checks; validating a row costs a
few dict lookups and ``isinstance`` calls per field, never a Pydantic model per row.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import ValidationError, join_path
from .fields import ValueChecker, type_name
from .numbers import MAX_INT, MIN_INT
from .questions import AnswerChecker, StepReviewQuestion
from .schema import RESERVED_NAMES, ProjectSchema
from .text import check_text

__all__ = ["MAX_EXTERNAL_ID", "AnswerValidator", "RecordIn", "RecordValidator", "SuggestionIn"]

# The longest external id and suggestion model name (what their columns hold).
MAX_EXTERNAL_ID = 500
MAX_MODEL = 200

_MISSING: Any = object()


@dataclass(slots=True)
class SuggestionIn:
    """A pre-label: a value for one question, with the model that made it and its score."""

    question: str
    value: Any
    score: float | None = None
    model: str | None = None


@dataclass(slots=True)
class RecordIn:
    """One validated, normalised record row, ready to store."""

    external_id: str
    fields: dict[str, Any]
    metadata: dict[str, Any] = field(default_factory=dict)
    priority: int = 0
    gold: dict[str, Any] | None = None
    suggestions: list[SuggestionIn] = field(default_factory=list)


def _prefix(err: ValidationError, where: str) -> ValidationError:
    err.field = join_path(where, err.field) if err.field else where
    return err


class AnswerValidator:
    """Validates a response's values (or gold answers) against the schema and a record's fields."""

    def __init__(self, schema: ProjectSchema) -> None:
        self.schema = schema
        self._checks: dict[str, AnswerChecker] = {q.name: q.checker() for q in schema.questions}
        self._required: tuple[str, ...] = tuple(q.name for q in schema.questions if q.required)
        self._need_some = frozenset(q.name for q in schema.questions if q.required and q.empty_is_unanswered)
        self._names = ", ".join(q.name for q in schema.questions)
        self._every_step = {
            q.name: q for q in schema.questions if isinstance(q, StepReviewQuestion) and q.require_all
        }
        # ``None`` means "not answered", except for step_pick where it means "no step"
        self._skip_none = frozenset(q.name for q in schema.questions if q.type != "step_pick")

    def check_one(
        self, question: str, value: Any, fields: Mapping[str, Any], *, where: str = "values"
    ) -> Any:
        """Validate one question's value; errors name ``<where>.<question>...``."""
        check = self._checks.get(question)
        if check is None:
            raise ValidationError(
                f"unknown question {question!r}; questions are: {self._names}",
                field=f"{where}.{question}" if where else question,
            )
        try:
            return check(value, fields)
        except ValidationError as err:
            raise _prefix(err, f"{where}.{question}" if where else question) from None

    def validate(
        self, values: Any, fields: Mapping[str, Any], *, partial: bool = False, where: str = "values"
    ) -> dict[str, Any]:
        """Validate all of a response's values; returns them normalised.

        ``partial=True`` (drafts, gold answers) lets required questions be left out. A value of
        ``None`` counts as not answered.
        """
        if not isinstance(values, dict):
            raise ValidationError(
                f"must be an object of question → value, got {type_name(values)}", field=where or None
            )
        out: dict[str, Any] = {}
        for name, value in values.items():
            if value is None and name in self._skip_none:
                continue
            out[name] = self.check_one(name, value, fields, where=where)
        if not partial:
            for name in self._required:
                if name not in out:
                    raise ValidationError("is required", field=f"{where}.{name}" if where else name)
            for name in self._need_some:
                if out[name] == []:
                    raise ValidationError(
                        "is required: mark at least one (or make the question optional, required: false)",
                        field=f"{where}.{name}" if where else name,
                    )
            for name, q in self._every_step.items():
                missing = q.unjudged_agent_steps(out[name], fields) if name in out else []
                if missing:
                    raise ValidationError(
                        "judge every agent step (require_all): no verdict for step"
                        + ("s " if len(missing) > 1 else " ")
                        + ", ".join(map(str, missing)),
                        field=f"{where}.{name}" if where else name,
                    )
        return out


def _parse_json_cell(value: Any) -> Any:
    """A CSV cell that looks like JSON is parsed; anything else is returned unchanged."""
    if isinstance(value, str):
        s = value.strip()
        if s[:1] in ("{", "[", '"') or s in ("null", "true", "false"):
            try:
                return json.loads(s)
            except ValueError:
                return value
    return value


def _parse_json_field(value: Any) -> Any:
    """A cell of a ``json`` field: any JSON text is parsed; other text stays a string."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


class RecordValidator:
    """Validates record rows (one JSONL line, one CSV/Parquet row) against a schema.

    ``from_strings=True`` reads CSV cells: JSON-looking cells of chat/comparison/trajectory/json
    (and media) fields and of ``metadata``/``gold``/``suggestions`` are parsed, ``priority`` is
    read as an integer, and an empty cell counts as missing for all but text fields.
    """

    def __init__(self, schema: ProjectSchema, *, from_strings: bool = False) -> None:
        self.schema = schema
        self.from_strings = from_strings
        self.answers = AnswerValidator(schema)
        self._field_names = tuple(f.name for f in schema.fields)
        self._field_set = frozenset(self._field_names)
        self._allowed = frozenset(self._field_names) | RESERVED_NAMES
        self._question_set = frozenset(q.name for q in schema.questions)
        # (name, required, checker or None for a plain string field, cell parser or None)
        plan: list[tuple[str, bool, ValueChecker | None, Callable[[Any], Any] | None]] = []
        for f in schema.fields:
            plain = f.type in ("text", "markdown")
            parser: Callable[[Any], Any] | None = None
            if from_strings and not plain:
                parser = _parse_json_field if f.type == "json" else _parse_json_cell
            plan.append((f.name, f.required, None if plain else f.checker(), parser))
        self._plan = tuple(plan)
        self._simple = all(c is None and p is None for _, _, c, p in plan)

    def _unknown(self, row: dict[str, Any]) -> ValidationError:
        for k in row:
            if k not in self._allowed:
                hint = f"fields are: {', '.join(self._field_names)}"
                return ValidationError(f"unknown column {k!r}; {hint}", field=str(k))
        return ValidationError("unknown column")  # pragma: no cover

    def validate(self, row: Any) -> RecordIn:
        if row.__class__ is not dict:
            if not isinstance(row, Mapping):
                raise ValidationError(f"a record must be an object, got {type_name(row)}")
            row = dict(row)
        if not self._allowed.issuperset(row):
            raise self._unknown(row)
        from_strings = self.from_strings

        # ---- external id
        ext = row.get("external_id")
        alias = row.get("id")
        if ext is None or (from_strings and ext == ""):
            ext = alias
        elif alias is not None and str(alias) != str(ext):
            raise ValidationError(
                f"'external_id' ({ext!r}) and 'id' ({alias!r}) disagree; give one of them", field="id"
            )
        if ext.__class__ is not str:
            if ext is None:
                raise ValidationError("is required (or give 'id')", field="external_id")
            if isinstance(ext, int) and not isinstance(ext, bool):
                ext = str(ext)
            else:
                raise ValidationError(
                    f"must be a string or an integer, got {type_name(ext)}", field="external_id"
                )
        if not ext:
            raise ValidationError("must not be empty", field="external_id")
        if "\x00" in ext or len(ext) > MAX_EXTERNAL_ID:
            check_text(ext, "external_id")
            raise ValidationError(f"is longer than {MAX_EXTERNAL_ID} characters", field="external_id")

        # ---- fields
        src = row.get("fields")
        if src is None:
            src = row
            nested = False
        else:
            if src.__class__ is not dict:
                if from_strings and isinstance(src, str):
                    src = _parse_json_cell(src)
                if not isinstance(src, dict):
                    raise ValidationError(
                        f"must be an object of field → value, got {type_name(src)}", field="fields"
                    )
            nested = True
            if not self._field_set.issuperset(src):
                for k in src:
                    if k not in self._field_set:
                        raise ValidationError(
                            f"unknown field {k!r}; fields are: {', '.join(self._field_names)}",
                            field=f"fields.{k}",
                        )
            for name in self._field_names:
                if name in row:
                    raise ValidationError(
                        f"{name!r} is given both at the top level and in 'fields'", field=name
                    )
        values: dict[str, Any] = {}
        if self._simple and not from_strings:
            for name, required, _, _ in self._plan:
                v = src.get(name)
                if v.__class__ is str:
                    values[name] = v
                elif v is None:
                    if required:
                        raise ValidationError("is required", field=f"fields.{name}" if nested else name)
                elif isinstance(v, str):
                    values[name] = str(v)
                else:
                    raise ValidationError(
                        f"must be a string, got {type_name(v)}", field=f"fields.{name}" if nested else name
                    )
        else:
            for name, required, check, parser in self._plan:
                v = src.get(name)
                if parser is not None and v is not None:
                    v = None if v == "" else parser(v)
                if v is None:
                    if required:
                        raise ValidationError("is required", field=f"fields.{name}" if nested else name)
                    continue
                if check is None:
                    if not isinstance(v, str):
                        raise ValidationError(
                            f"must be a string, got {type_name(v)}",
                            field=f"fields.{name}" if nested else name,
                        )
                    values[name] = v
                    continue
                try:
                    values[name] = check(v)
                except ValidationError as err:
                    raise _prefix(err, f"fields.{name}" if nested else name) from None

        # ---- metadata, priority
        metadata = row.get("metadata")
        if metadata is None:
            metadata = {}
        elif metadata.__class__ is not dict:
            if from_strings and isinstance(metadata, str):
                metadata = {} if not metadata.strip() else _parse_json_cell(metadata)
            if not isinstance(metadata, dict):
                raise ValidationError(f"must be an object, got {type_name(metadata)}", field="metadata")
        priority = row.get("priority", 0)
        if priority.__class__ is not int or not MIN_INT <= priority <= MAX_INT:
            priority = self._priority(priority)

        # ---- gold, suggestions
        gold = row.get("gold")
        if gold is not None:
            gold = self._gold(gold, values)
        suggestions_in = row.get("suggestions")
        suggestions: list[SuggestionIn] = []
        if suggestions_in is not None:
            suggestions = self._suggestions(suggestions_in, values)
        return RecordIn(ext, values, metadata, priority, gold, suggestions)

    def validate_fields(self, values: Any) -> dict[str, Any]:
        """Validate and normalise a record's field values alone (e.g. for an update)."""
        if not isinstance(values, dict):
            raise ValidationError(
                f"must be an object of field → value, got {type_name(values)}", field="fields"
            )
        return self.validate({"external_id": "-", "fields": values}).fields

    def _priority(self, v: Any) -> int:
        p = self._integer(v)
        if not MIN_INT <= p <= MAX_INT:
            raise ValidationError(f"must be between {MIN_INT} and {MAX_INT}, got {p}", field="priority")
        return p

    def _integer(self, v: Any) -> int:
        if v is None:
            return 0
        if isinstance(v, str) and self.from_strings:
            s = v.strip()
            if not s:
                return 0
            try:
                return int(s)
            except ValueError:
                try:
                    f = float(s)
                except ValueError:
                    f = math.nan
                if math.isfinite(f) and f.is_integer():
                    return int(f)
                raise ValidationError(f"must be an integer, got {v!r}", field="priority") from None
        if isinstance(v, float) and v.is_integer():
            return int(v)
        if isinstance(v, int) and not isinstance(v, bool):
            return int(v)
        raise ValidationError(f"must be an integer, got {v!r}", field="priority")

    def _gold(self, gold: Any, values: dict[str, Any]) -> dict[str, Any] | None:
        if self.from_strings and isinstance(gold, str):
            if not gold.strip():
                return None
            gold = _parse_json_cell(gold)
        if not isinstance(gold, dict):
            raise ValidationError(
                f"must be an object of question → value, got {type_name(gold)}", field="gold"
            )
        out = self.answers.validate(gold, values, partial=True, where="gold")
        return out or None

    def _suggestions(self, raw: Any, values: dict[str, Any]) -> list[SuggestionIn]:
        if self.from_strings and isinstance(raw, str):
            if not raw.strip():
                return []
            raw = _parse_json_cell(raw)
        if isinstance(raw, dict):
            # shorthand: {"question": value, ...}
            raw = [{"question": k, "value": v} for k, v in raw.items()]
        if not isinstance(raw, list):
            raise ValidationError(f"must be a list of suggestions, got {type_name(raw)}", field="suggestions")
        out: list[SuggestionIn] = []
        allowed = {"question", "value", "score", "model"}
        for i, s in enumerate(raw):
            p = f"suggestions[{i}]"
            if not isinstance(s, dict):
                raise ValidationError(f"must be an object, got {type_name(s)}", field=p)
            for k in s:
                if k not in allowed:
                    raise ValidationError(
                        f"unknown key {k!r}; a suggestion has: question, value, score, model",
                        field=f"{p}.{k}",
                    )
            q = s.get("question")
            if not isinstance(q, str):
                raise ValidationError("is missing (the question's name)", field=f"{p}.question")
            if q not in self._question_set:
                raise ValidationError(
                    f"unknown question {q!r}; questions are: {', '.join(self.schema.question_names)}",
                    field=f"{p}.question",
                )
            if "value" not in s:
                raise ValidationError("is missing", field=f"{p}.value")
            try:
                value = self.answers._checks[q](s["value"], values)
            except ValidationError as err:
                raise _prefix(err, f"{p}.value") from None
            score = s.get("score")
            if score is not None:
                if isinstance(score, bool) or not isinstance(score, int | float) or not math.isfinite(score):
                    raise ValidationError(f"must be a number, got {type_name(score)}", field=f"{p}.score")
                score = float(score)
            model = s.get("model")
            if model is not None and not isinstance(model, str):
                raise ValidationError(f"must be a string, got {type_name(model)}", field=f"{p}.model")
            if model is not None and ("\x00" in model or len(model) > MAX_MODEL):
                check_text(model, f"{p}.model")
                raise ValidationError(f"is longer than {MAX_MODEL} characters", field=f"{p}.model")
            out.append(SuggestionIn(q, value, score, model))
        return out
