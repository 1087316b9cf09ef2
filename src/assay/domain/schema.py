"""A project's schema: fields shown, questions asked, workflow, routing and guidelines."""

from __future__ import annotations

import json
from typing import Any

import pydantic
import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .errors import ValidationError
from .fields import FIELD_TYPES, FieldSpec
from .personal_data import Privacy
from .question_types import QUESTION_FIELD_TYPES, QUESTION_TYPES
from .questions import QuestionSpec
from .safety import SafetyConfig
from .text import clean_name
from .workflow import Routing, Workflow

__all__ = ["PRIVACY_FIELD_TYPES", "RESERVED_NAMES", "ProjectSchema", "from_pydantic_error"]

PRIVACY_FIELD_TYPES = frozenset({"text", "markdown", "chat"})
"""The field types whose text the personal-data detectors read (a chat: each message's content)."""

RESERVED_NAMES = frozenset({"external_id", "id", "fields", "metadata", "priority", "gold", "suggestions"})
"""Keys of a record row; no field may take one of these names."""


class _Dumper(yaml.SafeDumper):
    """Writes multi-line strings (guidelines) as ``|`` blocks."""


def _str_representer(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    if "\n" in data:
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", data)


_Dumper.add_representer(str, _str_representer)

_TAGS = {"fields": frozenset(FIELD_TYPES), "questions": frozenset(QUESTION_TYPES)}


def _loc_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    prev_list: str | None = None
    i = 0
    while i < len(loc):
        part = loc[i]
        if isinstance(part, int):
            path += f"[{part}]"
            # a discriminated union puts the tag after the index: ('questions', 2, 'rating', ...)
            if prev_list in _TAGS and i + 1 < len(loc) and loc[i + 1] in _TAGS[prev_list]:
                i += 1
            prev_list = None
        else:
            s = str(part)
            if s.startswith("function-") or s.startswith("tagged-union["):
                i += 1
                continue
            path = f"{path}.{s}" if path else s
            prev_list = s
        i += 1
    return path


def from_pydantic_error(exc: pydantic.ValidationError) -> ValidationError:
    """Turn Pydantic's error into ours: the first problem, its path, and all of them in details."""
    problems = []
    for e in exc.errors(include_url=False):
        loc = tuple(e.get("loc", ()))
        path = _loc_path(loc)
        kind = e.get("type", "")
        msg = str(e.get("msg", "invalid"))
        ctx = e.get("ctx") or {}
        if kind == "extra_forbidden":
            parts = path.rsplit(".", 1)
            key = parts[-1]
            msg = f"unknown key {key!r}"
        elif kind == "missing":
            msg = "is missing"
        elif kind == "union_tag_invalid":
            tag = ctx.get("tag")
            expected = ctx.get("expected_tags", "")
            path = f"{path}.type" if path else "type"
            msg = f"unknown type {tag!r}; expected one of: {expected}"
        elif kind == "union_tag_not_found":
            path = f"{path}.type" if path else "type"
            msg = "is missing (every entry needs a 'type')"
        elif msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        elif msg.startswith("Assertion failed, "):
            msg = msg[len("Assertion failed, ") :]
        problems.append({"field": path, "message": msg})
    first = problems[0] if problems else {"field": "", "message": "invalid schema"}
    message = first["message"]
    if len(problems) > 1:
        message += f" (and {len(problems) - 1} more problem{'s' if len(problems) > 2 else ''})"
    return ValidationError(message, field=first["field"] or None, details={"errors": problems})


class ProjectSchema(BaseModel):
    """Everything a project asks: build it with :meth:`from_yaml`, :meth:`from_json` or :meth:`from_dict`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    fields: list[FieldSpec] = Field(min_length=1)
    questions: list[QuestionSpec] = Field(min_length=1)
    workflow: Workflow = Field(default_factory=Workflow)
    routing: Routing = Field(default_factory=Routing)
    guidelines: str = ""
    privacy: Privacy | None = None
    # A content warning over the project's content (red-teaming: attacks and harmful answers):
    # the text shown over it ("" or true: the UI's default wording). It covers the fields and
    # questions marked ``sensitive``, or every field and answer when none is marked.
    content_warning: str | None = None
    safety: SafetyConfig | None = None
    """A red-teaming campaign's taxonomy (:mod:`assay.domain.safety`)."""

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        try:
            return clean_name(v, what="project name")
        except ValidationError as e:
            raise ValueError(e.message) from None

    @field_validator("workflow", "routing", mode="before")
    @classmethod
    def _none_is_default(cls, v: Any) -> Any:
        return {} if v is None else v

    @field_validator("safety", mode="before")
    @classmethod
    def _safety(cls, v: Any) -> Any:
        # our ValidationError passes through Pydantic unchanged: its field is prefixed here
        if v is None or isinstance(v, SafetyConfig):
            return v
        try:
            return SafetyConfig.from_dict(v)
        except ValidationError as e:
            raise e.at(field="safety") from None

    @field_validator("guidelines", mode="before")
    @classmethod
    def _none_guidelines(cls, v: Any) -> Any:
        return "" if v is None else v

    @field_validator("content_warning", mode="before")
    @classmethod
    def _warning_flag(cls, v: Any) -> Any:
        if v is True:
            return ""
        if v is False:
            return None
        return v

    @field_validator("content_warning")
    @classmethod
    def _warning_text(cls, v: str | None) -> str | None:
        if v is not None and len(v) > 2000:
            raise ValueError("a content warning has at most 2,000 characters")
        return v.strip() if v is not None else None

    # ---------------------------------------------------------------- construction

    @classmethod
    def from_dict(cls, data: Any) -> ProjectSchema:
        """Validate a plain dict (as parsed from YAML/JSON); raises ``ValidationError``."""
        if not isinstance(data, dict):
            raise ValidationError(f"a schema must be a mapping, got {type(data).__name__}")
        try:
            schema = cls.model_validate(data)
        except pydantic.ValidationError as exc:
            raise from_pydantic_error(exc) from None
        return schema

    @classmethod
    def from_yaml(cls, text: str) -> ProjectSchema:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 if mark is not None else None
            problem = getattr(exc, "problem", None) or str(exc)
            raise ValidationError(f"not valid YAML: {problem}", line=line) from None
        return cls.from_dict(data)

    @classmethod
    def from_json(cls, text: str | bytes) -> ProjectSchema:
        try:
            data = json.loads(text)
        except ValueError as exc:
            line = getattr(exc, "lineno", None)
            raise ValidationError(f"not valid JSON: {exc}", line=line) from None
        return cls.from_dict(data)

    @classmethod
    def from_text(cls, text: str) -> ProjectSchema:
        """YAML or JSON (JSON is YAML, but JSON errors read better from the JSON parser)."""
        if text.lstrip().startswith("{"):
            return cls.from_json(text)
        return cls.from_yaml(text)

    @model_validator(mode="after")
    def _references(self) -> ProjectSchema:
        # raises our ValidationError (not a ValueError), which Pydantic lets through unchanged,
        # so that schemas built in Python (the SDK) get the same checks and the same errors
        self._check_references()
        return self

    def _check_references(self) -> None:
        seen: dict[str, str] = {}
        for i, f in enumerate(self.fields):
            where = f"fields[{i}].name"
            if f.name in RESERVED_NAMES:
                raise ValidationError(
                    f"{f.name!r} is reserved for record rows ({', '.join(sorted(RESERVED_NAMES))}); "
                    "choose another field name",
                    field=where,
                )
            if f.name in seen:
                raise ValidationError(f"the name {f.name!r} is used twice", field=where)
            seen[f.name] = "field"
        by_name = {f.name: f for f in self.fields}
        if self.privacy is not None:
            for i, name in enumerate(self.privacy.fields or []):
                where = f"privacy.fields[{i}]"
                if name not in by_name:
                    raise ValidationError(
                        f"no field named {name!r}; fields are: {', '.join(by_name)}", field=where
                    )
                if by_name[name].type not in PRIVACY_FIELD_TYPES:
                    raise ValidationError(
                        f"personal data is looked for in text, markdown and chat fields; {name!r} is "
                        f"{by_name[name].type}",
                        field=where,
                    )
        for i, q in enumerate(self.questions):
            where = f"questions[{i}].name"
            if q.name in seen:
                other = "a field" if seen[q.name] == "field" else "another question"
                raise ValidationError(f"the name {q.name!r} is already used by {other}", field=where)
            seen[q.name] = "question"
            target = q.target
            if target is None:
                continue
            fwhere = f"questions[{i}].field"
            if target not in by_name:
                raise ValidationError(
                    f"no field named {target!r}; fields are: {', '.join(by_name)}",
                    field=fwhere,
                )
            allowed = QUESTION_FIELD_TYPES.get(q.type)
            ftype = by_name[target].type
            if allowed is not None and ftype not in allowed:
                raise ValidationError(
                    f"a {q.type} question needs a field of type {' or '.join(sorted(allowed))}; "
                    f"{target!r} is {ftype}",
                    field=fwhere,
                )

    # ---------------------------------------------------------------- output

    def to_dict(self) -> dict[str, Any]:
        """A plain JSON-able dict; ``ProjectSchema.from_dict(s.to_dict()) == s``."""
        out = self.model_dump(mode="json", exclude_none=True)
        # name and type first: easier to read in YAML; ``sensitive`` only where it is set
        for key in ("fields", "questions"):
            out[key] = [
                {
                    "name": d["name"],
                    "type": d["type"],
                    **{k: v for k, v in d.items() if k != "sensitive" or v},
                }
                for d in out[key]
            ]
        return out

    def to_json(self, *, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    def to_yaml(self) -> str:
        return yaml.dump(self.to_dict(), Dumper=_Dumper, sort_keys=False, allow_unicode=True)

    # ---------------------------------------------------------------- lookups

    def field(self, name: str) -> FieldSpec:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    def question(self, name: str) -> QuestionSpec:
        """The question ``name``; an unknown name is invalid input (field ``question``)."""
        for q in self.questions:
            if q.name == name:
                return q
        known = ", ".join(q.name for q in self.questions)
        raise ValidationError(f"no question named {name!r}; questions are: {known}", field="question")

    @property
    def privacy_fields(self) -> list[str]:
        """The fields personal data is looked for in on import (none without a ``privacy`` policy)."""
        if self.privacy is None:
            return []
        if self.privacy.fields is not None:
            return list(self.privacy.fields)
        return [f.name for f in self.fields if f.type in PRIVACY_FIELD_TYPES]

    @property
    def sensitive_fields(self) -> list[str]:
        """The fields shown behind a content warning (see ``content_warning``)."""
        marked = [f.name for f in self.fields if f.sensitive]
        if marked or any(q.sensitive for q in self.questions) or self.content_warning is None:
            return marked
        return self.field_names

    @property
    def sensitive_questions(self) -> list[str]:
        """The questions whose answers are shown behind a content warning."""
        marked = [q.name for q in self.questions if q.sensitive]
        if marked or any(f.sensitive for f in self.fields) or self.content_warning is None:
            return marked
        return self.question_names

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    @property
    def question_names(self) -> list[str]:
        return [q.name for q in self.questions]
