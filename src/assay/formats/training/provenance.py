"""Where a training example comes from: people, or a teacher model (verified by people or not).

A record written by a synthesis run carries ``metadata.synth`` (teacher, prompt, parameters).
People verify it with the ``verdict`` question (``accept``, ``edit`` — the corrected answer in
``rewrite`` — or ``reject``); only people's answers count (a model's verdict verifies nothing),
after reviews (a rejected response is left out, a correction replaces the values). The majority
verdict decides; a tie counts as ``reject``. A record without ``metadata.synth`` is ``human``.

Exports of a project with a ``verdict`` question, or any export asked for with
``TrainingOptions.extra["provenance"]``, add to each example ``origin`` (``human``,
``synthetic-verified`` or ``synthetic-unverified``), ``teacher`` and ``verified_by``; a rejected
synthetic record gives no example.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from assay.domain.schema import ProjectSchema

__all__ = ["HUMAN", "ORIGINS", "VERIFIED", "UNVERIFIED", "Provenance", "provenance", "wants_provenance"]

HUMAN, VERIFIED, UNVERIFIED = "human", "synthetic-verified", "synthetic-unverified"
ORIGINS = (HUMAN, VERIFIED, UNVERIFIED)
VERDICT = "verdict"


class Provenance:
    """One record's origin, its verdict (None: nobody verified it), who verified it, the edit."""

    def __init__(self, origin: str, verdict: str | None, verifiers: list[str], edit: str | None) -> None:
        self.origin = origin
        self.verdict = verdict
        self.verifiers = verifiers
        self.edit = edit

    @property
    def rejected(self) -> bool:
        return self.verdict == "reject"

    def columns(self, teacher: str | None) -> dict[str, Any]:
        return {"origin": self.origin, "teacher": teacher, "verified_by": self.verifiers}


def wants_provenance(schema: ProjectSchema, extra: dict[str, Any]) -> bool:
    """Whether an export states each example's origin (a synthesis project, or asked for)."""
    return bool(extra.get("provenance")) or VERDICT in schema.question_names


def _human_values(row: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for r in row.get("responses") or []:
        if r.get("kind", "human") != "human":
            continue
        review = r.get("review") or {}
        if review.get("verdict") == "reject":
            continue
        out.append((str(r.get("user")), review.get("corrected_values") or r.get("values") or {}))
    return out


def provenance(row: dict[str, Any]) -> Provenance:
    synth = (row.get("metadata") or {}).get("synth")
    if not isinstance(synth, dict):
        return Provenance(HUMAN, None, [], None)
    answers = [(who, v) for who, v in _human_values(row) if isinstance(v.get(VERDICT), str)]
    if not answers:
        return Provenance(UNVERIFIED, None, [], None)
    tally = Counter(v[VERDICT] for _, v in answers).most_common()
    verdict = "reject" if len(tally) > 1 and tally[0][1] == tally[1][1] else str(tally[0][0])
    edit = next(
        (v["rewrite"] for _, v in reversed(answers) if v[VERDICT] == "edit" and isinstance(v.get("rewrite"), str)
         and v["rewrite"].strip()),
        None,
    )  # fmt: skip
    who = sorted({w for w, v in answers if v[VERDICT] == verdict})
    return Provenance(VERIFIED if verdict != "reject" else UNVERIFIED, verdict, who, edit)


def teacher(row: dict[str, Any], candidate: str | None = None) -> str | None:
    """The teacher of a synthetic record (of one of its candidates, for pairs)."""
    synth = (row.get("metadata") or {}).get("synth")
    if not isinstance(synth, dict):
        return None
    if synth.get("teacher") is not None:
        return str(synth["teacher"])
    teachers = [str(t) for t in synth.get("teachers") or []]
    if candidate is not None and candidate in teachers:
        return candidate
    return ",".join(teachers) or None
