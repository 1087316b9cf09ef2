"""Synthesis runs: several teachers (connectors) write training data, filtered, capped and verified.

A run is a job of kind ``synth`` on a synthesis project (:func:`synth_schema`). Its prompts come
from a list, a template with variables, or a field of another project. The mode says what the
teachers write:

- ``answers``: every teacher answers every prompt (one record per accepted answer);
- ``pairs``: two teachers answer the same prompt (a comparison record; the pair rotates);
- ``instructions``: every teacher writes a new instruction in the spirit of each seed prompt;
- ``rewrites``: every teacher rewrites each text (clearer, correct, same meaning);
- ``critiques``: every teacher critiques an answer to a prompt (each input brings its ``answer``).

The last three wrap each input in a task (:data:`TASKS`, or ``task_template`` with ``{{input}}``
and, for critiques, ``{{answer}}``); the record's ``prompt`` is the task as the teacher read it.
Then, in this order:

1. **length**: answers shorter than ``min_chars`` or longer than ``max_chars`` are removed;
2. **language**: answers not in one of ``languages`` (py3langid) are removed;
3. **rules**: answers matching a ``reject`` rule's pattern are removed (a ``flag`` rule only
   suggests ``reject`` on the record);
4. **contamination**: items sharing a word n-gram with a named evaluation project, or with a
   frozen version of one (``golden@v1``: the records of that version, checked against its content
   hash), are removed;
5. **duplicates**: exact and near-duplicates (MinHash/LSH, :mod:`assay.services.text_filters`)
   within the run and against the target project and the projects named in ``dedup_against``;
6. **teacher cap**: no teacher above ``max_share`` of the project's synthetic items, this run's
   and the earlier runs' together (the latest items of this run of a teacher over its share are
   dropped).

A ``judge`` connector then scores each accepted answer (1-10); its score becomes a *suggestion*
for the ``verdict`` question (never a verdict). The counts removed at each step, the teachers'
shares, the diversity figures (:mod:`assay.services.diversity`), seeds, parameters and cost go
into the job's result; each record carries its lineage in ``metadata.synth`` (run, teacher,
model, parameters, prompt id, template variables, cost). The records then go through normal
dispatch: people accept, edit or reject each item (the ``verdict`` question).

Every teacher call goes through a response cache scoped to the job: a retried job (a worker
stopped, an import failed) gets the answers it already paid for from the cache.

At least two teachers are required; ``allow_single_teacher: true`` overrides it and the override
is written to the audit log (``synth.single_teacher``) by whoever queued the run.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections import Counter
from pathlib import Path
from typing import Any

from assay.connectors.base import BaseConnector, Completion, ConnectorError, user_message
from assay.connectors.spec import build_connector, check_spec, spec_model
from assay.domain import events as ev
from assay.domain.errors import Conflict, NotFound, ValidationError
from assay.domain.schema import ProjectSchema
from assay.services.actors import Actor
from assay.services.audit import audit
from assay.services.datasets import Place
from assay.services.diversity import EMBEDDER_CHOICES, diversity
from assay.services.exports import iter_export_rows
from assay.services.imports import import_rows
from assay.services.jobs import JobContext, JobKind, job_kind
from assay.services.policies import load_project
from assay.services.text_filters import NearDuplicateIndex, NgramIndex, language_codes, language_of
from assay.store import datasets as ds_store
from assay.store.engine import Store

__all__ = ["MODES", "VERDICTS", "cap_items", "synth_schema"]

MODES = ("answers", "pairs", "instructions", "rewrites", "critiques")
VERDICTS = ("accept", "edit", "reject")
MAX_PROMPTS = 100_000
MAX_RULES = 100
NEAR_SAMPLE = 5_000
_VAR = re.compile(r"\{\{\s*(\w+)\s*\}\}")
TASKS = {
    "instructions": "Write one new instruction or question for an AI assistant, in the spirit of the "
    "example below but on a different subject or from a different angle. Reply with the new "
    "instruction only.\n\nExample: {{input}}",
    "rewrites": "Rewrite the text below so that it is clear, correct and well written, keeping its "
    "meaning. Reply with the rewritten text only.\n\n{{input}}",
    "critiques": "Critique the answer below: say what is wrong, missing or unclear in it, and how to "
    "fix it. Be specific.\n\nQuestion: {{input}}\n\nAnswer: {{answer}}",
}
JUDGE_PROMPT = (
    "Rate the answer to the request below from 1 (useless, wrong or unsafe) to 10 (correct, "
    "helpful and well written). Reply with the number only.\n\nRequest: {prompt}\n\nAnswer: {answer}"
)
_SCORE = re.compile(r"\b(10|[1-9])\b")


def synth_schema(name: str, *, pairs: bool = False, overlap: int = 1) -> dict[str, Any]:
    """A synthesis project: the prompt, the teacher's answer (or two teachers' answers) and the
    verify/edit/reject question people answer (``rewrite`` holds an edit)."""
    answer: dict[str, Any] = (
        {"name": "candidates", "type": "comparison"} if pairs else {"name": "response", "type": "text"}
    )
    questions: list[dict[str, Any]] = [
        {"name": "verdict", "type": "label", "options": list(VERDICTS)},
        {"name": "rewrite", "type": "text", "field": answer["name"], "required": False},
    ]
    if pairs:
        questions.insert(
            1, {"name": "preference", "type": "preference", "field": "candidates", "ties": True,
                "strength": True, "required": False},
        )  # fmt: skip
    return {
        "name": name,
        "fields": [{"name": "prompt", "type": "text"}, answer],
        "questions": questions,
        "workflow": {"overlap": overlap},
        "guidelines": "Check the machine-written answer. accept: correct and useful as it is; "
        "edit: write the corrected answer in rewrite; reject: wrong, unsafe or useless.",
    }


# --------------------------------------------------------------------------- parameters


def _prompts(params: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The run's prompts ``[{id, prompt, variables?}]`` from ``prompts`` or ``template``+``variables``
    (None when they come from ``from_project``, read when the job runs)."""
    given = [k for k in ("prompts", "template", "from_project") if params.get(k) is not None]
    if len(given) != 1:
        raise ValidationError(
            "give one of prompts, template (with variables) or from_project", field="params"
        )
    out: list[dict[str, Any]] = []
    if "prompts" in given:
        raw = params["prompts"]
        if not isinstance(raw, list) or not raw:
            raise ValidationError("a non-empty list of prompts", field="params.prompts")
        for i, p in enumerate(raw):
            if isinstance(p, str):
                p = {"prompt": p}
            if not isinstance(p, dict) or not isinstance(p.get("prompt"), str) or not p["prompt"].strip():
                raise ValidationError("a prompt is a text or {id, prompt}", field=f"params.prompts.{i}")
            out.append({"id": str(p.get("id", f"p{i:06d}")), "prompt": p["prompt"], **_extras(p)})
    elif "template" in given:
        template, variables = params["template"], params.get("variables")
        if not isinstance(template, str) or not _VAR.search(template):
            raise ValidationError("a text with {{name}} placeholders", field="params.template")
        if (
            not isinstance(variables, list)
            or not variables
            or not all(isinstance(v, dict) for v in variables)
        ):
            raise ValidationError("a non-empty list of objects, one per prompt", field="params.variables")
        for i, v in enumerate(variables):
            missing = sorted(set(_VAR.findall(template)) - set(v))
            if missing:
                raise ValidationError(f"has no value for {', '.join(missing)}", field=f"params.variables.{i}")
            text = _VAR.sub(lambda m, v=v: str(v[m.group(1)]), template)  # type: ignore[misc]
            out.append({"id": str(v.get("id", f"t{i:06d}")), "prompt": text, "variables": v, **_extras(v)})
    else:
        return None
    if len(out) > MAX_PROMPTS:
        raise ValidationError(f"at most {MAX_PROMPTS} prompts in one run", field="params")
    if len({p["id"] for p in out}) != len(out):
        raise ValidationError("prompt ids repeat", field="params.prompts")
    return out


def _extras(item: dict[str, Any]) -> dict[str, str]:
    """An input's ``answer`` (what a critique reads) and ``topic`` (for the topic distribution)."""
    return {k: str(item[k]) for k in ("answer", "topic") if item.get(k) is not None}


def _number(params: dict[str, Any], name: str, default: float, lo: float, hi: float) -> float:
    v = params.get(name, default)
    if not isinstance(v, int | float) or isinstance(v, bool) or not lo <= v <= hi:
        raise ValidationError(f"a number from {lo} to {hi}", field=f"params.{name}")
    return float(v)


def _prepare_synth(
    store: Store, actor: Actor, project: dict[str, Any], params: dict[str, Any]
) -> tuple[dict[str, Any], int | None]:
    schema = ProjectSchema.from_dict(project["schema"])
    mode = params.get("mode", "answers")
    if mode not in MODES:
        raise ValidationError(f"one of {', '.join(MODES)}", field="params.mode")
    ftypes = {f.name: f.type for f in schema.fields}
    need = {
        "prompt": "text",
        ("candidates" if mode == "pairs" else "response"): "comparison" if mode == "pairs" else "text",
    }
    if any(ftypes.get(k) != t for k, t in need.items()) or "verdict" not in schema.question_names:
        raise ValidationError(
            f"project {project['name']!r} is not a synthesis project for mode {mode!r} (fields "
            f"{', '.join(f'{k}: {t}' for k, t in need.items())} and a verdict question; "
            "assay synth makes one)",
            field="project",
        )
    teachers = params.get("teachers")
    if not isinstance(teachers, list) or not teachers:
        raise ValidationError("a list of connectors, one per teacher", field="params.teachers")
    checked = []
    for i, t in enumerate(teachers):
        try:
            spec = check_spec(t, remote=actor.token_id is not None)
        except ValueError as e:
            raise ValidationError(str(e), field=f"params.teachers.{i}") from None
        spec["label"] = str(t.get("label") or spec_model(spec))
        checked.append(spec)
    labels = [t["label"] for t in checked]
    if len(set(labels)) != len(labels):
        raise ValidationError("teachers repeat: give each a distinct label", field="params.teachers")
    override = bool(params.get("allow_single_teacher", False))
    if len(checked) < 2 and not override:
        raise ValidationError(
            "a synthesis run needs at least two teachers (one teacher narrows what a student learns); "
            "allow_single_teacher overrides it and is recorded in the audit log",
            field="params.teachers",
        )
    if mode == "pairs" and len(checked) < 2:
        raise ValidationError("pairs need two teachers", field="params.teachers")
    default_share = 1.0 if len(checked) == 1 else 0.5
    max_share = _number(params, "max_share", default_share, 0.01, 1.0)
    if max_share * len(checked) < 1.0 - 1e-9:
        raise ValidationError(
            f"{len(checked)} teachers cannot each stay under {max_share:g} of the data",
            field="params.max_share",
        )
    prompts = _prompts(params)
    task = None
    if mode in TASKS:
        task = params.get("task_template", TASKS[mode])
        allowed = {"input", "answer"} if mode == "critiques" else {"input"}
        if not isinstance(task, str) or "input" not in _VAR.findall(task):
            raise ValidationError("a text with an {{input}} placeholder", field="params.task_template")
        unknown = sorted(set(_VAR.findall(task)) - allowed)
        if unknown:
            raise ValidationError(
                f"unknown placeholder {', '.join(unknown)}; use {', '.join(sorted(allowed))}",
                field="params.task_template",
            )
    elif params.get("task_template") is not None:
        raise ValidationError(f"mode {mode!r} takes no task template", field="params.task_template")
    if mode == "critiques" and prompts is not None:
        where = "variables" if params.get("template") is not None else "prompts"
        for i, pr in enumerate(prompts):
            if not pr.get("answer", "").strip():
                raise ValidationError(
                    "a critique needs the answer to critique", field=f"params.{where}.{i}.answer"
                )
    out: dict[str, Any] = {
        "mode": mode,
        "teachers": checked,
        "max_share": max_share,
        "seed": params.get("seed"),
        "system": params.get("system"),
        "min_chars": int(_number(params, "min_chars", 1, 0, 1e6)),
        "max_chars": int(_number(params, "max_chars", 20_000, 1, 1e7)),
        "near_duplicate": _number(params, "near_duplicate", 0.8, 0.05, 1.0),
        "ngram": int(_number(params, "ngram", 8, 1, 50)),
        "dedup_against": [str(p) for p in params.get("dedup_against") or []],
        "eval_sets": [str(p) for p in params.get("eval_sets") or []],
        "allow_single_teacher": override,
        "verify_sample": _number(params, "verify_sample", 1.0, 0.0, 1.0),
        "task_template": task,
        "languages": _languages(params.get("languages")),
        "rules": _rules(params.get("rules")),
        "judge": None,
        "judge_threshold": int(_number(params, "judge_threshold", 7, 1, 10)),
        "embedder": params.get("embedder", "auto"),
        "cap_scope": params.get("cap_scope", "project"),
    }
    if out["embedder"] not in EMBEDDER_CHOICES:
        raise ValidationError(f"one of {', '.join(EMBEDDER_CHOICES)}", field="params.embedder")
    if out["cap_scope"] not in ("project", "run"):
        raise ValidationError("project (every run of the project) or run", field="params.cap_scope")
    if params.get("judge") is not None:
        if mode == "pairs":
            raise ValidationError("a judge scores single answers; not in pairs mode", field="params.judge")
        try:
            judge = check_spec(params["judge"], remote=actor.token_id is not None)
        except ValueError as e:
            raise ValidationError(str(e), field="params.judge") from None
        judge["label"] = str(judge.get("label") or spec_model(judge))
        out["judge"] = judge
    if prompts is None:
        out["from_project"] = str(params["from_project"])
        out["field"] = str(params.get("field", "prompt"))
        if mode == "critiques":
            out["answer_field"] = str(params.get("answer_field", "response"))
    else:
        out["prompts"] = prompts
    if params.get("template") is not None:
        out["template"] = params["template"]
    with store.read() as conn:  # the caller must manage every project the run reads
        for ref in [*out["dedup_against"], *([out["from_project"]] if prompts is None else [])]:
            load_project(conn, actor, ref, need="manager")
        for i, ref in enumerate(out["eval_sets"]):
            name, _, version = ref.partition("@")
            try:
                ev_project = load_project(conn, actor, name, need="manager")
            except NotFound as e:
                raise NotFound(e.message, field=f"params.eval_sets.{i}") from None
            if version and ds_store.get_version(conn, int(ev_project["id"]), version) is None:
                raise NotFound(
                    f"evaluation set {name!r} has no frozen version {version!r} (assay eval freeze makes one)",
                    field=f"params.eval_sets.{i}",
                )
    if len(checked) < 2:
        with store.tx() as conn:
            audit(conn, actor, ev.SYNTH_SINGLE_TEACHER, "project", project["id"], project_id=int(project["id"]),
                  after={"teacher": labels[0], "reason": str(params.get("override_reason") or "")})  # fmt: skip
    return out, len(prompts) if prompts is not None else None


def _languages(raw: Any) -> list[str]:
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
        raise ValidationError("a list of language codes such as en, es, ar", field="params.languages")
    known = language_codes()
    for i, code in enumerate(raw):
        if code.lower() not in known:
            raise ValidationError(
                f"unknown language {code!r}; ISO 639-1 codes such as en, es, ar",
                field=f"params.languages.{i}",
            )
    return [c.lower() for c in raw]


def _rules(raw: Any) -> list[dict[str, Any]]:
    """Rule-based checks: ``{name?, pattern, field: response|prompt, action: reject|flag}``."""
    if raw is None:
        return []
    if not isinstance(raw, list) or len(raw) > MAX_RULES:
        raise ValidationError(f"a list of at most {MAX_RULES} rules", field="params.rules")
    out = []
    for i, r in enumerate(raw):
        where = f"params.rules.{i}"
        if not isinstance(r, dict) or not isinstance(r.get("pattern"), str) or not r["pattern"]:
            raise ValidationError("a rule is {pattern, field?, action?, name?}", field=where)
        try:
            re.compile(r["pattern"])
        except re.error as e:
            raise ValidationError(f"not a regular expression: {e}", field=f"{where}.pattern") from None
        field = r.get("field", "response")
        if field not in ("response", "prompt"):
            raise ValidationError("response or prompt", field=f"{where}.field")
        action = r.get("action", "reject")
        if action not in ("reject", "flag"):
            raise ValidationError(
                "reject (remove the item) or flag (suggest reject)", field=f"{where}.action"
            )
        out.append({"name": str(r.get("name") or f"rule-{i + 1}"), "pattern": r["pattern"], "field": field,
                    "action": action})  # fmt: skip
    return out


# --------------------------------------------------------------------------- the run


def _texts_of(row: dict[str, Any]) -> list[str]:
    """The text a record holds: its text fields and its candidates' texts."""
    out: list[str] = []
    for v in (row.get("fields") or {}).values():
        if isinstance(v, str):
            out.append(v)
        elif isinstance(v, list):
            out += [str(c.get("text", "")) for c in v if isinstance(c, dict)]
    return out


def _project_texts(ctx: JobContext, ref: int | str, skip_prefix: str = "") -> list[tuple[str, str]]:
    with ctx.store.read() as conn:
        project = load_project(conn, ctx.actor, ref, need="manager")
        return [
            (f"{project['name']}/{row['external_id']}#{j}", text)
            for row in iter_export_rows(conn, int(project["id"]))
            if not (skip_prefix and str(row["external_id"]).startswith(skip_prefix))
            for j, text in enumerate(_texts_of(row))
        ]


def cap_items(
    items: list[dict[str, Any]], max_share: float, *, earlier: Counter[str] | None = None
) -> list[dict[str, Any]]:
    """The items to drop so that no teacher holds more than ``max_share`` of the answers kept: the
    latest items of a teacher over its share go first. Each item names its ``teachers``.
    ``earlier``: the answers per teacher already kept by earlier runs (they count towards the
    shares; only ``items`` can be dropped)."""
    counts: Counter[str] = Counter(t for it in items for t in it["teachers"])
    counts.update(earlier or {})
    total = sum(counts.values())
    kept = list(items)
    dropped: list[dict[str, Any]] = []
    while kept:
        droppable = {t for it in kept for t in it["teachers"]}
        over = [t for t, c in counts.items() if c > max_share * total + 1e-9 and t in droppable]
        if not over:
            break
        worst = max(over, key=lambda t: (counts[t], t))
        idx = max(i for i, it in enumerate(kept) if worst in it["teachers"])
        it = kept.pop(idx)
        dropped.append(it)
        for t in it["teachers"]:
            counts[t] -= 1
            total -= 1
    return dropped


def instance_home(store: Store) -> Path:
    """The instance's data directory: beside a SQLite database (``assay --home``), else
    ``$ASSAY_HOME`` (frozen versions' files and the runs' response cache live there)."""
    from assay.settings import Settings

    db = store.url.database if store.is_sqlite else None
    return Path(db).resolve().parent if db and db != ":memory:" else Settings().home.resolve()


def versions_place(store: Store) -> Any:
    """Where the instance keeps frozen versions' files: its data directory, or the object store of
    ``ASSAY_DATASETS_URL`` (:class:`assay.services.datasets.Place`)."""
    from assay.services.datasets import Place
    from assay.settings import Settings

    s = Settings()
    return Place(instance_home(store), s.datasets_url, s.s3_endpoint_url)


class _RunCache:
    """The response cache of one run: the connectors' :class:`ResponseCache`, a SQLite file of its
    own (``cache/synth-runs/job-<id>.sqlite`` in the instance's home) with the run in every key, so
    that a retried job is answered from what the failed attempt paid for, and another run (which
    wants fresh samples) is not. A run that succeeds deletes its file (:meth:`discard`)."""

    def __init__(self, ctx: JobContext) -> None:
        import hashlib

        import orjson

        from assay.connectors.cache import ResponseCache

        self.path = instance_home(ctx.store) / "cache" / "synth-runs" / f"job-{ctx.job_id}.sqlite"
        self.cache = ResponseCache(self.path)
        digest = hashlib.sha256(
            orjson.dumps(ctx.params, option=orjson.OPT_SORT_KEYS, default=str)
        ).hexdigest()
        self.scope = f"{ctx.job_id}/{ctx.project_id}/{digest[:16]}"

    def get(
        self, model: str, params: dict[str, Any], messages: list[dict[str, Any]]
    ) -> dict[str, Any] | None:
        return self.cache.get(model, {**params, "_synth_run": self.scope}, messages)

    def put(
        self, model: str, params: dict[str, Any], messages: list[dict[str, Any]], value: dict[str, Any]
    ) -> None:
        self.cache.put(model, {**params, "_synth_run": self.scope}, messages, value)

    def close(self) -> None:
        self.cache.close()

    def discard(self) -> None:
        """Delete the file (and SQLite's WAL and shared-memory files beside it)."""
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                self.path.with_name(self.path.name + suffix).unlink()


def _call(
    connector: BaseConnector, prompts: list[str], system: str | None, seed: Any
) -> list[Completion | ConnectorError]:
    extra = {"seed": seed} if seed is not None else {}
    return connector.complete_many_safe([user_message(p, system) for p in prompts], **extra)


def _render(task: str, pr: dict[str, Any]) -> str:
    values = {"input": pr["prompt"], "answer": pr.get("answer", "")}
    return _VAR.sub(lambda m: values[m.group(1)], task)


def _eval_texts(ctx: JobContext, ref: str) -> tuple[list[str], str | None]:
    """The texts of an evaluation set: a project's records, or those of a frozen version of it
    (``name@version``: read from the version's files, their hashes checked; a version frozen
    before versions kept content is read from the project, which must still match its hash).
    Also the version's content hash."""
    from assay.services.evaluation import _frozen_rows

    name, _, version = ref.partition("@")
    if not version:
        return [t for r in _project_rows(ctx, name) for t in _texts_of(r)], None
    try:
        _, v, rows = _frozen_rows(ctx.store, ctx.actor, versions_place(ctx.store), name, version)
    except (Conflict, NotFound) as e:
        raise type(e)(f"evaluation set {ref!r}: {e.message}", field="params.eval_sets") from None
    texts = [t for r in rows for t in _texts_of(r)]
    texts += [str(g) for r in rows for g in (r.get("gold") or {}).values() if isinstance(g, str)]
    return texts, str(v["content_hash"])


def _existing_teachers(ctx: JobContext, prefix: str) -> Counter[str]:
    """The project's synthetic items per teacher from earlier runs (items people rejected aside)."""
    from assay.formats.training.provenance import provenance

    counts: Counter[str] = Counter()
    assert ctx.project_id is not None
    for row in _project_rows(ctx, ctx.project_id):
        synth = (row.get("metadata") or {}).get("synth")
        if not synth or str(row["external_id"]).startswith(prefix) or provenance(row).rejected:
            continue
        for t in synth.get("teachers") or []:
            counts[str(t)] += 1
    return counts


def _judge(
    ctx: JobContext, spec: dict[str, Any], items: list[dict[str, Any]], cache: _RunCache
) -> tuple[float, int]:
    """Score each item's answer 1-10 with the judge; the score goes on the item (``judge``)."""
    with contextlib.closing(build_connector(spec)) as judge:
        judge.cache = cache  # type: ignore[assignment]
        prompts = [
            JUDGE_PROMPT.format(prompt=it["prompt"]["task"], answer=it["answers"][0][1].text) for it in items
        ]
        results = _call(judge, prompts, None, ctx.params.get("seed"))
    cost, failed = 0.0, 0
    for it, res in zip(items, results, strict=True):
        m = _SCORE.search(res.text) if isinstance(res, Completion) else None
        if m is None:
            failed += 1
            continue
        cost += res.cost  # type: ignore[union-attr]
        it["judge"] = int(m.group(1))
    return cost, failed


def _run_synth(ctx: JobContext) -> dict[str, Any]:
    assert ctx.project_id is not None
    p = ctx.params
    prefix = f"synth-{ctx.job_id}-"
    if p.get("prompts") is not None:
        prompts = p["prompts"]
    else:
        prompts = []
        for r in _project_rows(ctx, p["from_project"]):
            fields = r["fields"] or {}
            pr = {"id": str(r["external_id"]), "prompt": str(fields.get(p["field"]) or "")}
            if p.get("answer_field"):
                pr["answer"] = str(fields.get(p["answer_field"]) or "")
            if pr["prompt"].strip() and (not p.get("answer_field") or pr["answer"].strip()):
                prompts.append(pr)
    task = p.get("task_template")
    for pr in prompts:
        pr["task"] = _render(task, pr) if task else pr["prompt"]
    teachers = p["teachers"]
    labels = [t["label"] for t in teachers]
    k = len(teachers)
    # who answers which prompt: every teacher, or the pair (i, i+1) rotating (pairs)
    asked: dict[str, list[int]] = {}
    for i, pr in enumerate(prompts):
        asked[pr["id"]] = [i % k, (i + 1) % k] if p["mode"] == "pairs" else list(range(k))
    answers: dict[tuple[str, str], Completion] = {}
    cost: dict[str, float] = dict.fromkeys(labels, 0.0)
    failed = Counter[str]()
    errors: list[str] = []
    cache = _RunCache(ctx)
    clock = time.perf_counter
    seconds: dict[str, float] = {}
    started = clock()
    try:
        for ti, spec in enumerate(teachers):
            ctx.check_time()
            mine = [pr for pr in prompts if ti in asked[pr["id"]]]
            with contextlib.closing(build_connector(spec)) as connector:
                connector.cache = cache  # type: ignore[assignment]
                results = _call(connector, [pr["task"] for pr in mine], p.get("system"), p.get("seed"))
            for pr, res in zip(mine, results, strict=True):
                if isinstance(res, ConnectorError):
                    failed[spec["label"]] += 1
                    if len(errors) < 20:
                        errors.append(f"{spec['label']} on {pr['id']}: {res}")
                    continue
                res.raw = None  # the text, tokens and cost are kept; the raw response would cost memory
                answers[(pr["id"], spec["label"])] = res
                cost[spec["label"]] += res.cost
            ctx.progress(cost=cost[spec["label"]], failed=failed[spec["label"]])
        cached = sum(c.cached for c in answers.values())
        # candidate items, in prompt order
        items: list[dict[str, Any]] = []
        for pr in prompts:
            who = [labels[t] for t in asked[pr["id"]]]
            got = [(t, answers[(pr["id"], t)]) for t in who if (pr["id"], t) in answers]
            if p["mode"] != "pairs":
                items += [{"prompt": pr, "teachers": [t], "answers": [(t, c)]} for t, c in got]
            elif len(got) == 2:
                items.append({"prompt": pr, "teachers": who, "answers": got})
        generated = len(items)
        removed = {"length": 0, "language": 0, "rules": 0, "contamination": 0, "exact_duplicate": 0,
                   "near_duplicate": 0, "pair_identical": 0, "teacher_cap": 0}  # fmt: skip
        seconds["generate"] = round(clock() - started, 3)
        started = clock()
        kept, eval_hashes = _filter_items(ctx, p, items, removed)
        index = NearDuplicateIndex(
            p["near_duplicate"], seed=int(p["seed"]) if isinstance(p.get("seed"), int) else 1
        )
        for ref in [ctx.project_id, *p["dedup_against"]]:
            for key, text in _project_texts(ctx, ref, skip_prefix=prefix if ref == ctx.project_id else ""):
                index.add(key, text)
        survivors: list[dict[str, Any]] = []
        for n, it in enumerate(kept):
            texts = [c.text for _, c in it["answers"]]
            if len(texts) == 2:
                pair = NearDuplicateIndex(p["near_duplicate"])
                pair.add("a", texts[0])
                if pair.check(texts[1]) is not None:
                    removed["pair_identical"] += 1
                    continue
            probes = [index.probe(t) for t in texts]  # one MinHash signature per text, for both steps
            hit = next((pr_[2] for pr_ in probes if pr_[2] is not None), None)
            if hit is not None:
                removed["exact_duplicate" if hit[0] == "exact" else "near_duplicate"] += 1
                continue
            for j, probe in enumerate(probes):
                index.keep(f"{prefix}{n}-{j}", probe)
            survivors.append(it)
        earlier = _existing_teachers(ctx, prefix) if p.get("cap_scope", "project") == "project" else Counter()
        dropped = cap_items(survivors, p["max_share"], earlier=earlier)
        removed["teacher_cap"] = len(dropped)
        drop_ids = {id(it) for it in dropped}
        accepted = [it for it in survivors if id(it) not in drop_ids]
        judge_cost, judge_failed = 0.0, 0
        if p.get("judge") and accepted:
            ctx.check_time()
            judge_cost, judge_failed = _judge(ctx, p["judge"], accepted, cache)
            ctx.progress(cost=judge_cost, failed=judge_failed)
    finally:
        cache.close()
    seconds["filter"] = round(clock() - started, 3)  # and the judge
    started = clock()
    rows = [(i + 1, _record(ctx, p, it, prefix)) for i, it in enumerate(accepted)]
    share = float(p.get("verify_sample", 1.0))
    if share < 1.0:  # a seeded sample goes to people first (priority 1); the rest wait behind it
        import random

        rng = random.Random(f"{ctx.job_id}/{p.get('seed')}")
        picked = set(rng.sample(range(len(rows)), round(share * len(rows))))
        for i, (_, row) in enumerate(rows):
            row["priority"] = 1 if i in picked else 0
            row["metadata"]["synth"]["sampled"] = i in picked
    if rows:
        import_rows(ctx.store, ctx.actor, ctx.project_id, rows, name=f"synth job {ctx.job_id}")
    ctx.progress(done=max(0, len(prompts) - ctx.done), total=len(prompts))
    shares = Counter(t for it in accepted for t in it["teachers"])
    total = sum(shares.values())
    project_shares = shares + earlier
    project_total = sum(project_shares.values())
    texts = [c.text for it in accepted for _, c in it["answers"]]
    kept_prompts = {it["prompt"]["id"] for it in accepted}
    cache.discard()  # the records are in: a retry from here on needs no answer again
    seconds["import"] = round(clock() - started, 3)
    started = clock()
    div = diversity(
        texts,
        prompts=[pr["prompt"] for pr in prompts],
        covered=[pr["id"] in kept_prompts for pr in prompts],
        embedder=p.get("embedder", "auto"),
        seed=int(p["seed"]) if isinstance(p.get("seed"), int) else 0,
    )
    topics = Counter(str(it["prompt"]["topic"]) for it in accepted if it["prompt"].get("topic") is not None)
    seconds["diversity"] = round(clock() - started, 3)
    result: dict[str, Any] = {
        "mode": p["mode"],
        "prompts": len(prompts),
        "generated": generated,
        "accepted": len(accepted),
        "removed": removed,
        "failed_calls": dict(failed),
        "cached_calls": cached,
        "seconds": seconds,
        "errors": errors,
        "cost": {t: round(cost[t], 10) for t in labels},
        "seed": p.get("seed"),
        "teachers": {t["label"]: {"model": spec_model(t), "params": t.get("params") or {}} for t in teachers},
        "diversity": {
            "teacher_shares": {t: round(shares[t] / total, 4) if total else 0.0 for t in labels},
            "project_teacher_shares": {t: round(n / project_total, 4) for t, n in sorted(project_shares.items())},
            **{k: v for k, v in div.items() if k != "items"},
            "topics": dict(sorted(topics.items())),
            "near_duplicate_rate": round(
                (removed["exact_duplicate"] + removed["near_duplicate"]) / generated, 4
            ) if generated else 0.0,
        },
    }  # fmt: skip
    if p.get("judge"):
        scores = [it["judge"] for it in accepted if "judge" in it]
        result["judge"] = {"model": p["judge"]["label"], "scored": len(scores), "failed": judge_failed,
                           "mean": round(sum(scores) / len(scores), 3) if scores else None,
                           "cost": round(judge_cost, 10), "threshold": p.get("judge_threshold", 7)}  # fmt: skip
    if p["eval_sets"]:
        result["eval_sets"] = eval_hashes
    return result


def _filter_items(
    ctx: JobContext, p: dict[str, Any], items: list[dict[str, Any]], removed: dict[str, int]
) -> tuple[list[dict[str, Any]], dict[str, str | None]]:
    """Length, language, rules and contamination, in that order; counts go into ``removed``."""
    kept: list[dict[str, Any]] = []
    for it in items:
        if any(not p["min_chars"] <= len(c.text.strip()) <= p["max_chars"] for _, c in it["answers"]):
            removed["length"] += 1
        else:
            kept.append(it)
    langs = set(p.get("languages") or [])
    if langs:
        before = len(kept)
        for it in kept:
            it["languages"] = [language_of(c.text)[0] for _, c in it["answers"]]
        kept = [it for it in kept if all(lang in langs for lang in it["languages"])]
        removed["language"] = before - len(kept)
    hashes: dict[str, str | None] = {}
    rules = [(r, re.compile(r["pattern"])) for r in p.get("rules") or []]
    if rules:
        out = []
        for it in kept:
            hits = [r for r, rx in rules
                    if any(rx.search(it["prompt"]["task"] if r["field"] == "prompt" else c.text)
                           for _, c in it["answers"])]  # fmt: skip
            if any(r["action"] == "reject" for r in hits):
                removed["rules"] += 1
                continue
            it["flags"] = [r["name"] for r in hits]
            out.append(it)
        kept = out
    if p["eval_sets"]:
        grams = NgramIndex(n=p["ngram"])
        for ref in p["eval_sets"]:
            texts, digest = _eval_texts(ctx, ref)
            hashes[ref] = digest
            for text in texts:
                grams.add(text)
        before = len(kept)
        kept = [
            it for it in kept
            if not any(grams.overlap(t) > 0 for t in [it["prompt"]["task"], *(c.text for _, c in it["answers"])])
        ]  # fmt: skip
        removed["contamination"] = before - len(kept)
    return kept, hashes


def _project_rows(ctx: JobContext, ref: int | str) -> list[dict[str, Any]]:
    with ctx.store.read() as conn:
        project = load_project(conn, ctx.actor, ref, need="manager")
        return list(iter_export_rows(conn, int(project["id"])))


def _record(ctx: JobContext, p: dict[str, Any], it: dict[str, Any], prefix: str) -> dict[str, Any]:
    pr = it["prompt"]
    lineage: dict[str, Any] = {
        "run": ctx.job_id,
        "mode": p["mode"],
        "prompt_id": pr["id"],
        "teachers": it["teachers"],
        "params": {t: dict(c.params) for t, c in it["answers"]},
        "cost": round(sum(c.cost for _, c in it["answers"]), 10),
        "seed": p.get("seed"),
    }
    if pr.get("variables") is not None:
        lineage["variables"] = pr["variables"]
        lineage["template"] = p.get("template")
    if p.get("task_template"):
        lineage["input"] = pr["prompt"]
        lineage["task_template"] = p["task_template"]
        if pr.get("answer") is not None:
            lineage["answer"] = pr["answer"]
    if pr.get("topic") is not None:
        lineage["topic"] = pr["topic"]
    if any(c.cached for _, c in it["answers"]):
        lineage["cached"] = True  # paid for by an earlier attempt of the job
    if it.get("languages"):
        lineage["languages"] = it["languages"]
    suggestions: list[dict[str, Any]] = []
    if it.get("flags"):
        lineage["flags"] = it["flags"]
        suggestions.append({"question": "verdict", "value": "reject", "score": 1.0,
                            "model": "rules:" + ",".join(it["flags"])})  # fmt: skip
    if "judge" in it:
        lineage["judge_score"] = it["judge"]
        value = "accept" if it["judge"] >= int(p.get("judge_threshold", 7)) else "reject"
        suggestions.append({"question": "verdict", "value": value, "score": round(it["judge"] / 10, 2),
                            "model": p["judge"]["label"]})  # fmt: skip
    if p["mode"] != "pairs":
        t, c = it["answers"][0]
        fields: dict[str, Any] = {"prompt": pr["task"], "response": c.text}
        lineage["teacher"] = t
        lineage["model"] = c.model
    else:
        fields = {
            "prompt": pr["task"],
            "candidates": [{"id": t, "model": c.model, "text": c.text, "params": dict(c.params), "cost": c.cost}
                           for t, c in it["answers"]],
        }  # fmt: skip
    row: dict[str, Any] = {"external_id": f"{prefix}{pr['id']}-{'~'.join(it['teachers'])}", "fields": fields,
                           "metadata": {"synth": lineage}}  # fmt: skip
    if suggestions:
        row["suggestions"] = suggestions[:1]  # a flag from a rule first, else the judge's score
    return row


job_kind(
    JobKind(
        "synth",
        _run_synth,
        _prepare_synth,
        description="synthesis run: several teachers write answers, pairs, instructions, rewrites or "
        "critiques; length, language, rule, contamination and near-duplicate filters, a per-teacher "
        "cap over the project, judge scores as suggestions; the items land as records to verify",
    )
)


# --------------------------------------------------------------------------- the diversity report


def project_report(
    store: Store,
    actor: Actor,
    project_ref: int | str,
    *,
    near_duplicate: float = 0.8,
    version: str | None = None,
    embedder: str = "auto",
    home: Path | Place | None = None,
) -> dict[str, Any]:
    """A synthesis project as it stands, or a frozen version of it (``version``: its records as
    frozen, read from the version's files under ``home`` with their hashes checked): records by origin (human, synthetic verified, unverified,
    rejected), people's verdicts, teacher shares, distinct-n and embedding spread of the answers,
    their topics, the near-duplicate rate among them, and each run's report (generated, removed
    per filter, accepted, diversity)."""
    from assay.formats.training.provenance import provenance
    from assay.services.jobs import list_jobs

    if embedder not in EMBEDDER_CHOICES:
        raise ValidationError(f"one of {', '.join(EMBEDDER_CHOICES)}", field="embedder")
    origins: Counter[str] = Counter()
    teachers: Counter[str] = Counter()
    topics: Counter[str] = Counter()
    modes: Counter[str] = Counter()
    texts: list[str] = []
    frozen: dict[str, Any] | None = None
    if version is not None:
        from assay.services.evaluation import _frozen_rows

        project, v, rows = _frozen_rows(store, actor, home or versions_place(store), project_ref, version)
        frozen = {"name": v["name"], "content_hash": v["content_hash"], "records": len(rows)}
    else:
        with store.read() as conn:
            project = load_project(conn, actor, project_ref, need="manager")
            rows = list(iter_export_rows(conn, int(project["id"])))
    for row in rows:
        prov = provenance(row)
        origins["rejected" if prov.rejected else prov.origin] += 1
        synth = (row.get("metadata") or {}).get("synth") or {}
        if synth:
            modes[str(synth.get("mode", "answers"))] += 1
        if synth.get("topic") is not None:
            topics[str(synth["topic"])] += 1
        for t in synth.get("teachers") or []:
            teachers[str(t)] += 1
        fields = row.get("fields") or {}
        if isinstance(fields.get("response"), str):
            texts.append(fields["response"])
        for c in fields.get("candidates") or []:
            if isinstance(c, dict):
                texts.append(str(c.get("text", "")))
    # the near-duplicate rate on a seeded sample of at most NEAR_SAMPLE answers (a dashboard reads it)
    import random

    sample = texts if len(texts) <= NEAR_SAMPLE else random.Random(0).sample(texts, NEAR_SAMPLE)
    index = NearDuplicateIndex(near_duplicate)
    dups = sum(index.check_add(str(i), t) is not None for i, t in enumerate(sample))
    total = sum(teachers.values())
    div = diversity(texts, embedder=embedder)
    runs = [
        {"job": j["id"], "state": j["state"], "created_at": j.get("created_at"),
         **{k: (j.get("result") or {}).get(k) for k in ("mode", "generated", "accepted", "removed", "cost", "seed",
                                                       "diversity", "judge")}}
        for j in list_jobs(store, actor, int(project["id"]), limit=1000)
        if j["kind"] == "synth"
    ]  # fmt: skip
    return {
        "project": project["name"],
        "version": frozen,
        "records": sum(origins.values()),
        "origins": dict(origins),
        "modes": dict(modes),
        "teacher_shares": {t: round(n / total, 4) for t, n in sorted(teachers.items())},
        "answers": len(texts),
        "distinct_1": div["distinct_1"],
        "distinct_2": div["distinct_2"],
        "distinct_3": div["distinct_3"],
        "embedding": div["embedding"],
        "topics": dict(sorted(topics.items())),
        "near_duplicate_rate": round(dups / len(sample), 4) if sample else 0.0,
        "near_duplicate_sample": len(sample),
        "runs": runs,
    }
