"""Safety campaigns (red-teaming): the taxonomy a project is graded against, and attack rows.

A project's schema carries a ``safety`` section (:class:`SafetyConfig`) when the project is part
of a red-teaming campaign: the hazard categories (each with a definition and examples), the attack
tactics (role-play, obfuscation, multi-turn escalation …), the severity levels (lowest first) and
which side of the campaign the project is (``attacks``: the attacks people write; ``grading``: the
targets' answers, graded). assay ships a default modelled on the MLCommons AILuminate v1.0 hazard
categories (``assay.services.safety.default_taxonomy``); any project may write its own.

An attack (:func:`parse_attack`) is one or more user turns written against a category and a tactic;
``benign: true`` marks a look-alike prompt that a model should answer (it measures over-refusal).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .errors import ValidationError

__all__ = [
    "NO_HARM",
    "REFUSALS",
    "Attack",
    "Attempt",
    "HazardCategory",
    "SafetyConfig",
    "SeverityLevel",
    "Tactic",
    "attempts",
    "grade_of",
    "parse_attack",
]

NO_HARM = "none"
"""The harm answer of a safe reply (the other answers are the hazard categories' ids)."""

REFUSALS = ("full", "partial", "none")
"""How much a reply refuses: ``full`` (declines), ``partial`` (hedges or answers part), ``none``."""

_ID = re.compile(r"[a-z][a-z0-9_]{0,39}")
MAX_TURNS = 20
MAX_TURN_CHARS = 20_000


def _check_id(v: str) -> str:
    if not _ID.fullmatch(v):
        raise ValueError(f"{v!r} is not an id: lower-case letters, digits and _, starting with a letter")
    return v


def _non_empty(v: str) -> str:
    if not v.strip():
        raise ValueError("must not be empty")
    return v.strip()


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    name: str
    definition: str

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        return _check_id(v)

    @field_validator("name", "definition")
    @classmethod
    def _texts(cls, v: str) -> str:
        return _non_empty(v)


class HazardCategory(_Entry):
    """A kind of harm an answer may do, e.g. ``vcr`` (violent crimes); ``group`` gathers categories."""

    examples: list[str] = Field(default_factory=list)
    group: str | None = None
    skills: list[str] = Field(default_factory=list)
    """Skills a grader of this category's answers needs (e.g. ``chemistry`` for CBRNE): dispatch
    gives those records only to contributors who have them."""


class Tactic(_Entry):
    """A way of attacking, e.g. role-play; ``multi_turn`` tactics are played over several turns."""

    multi_turn: bool = False


class SeverityLevel(_Entry):
    """How bad a harmful answer is; the config lists the levels from the lowest to the highest."""


def _unique(entries: list[Any], what: str) -> None:
    seen: set[str] = set()
    for i, e in enumerate(entries):
        if e.id in seen:
            raise ValidationError(f"the id {e.id!r} is used twice", field=f"{what}[{i}].id")
        seen.add(e.id)


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


class SafetyConfig(BaseModel):
    """A project's safety taxonomy: the ``safety`` section of its schema."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    role: Literal["attacks", "grading"] = "attacks"
    name: str = "custom"
    source: str = ""
    categories: list[HazardCategory] = Field(min_length=1)
    tactics: list[Tactic] = Field(min_length=1)
    severities: list[SeverityLevel] = Field(min_length=1)
    success_severity: str | None = None
    """The lowest severity that counts an attack as successful (default: any harmful answer)."""
    attacks_project: str | None = None
    """In a grading project: the name of the attack project it grades."""
    grading_project: str | None = None
    """In an attack project: the name of the project its targets' answers are graded in."""

    @model_validator(mode="after")
    def _ids(self) -> SafetyConfig:
        _unique(self.categories, "categories")
        _unique(self.tactics, "tactics")
        _unique(self.severities, "severities")
        for i, c in enumerate(self.categories):
            if c.id == NO_HARM:
                raise ValidationError(
                    f"the id {NO_HARM!r} means 'no harm'; choose another", field=f"categories[{i}].id"
                )
        if self.success_severity is not None and self.success_severity not in self.severity_ids:
            raise ValidationError(
                f"{self.success_severity!r} is not a severity: {', '.join(self.severity_ids)}",
                field="success_severity",
            )
        return self

    @classmethod
    def from_dict(cls, data: Any) -> SafetyConfig:
        """Validate a plain dict; raises :class:`ValidationError` naming the first bad field."""
        if not isinstance(data, Mapping):
            raise ValidationError(f"the safety section is a mapping, got {type(data).__name__}")
        try:
            return cls.model_validate(dict(data))
        except pydantic.ValidationError as exc:
            problems = []
            for e in exc.errors(include_url=False):
                msg = str(e.get("msg", "invalid"))
                kind = e.get("type", "")
                if kind == "extra_forbidden":
                    msg = f"unknown key {str(e['loc'][-1])!r}"
                elif kind == "missing":
                    msg = "is missing"
                elif msg.startswith("Value error, "):
                    msg = msg[len("Value error, ") :]
                problems.append({"field": _loc(tuple(e.get("loc", ()))), "message": msg})
            first = problems[0]
            raise ValidationError(
                first["message"], field=first["field"] or None, details={"errors": problems}
            ) from None

    @property
    def category_ids(self) -> list[str]:
        return [c.id for c in self.categories]

    @property
    def tactic_ids(self) -> list[str]:
        return [t.id for t in self.tactics]

    @property
    def severity_ids(self) -> list[str]:
        return [s.id for s in self.severities]

    def severity_rank(self, severity: str | None) -> int:
        """0 for the lowest level …; -1 for an unknown or missing one."""
        ids = self.severity_ids
        return ids.index(severity) if severity in ids else -1

    def taxonomy(self) -> dict[str, Any]:
        """The taxonomy alone (no role, no project), as JSON-able data."""
        return self.model_dump(
            mode="json", exclude={"role", "attacks_project", "grading_project"}, exclude_none=True
        )


class Attack(BaseModel):
    """One attack: its user turns, the category and tactic it targets, benign look-alike or not."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str | None
    turns: list[str]
    category: str
    tactic: str
    benign: bool = False
    seed: str | None = None
    note: str | None = None

    @property
    def prompt(self) -> str:
        return self.turns[0]

    def fields(self) -> dict[str, Any]:
        """The attack project's record fields."""
        out: dict[str, Any] = {"prompt": self.turns[0]}
        if len(self.turns) > 1:
            out["followups"] = [{"role": "user", "content": t} for t in self.turns[1:]]
        return out

    def metadata(self) -> dict[str, Any]:
        meta: dict[str, Any] = {"category": self.category, "tactic": self.tactic, "benign": self.benign}
        if self.seed:
            meta["seed"] = self.seed
        if self.note:
            meta["note"] = self.note
        return meta


def _text(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError("must be a non-empty text", field=field)
    if len(value) > MAX_TURN_CHARS:
        raise ValidationError(f"at most {MAX_TURN_CHARS} characters", field=field)
    return value


def parse_attack(row: Mapping[str, Any], config: SafetyConfig) -> Attack:
    """An attack from a row ``{id?, prompt | turns, category, tactic, benign?, seed?, note?}``.

    ``turns`` is a list of user turns (texts, or ``{"role": "user", "content"}`` messages); a
    ``prompt`` alone is a single-turn attack. ``category`` and ``tactic`` must be ids of the
    project's taxonomy. Raises :class:`ValidationError` naming the field.
    """
    if not isinstance(row, Mapping):
        raise ValidationError(f"an attack is an object, got {type(row).__name__}")
    known = {"id", "external_id", "prompt", "turns", "category", "tactic", "benign", "seed", "note"}
    extra = sorted(set(row) - known)
    if extra:
        raise ValidationError(
            f"unknown key {extra[0]!r}; an attack has {', '.join(sorted(known))}", field=extra[0]
        )
    raw_turns = row.get("turns")
    turns: list[str] = []
    if raw_turns is not None:
        if row.get("prompt") is not None:
            raise ValidationError("give prompt or turns, not both", field="turns")
        if not isinstance(raw_turns, list) or not raw_turns:
            raise ValidationError("a non-empty list of user turns", field="turns")
        if len(raw_turns) > MAX_TURNS:
            raise ValidationError(f"at most {MAX_TURNS} turns", field="turns")
        for i, t in enumerate(raw_turns):
            if isinstance(t, Mapping):
                if t.get("role", "user") != "user":
                    raise ValidationError("an attack's turns are the user's", field=f"turns[{i}].role")
                t = t.get("content")
            turns.append(_text(t, f"turns[{i}]"))
    else:
        turns = [_text(row.get("prompt"), "prompt")]
    category = row.get("category")
    if category not in config.category_ids:
        raise ValidationError(
            f"unknown hazard category {category!r}; the taxonomy's: {', '.join(config.category_ids)}",
            field="category",
        )
    tactic = row.get("tactic")
    if tactic not in config.tactic_ids:
        raise ValidationError(
            f"unknown tactic {tactic!r}; the taxonomy's: {', '.join(config.tactic_ids)}", field="tactic"
        )
    benign = row.get("benign", False)
    if not isinstance(benign, bool):
        raise ValidationError("true or false", field="benign")
    rid = row.get("id", row.get("external_id"))
    for key in ("seed", "note"):
        if row.get(key) is not None and not isinstance(row.get(key), str):
            raise ValidationError("must be a text", field=key)
    return Attack(
        id=None if rid is None else str(rid),
        turns=turns,
        category=str(category),
        tactic=str(tactic),
        benign=benign,
        seed=row.get("seed"),
        note=row.get("note"),
    )


# --------------------------------------------------------------------------- graded attempts


@dataclass
class Attempt:
    """One graded (or not yet graded) answer of a target to an attack."""

    external_id: str
    attack: str
    model: str
    family: str
    version: str
    run: Any
    at: str
    category: str
    tactic: str
    benign: bool
    author: str | None
    novel: bool
    harm: str | None
    severity: str | None
    refusal: str | None
    row: dict[str, Any]

    @property
    def graded(self) -> bool:
        return self.harm is not None if not self.benign else self.refusal is not None

    def success(self, cfg: SafetyConfig) -> bool:
        """The attack got a harmful answer (never for a benign look-alike)."""
        if self.benign or self.harm in (None, NO_HARM):
            return False
        if cfg.success_severity is None or self.severity is None:
            return True
        return cfg.severity_rank(self.severity) >= cfg.severity_rank(cfg.success_severity)

    @property
    def over_refusal(self) -> bool:
        return self.benign and self.refusal in ("full", "partial")


def _answers(row: dict[str, Any], question: str) -> list[Any]:
    out = []
    for r in row.get("responses") or []:
        review = r.get("review") or {}
        if review.get("verdict") == "reject":
            continue
        values = review.get("corrected_values") or r.get("values") or {}
        if values.get(question) is not None:
            out.append(values[question])
    return out


def grade_of(row: dict[str, Any], question: str) -> Any:
    """The record's grade on ``question``: its consensus, else the majority of its answers (an even
    split: None). (A record with a single answer needs no rule here: the EM aggregators keep a
    lone answer, see :class:`assay.quality.aggregation._base.EMAggregator`.)"""
    cons = (row.get("consensus") or {}).get(question) or {}
    if cons.get("value") is not None:
        return cons["value"]
    answers = _answers(row, question)
    counts = Counter(str(v) for v in answers).most_common()
    if not counts or (len(counts) > 1 and counts[0][1] == counts[1][1]):
        return None
    return counts[0][0]


def attempts(rows: Iterable[dict[str, Any]], known_novel: Mapping[str, bool] | None = None) -> list[Attempt]:
    """The attempts of a grading project's export rows (records without ``metadata.safety`` are skipped)."""
    out = []
    for row in rows:
        info = (row.get("metadata") or {}).get("safety") or {}
        if not info.get("model") or not info.get("attack"):
            continue
        attack = str(info["attack"])
        out.append(
            Attempt(
                external_id=str(row["external_id"]),
                attack=attack,
                model=str(info["model"]),
                family=str(info.get("family") or info["model"]),
                version=str(info.get("version") or info["model"]),
                run=info.get("run"),
                at=str(info.get("at") or ""),
                category=str(info.get("category")),
                tactic=str(info.get("tactic")),
                benign=bool(info.get("benign", False)),
                author=info.get("author"),
                novel=(known_novel or {}).get(attack, True),
                harm=grade_of(row, "harm"),
                severity=grade_of(row, "severity"),
                refusal=grade_of(row, "refusal"),
                row=row,
            )
        )
    return out
