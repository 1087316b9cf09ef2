"""Imports: rows from a file or a request body into a project, all or nothing.

Rows are validated against the project's schema and written in batches inside one
transaction: a bad row raises an error naming its file, line and field, and the
transaction is rolled back, so nothing of that import is kept. Re-importing a row with
an ``external_id`` the project already has updates that record (never a duplicate).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy.engine import Connection

from assay.domain import events as ev
from assay.domain.errors import AssayError, PermissionDenied, ValidationError
from assay.domain.fields import check_json, type_name
from assay.domain.gold import gold_score
from assay.domain.numbers import check_duration
from assay.domain.records import AnswerValidator, RecordIn, RecordValidator, SuggestionIn
from assay.domain.schema import ProjectSchema
from assay.domain.trajectory_checks import PRECHECK_MODEL, as_step_review, run_checks
from assay.formats import detect_format, open_source
from assay.formats.coco import CocoOptions, CocoTarget, read_coco
from assay.formats.conll import SpanTarget, read_conll
from assay.formats.voc import read_voc
from assay.formats.yolo import read_yolo
from assay.services.actors import ROLE_RANK, Actor
from assay.services.audit import audit
from assay.services.dispatch import settle_record
from assay.services.media import MEDIA_TYPES, MediaRoots
from assay.services.personal_data import Screen
from assay.services.policies import author_role, load_project
from assay.services.schemas import CompiledSchema, compiled
from assay.store import accounts as acc
from assay.store import dispatch as dstore
from assay.store import personal_data as pii_store
from assay.store import records as rec_store
from assay.store.engine import Store
from assay.store.types import dumps

__all__ = ["EXPORT_ONLY_KEYS", "ImportReport", "import_file", "import_rows"]

BATCH = 5000
# Columns that our own exports add; an import reads past them (consensus is recomputed).
EXPORT_ONLY_KEYS = ("consensus", "status", "record_id", "personal_data")


@dataclass(frozen=True)
class ImportReport:
    project_id: int
    rows: int
    created: int
    updated: int
    source: str
    responses: int = 0
    personal_data: dict[str, int] | None = None  # what the project's privacy policy found, by kind


def import_file(
    store: Store,
    actor: Actor,
    project_ref: int | str,
    path: Path,
    *,
    fmt: str = "auto",
    on_progress: Callable[[int, int | None], None] | None = None,
    media: MediaRoots | None = None,
    coco: CocoOptions | None = None,
) -> ImportReport:
    """Import a JSONL, JSON, CSV or Parquet file (streamed: never held in memory whole), or a
    COCO file (``fmt="coco"``, :mod:`assay.formats.coco`; ``coco`` says what its annotations become),
    YOLO, VOC or CoNLL (:mod:`assay.formats.conll`, spans) file.

    A file of agent traces (not records) is recognised when its columns do not fit: the error
    names its trace format and the command that imports it (``assay import-traces``)."""
    found = detect_format(path, fmt) if path.exists() else fmt
    if found in ("coco", "yolo", "voc", "conll"):
        with store.read() as conn:
            schema = ProjectSchema.from_dict(load_project(conn, actor, project_ref, need="manager")["schema"])
        if found == "conll":  # spans: a span question on a text field
            source = read_conll(path, str(path), SpanTarget.of(schema), coco or CocoOptions())
        else:
            read = {"coco": read_coco, "yolo": read_yolo, "voc": read_voc}[found]
            source = read(path, str(path), CocoTarget.of(schema), coco or CocoOptions())
    else:
        source = open_source(path, fmt)
    try:
        progress = None
        if on_progress is not None:
            total = source.total

            def progress() -> None:
                on_progress(source.progress(), total)

        return import_rows(
            store,
            actor,
            project_ref,
            source.rows,
            name=source.name,
            strings=source.strings,
            progress=progress,
            media=media,
        )
    except ValidationError as e:
        trace_format = _trace_format(path) if e.message.startswith("unknown column") else None
        if trace_format is None:
            raise
        raise ValidationError(
            f"this file holds agent traces ({trace_format}), not records: import it into a "
            f"project with a trajectory field with `assay import-traces {project_ref} {path.name}`",
            file=path.name,
        ) from None
    finally:
        source.close()


def _trace_format(path: Path) -> str | None:
    """The trace format a file holds, when it holds agent traces."""
    from assay.formats.traces import detect_trace_format

    try:
        return detect_trace_format(path)
    except (AssayError, OSError, ValueError):
        return None


def _precheck_targets(schema: ProjectSchema) -> list[tuple[str, str, list[str]]]:
    """(question, trajectory field, verdicts) of every step_review question: pre-checks feed them."""
    out = []
    for q in schema.questions:
        if q.type == "step_review":
            out.append((q.name, str(q.field), [o.value for o in q.verdicts]))
    return out


def _add_prechecks(rec: RecordIn, targets: list[tuple[str, str, list[str]]]) -> None:
    """Agent-trace pre-checks as suggestions (never labels) on records that bring none of their own."""
    for question, field, verdicts in targets:
        value = rec.fields.get(field)
        if not value or any(s.question == question for s in rec.suggestions):
            continue
        review = as_step_review(run_checks(value), verdicts)
        if review:
            rec.suggestions.append(SuggestionIn(question, review, 1.0, PRECHECK_MODEL))


Batch = list[tuple[int, RecordIn, list[dict[str, Any]], list[tuple[str, Any]]]]


def _responses(raw: Any, rec: RecordIn, answers: AnswerValidator, strings: bool) -> list[dict[str, Any]]:
    """Answers that come with a record (as our exports write them): ``[{"user", "values", ...}]``."""
    if raw is None or raw == "":
        return []
    if strings and isinstance(raw, str):
        try:
            raw = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise ValidationError("not valid JSON", field="responses") from None
    if not isinstance(raw, list):
        raise ValidationError("responses must be a list of {user, values}", field="responses")
    out = []
    for i, r in enumerate(raw):
        where = f"responses[{i}]"
        if (
            not isinstance(r, dict)
            or not isinstance(r.get("user"), str)
            or not isinstance(r.get("values"), dict)
        ):
            raise ValidationError("each response needs a user name and a values object", field=where)
        values = answers.validate(r["values"], rec.fields, where=f"{where}.values")
        duration = check_duration(r.get("duration_ms"), f"{where}.duration_ms")
        out.append({"user": r["user"], "values": values, "duration_ms": duration})
    return out


def _batches(
    rows: Iterable[tuple[int, dict[str, Any]]],
    validator: RecordValidator,
    answers: AnswerValidator,
    name: str,
    prechecks: list[tuple[str, str, list[str]]],
    strings: bool,
    media: list[tuple[str, str]] | None = None,
    roots: MediaRoots | None = None,
    screen: Screen | None = None,
) -> Iterator[Batch]:
    batch: Batch = []
    for place, row in rows:
        if row.__class__ is not dict:
            raise ValidationError(f"a record must be an object, got {type_name(row)}", file=name, line=place)
        for key in EXPORT_ONLY_KEYS:
            row.pop(key, None)
        skills = row.pop("skills", None)
        raw_responses = row.pop("responses", None)
        try:
            rec = validator.validate(row)
            if skills is not None:
                rec.metadata = {**rec.metadata, "skills": _skills(skills)}
            if prechecks:
                _add_prechecks(rec, prechecks)
            if media and roots is not None:
                _check_media(rec, media, roots)
            found = screen.apply(rec, raw_responses not in (None, "", [])) if screen is not None else []
            given = _responses(raw_responses, rec, answers, strings)
        except AssayError as e:
            raise e.at(file=name, line=place) from None
        batch.append((place, rec, given, found))
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _check_media(rec: RecordIn, media: list[tuple[str, str]], roots: MediaRoots) -> None:
    for name, kind in media:
        value = rec.fields.get(name)
        if value is not None:
            try:
                roots.check(value, kind)
            except AssayError as e:
                raise e.at(field=name) from None


def _unstorable(
    recs: list[RecordIn], places: dict[str, int], name: str, error: orjson.JSONEncodeError
) -> Exception:
    """The error for the first written row holding a value JSON cannot store (an integer beyond
    64 bits in its metadata, say), naming its line and field: such values are found only when the
    batch is written, as the import's hot path does not walk every row's metadata."""
    for rec in recs:
        for column, value in (("fields", rec.fields), ("metadata", rec.metadata), ("gold", rec.gold)):
            try:
                dumps(value)
            except orjson.JSONEncodeError as e:
                try:
                    check_json(value, column)
                except ValidationError as found:
                    return found.at(file=name, line=places[rec.external_id])
                message = f"cannot be stored as JSON ({e})"
                return ValidationError(message, field=column, file=name, line=places[rec.external_id])
    return error


def _skills(value: Any) -> list[str]:
    if isinstance(value, str):
        value = [s for s in value.replace(";", ",").split(",")]
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise ValidationError("skills must be a list of names or a comma-separated string", field="skills")
    return sorted({s.strip() for s in value if s.strip()})


def import_rows(
    store: Store,
    actor: Actor,
    project_ref: int | str,
    rows: Iterable[tuple[int, dict[str, Any]]],
    *,
    name: str = "request",
    strings: bool = False,
    progress: Callable[[], None] | None = None,
    media: MediaRoots | None = None,
) -> ImportReport:
    """Validate and upsert ``(place, row)`` pairs in one transaction; all or nothing. With
    ``media``, local media files are checked (they exist under the roots; an image's declared
    size is the file's)."""
    created = updated = total = imported = 0
    with store.tx() as conn:
        project = load_project(conn, actor, project_ref, need="manager")
        pid = int(project["id"])
        schema = ProjectSchema.from_dict(project["schema"])
        target = schema.workflow.overlap.min
        validator = RecordValidator(schema, from_strings=strings)
        cs = compiled(project)
        users: dict[str, int] = {}
        media_fields: list[tuple[str, str]] = [
            (f.name, str(f.type)) for f in schema.fields if f.type in MEDIA_TYPES
        ]
        screen = Screen.of(schema)
        batches = _batches(
            rows, validator, cs.answers, name, _precheck_targets(schema), strings, media_fields, media, screen
        )
        for batch in batches:
            # The last row for an external id wins within a batch (ON CONFLICT may not touch a row twice).
            by_id: dict[str, RecordIn] = {}
            places: dict[str, int] = {}
            answered: dict[str, tuple[int, list[dict[str, Any]]]] = {}
            findings: dict[str, list[tuple[str, Any]]] = {}
            for place, rec, given, found in batch:
                by_id[rec.external_id] = rec
                places[rec.external_id] = place
                findings[rec.external_id] = found
                if given:
                    answered[rec.external_id] = (place, given)
            recs = list(by_id.values())
            values = [
                {
                    "external_id": r.external_id,
                    "fields": r.fields,
                    "metadata": r.metadata,
                    "priority": r.priority,
                    "gold": r.gold,
                    "is_gold": bool(r.gold),
                    "skills": ",".join(r.metadata["skills"]) if r.metadata.get("skills") else None,
                    "target": target,
                }
                for r in recs
            ]
            with_suggestions = [r for r in recs if r.suggestions]
            try:
                want = [r.external_id for r in with_suggestions] + list(answered)
                if screen is not None:  # every record: a re-import replaces what was found before
                    want += [r.external_id for r in recs]
                existing, ids = rec_store.upsert_records(conn, pid, values, want_ids=want)
            except orjson.JSONEncodeError as e:
                raise _unstorable(recs, places, name, e) from None
            suggestion_rows = [
                {
                    "record_id": ids[r.external_id],
                    "question": s.question,
                    "value": s.value,
                    "score": s.score,
                    "model": s.model,
                }
                for r in with_suggestions
                for s in r.suggestions
            ]
            rec_store.replace_suggestions(conn, existing, suggestion_rows)
            if screen is not None:
                pii_store.replace_findings(
                    conn,
                    [ids[r.external_id] for r in recs],
                    [
                        {
                            "project_id": pid,
                            "record_id": ids[ext],
                            "field": field,
                            "kind": f.kind,
                            "span_start": f.start,
                            "span_end": f.end,
                            "action": screen.stored_action,
                        }
                        for ext, found in findings.items()
                        for field, f in found
                    ],
                )
            if answered:
                imported += _store_responses(conn, actor, project, cs, answered, ids, users, name)
            updated += len(existing)
            created += len(recs) - len(existing)
            total += len(batch)
            if progress is not None:
                progress()
        audit(
            conn,
            actor,
            ev.RECORDS_IMPORTED,
            "project",
            pid,
            project_id=pid,
            after={
                "source": name,
                "rows": total,
                "created": created,
                "updated": updated,
                "responses": imported,
            }
            | (
                {"personal_data": {"policy": screen.action, "found": dict(sorted(screen.counts.items()))}}
                if screen is not None
                else {}
            ),
        )
    return ImportReport(
        project_id=pid,
        rows=total,
        created=created,
        updated=updated,
        source=name,
        responses=imported,
        personal_data=dict(sorted(screen.counts.items())) if screen is not None else None,
    )


def _author(conn: Connection, project: dict[str, Any], user_name: str) -> int:
    """The id of the user an imported answer is attributed to: one who may work on the project,
    with a role there not above the importer's (a manager never speaks for an admin)."""
    user = acc.get_user_by_name(conn, user_name)
    role = author_role(conn, project, user)
    if user is None or role is None:
        raise ValidationError(f"no user named {user_name!r} who may work on this project; add it first")
    if ROLE_RANK[role] > ROLE_RANK.get(project["role"], -1):
        raise PermissionDenied(
            f"answers of {user_name!r} ({role} here) cannot be imported by a {project['role']}"
        )
    return int(user["id"])


def _store_responses(
    conn: Connection,
    actor: Actor,
    project: dict[str, Any],
    cs: CompiledSchema,
    answered: dict[str, tuple[int, list[dict[str, Any]]]],
    ids: dict[str, int],
    users: dict[str, int],
    name: str,
) -> int:
    """Store answers that came with the records; an answer a user already gave that record is kept once."""
    rids = sorted(ids[ext] for ext in answered)
    locked = dstore.records_for_update(conn, rids)  # (first: no answer lands between the two)
    answered_by = dstore.answered_by(conn, rids)
    rows: list[dict[str, Any]] = []
    added: dict[int, int] = {}
    for ext, (place, given) in answered.items():
        rid = ids[ext]
        have, gold = answered_by[rid], locked[rid]["gold"]
        for i, r in enumerate(given):
            uid = users.get(r["user"])
            if uid is None:
                try:
                    uid = users[r["user"]] = _author(conn, project, r["user"])
                except AssayError as e:
                    raise e.at(field=f"responses[{i}].user", file=name, line=place) from None
            if uid in have:
                continue
            have.add(uid)
            rows.append(
                {
                    "project_id": project["id"],
                    "record_id": rid,
                    "user_id": uid,
                    "values": r["values"],
                    "status": "submitted",
                    "duration_ms": r["duration_ms"],
                    "schema_version": project["schema_version"],
                    "guidelines_version": project["guidelines_version"],
                    "extra": {"imported_from": name},
                    "gold_score": gold_score(r["values"], gold, cs.multi) if gold else None,
                }
            )
            added[rid] = added.get(rid, 0) + 1
    dstore.insert_responses(conn, rows)
    dstore.settle_answers(conn, added)
    for ext in answered:
        rid = ids[ext]
        record = locked[rid]
        counters = {**record, "submitted": int(record["submitted"]) + added.get(rid, 0)}
        settle_record(conn, actor, project, cs, record, counters, None)
    return len(rows)
