"""Personal data: the import's screen (a project's ``privacy`` policy applied to each record),
the right to erasure of a contributor, and contributor names left out of exports.

* :class:`Screen` looks for personal data (:mod:`assay.domain.personal_data`) in a record's text
  fields as it is imported, and by the project's policy keeps the text (``allow``), replaces each
  finding with a placeholder (``mask``) or refuses the import (``refuse``, an error naming line,
  field and kind: the import is all or nothing, so nothing of it is kept). What was found is
  stored as kind, field and span, never the text.
* :func:`erase_contributor` removes a person's personal fields (name, password, tokens, settings)
  and gives them a pseudonym; their answers stay and keep counting (consensus, agreement, gold).
* :class:`Pseudonyms` replaces contributor names in an export by ``contributor-1``, ``-2`` …
  numbered in the order they first appear in that file.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from assay.domain import events as ev
from assay.domain.errors import NotFound, PermissionDenied, ValidationError
from assay.domain.personal_data import Detector, Finding, mask
from assay.domain.records import RecordIn
from assay.domain.schema import ProjectSchema
from assay.services.actors import Actor
from assay.services.audit import audit
from assay.services.policies import load_project
from assay.store import accounts as acc
from assay.store import personal_data as pii_store
from assay.store.engine import Store

__all__ = ["CONTRIBUTOR_MODES", "Pseudonyms", "Screen", "erase_contributor", "project_findings"]

CONTRIBUTOR_MODES = ("names", "pseudonyms", "none")
"""How an export names contributors: by name, by a pseudonym local to the file, or not at all."""


@dataclass
class Screen:
    """A project's personal-data policy, compiled once per import."""

    action: str
    fields: list[str]
    detector: Detector
    span_targets: dict[str, list[str]]  # field -> the span questions that point into it
    counts: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, schema: ProjectSchema) -> Screen | None:
        """The screen of a schema; None when it has no ``privacy`` policy (nothing is looked for)."""
        policy = schema.privacy
        if policy is None:
            return None
        spans: dict[str, list[str]] = {}
        for q in schema.questions:
            if q.type == "span" and q.target:
                spans.setdefault(q.target, []).append(q.name)
        return cls(
            action=policy.personal_data,
            fields=schema.privacy_fields,
            detector=Detector(policy.detect, phone_regions=policy.phone_regions),
            span_targets=spans,
        )

    def apply(self, rec: RecordIn, has_answers: bool = False) -> list[tuple[str, Finding]]:
        """Look through ``rec``'s text fields; mask them in place under ``mask``. Returns what was
        found as ``(field, finding)``, spans in the text as stored. Raises ``ValidationError``
        (naming the field and the kind, never the value) under ``refuse``, or when masking would
        move the spans that gold, suggestions or answers given with the record point at."""
        out: list[tuple[str, Finding]] = []
        for name in self.fields:
            value = rec.fields.get(name)
            if isinstance(value, str):
                if value:
                    rec.fields[name] = self._screen(
                        rec, name, f"fields.{name}", value, has_answers, out, name
                    )
            elif isinstance(value, list):  # a chat: each message's content (new messages, not the input's)
                messages = []
                for i, m in enumerate(value):
                    if isinstance(m, dict) and isinstance(m.get("content"), str) and m["content"]:
                        where = f"{name}[{i}].content"
                        text = self._screen(
                            rec, name, f"fields.{where}", m["content"], has_answers, out, where
                        )
                        m = m if text is m["content"] else {**m, "content": text}
                    messages.append(m)
                rec.fields[name] = messages
        return out

    def _screen(
        self,
        rec: RecordIn,
        name: str,
        error_field: str,
        text: str,
        has_answers: bool,
        out: list[tuple[str, Finding]],
        where: str,
    ) -> str:
        """One text: refused, masked or kept by the policy; its findings added to ``out``."""
        found = self.detector.find(text)
        if not found:
            return text
        if self.action == "refuse":
            f = found[0]
            raise ValidationError(
                f"personal data ({f.kind}) at characters {f.start}-{f.end}; this project refuses "
                "records with personal data (privacy.personal_data: refuse)",
                field=error_field,
            )
        if self.action == "mask":
            self._check_spans(rec, name, has_answers)
            text, found = mask(text, found)
        out.extend((where, f) for f in found)
        for f in found:
            self.counts[f.kind] = self.counts.get(f.kind, 0) + 1
        return text

    def _check_spans(self, rec: RecordIn, name: str, has_answers: bool) -> None:
        questions = self.span_targets.get(name)
        if not questions:
            return
        given = set((rec.gold or {}).keys()) | {s.question for s in rec.suggestions}
        clash = [q for q in questions if q in given or has_answers]
        if clash:
            raise ValidationError(
                f"masking personal data in {name!r} would move the spans of {clash[0]!r} given with "
                "the record; mask the text before labelling it, or import it with personal_data: allow",
                field=f"fields.{name}",
            )

    @property
    def stored_action(self) -> str:
        return "masked" if self.action == "mask" else "allowed"


class Pseudonyms:
    """Contributor names replaced by ``contributor-N`` in the order they first appear (one export)."""

    def __init__(self, mode: str) -> None:
        if mode not in CONTRIBUTOR_MODES:
            raise ValidationError(
                f"contributors must be one of {', '.join(CONTRIBUTOR_MODES)}", field="contributors"
            )
        self.mode = mode
        self._names: dict[str, str] = {}

    def name(self, real: str) -> str | None:
        if self.mode == "names":
            return real
        if self.mode == "none":
            return None
        found = self._names.get(real)
        if found is None:
            found = self._names[real] = f"contributor-{len(self._names) + 1}"
        return found


def project_findings(store: Store, actor: Actor, project_ref: int | str) -> dict[str, Any]:
    """What personal data the project's imports found, counted by kind and action; managers."""
    with store.read() as conn:
        project = load_project(conn, actor, project_ref, need="manager")
        counts = pii_store.count_by_kind(conn, int(project["id"]))
        schema = ProjectSchema.from_dict(project["schema"])
    return {
        "project": project["name"],
        "policy": schema.privacy.model_dump() if schema.privacy else None,
        "fields": schema.privacy_fields,
        "found": counts,
    }


def erase_contributor(store: Store, actor: Actor, ref: int | str) -> dict[str, Any]:
    """The right to erasure: the person's name becomes a pseudonym (``erased-`` and random hex, not
    derived from the name), their password, tokens and settings are removed and the account can no
    longer sign in. ``ref`` is the user's name, or its id. Their user id, and so their answers, reviews and gold scores, stay: the
    answers keep counting. Admins only; audited (the event names the pseudonym, not the name)."""
    if not actor.is_admin:
        raise PermissionDenied("only admins erase contributors")
    with store.tx() as conn:
        user = acc.get_user(conn, ref) if isinstance(ref, int) else acc.get_user_by_name(conn, ref)
        if user is None:
            raise NotFound(f"no user {ref!r}" if isinstance(ref, int) else f"no user named {ref!r}")
        name = str(user["name"])
        uid = int(user["id"])
        if user["kind"] != "human":
            raise ValidationError(f"{name!r} is a model, not a person: there is nothing personal to erase")
        if actor.id == uid:
            raise ValidationError("you cannot erase yourself; ask another admin")
        pseudonym = f"erased-{secrets.token_hex(6)}"
        acc.update_user(
            conn,
            uid,
            name=pseudonym,
            password_hash=None,
            config=None,
            active=False,
            cost_per_hour=None,
            cost_per_item=None,
        )
        tokens = acc.delete_tokens(conn, uid)
        audit(
            conn,
            actor,
            ev.USER_ERASED,
            "user",
            uid,
            after={"pseudonym": pseudonym, "tokens_removed": tokens},
        )
    from assay.services.accounts import forget_user

    forget_user(uid)
    return {"user_id": uid, "pseudonym": pseudonym, "tokens_removed": tokens}
