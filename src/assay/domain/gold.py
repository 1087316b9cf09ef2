"""Comparing answers: against gold, against a suggestion, and as categories for voting; and what a
contributor may learn of its own gold record.

**Gold feedback comes in blocks.** Were a contributor's gold figures (gold answered, gold
accuracy, agreement with consensus) to move with each answer, it could tell a gold record from
the others by looking after each submit (the figures move after a gold one and not after an
ordinary one), and then answer gold with care and the rest at random. So what a contributor is
shown of them, and what pauses it below a project's quality bar, covers its answers in a project
up to the last whole block of :data:`FEEDBACK_BLOCK`, in the order it gave them
(:func:`released`): the figures move once every ``FEEDBACK_BLOCK`` answers, whatever those were,
and then tell how many gold records were among the last block and how many were right, never
which. (Qualification is different by design: its records are all gold.)
"""

from __future__ import annotations

from typing import Any

from .question_types import CATEGORICAL_TYPES

__all__ = [
    "CATEGORICAL_TYPES",
    "FEEDBACK_BLOCK",
    "answers_equal",
    "categorical_key",
    "gold_score",
    "released",
    "suggestions_kept",
]

# A contributor's gold figures cover its answers up to the last whole block of this many.
FEEDBACK_BLOCK = 10


def released(answered: int, block: int = FEEDBACK_BLOCK) -> int:
    """How many of a contributor's first answers in a project its gold figures may cover."""
    return answered - answered % block


def _norm(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {str(k): _norm(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_norm(v) for v in value]
    return value


def answers_equal(a: Any, b: Any, *, unordered: bool = False) -> bool:
    """Two answer values are the same (numbers compared by value; lists in order unless ``unordered``)."""
    if unordered and isinstance(a, list) and isinstance(b, list):
        try:
            return sorted(map(repr, map(_norm, a))) == sorted(map(repr, map(_norm, b)))
        except TypeError:  # pragma: no cover - defensive
            return False
    return bool(_norm(a) == _norm(b))


def gold_score(
    values: dict[str, Any], gold: dict[str, Any], multi: frozenset[str] = frozenset()
) -> float | None:
    """The share of the gold's questions that ``values`` answers the same; None when no gold applies.

    ``multi`` names the questions whose list answers are compared as sets (multi_label).
    """
    questions = [q for q, v in gold.items() if v is not None]
    if not questions:
        return None
    right = sum(answers_equal(values.get(q), gold[q], unordered=q in multi) for q in questions)
    return right / len(questions)


def suggestions_kept(values: dict[str, Any], suggestions: list[dict[str, Any]]) -> dict[str, bool]:
    """Per question that had a suggestion: whether the submitted answer kept it unchanged."""
    out: dict[str, bool] = {}
    for s in suggestions:
        q = s["question"]
        if q in out and out[q]:
            continue
        out[q] = q in values and answers_equal(values[q], s["value"])
    return out


def categorical_key(qtype: str, value: Any) -> str | None:
    """The category an answer votes for: a label itself, a preference's ``choice``; None when unanswered."""
    if value is None:
        return None
    if qtype == "preference":
        choice = value.get("choice") if isinstance(value, dict) else value
        return None if choice is None else str(choice)
    return repr(value) if isinstance(value, list | dict) else str(value)
