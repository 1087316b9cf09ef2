"""Blind comparisons: whoever answers through a lease never learns which model wrote a candidate.

A lease shows a comparison's candidates in a per-lease shuffled order (``view.order``, against
position bias). Unless the field says ``show_models: true``, each shown candidate keeps its
text only, under an opaque id that is its letter in that order (``A``, ``B`` …); the lease's view,
draft and suggestions speak the same letters, and record metadata about how the candidates were
made (``generation``, ``eval``; in a safety grading project, the model and settings in
``safety``) is withheld. Answers coming back (a submit, a draft) are turned
from letters into the candidates' real ids with the lease's order before they are checked, so
stored answers, consensus, exports and leaderboards never see a letter. Managers read models
in the dashboard, the records and the exports.
"""

from __future__ import annotations

import hashlib
import string
from typing import Any

from assay.domain.fields import candidate_ids
from assay.services.actors import ROLE_RANK
from assay.services.schemas import CompiledSchema
from assay.store import dispatch as dstore
from assay.store import records as rec_store
from assay.store.engine import Store

__all__ = [
    "Blinder",
    "blind_lease",
    "lease_values",
    "reveal",
    "sees_models",
    "shown_in_order",
    "unblind_values",
]

# What a blinded candidate keeps: the content shown to the person answering.
_SHOWN = ("text",)
# Question types whose answers name candidates.
_NAMING = ("preference", "ranking")


def _letter(k: int) -> str:
    return string.ascii_uppercase[k] if k < 26 else f"C{k + 1}"


def _blind_fields(cs: CompiledSchema) -> set[str]:
    return {
        f.name for f in cs.schema.fields if f.type == "comparison" and not getattr(f, "show_models", False)
    }


def _maps(cs: CompiledSchema, view: dict[str, Any] | None) -> dict[str, dict[str, str]]:
    """Per blinded field: real id -> letter, from the lease's shown order."""
    order = (view or {}).get("order") or {}
    return {
        name: {str(real): _letter(k) for k, real in enumerate(order[name])}
        for name in _blind_fields(cs)
        if name in order
    }


def _naming_questions(cs: CompiledSchema, fields: set[str]) -> dict[str, str]:
    """Question name -> the blinded comparison field its answer names candidates of."""
    return {
        q.name: str(getattr(q, "field", ""))
        for q in cs.schema.questions
        if q.type in _NAMING and getattr(q, "field", None) in fields
    }


def _translate(value: Any, qtype: str, table: dict[str, str]) -> Any:
    if qtype == "preference" and isinstance(value, dict) and isinstance(value.get("choice"), str):
        choice = value["choice"]
        return {**value, "choice": table.get(choice, choice)}
    if qtype == "ranking" and isinstance(value, list):
        return [table.get(v, v) if isinstance(v, str) else v for v in value]
    return value


def _translate_values(
    cs: CompiledSchema, values: Any, maps: dict[str, dict[str, str]], *, inverse: bool
) -> Any:
    if not isinstance(values, dict) or not maps:
        return values
    qs = _naming_questions(cs, set(maps))
    types = {q.name: q.type for q in cs.schema.questions}
    out = dict(values)
    for qname, fname in qs.items():
        if qname in out:
            table = {v: k for k, v in maps[fname].items()} if inverse else maps[fname]
            out[qname] = _translate(out[qname], types[qname], table)
    return out


# Record metadata that tells how candidates were made (``assay generate`` writes it).
_WITHHELD_METADATA = ("generation", "eval")
# What a grader of a safety campaign sees of how an answer was made: the attack's target, never the
# model (nor whether the prompt was a benign look-alike, which would tell the expected grade).
_SAFETY_SHOWN = ("attack", "category", "tactic", "turns")


def blind_lease(
    cs: CompiledSchema,
    fields: dict[str, Any],
    metadata: dict[str, Any],
    view: dict[str, Any],
    draft: Any,
    suggestions: list[dict[str, Any]],
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], Any, list[dict[str, Any]]]:
    """A lease's fields (candidates already in shown order), metadata, view, draft and
    suggestions as the person answering sees them: blinded comparison fields speak letters, and
    the metadata that names the models is withheld."""
    if cs.schema.safety is not None and cs.schema.safety.role == "grading" and "safety" in metadata:
        shown = {k: v for k, v in (metadata.get("safety") or {}).items() if k in _SAFETY_SHOWN}
        metadata = {**metadata, "safety": shown}
    maps = _maps(cs, view)
    if not maps:
        return fields, metadata, view, draft, suggestions
    metadata = {k: v for k, v in metadata.items() if k not in _WITHHELD_METADATA}
    fields = dict(fields)
    for name in maps:
        cands = fields.get(name) or []
        fields[name] = [
            {"id": _letter(k), **{key: c[key] for key in _SHOWN if isinstance(c, dict) and key in c}}
            for k, c in enumerate(cands)
        ]
    order = dict(view.get("order") or {})
    for name, table in maps.items():
        order[name] = list(table.values())
    view = {**view, "order": order, "blind": sorted(maps)}
    draft = _translate_values(cs, draft, maps, inverse=False)
    qs = _naming_questions(cs, set(maps))
    types = {q.name: q.type for q in cs.schema.questions}
    suggestions = [
        {**s, "value": _translate(s.get("value"), types[s["question"]], maps[qs[s["question"]]])}
        if s.get("question") in qs
        else s
        for s in suggestions
    ]
    return fields, metadata, view, draft, suggestions


def unblind_values(cs: CompiledSchema, values: Any, view: dict[str, Any] | None) -> Any:
    """Answers given through a lease, with letters turned back into the candidates' real ids."""
    return _translate_values(cs, values, _maps(cs, view), inverse=True)


def reveal(store: Store, assignment_id: int) -> dict[str, dict[str, dict[str, Any]]]:
    """Per comparison field of a lease: each shown letter and the real candidate behind it.

    For simulated contributors (the demo, the tests) that choose by model; never sent over HTTP."""
    with store.read() as conn:
        a = dstore.get_assignment(conn, assignment_id)
        record = rec_store.get_record(conn, int(a["record_id"])) if a else None
    if a is None or record is None:
        return {}
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for name, ids in ((a.get("view") or {}).get("order") or {}).items():
        cands = record["fields"].get(name) or []
        by_id = dict(zip(candidate_ids(cands), cands, strict=True))
        out[name] = {_letter(k): by_id[i] for k, i in enumerate(ids) if i in by_id}
    return out


def shown_in_order(fields: dict[str, Any], view: dict[str, Any] | None) -> dict[str, Any]:
    """A record's fields with each comparison's candidates in the order a lease shows them."""
    fields = dict(fields)
    for name, ids in ((view or {}).get("order") or {}).items():
        cands = fields.get(name) or []
        by_id = dict(zip(candidate_ids(cands), cands, strict=True))
        fields[name] = [by_id[i] for i in ids if i in by_id]
    return fields


def lease_values(cs: CompiledSchema, values: Any, view: dict[str, Any] | None) -> Any:
    """Stored answers (real candidate ids) as the lease ``view`` speaks them (letters): what the
    answer to a submit or a draft says back to the person who gave it."""
    return _translate_values(cs, values, _maps(cs, view), inverse=False)


def sees_models(role: str | None) -> bool:
    """Managers and admins read which model wrote a candidate; other roles never do."""
    return ROLE_RANK.get(role or "", -1) >= ROLE_RANK["manager"]


def _record_letters(record_id: int, name: str, cands: Any) -> dict[str, str]:
    """Real id -> letter for one record's candidates outside a lease: an order of the record's own
    (by a hash of the record, the field and the id), so letters are stable wherever the record is
    read and say nothing of the order the candidates were stored in."""
    ids = candidate_ids(cands) if isinstance(cands, list) else []
    ordered = sorted(ids, key=lambda cid: hashlib.sha256(f"{record_id}/{name}/{cid}".encode()).digest())
    return {cid: _letter(k) for k, cid in enumerate(ordered)}


class Blinder:
    """Records and answers as a person below manager reads them outside a lease (records, review
    queue, responses, consensus, history): each blinded comparison's candidates under per-record
    letters (text only), answers naming candidates in those letters, the metadata that names
    models withheld. A no-op for managers, and for projects whose comparisons show models."""

    def __init__(self, cs: CompiledSchema, role: str | None) -> None:
        self.cs = cs
        self.blind = set() if sees_models(role) else _blind_fields(cs)
        self.on = bool(self.blind)

    def maps(self, record_id: int, fields: dict[str, Any]) -> dict[str, dict[str, str]]:
        return {name: _record_letters(record_id, name, (fields or {}).get(name)) for name in self.blind}

    def fields(self, record_id: int, fields: dict[str, Any]) -> dict[str, Any]:
        if not self.on or not isinstance(fields, dict):
            return fields
        out = dict(fields)
        for name, table in self.maps(record_id, fields).items():
            cands = fields.get(name)
            if not isinstance(cands, list):
                continue
            by_id = dict(zip(candidate_ids(cands), cands, strict=True))
            out[name] = [
                {
                    "id": letter,
                    **{k: by_id[cid][k] for k in _SHOWN if isinstance(by_id[cid], dict) and k in by_id[cid]},
                }
                for cid, letter in table.items()
                if cid in by_id
            ]
        return out

    def values(self, record_id: int, fields: dict[str, Any], values: Any) -> Any:
        if not self.on:
            return values
        return _translate_values(self.cs, values, self.maps(record_id, fields), inverse=False)

    def unvalues(self, record_id: int, fields: dict[str, Any], values: Any) -> Any:
        """Answers a reviewer gave in letters (a correction), in the candidates' real ids."""
        if not self.on:
            return values
        return _translate_values(self.cs, values, self.maps(record_id, fields), inverse=True)

    def metadata(self, metadata: Any) -> Any:
        if not self.on or not isinstance(metadata, dict):
            return metadata
        return {k: v for k, v in metadata.items() if k not in _WITHHELD_METADATA}

    def suggestions(
        self, record_id: int, fields: dict[str, Any], rows: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        if not self.on:
            return rows
        maps = self.maps(record_id, fields)
        qs = _naming_questions(self.cs, self.blind)
        types = {q.name: q.type for q in self.cs.schema.questions}
        return [
            {**s, "value": _translate(s.get("value"), types[s["question"]], maps[qs[s["question"]]])}
            if s.get("question") in qs
            else s
            for s in rows
        ]

    def naming(self) -> set[str]:
        """The questions whose answers name blinded candidates."""
        return set(_naming_questions(self.cs, self.blind)) if self.on else set()

    def scrub(self, record_id: int, fields: dict[str, Any], data: Any) -> Any:
        """Any JSON about one record (an explanation, an event) as this role may read it: the
        record's blinded comparisons shown as :meth:`fields` shows them, each candidate's real id
        wherever it stands alone as a string turned into its letter, the metadata that names
        models withheld."""
        if not self.on:
            return data
        letters: dict[str, str] = {}
        for table in self.maps(record_id, fields).values():
            letters.update(table)
        shown = self.fields(record_id, fields)

        def walk(x: Any) -> Any:
            if isinstance(x, dict):
                return {
                    k: shown[k] if k in self.blind and isinstance(v, list) else walk(v)
                    for k, v in x.items()
                    if k not in _WITHHELD_METADATA
                }
            if isinstance(x, list):
                return [walk(v) for v in x]
            if isinstance(x, str):
                return letters.get(x, x)
            return x

        return walk(data)
