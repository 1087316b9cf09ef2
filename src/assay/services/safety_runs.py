"""Target runs of a red-teaming campaign: every attack sent to several target models, as a job.

A job of kind ``safety_run`` on a campaign's attack project plays each attack against each target
(a connector: an OpenAI-compatible endpoint, a Python callable …): a multi-turn attack turn by
turn, the target's reply to each turn appended to the conversation before the next user turn. Each
(attack, target) becomes one record of the grading project (``<attack id>::<target label>``) with
the conversation as played, the last reply, and in ``metadata.safety`` the attack's category,
tactic and benign flag, the target's label, model, family, version and parameters, the run, and
the calls' tokens, cost and latency.

``version`` plays a frozen version of the attack set (``assay eval freeze``: a regression
benchmark; refused when its records changed since). A retried or repeated run skips every
(attack, target) already in the grading project, so nothing is called or written twice; give a
target a new label (``model@v2``) to run it again.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Any

from assay.connectors.base import BaseConnector, Completion, ConnectorError, Message
from assay.connectors.spec import build_connector, check_spec, spec_model
from assay.domain.errors import NotFound, ValidationError
from assay.services import projects as project_service
from assay.services.actors import Actor
from assay.services.evaluation import frozen_rows
from assay.services.exports import iter_export_rows
from assay.services.imports import import_rows
from assay.services.jobs import JobContext, JobKind, job_kind, project_of
from assay.services.policies import load_project
from assay.services.safety import campaign_config, grading_project_name, grading_schema
from assay.store import accounts as acc
from assay.store import datasets as ds_store
from assay.store import records as rec_store
from assay.store.engine import Store

__all__ = ["grading_project_for"]

MAX_TARGETS = 50
_LABEL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:@=/+")


def _label(t: dict[str, Any], spec: dict[str, Any], i: int) -> str:
    label = str(t.get("label") or spec_model(spec))
    if not label or len(label) > 200 or not set(label) <= _LABEL_CHARS:
        raise ValidationError(
            "a label of letters, digits and - _ . : @ = / + (at most 200)", field=f"params.targets.{i}.label"
        )
    return label


def _prepare(
    store: Store, actor: Actor, project: dict[str, Any], params: dict[str, Any]
) -> tuple[dict[str, Any], int | None]:
    cfg = campaign_config(project, "attacks")
    targets = params.get("targets")
    if not isinstance(targets, list) or not targets:
        raise ValidationError("a list of target models (connectors)", field="params.targets")
    if len(targets) > MAX_TARGETS:
        raise ValidationError(f"at most {MAX_TARGETS} targets in one run", field="params.targets")
    checked: list[dict[str, Any]] = []
    for i, t in enumerate(targets):
        if not isinstance(t, dict):
            raise ValidationError("a connector object", field=f"params.targets.{i}")
        try:
            spec = check_spec(t, remote=actor.token_id is not None)
        except ValueError as e:
            raise ValidationError(str(e), field=f"params.targets.{i}") from None
        spec["label"] = _label(t, spec, i)
        for key in ("family", "version"):
            if t.get(key) is not None and not isinstance(t[key], str):
                raise ValidationError("a text", field=f"params.targets.{i}.{key}")
        checked.append(spec)
    labels = [t["label"] for t in checked]
    if len(set(labels)) != len(labels):
        raise ValidationError("targets repeat: give each a distinct label", field="params.targets")
    batch = params.get("batch", 16)
    if not isinstance(batch, int) or isinstance(batch, bool) or not 1 <= batch <= 1000:
        raise ValidationError("an integer from 1 to 1000", field="params.batch")
    out: dict[str, Any] = {
        "targets": checked,
        "batch": batch,
        "grading": str(params.get("grading") or cfg.grading_project or grading_project_name(project["name"])),
    }
    if params.get("system") is not None:
        if not isinstance(params["system"], str):
            raise ValidationError("a text", field="params.system")
        out["system"] = params["system"]
    version = params.get("version")
    with store.read() as conn:
        pid = int(project["id"])
        if version is not None:
            if not isinstance(version, str) or ds_store.get_version(conn, pid, version) is None:
                raise ValidationError(
                    f"project {project['name']!r} has no frozen version {version!r} (assay eval freeze)",
                    field="params.version",
                )
            out["version"] = version
            total = int((ds_store.get_version(conn, pid, version) or {}).get("record_count") or 0)
        else:
            total = rec_store.count_records(conn, pid)
        try:  # a grading project that exists must be a campaign's grading project, open to the caller
            graded = load_project(conn, actor, out["grading"], need="manager")
            campaign_config(graded, "grading")
        except NotFound:
            pass
    return out, total * len(checked)


def grading_project_for(
    store: Store, actor: Actor, attack_project: dict[str, Any], name: str
) -> dict[str, Any]:
    """The grading project ``name`` of the campaign, made (with the campaign's taxonomy) when missing."""
    try:
        with store.read() as conn:
            project = load_project(conn, actor, name, need="manager")
    except NotFound:
        cfg = campaign_config(attack_project, "attacks")
        with store.read() as conn:  # in the attack project's workspace
            ws = acc.get_workspace(conn, int(attack_project["workspace_id"]))
        return project_service.create_project(
            store,
            actor,
            grading_schema(name, cfg.taxonomy(), attacks_project=str(attack_project["name"])),
            workspace=str(ws["name"]) if ws else None,
        )
    campaign_config(project, "grading")
    return project


def _attacks(ctx: JobContext, project: dict[str, Any]) -> list[dict[str, Any]]:
    version = ctx.params.get("version")
    if version is not None:
        from assay.services.synthesis import versions_place  # the data directory or object store

        rows = frozen_rows(ctx.store, ctx.actor, versions_place(ctx.store), int(project["id"]), version)
    else:
        with ctx.store.read() as conn:
            rows = list(iter_export_rows(conn, int(project["id"])))
    out = []
    for r in rows:
        f = r["fields"]
        turns = [str(f.get("prompt") or "")]
        turns += [str(m.get("content") or "") for m in f.get("followups") or [] if isinstance(m, dict)]
        out.append(
            {
                "id": str(r["external_id"]),
                "turns": turns,
                "meta": (r.get("metadata") or {}).get("safety") or {},
            }
        )
    return out


def _complete(connector: BaseConnector, batch: list[list[Message]]) -> list[Completion | ConnectorError]:
    return connector.complete_many_safe(batch)


def play(
    connector: BaseConnector, attacks: list[dict[str, Any]], system: str | None = None
) -> list[tuple[list[Message], list[Completion]] | ConnectorError]:
    """Play each attack against the connector, turn by turn (the attacks of a batch side by side at
    each turn); per attack, the conversation and the replies, or the error that ended it."""
    convs: list[list[Message]] = [[{"role": "system", "content": system}] if system else [] for _ in attacks]
    replies: list[list[Completion]] = [[] for _ in attacks]
    failed: dict[int, ConnectorError] = {}
    for k in range(max(len(a["turns"]) for a in attacks)):
        live = [i for i, a in enumerate(attacks) if k < len(a["turns"]) and i not in failed]
        for i in live:
            convs[i].append({"role": "user", "content": attacks[i]["turns"][k]})
        results = _complete(connector, [list(convs[i]) for i in live])
        for i, res in zip(live, results, strict=True):
            if isinstance(res, ConnectorError):
                failed[i] = res
                continue
            replies[i].append(res)
            convs[i].append({"role": "assistant", "content": res.text})
    return [failed[i] if i in failed else (convs[i], replies[i]) for i in range(len(attacks))]


def _row(
    ctx: JobContext,
    skills: dict[str, list[str]],
    attack: dict[str, Any],
    target: dict[str, Any],
    conv: list[Message],
    replies: list[Completion],
) -> dict[str, Any]:
    meta = attack["meta"]
    last = replies[-1]
    info: dict[str, Any] = {
        "attack": attack["id"],
        "category": meta.get("category"),
        "tactic": meta.get("tactic"),
        "benign": bool(meta.get("benign", False)),
        "author": meta.get("author"),
        "turns": len(attack["turns"]),
        "model": target["label"],
        "model_name": last.model or spec_model(target),
        "family": target.get("family") or spec_model(target),
        "version": target.get("version") or target["label"],
        "params": dict(last.params),
        "run": ctx.job_id,
        "attack_version": ctx.params.get("version"),
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "cost": round(sum(r.cost for r in replies), 10),
        "tokens": {
            "prompt": sum(r.prompt_tokens for r in replies),
            "completion": sum(r.completion_tokens for r in replies),
        },
        "latency_ms": round(sum(r.latency_ms for r in replies), 3),
        "cached": all(r.cached for r in replies),
    }
    conversation = [m for m in conv if m.get("role") != "system"]
    row: dict[str, Any] = {
        "external_id": f"{attack['id']}::{target['label']}",
        "fields": {"conversation": conversation, "answer": last.text},
        "metadata": {"safety": info},
    }
    if skills.get(str(meta.get("category"))):
        row["skills"] = skills[str(meta.get("category"))]  # expert graders for this category
    return row


def _run(ctx: JobContext) -> dict[str, Any]:
    assert ctx.project_id is not None
    p = ctx.params
    project = project_of(ctx.store, ctx.project_id)
    grading = grading_project_for(ctx.store, ctx.actor, project, p["grading"])
    gid = int(grading["id"])
    attacks = _attacks(ctx, project)
    skills = {c.id: list(c.skills) for c in campaign_config(grading, "grading").categories if c.skills}
    per_target: dict[str, dict[str, Any]] = {}
    for target in p["targets"]:
        label = target["label"]
        stats = per_target[label] = {
            "model": spec_model(target),
            "answered": 0,
            "skipped": 0,
            "failed": 0,
            "cost": 0.0,
        }
        with contextlib.closing(build_connector(target)) as connector:
            for start in range(0, len(attacks), p["batch"]):
                ctx.check_time()
                chunk = attacks[start : start + p["batch"]]
                with ctx.store.read() as conn:
                    have = rec_store.existing_ids(conn, gid, [f"{a['id']}::{label}" for a in chunk])
                todo = [a for a in chunk if f"{a['id']}::{label}" not in have]
                stats["skipped"] += len(chunk) - len(todo)
                if not todo:
                    continue
                played = play(connector, todo, p.get("system"))
                rows: list[tuple[int, dict[str, Any]]] = []
                errors: list[str] = []
                cost = 0.0
                for a, res in zip(todo, played, strict=True):
                    if isinstance(res, ConnectorError):
                        errors.append(f"{label} on {a['id']}: {res}")
                        continue
                    row = _row(ctx, skills, a, target, *res)
                    cost += row["metadata"]["safety"]["cost"]
                    rows.append((len(rows) + 1, row))
                if rows:  # upserts by external id: a retry of this step writes the same records
                    import_rows(ctx.store, ctx.actor, gid, rows, name=f"safety run job {ctx.job_id}")
                stats["answered"] += len(rows)
                stats["failed"] += len(errors)
                stats["cost"] = round(stats["cost"] + cost, 10)
                with ctx.step() as conn:
                    ctx.record(conn, done=len(rows), failed=len(errors), cost=cost, errors=errors[:20])
    return {
        "grading_project": grading["name"],
        "attacks": len(attacks),
        "version": p.get("version"),
        "targets": per_target,
        "cost": round(sum(t["cost"] for t in per_target.values()), 10),
    }


job_kind(
    JobKind(
        "safety_run",
        _run,
        _prepare,
        description="red-teaming target run: every attack of the campaign played against each target model "
        "(multi-turn attacks turn by turn); the answers land in the grading project",
    )
)
