"""Dataset versions: immutable snapshots of a project's records and labels, with diffs.

:func:`freeze` writes a version's content into the data directory
(``$ASSAY_HOME/datasets/<project id>/<name>-<tag>/``): ``records.parquet`` (each record's fields,
metadata, gold, suggestions and submitted answers with their reviews), ``labels.parquet`` (each
consensus label: value, confidence, method and the answers it came from) and ``manifest.json``
(row counts, schema and guidelines versions, the consensus method and its parameters, the
filters, content hashes; :mod:`assay.formats.snapshot`). The files are written in one read
transaction (a consistent snapshot; REPEATABLE READ on PostgreSQL), a page of records at a time,
then moved into place and made read-only; the version's row (with the manifest's SHA-256) and
its audit event are written last. A failure leaves no version and no folder.

:func:`diff` compares two versions record by record in one merge pass over their files (both
sorted by ``external_id``): records added and removed, content changed (fields, metadata,
priority, gold), labels changed (old → new, with the answers behind the new label and why), and
confidences changed. Memory stays flat whatever the size.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa

from assay.domain import events as ev
from assay.domain.errors import Conflict, NotFound, ValidationError
from assay.formats import open_writer
from assay.formats import snapshot as snap
from assay.formats.atomic import atomic_output
from assay.services.actors import Actor
from assay.services.audit import audit
from assay.services.policies import load_project
from assay.services.schemas import compiled
from assay.store import browse
from assay.store import datasets as ds_store
from assay.store.engine import Store
from assay.store.tables import records

__all__ = [
    "FILTERS",
    "Place",
    "Version",
    "Where",
    "diff",
    "export_version",
    "freeze",
    "iter_version_rows",
    "list_versions",
    "open_version",
    "show",
]

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
FILTERS = (*browse.FILTERS, "gold", "not_gold")
PAGE = 2000
EXPORT_FORMATS = ("jsonl", "json", "csv", "parquet")


# ---------------------------------------------------------------------------------------------
# filters


@dataclass(frozen=True)
class _Filters:
    sql: list[sa.ColumnElement[bool]]
    metadata: list[tuple[str, str]]  # (key, wanted): the record's metadata[key] equals it

    def keep(self, meta: dict[str, Any]) -> bool:
        return all(_as_text(meta.get(key)) == wanted for key, wanted in self.metadata)


def _as_text(v: Any) -> str | None:
    """A metadata value as ``metadata.KEY=VALUE`` writes it: text as is, true/false, numbers, JSON."""
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return str(v)
    return snap.canonical(v)


def _filters(specs: Sequence[str]) -> _Filters:
    """``--filter`` values: a records-browser filter (done, open, low_confidence, gold_failed,
    flagged, disagreement), ``gold``/``not_gold``, or ``metadata.KEY=VALUE``."""
    sql: list[sa.ColumnElement[bool]] = []
    meta: list[tuple[str, str]] = []
    for i, spec in enumerate(specs):
        where = f"filter[{i}]"
        s = spec.strip()
        if s.startswith("metadata."):
            key, sep, value = s[len("metadata.") :].partition("=")
            if not sep or not key:
                raise ValidationError(f"{spec!r}: write metadata.KEY=VALUE", field=where)
            meta.append((key, value))
        elif s == "gold":
            sql.append(records.c.is_gold.is_(True))
        elif s == "not_gold":
            sql.append(records.c.is_gold.is_(False))
        elif s in browse.FILTERS:
            sql.extend(browse.filter_clauses(s))
        else:
            raise ValidationError(
                f"unknown filter {spec!r}: use one of {', '.join(FILTERS)}, or metadata.KEY=VALUE",
                field=where,
            )
    return _Filters(sql, meta)


# ---------------------------------------------------------------------------------------------
# freeze


def _iso(v: Any) -> Any:
    return v.isoformat() if hasattr(v, "isoformat") else v


def _loads(text: Any) -> Any:
    if text is None:
        return None
    if isinstance(text, int | float):  # (SQLite gives JSON columns numeric affinity)
        return text
    return orjson.loads(text)


def _response(r: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": r["id"],
        "user": r["user_name"],
        "kind": r["user_kind"],
        "values": r["values"],
        "submitted_at": _iso(r["updated_at"]),
        "duration_ms": r["duration_ms"],
        "schema_version": r["schema_version"],
        "guidelines_version": r["guidelines_version"],
    }
    if r["gold_score"] is not None:
        out["gold_score"] = r["gold_score"]
    if r["suggestions_kept"] is not None:
        out["suggestions_kept"] = r["suggestions_kept"]
    if r.get("review_verdict") and r["review_verdict"] != "pending":
        review: dict[str, Any] = {"verdict": r["review_verdict"], "reviewer": r["reviewer_name"]}
        if r["review_corrected"] is not None:
            review["corrected_values"] = r["review_corrected"]
        if r["review_comment"]:
            review["comment"] = r["review_comment"]
        out["review"] = review
    return out


def _sources(c: dict[str, Any], answers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_id = {a["id"]: a for a in answers}
    out = []
    for rid in c["response_ids"] or []:
        a = by_id.get(rid)
        if a is None:
            continue
        s: dict[str, Any] = {
            "user": a["user"],
            "kind": a["kind"],
            "value": (a["values"] or {}).get(c["question"]),
        }
        if "review" in a:
            s["review"] = a["review"]["verdict"]
            s["reviewer"] = a["review"]["reviewer"]
            corrected = a["review"].get("corrected_values") or {}
            if c["question"] in corrected:
                s["corrected"] = corrected[c["question"]]
        out.append(s)
    return out


def _record_hash(row: dict[str, Any]) -> str:
    doc = [row["external_id"], row["fields"], row["metadata"], row["priority"], row["gold"]]
    return hashlib.sha256(orjson.dumps(doc)).hexdigest()


@dataclass
class _Tally:
    records: int = 0
    gold_records: int = 0
    labels: int = 0
    responses: int = 0

    def __post_init__(self) -> None:
        self.methods: dict[str, Counter[str]] = {}


def _write_pages(
    conn: sa.Connection, pid: int, flt: _Filters, writer: snap.SnapshotWriter, tally: _Tally
) -> None:
    collate_c = not ds_store.code_point_order(conn)
    for raw in ds_store.snapshot_pages(conn, pid, page=PAGE, where=flt.sql, collate_c=collate_c):
        for rec in raw:
            rec["metadata"] = _loads(rec["metadata"]) or {}
        page = [r for r in raw if flt.keep(r["metadata"])] if flt.metadata else raw
        ids = [int(r["id"]) for r in page]
        answers = ds_store.responses_of(conn, ids)
        labels = ds_store.consensus_of(conn, ids)
        suggested = ds_store.suggestions_of(conn, ids)
        for rec in page:
            rid = int(rec["id"])
            given = [_response(a) for a in answers.get(rid, [])]
            row: dict[str, Any] = {
                "external_id": str(rec["external_id"]),
                "fields": snap.canonical(_loads(rec["fields"])),
                "metadata": snap.canonical(rec["metadata"]),
                "priority": int(rec["priority"]),
                "gold": snap.canonical(_loads(rec["gold"])),
                "is_gold": bool(rec["is_gold"]),
                "status": str(rec["status"]),
                "suggestions": snap.canonical(
                    [
                        {
                            k: s[k]
                            for k in ("question", "value", "score", "model")
                            if s[k] is not None or k == "value"
                        }
                        for s in suggested.get(rid, [])
                    ]
                ),
                "responses": snap.canonical(given),
            }
            row["record_hash"] = _record_hash(row)
            writer.record(row)
            tally.records += 1
            tally.gold_records += bool(rec["is_gold"])
            tally.responses += len(given)
            for c in labels.get(rid, []):
                writer.label(
                    {
                        "external_id": row["external_id"],
                        "question": str(c["question"]),
                        "value": snap.canonical(c["value"]),
                        "confidence": None if c["confidence"] is None else float(c["confidence"]),
                        "method": str(c["method"]),
                        "sources": snap.canonical(_sources(c, given)),
                    }
                )
                tally.labels += 1
                tally.methods.setdefault(str(c["question"]), Counter())[str(c["method"])] += 1


def _content_hash(files: dict[str, dict[str, Any]]) -> str:
    h = hashlib.sha256()
    for name in (snap.RECORDS_FILE, snap.LABELS_FILE):
        h.update(f"{name} {files[name]['rows']} {files[name]['content_sha256']}\n".encode())
    return "sha256:" + h.hexdigest()


@dataclass(frozen=True)
class Place:
    """Where versions' files go: the data directory (``home``), or, with ``url``
    (``ASSAY_DATASETS_URL``: ``s3://bucket/prefix``, ``gs://…``, ``az://…``), an object store through
    fsspec, with a local copy of each version read kept under ``home/datasets/cache``."""

    home: Path
    url: str | None = None
    s3_endpoint_url: str | None = None

    def filesystem(self, url: str) -> Any:
        from assay.services.media_store import ObjectStores

        return ObjectStores(prefixes=(url,), s3_endpoint_url=self.s3_endpoint_url).filesystem(url)

    def cache(self, url: str) -> Path:
        return self.home / "datasets" / "cache" / hashlib.sha256(url.encode()).hexdigest()[:24]


Where = Path | Place
_FILES = (snap.RECORDS_FILE, snap.LABELS_FILE, snap.MANIFEST_FILE)


def _place(where: Where) -> Place:
    if isinstance(where, Place):
        if where.url is not None:
            from assay.services.media_store import is_object_url

            if not is_object_url(where.url):
                raise ValidationError(
                    f"ASSAY_DATASETS_URL {where.url!r} is not an object-store URL (s3://, gs://, az://)",
                    field="ASSAY_DATASETS_URL",
                )
        return where
    return Place(where)


def _key(url: str) -> str:
    return url.split("://", 1)[1].rstrip("/")


def _upload(place: Place, folder: Path, target: str) -> None:
    fs = place.filesystem(target)
    for name in _FILES:
        fs.put_file(str(folder / name), f"{_key(target)}/{name}")


def _remove_objects(place: Place, target: str) -> None:
    with contextlib.suppress(Exception):  # (best effort: an object left behind belongs to no version)
        place.filesystem(target).rm(_key(target), recursive=True)


def _download(place: Place, url: str) -> Path:
    """The local copy of a version stored at ``url`` (fetched once; its hashes are checked on use)."""
    folder = place.cache(url)
    if (folder / snap.MANIFEST_FILE).is_file():
        return folder
    tmp = folder.with_name(f".{folder.name}.{uuid.uuid4().hex[:8]}.partial")
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        fs = place.filesystem(url)
        for name in _FILES:
            try:
                fs.get_file(f"{_key(url)}/{name}", str(tmp / name))
            except FileNotFoundError:
                raise NotFound(f"the object store has no {name} at {url}", field="version") from None
        os.replace(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def _folder(home: Path, pid: int) -> Path:
    return home / "datasets" / str(pid)


def _check_name(name: str) -> str:
    if not NAME.match(name):
        raise ValidationError(
            f"version name {name!r}: 1 to 100 letters, digits, '.', '_' or '-', starting with a letter or digit",
            field="name",
        )
    return name


def freeze(
    store: Store,
    actor: Actor,
    where: Where,
    project_ref: int | str,
    *,
    name: str | None = None,
    filters: Sequence[str] = (),
    kind: str = "dataset",
) -> dict[str, Any]:
    """Snapshot the project's records (those ``filters`` keep) as the version ``name`` (default
    ``v1``, ``v2`` …); its files go under ``home`` (managers)."""
    if name is not None:
        _check_name(name)
    flt = _filters(filters)
    place = _place(where)
    home = place.home
    tag = uuid.uuid4().hex[:8]
    tally = _Tally()
    with store.read() as conn:
        ds_store.repeatable_read(conn)
        project = load_project(conn, actor, project_ref, need="manager")
        pid = int(project["id"])
        name = name or f"v{ds_store.count_versions(conn, pid) + 1}"
        if ds_store.get_version(conn, pid, name) is not None:
            raise Conflict(f"project {project['name']!r} has a version {name!r} already", field="name")
        base = _folder(home, pid)
        tmp = base / f".{name}-{tag}.partial"
        writer = snap.SnapshotWriter(tmp)
        try:
            _write_pages(conn, pid, flt, writer, tally)
            files = writer.close()
        except BaseException:
            writer.abort()
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    final = base / f"{name}-{tag}"
    target = f"{place.url.rstrip('/')}/{pid}/{name}-{tag}" if place.url else None
    try:
        if tally.records == 0:
            raise ValidationError(
                f"no records of {project['name']!r} to freeze"
                + (f" (the filters {', '.join(filters)} keep none)" if filters else ""),
                field="filter" if filters else "project",
            )
        cs = compiled(project)
        wf = cs.schema.workflow
        digest = _content_hash(files)
        manifest = {
            "format": snap.FORMAT,
            "project": {"id": pid, "name": project["name"]},
            "name": name,
            "kind": kind,
            "created_by": actor.name,
            "schema_version": int(project["schema_version"]),
            "guidelines_version": int(project["guidelines_version"]),
            "consensus": {
                "method": wf.consensus_method,
                "parameters": {
                    "overlap": wf.overlap.model_dump(mode="json"),
                    "gold_rate": wf.gold_rate,
                    "review_rate": wf.review_rate,
                    "quality_bar": wf.quality_bar,
                },
                "methods_used": {q: dict(sorted(c.items())) for q, c in sorted(tally.methods.items())},
            },
            "filters": list(filters),
            "counts": {
                "records": tally.records,
                "gold_records": tally.gold_records,
                "labels": tally.labels,
                "responses": tally.responses,
            },
            "files": files,
            "content_hash": digest,
            "schema": project["schema"],
        }
        text = orjson.dumps(manifest, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
        (tmp / snap.MANIFEST_FILE).write_bytes(text)
        manifest_sha = hashlib.sha256(text).hexdigest()
        for f in tmp.iterdir():
            f.chmod(0o444)
        if target is not None:  # into the object store; the local copy becomes its cache
            _upload(place, tmp, target)
            final = place.cache(target)
            final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, final)
        path = target if target is not None else final.relative_to(home).as_posix()
        with store.tx() as conn:
            if ds_store.get_version(conn, pid, name) is not None:
                raise Conflict(f"project {project['name']!r} has a version {name!r} already", field="name")
            vid = ds_store.insert_version(
                conn,
                project_id=pid,
                name=name,
                content_hash=digest,
                schema=project["schema"],
                schema_version=int(project["schema_version"]),
                filters=list(filters) or None,
                lineage={
                    "kind": kind,
                    "manifest_sha256": manifest_sha,
                    "guidelines_version": int(project["guidelines_version"]),
                    "counts": manifest["counts"],
                },
                card=None,
                format="parquet",
                path=path,
                record_count=tally.records,
                created_by=actor.id,
            )
            audit(
                conn,
                actor,
                ev.DATASET_VERSION_CREATED,
                "dataset_version",
                vid,
                project_id=pid,
                after={
                    "name": name,
                    "content_hash": digest,
                    "records": tally.records,
                    "labels": tally.labels,
                    "filters": list(filters),
                    "path": path,
                },
            )
            version = ds_store.get_version(conn, pid, name)
    except BaseException:
        for p in (tmp, final):
            shutil.rmtree(p, ignore_errors=True)
        if target is not None:
            _remove_objects(place, target)
        raise
    assert version is not None
    return public(version) | {"project": project["name"], "manifest": _summary(manifest)}


# ---------------------------------------------------------------------------------------------
# reading versions


def public(v: dict[str, Any]) -> dict[str, Any]:
    lineage = v.get("lineage") or {}
    counts = lineage.get("counts") or {}
    return {
        "id": v["id"],
        "project_id": v["project_id"],
        "name": v["name"],
        "kind": lineage.get("kind", "benchmark" if v["format"] == "benchmark" else "dataset"),
        "content_hash": v["content_hash"],
        "record_count": v["record_count"],
        "labels": counts.get("labels"),
        "schema_version": v["schema_version"],
        "guidelines_version": lineage.get("guidelines_version"),
        "filters": v["filters"] or [],
        "created_at": v["created_at"],
        "created_by": v["created_by"],
        "stored": v["format"] == "parquet",  # False: a version frozen before content was kept
        "path": v["path"],
    }


def _summary(m: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in m.items() if k != "schema"}


@dataclass(frozen=True)
class Version:
    project: dict[str, Any]
    row: dict[str, Any]
    folder: Path

    @property
    def name(self) -> str:
        return str(self.row["name"])

    def manifest(self) -> dict[str, Any]:
        doc: dict[str, Any] = orjson.loads((self.folder / snap.MANIFEST_FILE).read_bytes())
        return doc


def list_versions(store: Store, actor: Actor, project_ref: int | str) -> list[dict[str, Any]]:
    with store.read() as conn:
        project = load_project(conn, actor, project_ref, need="manager")
        return [public(v) for v in ds_store.list_versions(conn, int(project["id"]))]


def open_version(store: Store, actor: Actor, where: Where, project_ref: int | str, name: str) -> Version:
    """A stored version and its folder (managers); NotFound naming what is missing."""
    with store.read() as conn:
        project = load_project(conn, actor, project_ref, need="manager")
        v = ds_store.get_version(conn, int(project["id"]), name)
    if v is None:
        raise NotFound(f"project {project['name']!r} has no version {name!r}", field="version")
    if v["format"] != "parquet" or not v["path"]:
        raise Conflict(
            f"version {name!r} of {project['name']!r} was frozen before versions kept their content "
            "(it holds a hash and record ids only): freeze a new version",
            field="version",
        )
    place = _place(where)
    from assay.services.media_store import is_object_url

    if is_object_url(str(v["path"])):
        return Version(project, v, _download(place, str(v["path"])))
    folder = place.home / str(v["path"])
    if not (folder / snap.MANIFEST_FILE).is_file():
        raise NotFound(
            f"the files of version {name!r} are not at {folder} (frozen with another data directory? "
            "point --home or ASSAY_HOME at it)",
            field="version",
        )
    return Version(project, v, folder)


def verify(version: Version) -> list[str]:
    """What does not match in the version's files (empty: every hash matches)."""
    problems = []
    text = (version.folder / snap.MANIFEST_FILE).read_bytes()
    want = (version.row.get("lineage") or {}).get("manifest_sha256")
    if hashlib.sha256(text).hexdigest() != want:
        problems.append(
            f"{snap.MANIFEST_FILE}: its SHA-256 is not the one recorded when the version was frozen"
        )
    manifest = orjson.loads(text)
    for fname, info in (manifest.get("files") or {}).items():
        path = version.folder / fname
        if not path.is_file():
            problems.append(f"{fname}: missing")
        elif snap.file_sha256(path) != info.get("file_sha256"):
            problems.append(f"{fname}: its bytes changed since the version was frozen")
    if manifest.get("content_hash") != version.row["content_hash"]:
        problems.append("manifest.json: its content hash is not the version's")
    return problems


def show(store: Store, actor: Actor, home: Where, project_ref: int | str, name: str) -> dict[str, Any]:
    """The version, its manifest (without the schema) and whether its files still match."""
    v = open_version(store, actor, home, project_ref, name)
    problems = verify(v)
    return public(v.row) | {
        "project": v.project["name"],
        "manifest": _summary(v.manifest()),
        "verified": not problems,
        "problems": problems,
    }


def _checked(v: Version) -> Version:
    problems = verify(v)
    if problems:
        raise Conflict(
            f"version {v.name!r} does not match what was frozen: {'; '.join(problems)}", field="version"
        )
    return v


def iter_version_rows(folder: Path, *, flat_fields: bool = False) -> Iterator[dict[str, Any]]:
    """A version's records as export rows (the layout of ``assay export``): fields, metadata,
    priority, gold, suggestions, responses and consensus."""
    for rec, labels in snap.grouped(folder):
        fields = orjson.loads(rec["fields"])
        row: dict[str, Any] = {"external_id": rec["external_id"]}
        if flat_fields:
            row.update(fields)
        else:
            row["fields"] = fields
        row["metadata"] = orjson.loads(rec["metadata"])
        row["priority"] = rec["priority"]
        row["gold"] = None if rec["gold"] is None else orjson.loads(rec["gold"])
        row["suggestions"] = orjson.loads(rec["suggestions"])
        row["responses"] = orjson.loads(rec["responses"])
        row["consensus"] = {
            lab["question"]: {
                "value": None if lab["value"] is None else orjson.loads(lab["value"]),
                "confidence": lab["confidence"],
                "method": lab["method"],
            }
            for lab in labels
        }
        yield row


def export_version(
    store: Store,
    actor: Actor,
    home: Where,
    project_ref: int | str,
    name: str,
    path: Path,
    *,
    fmt: str = "jsonl",
    on_progress: Callable[[int, int | None], None] | None = None,
) -> dict[str, Any]:
    """Write a version's records (checked against its hashes first) as JSONL, JSON, CSV or Parquet."""
    if fmt not in EXPORT_FORMATS:
        raise ValidationError(f"format {fmt!r}: use one of {', '.join(EXPORT_FORMATS)}", field="format")
    v = _checked(open_version(store, actor, home, project_ref, name))
    total = int(v.row["record_count"])
    n = 0
    with atomic_output(path) as tmp:
        writer = open_writer(tmp, fmt)
        try:
            for row in iter_version_rows(v.folder, flat_fields=fmt in ("csv", "parquet")):
                writer.write(row)
                n += 1
                if on_progress is not None and n % 5000 == 0:
                    on_progress(n, total)
        finally:
            writer.close()
    pid = int(v.project["id"])
    with store.tx() as conn:
        audit(
            conn,
            actor,
            ev.EXPORTED,
            "dataset_version",
            v.row["id"],
            project_id=pid,
            after={"version": v.name, "path": str(path), "format": fmt, "rows": n},
        )
    return {"project": v.project["name"], "version": v.name, "rows": n, "path": str(path), "format": fmt}


# ---------------------------------------------------------------------------------------------
# diff

CHANGES = ("added", "removed", "content_changed", "label_changed", "confidence_changed")


def _conf(x: float | None) -> float | None:
    return None if x is None else round(float(x), 6)


def _why(lab: dict[str, Any] | None, sources: list[dict[str, Any]], version: str) -> str:
    if lab is None:
        return f"no consensus in {version}"
    people = (
        ", ".join(
            f"{s['user']}: {snap.canonical(s.get('value'))}"
            + (f" corrected to {snap.canonical(s['corrected'])}" if "corrected" in s else "")
            for s in sources
        )
        or "no answers kept"
    )
    reviews = [
        f"{s['review']} by {s.get('reviewer') or 'an unnamed reviewer'}" for s in sources if s.get("review")
    ]
    conf = "" if lab["confidence"] is None else f", confidence {lab['confidence']:.3f}"
    return f"{lab['method']} over {len(sources)} answer(s) ({people}){conf}" + (
        f"; reviewed: {', '.join(reviews)}" if reviews else ""
    )


def _label_changes(
    key: str, old: list[dict[str, Any]], new: list[dict[str, Any]], new_name: str
) -> Iterator[dict[str, Any]]:
    a = {lab["question"]: lab for lab in old}
    b = {lab["question"]: lab for lab in new}
    for q in sorted(a.keys() | b.keys()):
        x, y = a.get(q), b.get(q)
        sources = orjson.loads(y["sources"]) if y is not None else []
        base = {"external_id": key, "question": q}
        if x is None or y is None or x["value"] != y["value"]:
            yield base | {
                "change": "label_changed",
                "old": None if x is None or x["value"] is None else orjson.loads(x["value"]),
                "new": None if y is None or y["value"] is None else orjson.loads(y["value"]),
                "old_confidence": None if x is None else x["confidence"],
                "new_confidence": None if y is None else y["confidence"],
                "method": None if y is None else y["method"],
                "who": sources,
                "why": _why(y, sources, new_name),
            }
        elif _conf(x["confidence"]) != _conf(y["confidence"]) or x["method"] != y["method"]:
            yield base | {
                "change": "confidence_changed",
                "value": None if y["value"] is None else orjson.loads(y["value"]),
                "old": x["confidence"],
                "new": y["confidence"],
                "old_method": x["method"],
                "method": y["method"],
                "who": sources,
                "why": _why(y, sources, new_name),
            }


_PARTS = ("fields", "metadata", "priority", "gold")


def iter_diff(old: Path, new: Path, new_name: str = "the new version") -> Iterator[dict[str, Any]]:
    """The changes from the version in ``old`` to the one in ``new``, in ``external_id`` order."""
    a = snap.grouped(old, record_columns=snap.DIFF_COLUMNS)
    b = snap.grouped(new, record_columns=snap.DIFF_COLUMNS)
    x, y = next(a, None), next(b, None)
    while x is not None or y is not None:
        if y is None or (x is not None and x[0]["external_id"] < y[0]["external_id"]):
            assert x is not None
            yield {"change": "removed", "external_id": x[0]["external_id"]}
            x = next(a, None)
        elif x is None or y[0]["external_id"] < x[0]["external_id"]:
            yield {"change": "added", "external_id": y[0]["external_id"]}
            y = next(b, None)
        else:
            (ra, la), (rb, lb) = x, y
            key = ra["external_id"]
            if ra["record_hash"] != rb["record_hash"]:
                parts = [p for p in _PARTS if ra[p] != rb[p]]
                yield {"change": "content_changed", "external_id": key, "parts": parts}
            yield from _label_changes(key, la, lb, new_name)
            x, y = next(a, None), next(b, None)


def diff(
    store: Store,
    actor: Actor,
    home: Where,
    project_ref: int | str,
    old: str,
    new: str,
    *,
    limit: int | None = 1000,
    out: Path | None = None,
) -> dict[str, Any]:
    """Counts of each kind of change from ``old`` to ``new`` and the first ``limit`` changes
    (``truncated`` when there are more); with ``out``, every change as JSON Lines there."""
    va = _checked(open_version(store, actor, home, project_ref, old))
    if not new:
        raise ValidationError("name the version to compare with", field="against")
    vb = _checked(open_version(store, actor, home, project_ref, new))
    counts: Counter[str] = Counter({c: 0 for c in CHANGES})
    shown: list[dict[str, Any]] = []
    changes = iter_diff(va.folder, vb.folder, vb.name)
    if out is not None:
        with atomic_output(out) as tmp, tmp.open("wb") as f:
            for c in changes:
                counts[c["change"]] += 1
                if limit is None or len(shown) < limit:
                    shown.append(c)
                f.write(orjson.dumps(c) + b"\n")
    else:
        for c in changes:
            counts[c["change"]] += 1
            if limit is None or len(shown) < limit:
                shown.append(c)
    total = sum(counts.values())
    return {
        "project": va.project["name"],
        "from": public(va.row),
        "to": public(vb.row),
        "counts": dict(counts),
        "total": total,
        "changes": shown,
        "truncated": total > len(shown),
        "out": None if out is None else str(out),
    }
