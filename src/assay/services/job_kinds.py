"""The kinds of background job: pre-labeling, judge (jury) runs, consensus recompute, exports.

Each kind checks its parameters when queued (``prepare``) and runs with a
:class:`~assay.services.jobs.JobContext`. Pre-labeling writes its suggestions in the transaction
of its step's checkpoint (a retry never writes them twice); judges answer through dispatch, which
never gives one contributor a record twice; consensus and exports are idempotent as they are.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from assay.connectors.base import BaseConnector, Completion, ConnectorError, user_message
from assay.connectors.rules import fields_message
from assay.connectors.spec import build_connector, check_spec, spec_model
from assay.domain.errors import ValidationError
from assay.domain.schema import ProjectSchema
from assay.quality import METHODS
from assay.services import consensus, exports
from assay.services.actors import Actor, actor_from_row
from assay.services.jobs import JobContext, JobKind, job_kind, project_of
from assay.services.judge import extract_json, parse_answer, render_template, run_judge
from assay.services.personal_data import CONTRIBUTOR_MODES
from assay.services.policies import author_role
from assay.store import accounts as acc
from assay.store import jobs as job_store
from assay.store import records as rec_store
from assay.store.engine import Store

__all__ = ["default_prelabel_template"]

MAX_BATCH = 1000


def _int(params: dict[str, Any], name: str, default: int, lo: int, hi: int) -> int:
    value = params.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise ValidationError(f"must be an integer from {lo} to {hi}", field=f"params.{name}")
    return value


def _connector_spec(spec: Any, actor: Actor, field: str = "params.connector") -> dict[str, Any]:
    """The connector spec, checked; a user's (over HTTP) may call only listed model endpoints."""
    try:
        return check_spec(
            spec, remote=actor.token_id is not None
        )  # over HTTP (a token); the local CLI has none
    except ValueError as e:
        raise ValidationError(str(e), field=field) from None


def _count(store: Store, project_id: int) -> int:
    with store.read() as conn:
        return rec_store.count_records(conn, project_id)


# --------------------------------------------------------------------------- consensus


def _prepare_consensus(
    store: Store, actor: Actor, project: dict[str, Any], params: dict[str, Any]
) -> tuple[dict[str, Any], int | None]:
    method = params.get("method")
    if method is not None and method not in METHODS:
        raise ValidationError(f"one of {', '.join(METHODS)}", field="params.method")
    return {"method": method}, 1


def _run_consensus(ctx: JobContext) -> dict[str, Any]:
    assert ctx.project_id is not None
    out = consensus.recompute_project(ctx.store, ctx.actor, ctx.project_id, ctx.params.get("method"))
    ctx.progress(done=1)
    return {"method": out["method"], "records": out["records"]}


job_kind(
    JobKind(
        "consensus",
        _run_consensus,
        _prepare_consensus,
        description="recompute every record's consensus (EM aggregators over the whole project)",
    )
)

# --------------------------------------------------------------------------- exports

EXPORT_FORMATS = ("jsonl", "json", "csv", "parquet")


def _prepare_export(
    store: Store, actor: Actor, project: dict[str, Any], params: dict[str, Any]
) -> tuple[dict[str, Any], int | None]:
    fmt = params.get("format", "jsonl")
    if fmt not in EXPORT_FORMATS:
        raise ValidationError(f"one of {', '.join(EXPORT_FORMATS)}", field="params.format")
    contributors = str(params.get("contributors", "names"))
    if contributors not in CONTRIBUTOR_MODES:
        raise ValidationError(f"one of {', '.join(CONTRIBUTOR_MODES)}", field="params.contributors")
    prepared = {"format": fmt, "lineage": bool(params.get("lineage", False)), "contributors": contributors}
    return prepared, _count(store, int(project["id"]))


def export_dir() -> Path:
    from assay.settings import Settings

    return Settings().home / "exports"


def _run_export(ctx: JobContext) -> dict[str, Any]:
    assert ctx.project_id is not None
    fmt = str(ctx.params["format"])
    folder = export_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"project-{ctx.project_id}-job-{ctx.job_id}.{fmt}"
    partial = path.with_name(path.name + ".partial")
    seen = [0]

    def on_progress(n: int, _total: int | None) -> None:
        ctx.progress(done=n - seen[0])
        seen[0] = n

    report = exports.export_file(
        ctx.store,
        ctx.actor,
        ctx.project_id,
        partial,
        fmt=fmt,
        lineage=bool(ctx.params.get("lineage")),
        on_progress=on_progress,
        contributors=str(ctx.params.get("contributors", "names")),
    )
    os.replace(partial, path)  # a retry writes the whole file again; only a complete one is kept
    return {"path": str(path), "rows": report.rows, "format": fmt}


job_kind(
    JobKind(
        "export",
        _run_export,
        _prepare_export,
        description="write the project's records, answers and consensus to a file in the data directory",
    )
)

# --------------------------------------------------------------------------- thumbnails

THUMB_PAGE = 200


def _thumb_fields(project: dict[str, Any]) -> dict[str, str]:
    schema = ProjectSchema.from_dict(project["schema"])
    return {f.name: str(f.type) for f in schema.fields if f.type in ("image", "video")}


def _prepare_thumbnails(
    store: Store, actor: Actor, project: dict[str, Any], params: dict[str, Any]
) -> tuple[dict[str, Any], int | None]:
    if not _thumb_fields(project):
        raise ValidationError("the project has no image or video field", field="kind")
    return {}, _count(store, int(project["id"]))


def _run_thumbnails(ctx: JobContext) -> dict[str, Any]:
    """Make the thumbnail of every record's image and video (local or in a bucket) ahead of the
    records browser asking; those already made are kept. A file that cannot be read is a failed
    record, named in the job's errors; the job goes on."""
    from assay.domain.errors import AssayError
    from assay.domain.fields import media_info
    from assay.services import media
    from assay.settings import Settings

    assert ctx.project_id is not None
    settings = Settings()
    roots, home = media.MediaRoots.from_settings(settings), settings.home.resolve()
    fields = _thumb_fields(project_of(ctx.store, ctx.project_id))
    after, made = int(ctx.position or 0), 0
    while True:
        with ctx.store.read() as conn:
            pages = rec_store.iter_record_pages(
                conn, ctx.project_id, page_size=THUMB_PAGE, after_id=after, columns=["fields"]
            )
            page = next(pages, [])
        if not page:
            break
        done = failed = 0
        errors: list[str] = []
        for rec in page:
            ok = True
            for name, kind in fields.items():
                value = (rec.get("fields") or {}).get(name)
                if value is None:
                    continue
                try:
                    found = roots.open_media(media_info(value).url)
                    if found is not None:
                        media.make_thumbnail(found, kind, home)
                        made += 1
                except AssayError as e:
                    ok = False
                    errors.append(f"record {rec['id']}, field {name}: {e.message}")
            done, failed = done + ok, failed + (not ok)
        after = int(page[-1]["id"])
        with ctx.step() as conn:
            ctx.record(conn, done=done, failed=failed, position=after, errors=errors)
        ctx.check_time()
    return {"thumbnails": made}


job_kind(
    JobKind(
        "thumbnails",
        _run_thumbnails,
        _prepare_thumbnails,
        description="make the records browser's thumbnails of every image and video ahead of time",
    )
)

# --------------------------------------------------------------------------- judges


def _prepare_judge(
    store: Store, actor: Actor, project: dict[str, Any], params: dict[str, Any]
) -> tuple[dict[str, Any], int | None]:
    judges = params.get("judges")
    if not isinstance(judges, list) or not judges:
        raise ValidationError("a list of {judge, connector} (one or a jury)", field="params.judges")
    checked = []
    with store.read() as conn:
        for i, j in enumerate(judges):
            if not isinstance(j, dict) or not isinstance(j.get("judge"), str):
                raise ValidationError("names a judge (a model user)", field=f"params.judges.{i}")
            user = acc.get_user_by_name(conn, j["judge"])
            if user is None or user.get("kind") != "model" or author_role(conn, project, user) is None:
                raise ValidationError(
                    f"no model user {j['judge']!r} who may work on this project",
                    field=f"params.judges.{i}.judge",
                )
            item = {
                "judge": j["judge"],
                "connector": _connector_spec(j.get("connector"), actor, f"params.judges.{i}"),
            }
            if j.get("template") is not None:
                item["template"] = str(j["template"])
            checked.append(item)
    batch = _int(params, "batch", 8, 1, 256)
    return {"judges": checked, "batch": batch}, None


def _run_judge(ctx: JobContext) -> dict[str, Any]:
    assert ctx.project_id is not None
    answered = 0
    for j in ctx.params["judges"]:
        with ctx.store.read() as conn:
            user = acc.get_user_by_name(conn, j["judge"])
        if user is None:
            raise ValidationError(f"no judge {j['judge']!r}")
        judge = actor_from_row(user)
        kwargs = {"prompt_template": j["template"]} if j.get("template") else {}
        with contextlib.closing(build_connector(j["connector"])) as connector:
            while True:
                ctx.check_time()
                report = run_judge(
                    ctx.store, judge, ctx.project_id, connector, limit=ctx.params["batch"],
                    batch=ctx.params["batch"], **kwargs,
                )  # fmt: skip
                if report.answered == 0 and not report.skipped:
                    break
                answered += report.answered
                ctx.progress(done=report.answered, failed=len(report.skipped), cost=report.cost)
    return {"answered": answered}


job_kind(
    JobKind(
        "judge",
        _run_judge,
        _prepare_judge,
        description="model users (one judge or a jury) answer the project's records through dispatch",
    )
)

# --------------------------------------------------------------------------- pre-labeling


def default_prelabel_template(schema: ProjectSchema) -> str:
    """A prompt showing every field of the record and asking for the questions' JSON answer."""
    parts = ["Guidelines: {{guidelines}}", ""]
    for f in schema.fields:
        parts += [f"{f.name}:", "{{" + f.name + "}}", ""]
    parts.append('Answer ONLY with a JSON object: {{questions}}; add "score": your confidence from 0 to 1.')
    return "\n".join(parts)


def _prepare_prelabel(
    store: Store, actor: Actor, project: dict[str, Any], params: dict[str, Any]
) -> tuple[dict[str, Any], int | None]:
    schema = ProjectSchema.from_dict(project["schema"])
    spec = _connector_spec(params.get("connector"), actor)
    questions = params.get("questions") or list(schema.question_names)
    if not isinstance(questions, list) or any(q not in schema.question_names for q in questions):
        raise ValidationError(
            f"questions of the project: {', '.join(schema.question_names)}", field="params.questions"
        )
    out: dict[str, Any] = {
        "connector": spec,
        "model": spec_model(spec),
        "questions": questions,
        "batch": _int(params, "batch", 32, 1, MAX_BATCH),
    }
    shard = params.get("shard")
    if shard is not None:
        if not (
            isinstance(shard, list)
            and len(shard) == 2
            and all(isinstance(x, int) and not isinstance(x, bool) for x in shard)
            and 0 <= shard[0] < shard[1] <= 1024
        ):
            raise ValidationError(
                "[k, n]: the records whose id is k modulo n (0 <= k < n <= 1024)", field="params.shard"
            )
        out["shard"] = shard
    if params.get("template") is not None:
        out["template"] = str(params["template"])
    if params.get("system") is not None:
        out["system"] = str(params["system"])
    if shard is not None:
        with store.read() as conn:
            return out, job_store.shard_size(conn, int(project["id"]), (shard[0], shard[1]))
    return out, _count(store, int(project["id"]))


def _score(text: str) -> float | None:
    try:
        obj = extract_json(text)
    except ValueError:
        return None
    if isinstance(obj, dict):
        for key in ("score", "confidence"):
            v = obj.get(key)
            if isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v <= 1:
                return float(v)
    return None


def _run_prelabel(ctx: JobContext) -> dict[str, Any]:
    """Suggestions for every record of the project that has none of this model's yet, a page at a
    time: the page's calls run concurrently (within the connector's limit), and its suggestions go
    in with the job's checkpoint."""
    assert ctx.project_id is not None
    p = ctx.params
    project = project_of(ctx.store, ctx.project_id)
    schema = ProjectSchema.from_dict(project["schema"])
    with contextlib.closing(build_connector(p["connector"])) as connector:
        return _prelabel_pages(ctx, schema, connector)


def _prelabel_pages(ctx: JobContext, schema: ProjectSchema, connector: BaseConnector) -> dict[str, Any]:
    assert ctx.project_id is not None
    p = ctx.params
    model: str = p["model"]
    questions: list[str] = p["questions"]
    template = p.get("template") or default_prelabel_template(schema)
    reads_fields = p["connector"]["type"] in ("rules", "embedding")  # they read the fields, not a prompt
    after = int(ctx.position or 0)
    written = 0
    while True:
        ctx.check_time()
        with ctx.store.read() as conn:
            page = job_store.records_to_prelabel(
                conn,
                ctx.project_id,
                after,
                model,
                questions,
                p["batch"],
                tuple(p["shard"]) if p.get("shard") else None,
            )
        if not page:
            break
        prompts: list[list[dict[str, Any]]] = []
        labels: list[dict[str, dict[str, str]]] = []
        for rec in page:
            if reads_fields:
                prompts.append(fields_message(rec["fields"]))
                labels.append({})
            else:
                text, lab = render_template(template, schema, rec["fields"])
                prompts.append(user_message(text, p.get("system")))
                labels.append(lab)
        results = connector.complete_many_safe(prompts)
        rows: list[dict[str, Any]] = []
        errors: list[str] = []
        cost = 0.0
        for rec, res, lab in zip(page, results, labels, strict=True):
            if isinstance(res, ConnectorError):
                errors.append(f"record {rec['external_id']}: {res}")
                continue
            cost += res.cost
            values = _values(res, schema, rec["fields"], lab, questions)
            if reads_fields and isinstance(values, str) and res.text.startswith('{"score"'):
                continue  # no rule held and no default: the grader abstains (done, nothing to suggest)
            if isinstance(values, str):
                errors.append(f"record {rec['external_id']}: {values}")
                continue
            share = res.cost / max(1, len(values))
            score = _score(res.text)
            rows += [
                {
                    "record_id": rec["id"],
                    "question": q,
                    "value": v,
                    "score": score,
                    "model": model,
                    "params": res.params,
                    "cost": share,
                    "job_id": ctx.job_id,
                }
                for q, v in values.items()
            ]
        after = int(page[-1]["id"])
        with ctx.step() as conn:
            job_store.insert_suggestions(conn, rows)
            ctx.record(
                conn,
                done=len(page) - len(errors),
                failed=len(errors),
                cost=cost,
                position=after,
                errors=errors,
            )
        written += len(rows)
    return {"suggestions": written, "model": model, "records": ctx.done, "failed": ctx.failed}


def _values(
    res: Completion,
    schema: ProjectSchema,
    fields: dict[str, Any],
    labels: dict[str, dict[str, str]],
    questions: list[str],
) -> dict[str, Any] | str:
    """The asked questions' values in an answer, or the reason there are none."""
    try:
        values = parse_answer(res.text, schema, fields, labels, partial=True)
    except ValueError as e:
        return f"unparseable answer: {e}"
    values = {q: v for q, v in values.items() if q in questions}
    return values or "the answer holds none of the questions asked"


job_kind(
    JobKind(
        "prelabel",
        _run_prelabel,
        _prepare_prelabel,
        description="a connector (model endpoint, Python function, rule grader) suggests answers for "
        "every record without one of its suggestions",
    )
)


# --------------------------------------------------------------------------- AI-first routing


def _prepare_route(
    store: Store, actor: Actor, project: dict[str, Any], params: dict[str, Any]
) -> tuple[dict[str, Any], int | None]:
    from assay.services.schemas import compiled

    if compiled(project).schema.workflow.ai_first is None:
        raise ValidationError("the project's workflow has no ai_first section", field="workflow.ai_first")
    return {}, None


def _run_route(ctx: JobContext) -> dict[str, Any]:
    from assay.services import ai_first

    assert ctx.project_id is not None
    return ai_first.route(ctx.store, ctx.actor, ctx.project_id, step=lambda conn, n: ctx.record(conn, done=n))


job_kind(
    JobKind(
        "route",
        _run_route,
        _prepare_route,
        description="AI-first routing: estimate trust, settle what trusted models agree on, order the "
        "people's queue by uncertainty and diversity by embeddings",
    )
)


# --------------------------------------------------------------------------- local models


def _prepare_train(
    store: Store, actor: Actor, project: dict[str, Any], params: dict[str, Any]
) -> tuple[dict[str, Any], int | None]:
    import re

    from assay.connectors.embeddings import EMBEDDERS

    schema = ProjectSchema.from_dict(project["schema"])
    question = params.get("question")
    labels = [q.name for q in schema.questions if q.type in ("label", "preference", "rating")]
    if question not in labels:
        raise ValidationError(
            f"a label, preference or rating question: {', '.join(labels)}", field="params.question"
        )
    fields = params.get("fields") or [f.name for f in schema.fields if f.type in ("text", "markdown")]
    if not isinstance(fields, list) or not fields or any(f not in schema.field_names for f in fields):
        raise ValidationError(
            f"fields of the project: {', '.join(schema.field_names)}", field="params.fields"
        )
    emb = params.get("embedder", "hashing")
    if emb not in EMBEDDERS:
        raise ValidationError(f"one of {', '.join(EMBEDDERS)}", field="params.embedder")
    name = params.get("name") or f"project-{project['id']}-{question}"
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}", name):
        raise ValidationError("letters, digits, . _ - (at most 100)", field="params.name")
    return {"question": question, "fields": fields, "embedder": emb, "name": name}, None


def _run_train(ctx: JobContext) -> dict[str, Any]:
    """Fit the local model on every record labelled by gold or by people, and save it."""
    import numpy as np

    from assay.connectors.embeddings import EmbeddingClassifier, embedder, record_text
    from assay.connectors.spec import model_path
    from assay.domain.gold import categorical_key
    from assay.store import ai_first as ai_store

    assert ctx.project_id is not None
    p = ctx.params
    project = project_of(ctx.store, ctx.project_id)
    qtype = ProjectSchema.from_dict(project["schema"]).question(p["question"]).type
    with ctx.store.read() as conn:
        rows = ai_store.labelled_records(conn, ctx.project_id, p["question"])
    texts, ys = [], []
    for r in rows:
        value = (r["gold"] or {}).get(p["question"]) if r["is_gold"] else r["value"]
        key = categorical_key(qtype, value)
        if key is not None:
            texts.append(record_text(r["fields"], p["fields"]))
            ys.append(key)
    if len(set(ys)) < 2:
        raise ValidationError("training needs records of at least two labels, from gold or from people")
    x = embedder(p["embedder"]).encode(texts)
    clf = EmbeddingClassifier.fit(x, ys, embedder_name=p["embedder"], fields=p["fields"])
    path = model_path(p["name"])
    clf.save(path)
    fitted = float(np.mean(np.array(clf.labels)[clf.predict_proba(x).argmax(axis=1)] == np.array(ys)))
    ctx.progress(done=len(ys))
    return {"model": p["name"], "path": str(path), "trained_on": len(ys), "labels": clf.labels,
            "embedder": p["embedder"], "train_accuracy": round(fitted, 4)}  # fmt: skip


job_kind(
    JobKind(
        "train",
        _run_train,
        _prepare_train,
        description="train the project's local model (embeddings + classifier) on the labels of gold and "
        "people; pre-label with it as connector {type: embedding, model, question}",
    )
)
