"""Safety training data from a red-teaming campaign's grading project.

``safety-sft``: refusal SFT — conversations where the target refused an attack (``refusal: full``,
``harm: none``) and, against over-refusal, benign look-alikes it answered safely (``refusal: none``,
``harm: none``). Columns: ``messages`` (the conversation as played, ending with the reply), ``kind``
(``refusal`` or ``helpful``), ``attack``, ``category``, ``tactic``, ``model``, ``benign``,
``content_warning``, ``withheld``.

``safety-pairs``: preference pairs per attack — a safe reply (a refusal or a safe completion,
``harm: none``) preferred over a harmful one (``harm`` a hazard category) from another target;
for a benign look-alike, a helpful safe answer preferred over an over-refusal. Columns:
``prompt`` (the messages before the chosen reply: for a multi-turn attack, the chosen target's
conversation), ``chosen`` and ``rejected`` (one assistant message each), ``kind`` (``harmful`` or
``over_refusal``), ``attack``, ``category``, ``tactic``, ``chosen_model``, ``rejected_model``,
``rejected_harm``, ``rejected_severity``, ``content_warning``, ``withheld``.

Harmful content is marked: ``content_warning`` is true on every example built on an attack (its
prompt asks for harm), and with the option ``withhold_harmful`` (``assay export
--withhold-harmful``) every reply graded harmful is replaced by a placeholder naming its category
and severity (``withheld`` true). The records' grades are their consensus, else the majority of
their answers (:func:`assay.domain.safety.grade_of`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

from assay.domain.errors import ValidationError
from assay.domain.safety import NO_HARM, Attempt, attempts
from assay.domain.schema import ProjectSchema
from assay.formats.training import TrainingOptions, register_transform

__all__ = ["safety_pairs", "safety_sft", "withheld_text"]


def _check(schema: ProjectSchema, fmt: str) -> None:
    if schema.safety is None or schema.safety.role != "grading":
        raise ValidationError(
            f"{fmt} needs a safety campaign's grading project (assay safety init makes one)", field="format"
        )


def withheld_text(a: Attempt) -> str:
    severity = f", severity {a.severity}" if a.severity else ""
    return f"[withheld: reply graded harmful ({a.harm}{severity})]"


def _harmful(a: Attempt) -> bool:
    return a.harm not in (None, NO_HARM)


def _messages(a: Attempt) -> list[dict[str, str]]:
    conv = a.row.get("fields", {}).get("conversation") or []
    return [{"role": str(m.get("role")), "content": str(m.get("content") or "")} for m in conv]


def _min_confidence(a: Attempt, options: TrainingOptions) -> bool:
    if options.min_confidence <= 0:
        return True
    cons = (a.row.get("consensus") or {}).get("harm") or {}
    conf = cons.get("confidence")
    return conf is not None and float(conf) >= options.min_confidence


def _base(a: Attempt) -> dict[str, Any]:
    return {"attack": a.attack, "category": a.category, "tactic": a.tactic}


@register_transform("safety-sft")
def safety_sft(
    schema: ProjectSchema, rows: Iterable[dict[str, Any]], options: TrainingOptions
) -> Iterator[dict[str, Any]]:
    _check(schema, "safety-sft")
    for a in attempts(rows):
        if not a.graded or a.harm != NO_HARM or not _min_confidence(a, options):
            continue
        if a.benign and a.refusal != "none":
            continue  # an over-refusal teaches the wrong thing
        if not a.benign and a.refusal != "full":
            continue
        yield {
            "messages": _messages(a),
            "kind": "helpful" if a.benign else "refusal",
            **_base(a),
            "model": a.model,
            "benign": a.benign,
            "content_warning": not a.benign,
            "withheld": False,
        }


@register_transform("safety-pairs")
def safety_pairs(
    schema: ProjectSchema, rows: Iterable[dict[str, Any]], options: TrainingOptions
) -> Iterator[dict[str, Any]]:
    _check(schema, "safety-pairs")
    withhold = bool(options.extra.get("withhold_harmful"))
    by_attack: dict[str, list[Attempt]] = defaultdict(list)
    for a in attempts(rows):
        if a.graded and _min_confidence(a, options):
            by_attack[a.attack].append(a)
    for _attack, group in sorted(by_attack.items()):
        group.sort(key=lambda a: a.model)
        if group[0].benign:
            good = [a for a in group if a.harm == NO_HARM and a.refusal == "none"]
            bad = [a for a in group if a.over_refusal]
            kind = "over_refusal"
        else:
            good = [a for a in group if a.harm == NO_HARM]
            bad = [a for a in group if _harmful(a)]
            kind = "harmful"
        for g in good:
            context = _messages(g)[:-1]
            for b in bad:
                hide = withhold and _harmful(b)
                rejected = withheld_text(b) if hide else str(b.row.get("fields", {}).get("answer") or "")
                yield {
                    "prompt": context,
                    "chosen": [
                        {"role": "assistant", "content": str(g.row.get("fields", {}).get("answer") or "")}
                    ],
                    "rejected": [{"role": "assistant", "content": rejected}],
                    "kind": kind,
                    **_base(g),
                    "chosen_model": g.model,
                    "rejected_model": b.model,
                    "rejected_harm": b.harm,
                    "rejected_severity": b.severity,
                    "content_warning": kind == "harmful",
                    "withheld": hide,
                }
