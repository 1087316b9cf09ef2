"""How a project's work is handed out: overlap, gold, review, leases, qualification; and routing."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .numbers import MAX_INT

__all__ = ["AIFirst", "Overlap", "Qualification", "Routing", "Workflow"]


class Overlap(BaseModel):
    """How many answers a record gets: ``min`` always, up to ``max`` until ``confidence`` is reached.

    ``overlap: 3`` in a schema is short for ``{min: 3, max: 3}`` (a fixed overlap).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    min: int = Field(default=1, ge=1, le=MAX_INT)
    max: int | None = Field(default=None, le=MAX_INT)
    confidence: float | None = Field(default=None, gt=0, lt=1)

    @model_validator(mode="before")
    @classmethod
    def _from_int(cls, v: Any) -> Any:
        if isinstance(v, int) and not isinstance(v, bool):
            return {"min": v, "max": v}
        return v

    @model_validator(mode="after")
    def _max_default(self) -> Overlap:
        if self.max is None:
            object.__setattr__(self, "max", self.min)
        elif self.max < self.min:
            raise ValueError(f"max ({self.max}) must be at least min ({self.min})")
        return self

    @property
    def fixed(self) -> bool:
        return self.min == self.max

    @property
    def limit(self) -> int:
        """The most answers a record may get."""
        return self.max if self.max is not None else self.min


class Qualification(BaseModel):
    """A contributor first answers ``count`` gold records and needs ``min_accuracy`` on them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    count: int = Field(ge=1, le=MAX_INT)
    min_accuracy: float = Field(ge=0, le=1)


class AIFirst(BaseModel):
    """AI-first routing: models answer every record first (their suggestions); a record is settled
    by them alone only where the evidence says their answer is as good as a person's.

    A model is trusted for a question and a label when the lower ``confidence`` credible bound of
    its precision there (how often that answer of its was right: against gold, and against the
    people who answered the same records) reaches ``bar`` (default: the people's own accuracy on
    gold, else 0.9), on at least ``min_evidence`` records. A record is settled when the models
    that answered it agree, one of them is trusted for that answer, every score reaches
    ``min_score``, and it is not drawn for the ``audit_rate`` share that goes to people anyway. With
    ``min_score``, trust is measured on the answers that reach it only (a model may be reliable
    when it is confident and not otherwise).
    Every other record goes to people, with the models' answers shown as suggestions or hidden.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    models: list[str] = Field(default_factory=list, description="the models that count (default: all)")
    bar: float | None = Field(default=None, gt=0, le=1)
    confidence: float = Field(default=0.95, gt=0, lt=1)
    min_evidence: int = Field(default=20, ge=1, le=MAX_INT)
    audit_rate: float = Field(default=0.1, ge=0, le=1)
    min_score: float | None = Field(default=None, ge=0, le=1)
    suggestions: Literal["shown", "hidden"] = "shown"
    # Route again by itself (a `route` job the job runners queue) once this many answers of people
    # came in since the last routing; None: only when asked.
    reroute_after: int | None = Field(default=100, ge=1, le=MAX_INT)
    # Diversity by embeddings: once the project has a trained local model (a `train` job), routing
    # orders this many of the most uncertain records farthest-first from what people answered; 0: off.
    diversity_pool: int = Field(default=100, ge=0, le=10_000)
    # Retrain the local model by itself (its last `train` job's parameters again) once this many
    # records got a new consensus of people since it was trained; None: only when asked.
    retrain_after: int | None = Field(default=100, ge=1, le=MAX_INT)


class Workflow(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    overlap: Overlap = Field(default_factory=Overlap)
    gold_rate: float = Field(default=0.0, ge=0, le=1)
    review_rate: float = Field(default=0.0, ge=0, le=1)
    lease_seconds: int = Field(default=600, ge=1, le=MAX_INT)
    qualification: Qualification | None = None
    quality_bar: float | None = Field(default=None, ge=0, le=1)
    consensus_method: str = "auto"
    ai_first: AIFirst | None = None

    @field_validator("overlap", mode="before")
    @classmethod
    def _overlap_int(cls, v: Any) -> Any:
        if isinstance(v, int) and not isinstance(v, bool):
            return {"min": v, "max": v}
        return v

    @field_validator("consensus_method")
    @classmethod
    def _method(cls, v: str) -> str:
        v = v.strip()
        if not v:
            raise ValueError("must not be empty (use 'auto')")
        return v


class Routing(BaseModel):
    """Which contributors may work on the project: those with all of ``skills``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    skills: list[str] = Field(default_factory=list)

    @field_validator("skills")
    @classmethod
    def _skills(cls, v: list[str]) -> list[str]:
        out: list[str] = []
        for s in v:
            s = s.strip()
            if not s:
                raise ValueError("a skill must not be empty")
            if s not in out:
                out.append(s)
        return out
