"""Synthesis runs: several teachers (connectors) write training data, filtered, capped and verified.

A run is a job of kind ``synth`` on a synthesis project (:func:`synth_schema`). Its prompts come
from a list, a template with variables, or a field of another project. Each teacher answers
(``mode: answers``: every teacher answers every prompt, one record per accepted answer) or two
teachers answer the same prompt (``mode: pairs``: a comparison record, the pair of teachers
rotating over the prompts). Then, in this order:

1. **length**: answers shorter than ``min_chars`` or longer than ``max_chars`` are removed;
2. **contamination**: items sharing a word n-gram with a named evaluation project are removed;
3. **duplicates**: exact and near-duplicates (MinHash/LSH, :mod:`assay.services.text_filters`)
   within the run and against the target project and the projects named in ``dedup_against``;
4. **teacher cap**: no teacher above ``max_share`` of the accepted answers (the latest items of a
   teacher over its share are dropped).

The counts removed at each step, the teachers' shares, the diversity figures, seeds, parameters
and cost go into the job's result; each record carries its lineage in ``metadata.synth``
(run, teacher, model, parameters, prompt id, template variables, cost). The records then go
through normal dispatch: people accept, edit or reject each item (the ``verdict`` question).

At least two teachers are required; ``allow_single_teacher: true`` overrides it and the override
is written to the audit log (``synth.single_teacher``) by whoever queued the run.
"""

from __future__ import annotations

import contextlib
import re
from collections import Counter
from typing import Any

from assay.connectors.base import BaseConnector, Completion, ConnectorError, user_message
from assay.connectors.spec import build_connector, check_spec, spec_model
from assay.domain import events as ev
from assay.domain.errors import ValidationError
from assay.domain.schema import ProjectSchema
from assay.services.actors import Actor
from assay.services.audit import audit
from assay.services.exports import iter_export_rows
from assay.services.imports import import_rows
from assay.services.jobs import JobContext, JobKind, job_kind
from assay.services.policies import load_project
from assay.services.text_filters import NearDuplicateIndex, NgramIndex, distinct_n
from assay.store.engine import Store

__all__ = ["MODES", "VERDICTS", "cap_items", "synth_schema"]

MODES = ("answers", "pairs")
VERDICTS = ("accept", "edit", "reject")
MAX_PROMPTS = 100_000
_VAR = re.compile(r"\{\{\s*(\w+)\s*\}\}")


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
            out.append({"id": str(p.get("id", f"p{i:06d}")), "prompt": p["prompt"]})
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
            out.append({"id": str(v.get("id", f"t{i:06d}")), "prompt": text, "variables": v})
    else:
        return None
    if len(out) > MAX_PROMPTS:
        raise ValidationError(f"at most {MAX_PROMPTS} prompts in one run", field="params")
    if len({p["id"] for p in out}) != len(out):
        raise ValidationError("prompt ids repeat", field="params.prompts")
    return out


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
    }
    if prompts is None:
        out["from_project"] = str(params["from_project"])
        out["field"] = str(params.get("field", "prompt"))
    else:
        out["prompts"] = prompts
    if params.get("template") is not None:
        out["template"] = params["template"]
    with store.read() as conn:  # the caller must manage every project the run reads
        for ref in [
            *out["dedup_against"],
            *out["eval_sets"],
            *([out["from_project"]] if prompts is None else []),
        ]:
            load_project(conn, actor, ref, need="manager")
    if len(checked) < 2:
        with store.tx() as conn:
            audit(conn, actor, ev.SYNTH_SINGLE_TEACHER, "project", project["id"], project_id=int(project["id"]),
                  after={"teacher": labels[0], "reason": str(params.get("override_reason") or "")})  # fmt: skip
    return out, len(prompts) if prompts is not None else None


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


def cap_items(items: list[dict[str, Any]], max_share: float) -> list[dict[str, Any]]:
    """The items to drop so that no teacher holds more than ``max_share`` of the answers kept: the
    latest items of a teacher over its share go first. Each item names its ``teachers``."""
    counts: Counter[str] = Counter(t for it in items for t in it["teachers"])
    total = sum(counts.values())
    kept = list(items)
    dropped: list[dict[str, Any]] = []
    while kept:
        over = [t for t, c in counts.items() if c > max_share * total + 1e-9]
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


def _call(
    connector: BaseConnector, prompts: list[str], system: str | None, seed: Any
) -> list[Completion | ConnectorError]:
    extra = {"seed": seed} if seed is not None else {}
    return connector.complete_many_safe([user_message(p, system) for p in prompts], **extra)


def _run_synth(ctx: JobContext) -> dict[str, Any]:
    assert ctx.project_id is not None
    p = ctx.params
    prefix = f"synth-{ctx.job_id}-"
    if p.get("prompts") is not None:
        prompts = p["prompts"]
    else:
        prompts = [
            {"id": str(r["external_id"]), "prompt": str((r["fields"] or {}).get(p["field"]) or "")}
            for r in _project_rows(ctx, p["from_project"])
        ]
        prompts = [x for x in prompts if x["prompt"].strip()]
    teachers = p["teachers"]
    labels = [t["label"] for t in teachers]
    k = len(teachers)
    # who answers which prompt: every teacher (answers), or the pair (i, i+1) rotating (pairs)
    asked: dict[str, list[int]] = {}
    for i, pr in enumerate(prompts):
        asked[pr["id"]] = list(range(k)) if p["mode"] == "answers" else [i % k, (i + 1) % k]
    answers: dict[tuple[str, str], Completion] = {}
    cost: dict[str, float] = dict.fromkeys(labels, 0.0)
    failed = Counter[str]()
    errors: list[str] = []
    for ti, spec in enumerate(teachers):
        ctx.check_time()
        mine = [pr for pr in prompts if ti in asked[pr["id"]]]
        with contextlib.closing(build_connector(spec)) as connector:
            results = _call(connector, [pr["prompt"] for pr in mine], p.get("system"), p.get("seed"))
        for pr, res in zip(mine, results, strict=True):
            if isinstance(res, ConnectorError):
                failed[spec["label"]] += 1
                if len(errors) < 20:
                    errors.append(f"{spec['label']} on {pr['id']}: {res}")
                continue
            answers[(pr["id"], spec["label"])] = res
            cost[spec["label"]] += res.cost
        ctx.progress(cost=cost[spec["label"]], failed=failed[spec["label"]])
    # candidate items, in prompt order
    items: list[dict[str, Any]] = []
    for pr in prompts:
        who = [labels[t] for t in asked[pr["id"]]]
        got = [(t, answers[(pr["id"], t)]) for t in who if (pr["id"], t) in answers]
        if p["mode"] == "answers":
            items += [{"prompt": pr, "teachers": [t], "answers": [(t, c)]} for t, c in got]
        elif len(got) == 2:
            items.append({"prompt": pr, "teachers": who, "answers": got})
    generated = len(items)
    removed = {"length": 0, "contamination": 0, "exact_duplicate": 0, "near_duplicate": 0,
               "pair_identical": 0, "teacher_cap": 0}  # fmt: skip
    kept: list[dict[str, Any]] = []
    for it in items:
        if any(not p["min_chars"] <= len(c.text.strip()) <= p["max_chars"] for _, c in it["answers"]):
            removed["length"] += 1
        else:
            kept.append(it)
    if p["eval_sets"]:
        grams = NgramIndex(n=p["ngram"])
        for ref in p["eval_sets"]:
            for _key, text in _project_texts(ctx, ref):
                grams.add(text)
        before = len(kept)
        kept = [
            it for it in kept
            if not any(grams.overlap(t) > 0 for t in [it["prompt"]["prompt"], *(c.text for _, c in it["answers"])])
        ]  # fmt: skip
        removed["contamination"] = before - len(kept)
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
        hit = None
        for t in texts:
            hit = hit or index.check(t)
        if hit is not None:
            removed["exact_duplicate" if hit[0] == "exact" else "near_duplicate"] += 1
            continue
        for j, t in enumerate(texts):
            index.add(f"{prefix}{n}-{j}", t)
        survivors.append(it)
    dropped = cap_items(survivors, p["max_share"])
    removed["teacher_cap"] = len(dropped)
    drop_ids = {id(it) for it in dropped}
    accepted = [it for it in survivors if id(it) not in drop_ids]
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
    texts = [c.text for it in accepted for _, c in it["answers"]]
    return {
        "mode": p["mode"],
        "prompts": len(prompts),
        "generated": generated,
        "accepted": len(accepted),
        "removed": removed,
        "failed_calls": dict(failed),
        "errors": errors,
        "cost": {t: round(cost[t], 10) for t in labels},
        "seed": p.get("seed"),
        "teachers": {t["label"]: {"model": spec_model(t), "params": t.get("params") or {}} for t in teachers},
        "diversity": {
            "teacher_shares": {t: round(shares[t] / total, 4) if total else 0.0 for t in labels},
            "distinct_1": distinct_n(texts, 1),
            "distinct_2": distinct_n(texts, 2),
            "near_duplicate_rate": round(
                (removed["exact_duplicate"] + removed["near_duplicate"]) / generated, 4
            ) if generated else 0.0,
        },
    }  # fmt: skip


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
    if p["mode"] == "answers":
        t, c = it["answers"][0]
        fields: dict[str, Any] = {"prompt": pr["prompt"], "response": c.text}
        lineage["teacher"] = t
        lineage["model"] = c.model
    else:
        fields = {
            "prompt": pr["prompt"],
            "candidates": [{"id": t, "model": c.model, "text": c.text, "params": dict(c.params), "cost": c.cost}
                           for t, c in it["answers"]],
        }  # fmt: skip
    return {"external_id": f"{prefix}{pr['id']}-{'~'.join(it['teachers'])}", "fields": fields,
            "metadata": {"synth": lineage}}  # fmt: skip


job_kind(
    JobKind(
        "synth",
        _run_synth,
        _prepare_synth,
        description="synthesis run: several teachers answer prompts; length, contamination and "
        "near-duplicate filters and a per-teacher cap; the items land as records to verify",
    )
)


# --------------------------------------------------------------------------- the diversity report


def project_report(
    store: Store, actor: Actor, project_ref: int | str, *, near_duplicate: float = 0.8
) -> dict[str, Any]:
    """A synthesis project as it stands: records by origin (human, synthetic verified, unverified,
    rejected), teacher shares, distinct-1/2 of the answers, the near-duplicate rate among them, and
    each run's report (generated, removed per filter, accepted, diversity)."""
    from assay.formats.training.provenance import provenance
    from assay.services.jobs import list_jobs

    origins: Counter[str] = Counter()
    teachers: Counter[str] = Counter()
    texts: list[str] = []
    with store.read() as conn:
        project = load_project(conn, actor, project_ref, need="manager")
        for row in iter_export_rows(conn, int(project["id"])):
            prov = provenance(row)
            origins["rejected" if prov.rejected else prov.origin] += 1
            synth = (row.get("metadata") or {}).get("synth") or {}
            for t in synth.get("teachers") or []:
                teachers[str(t)] += 1
            fields = row.get("fields") or {}
            if isinstance(fields.get("response"), str):
                texts.append(fields["response"])
            for c in fields.get("candidates") or []:
                if isinstance(c, dict):
                    texts.append(str(c.get("text", "")))
    index = NearDuplicateIndex(near_duplicate)
    dups = sum(index.check_add(str(i), t) is not None for i, t in enumerate(texts))
    total = sum(teachers.values())
    runs = [
        {"job": j["id"], "state": j["state"], "created_at": j.get("created_at"),
         **{k: (j.get("result") or {}).get(k) for k in ("generated", "accepted", "removed", "cost", "seed", "diversity")}}
        for j in list_jobs(store, actor, int(project["id"]), limit=1000)
        if j["kind"] == "synth"
    ]  # fmt: skip
    return {
        "project": project["name"],
        "records": sum(origins.values()),
        "origins": dict(origins),
        "teacher_shares": {t: round(n / total, 4) for t, n in sorted(teachers.items())},
        "answers": len(texts),
        "distinct_1": distinct_n(texts, 1),
        "distinct_2": distinct_n(texts, 2),
        "near_duplicate_rate": round(dups / len(texts), 4) if texts else 0.0,
        "runs": runs,
    }
