"""Preference training data from comparison projects: SFT, DPO/ORPO, KTO and reward-model pairs.

Layouts follow what TRL and most trainers load:

| format | columns |
| --- | --- |
| ``sft`` | ``messages`` (the prompt, then the best answer as ``assistant``) |
| ``dpo`` / ``orpo`` | ``prompt``, ``chosen``, ``rejected`` |
| ``kto`` | ``prompt``, ``completion``, ``label`` (bool: desirable or not) |
| ``rm`` | ``prompt``, ``chosen``, ``rejected``, ``margin`` |

A text prompt gives strings; a chat prompt (a ``chat`` field) gives TRL's conversational
layout (``prompt`` a list of messages, answers ``[{"role": "assistant", ...}]``).

The decision for a record is its consensus on the preference (or ranking) question when
there is one, else the majority of the submitted answers (confidence = the majority's
share). ``TrainingOptions.min_confidence`` drops less certain records. A choice among N
candidates gives N-1 pairs (chosen vs each other); a ranking gives best vs each other.
Ties: ``drop`` (default) leaves them out; ``keep`` writes them where the format can say so
(``rm`` pairs with margin 0). The reward-model margin is ``strength × confidence``
(strength 1..3, default 1): a strong, agreed preference has a wide margin. SFT takes a
rewrite (a text question on the comparison field) when one was given, else the chosen answer.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from assay.domain.errors import ValidationError
from assay.domain.fields import candidate_ids
from assay.domain.schema import ProjectSchema
from assay.formats.training import TrainingOptions, register_transform
from assay.formats.training.provenance import provenance, teacher, wants_provenance

__all__ = ["Decision", "decide", "dpo", "kto", "orpo", "rm", "sft"]


@dataclass(frozen=True)
class _Layout:
    prompt: str | None
    prompt_is_chat: bool
    comparison: str | None
    question: str | None
    qtype: str | None
    rewrite: str | None


@dataclass(frozen=True)
class Decision:
    """What a record's answers say: the winner (``tie`` allowed) or an order, with its confidence."""

    choice: str | None  # a candidate id, "tie", or None for a ranking
    order: list[str] | None
    confidence: float
    strength: float


def _layout(schema: ProjectSchema, options: TrainingOptions) -> _Layout:
    ftypes = {f.name: f.type for f in schema.fields}
    prompt = options.extra.get("prompt_field")
    if prompt is None:
        if "prompt" in ftypes:
            prompt = "prompt"
        else:
            prompt = next((f.name for f in schema.fields if f.type in ("text", "markdown", "chat")), None)
    q = options.extra.get("question")
    qspec = None
    if q is not None:
        qspec = schema.question(str(q))
    else:
        qspec = next((x for x in schema.questions if x.type in ("preference", "ranking")), None)
    comparison = getattr(qspec, "field", None) if qspec is not None else None
    if comparison is None:
        comparison = next((f.name for f in schema.fields if f.type == "comparison"), None)
    rewrite = next(
        (x.name for x in schema.questions if x.type == "text" and getattr(x, "field", None) == comparison),
        None,
    )
    return _Layout(
        prompt=prompt,
        prompt_is_chat=ftypes.get(prompt or "") == "chat",
        comparison=comparison,
        question=qspec.name if qspec is not None else None,
        qtype=qspec.type if qspec is not None else None,
        rewrite=rewrite,
    )


def _choice(value: Any) -> str | None:
    if isinstance(value, dict):
        c = value.get("choice")
        return None if c is None else str(c)
    return None if value is None else str(value)


def decide(row: dict[str, Any], question: str, qtype: str) -> Decision | None:
    """The record's decision on ``question`` (a preference or ranking), or None without answers."""
    cons = (row.get("consensus") or {}).get(question)
    answers = [
        r["values"][question] for r in row.get("responses") or [] if r["values"].get(question) is not None
    ]
    if qtype == "ranking":
        if cons is not None and isinstance(cons.get("value"), list):
            return Decision(None, [str(x) for x in cons["value"]], float(cons.get("confidence") or 1.0), 1.0)
        if not answers:
            return None
        counts = Counter(tuple(map(str, a)) for a in answers if isinstance(a, list))
        if not counts:
            return None
        top, n = counts.most_common(1)[0]
        return Decision(None, list(top), n / len(answers), 1.0)
    if cons is not None and _choice(cons.get("value")) is not None:
        choice = _choice(cons["value"])
        assert choice is not None
        conf = float(cons["confidence"]) if cons.get("confidence") is not None else 1.0
        strength = cons["value"].get("strength") if isinstance(cons["value"], dict) else None
    else:
        keys = [c for a in answers if (c := _choice(a)) is not None]
        if not keys:
            return None
        tally = Counter(keys).most_common()
        if len(tally) > 1 and tally[0][1] == tally[1][1]:
            choice, conf = "tie", tally[0][1] / len(keys)  # an even split is a tie
        else:
            choice, conf = tally[0][0], tally[0][1] / len(keys)
        strength = None
    if strength is None:
        agreeing = [
            float(a["strength"])
            for a in answers
            if isinstance(a, dict) and _choice(a) == choice and isinstance(a.get("strength"), int | float)
        ]
        strength = statistics.median(agreeing) if agreeing else 1.0
    return Decision(choice, None, conf, float(strength))


def _prompt(row: dict[str, Any], lay: _Layout) -> Any:
    value = (row.get("fields") or {}).get(lay.prompt) if lay.prompt else None
    if lay.prompt_is_chat:
        return [{"role": str(m.get("role")), "content": str(m.get("content", ""))} for m in value or []]
    return "" if value is None else str(value)


def _answer(text: str, lay: _Layout) -> Any:
    return [{"role": "assistant", "content": text}] if lay.prompt_is_chat else text


def _texts(row: dict[str, Any], lay: _Layout) -> dict[str, str]:
    cands = (row.get("fields") or {}).get(lay.comparison) if lay.comparison else None
    if not isinstance(cands, list):
        return {}
    return {cid: str(c.get("text", "")) for cid, c in zip(candidate_ids(cands), cands, strict=True)}


def _pairs(
    row: dict[str, Any], lay: _Layout, options: TrainingOptions
) -> Iterator[tuple[str, str, float, Decision]]:
    """(chosen id, rejected id, margin, decision) of a record, after the threshold and tie rules."""
    if lay.question is None or lay.qtype is None:
        return
    d = decide(row, lay.question, lay.qtype)
    texts = _texts(row, lay)
    if d is None or len(texts) < 2 or d.confidence < options.min_confidence:
        return
    ids = list(texts)
    if d.order is not None:
        best = d.order[0]
        for k, other in enumerate(d.order[1:], start=1):
            if best in texts and other in texts:
                yield best, other, k * d.confidence, d
        return
    if d.choice == "tie" and "tie" not in texts:
        if options.ties == "keep":
            for i in range(len(ids)):
                for j in range(i + 1, len(ids)):
                    yield ids[i], ids[j], 0.0, d
        return
    if d.choice not in texts:
        return
    for other in ids:
        if other != d.choice:
            yield d.choice, other, round(d.strength * d.confidence, 6), d


def _check(lay: _Layout, fmt: str) -> None:
    if lay.comparison is None or lay.question is None:
        raise ValidationError(
            f"the {fmt} format needs a comparison field and a preference or ranking question",
            field="format",
        )


@register_transform("dpo")
def dpo(
    schema: ProjectSchema, rows: Iterable[dict[str, Any]], options: TrainingOptions
) -> Iterator[dict[str, Any]]:
    """``prompt``, ``chosen``, ``rejected`` (TRL's DPO/ORPO/IPO/CPO trainers)."""
    lay = _layout(schema, options)
    _check(lay, "dpo")
    stated = wants_provenance(schema, options.extra)
    for row in rows:
        prov = provenance(row)
        if prov.rejected:
            continue
        texts = _texts(row, lay)
        for a, b, margin, _d in _pairs(row, lay, options):
            if margin == 0.0 and options.ties == "keep":
                continue  # a tie has no chosen side in DPO
            yield {
                "prompt": _prompt(row, lay),
                "chosen": _answer(texts[a], lay),
                "rejected": _answer(texts[b], lay),
            } | (prov.columns(teacher(row, a)) if stated else {})


@register_transform("orpo")
def orpo(
    schema: ProjectSchema, rows: Iterable[dict[str, Any]], options: TrainingOptions
) -> Iterator[dict[str, Any]]:
    """ORPO reads the DPO layout."""
    return dpo(schema, rows, options)


@register_transform("rm")
def rm(
    schema: ProjectSchema, rows: Iterable[dict[str, Any]], options: TrainingOptions
) -> Iterator[dict[str, Any]]:
    """``prompt``, ``chosen``, ``rejected``, ``margin`` (TRL's RewardTrainer uses ``margin`` when present)."""
    lay = _layout(schema, options)
    _check(lay, "rm")
    stated = wants_provenance(schema, options.extra)
    for row in rows:
        prov = provenance(row)
        if prov.rejected:
            continue
        texts = _texts(row, lay)
        for a, b, margin, _d in _pairs(row, lay, options):
            yield {
                "prompt": _prompt(row, lay),
                "chosen": _answer(texts[a], lay),
                "rejected": _answer(texts[b], lay),
                "margin": float(margin),
            } | (prov.columns(teacher(row, a)) if stated else {})


@register_transform("kto")
def kto(
    schema: ProjectSchema, rows: Iterable[dict[str, Any]], options: TrainingOptions
) -> Iterator[dict[str, Any]]:
    """``prompt``, ``completion``, ``label``: the chosen answer is desirable, the others are not."""
    lay = _layout(schema, options)
    _check(lay, "kto")
    stated = wants_provenance(schema, options.extra)
    for row in rows:
        prov = provenance(row)
        if prov.rejected:
            continue
        texts = _texts(row, lay)
        labels: dict[str, bool] = {}
        for a, b, margin, _d in _pairs(row, lay, options):
            if margin == 0.0 and options.ties == "keep":
                continue
            labels[a] = True
            labels.setdefault(b, False)
        for cid, label in labels.items():
            yield {"prompt": _prompt(row, lay), "completion": _answer(texts[cid], lay), "label": label} | (
                prov.columns(teacher(row, cid)) if stated else {}
            )


def _rewrite(row: dict[str, Any], name: str) -> str | None:
    cons = (row.get("consensus") or {}).get(name)
    if cons is not None and isinstance(cons.get("value"), str) and cons["value"].strip():
        return str(cons["value"])
    for r in reversed(row.get("responses") or []):
        review = r.get("review") or {}
        if review.get("verdict") == "reject":
            continue
        values = review.get("corrected_values") or r["values"]
        v = values.get(name)
        if isinstance(v, str) and v.strip():
            return v
    return None


@register_transform("sft")
def sft(
    schema: ProjectSchema, rows: Iterable[dict[str, Any]], options: TrainingOptions
) -> Iterator[dict[str, Any]]:
    """``messages``: the prompt then the best answer (a rewrite when given, else the chosen candidate).

    A project without a comparison field gives its chat field's messages as they are.
    """
    lay = _layout(schema, options)
    chat_field = next((f.name for f in schema.fields if f.type == "chat"), None)
    stated = wants_provenance(schema, options.extra)
    for row in rows:
        prov = provenance(row)
        if prov.rejected:
            continue
        best: str | None = None
        source: str | None = None  # the candidate the answer comes from
        fields = row.get("fields") or {}
        if (
            lay.comparison is None
            and (stated or prov.origin != "human")
            and isinstance(fields.get("response"), str)
        ):
            best = (
                prov.edit or fields["response"]
            )  # a synthesis project's answer: the verifier's edit, else as written
        if best is None and lay.rewrite is not None:
            best = _rewrite(row, lay.rewrite)
        if best is None and lay.question is not None and lay.qtype is not None:
            d = decide(row, lay.question, lay.qtype)
            texts = _texts(row, lay)
            if d is not None and d.confidence >= options.min_confidence:
                winner = d.order[0] if d.order else d.choice
                if winner in texts:
                    best, source = texts[str(winner)], str(winner)
        if best is None:
            if lay.comparison is None and chat_field is not None:
                msgs = (row.get("fields") or {}).get(chat_field) or []
                if msgs:
                    yield {
                        "messages": [{"role": m["role"], "content": str(m.get("content", ""))} for m in msgs]
                    } | (prov.columns(teacher(row)) if stated else {})
            continue
        prompt = _prompt(row, lay)
        messages = list(prompt) if lay.prompt_is_chat else [{"role": "user", "content": prompt}]
        messages.append({"role": "assistant", "content": best})
        yield {"messages": messages} | (prov.columns(teacher(row, source)) if stated else {})
