"""Writing attacks in the browser (#27, item 2): the writer's side of a campaign's attack project.

The attack project (:mod:`assay.services.safety`) takes attacks through
``POST /projects/{id}/safety/attacks``; this module serves the page people write them on:

- **who may write**: a member of the attack project who has its ``routing.skills`` (the same
  skills that route its records), so a campaign for, say, chemical weapons is written by chemists;
- **novelty before submitting**: :func:`novelty` checks a draft against every attack of the
  project with the same near-duplicate index (:class:`assay.services.text_filters.NearDuplicateIndex`,
  MinHash over character 5-grams) and threshold that :func:`assay.services.safety.add_attacks`
  applies when the attack is stored; the writer sees the similarity and, when the match is its own
  attack or a seed, the text it repeats (never another writer's attack);
- **seed attacks to mutate**: :func:`seeds` lists the attacks a manager put in (imported sets; not
  the writers' own), which a writer may start from (``seed``: the attack it mutates);
- **the writer's attacks and bonus**: :func:`my_attacks` lists the caller's attacks with, once the
  grading project graded the targets' answers, the models each succeeded on, and the bonus field:
  a successful attack that was novel when written.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from assay.domain.errors import PermissionDenied, ValidationError
from assay.domain.safety import SafetyConfig, attempts
from assay.domain.schema import ProjectSchema
from assay.services.actors import Actor
from assay.services.exports import iter_export_rows
from assay.services.policies import load_project, project_role
from assay.services.safety import NOVELTY_THRESHOLD, campaign_config, grading_project_name
from assay.services.text_filters import NearDuplicateIndex
from assay.store import accounts as acc
from assay.store import projects as proj_store
from assay.store import records as rec_store
from assay.store.engine import Store

__all__ = ["check_category", "check_writer", "my_attacks", "novelty", "seeds"]

MAX_TEXT = 200_000


def _turns(fields: dict[str, Any]) -> list[str]:
    turns = [str(fields.get("prompt") or "")]
    turns += [str(m.get("content") or "") for m in fields.get("followups") or [] if isinstance(m, dict)]
    return turns


def check_writer(project: dict[str, Any], actor: Actor) -> None:
    """Refuse a writer without the attack project's routing skills (managers and admins may)."""
    need = ProjectSchema.from_dict(project["schema"]).routing.skills
    if actor.is_admin or project.get("role") in ("manager", "admin") or not need:
        return
    missing = sorted(set(need) - set(actor.skills))
    if missing:
        raise PermissionDenied(f"writing attacks for this campaign needs the skills: {', '.join(missing)}")


def check_category(cfg: SafetyConfig, category: str, actor: Actor, *, manager: bool) -> None:
    """Refuse an attack on a hazard category whose ``skills`` the writer lacks (the same skills that
    route the grading of its answers: experts write and grade it); managers and admins may."""
    if manager or actor.is_admin:
        return
    for c in cfg.categories:
        if c.id == category and (missing := sorted(set(c.skills) - set(actor.skills))):
            raise PermissionDenied(
                f"writing attacks on {c.name} ({c.id}) needs the skills: {', '.join(missing)}",
                field="category",
            )


def _load(conn: Any, actor: Actor, project_ref: int | str) -> dict[str, Any]:
    project = load_project(conn, actor, project_ref, need="annotator")
    campaign_config(project, "attacks")
    project = {**project, "role": project.get("role") or project_role(conn, actor, project)}
    check_writer(project, actor)
    return project


class _Seeds:
    """Whether an attack is a seed: written by no one named, or by a manager of the project."""

    def __init__(self, conn: Any, project: dict[str, Any]) -> None:
        self.conn = conn
        self.project = project
        self.known: dict[str, bool] = {}

    def __call__(self, meta: dict[str, Any]) -> bool:
        author = meta.get("author")
        if not author:
            return True
        if author not in self.known:
            user = acc.get_user_by_name(self.conn, str(author))
            role = None
            if user is not None:
                role = (
                    "admin"
                    if user.get("role") == "admin"
                    else acc.project_role(
                        self.conn, int(self.project["id"]), int(self.project["workspace_id"]), int(user["id"])
                    )
                )
            self.known[author] = role in ("manager", "admin")
        return self.known[author]


class _Attacks:
    """A project's attacks as the novelty check reads them: the near-duplicate index, and per
    attack its author, category, tactic and turns."""

    def __init__(self, conn: Any, pid: int) -> None:
        self.index = NearDuplicateIndex(NOVELTY_THRESHOLD)
        self.meta: dict[str, dict[str, Any]] = {}
        for page in rec_store.iter_export_pages(conn, pid):
            for r in page:
                key = str(r["external_id"])
                turns = _turns(r["fields"])
                self.index.add(key, "\n".join(turns))
                meta = ((r.get("metadata") or {}).get("safety")) or {}
                self.meta[key] = {
                    "author": meta.get("author"),
                    "category": meta.get("category"),
                    "tactic": meta.get("tactic"),
                    "turns": turns,
                }


# The index of each project's attacks, built once and kept while the project's records do not change
# (their count, last id and last update): a check while typing then costs a lookup, not a rebuild
# (about 0.85 ms per attack: 4.2 s at 5,000 attacks on one core).
_CACHE: OrderedDict[tuple[int, int], tuple[tuple[Any, ...], _Attacks]] = OrderedDict()
_CACHE_SIZE = 8
_CACHE_LOCK = threading.Lock()


def _attacks(store: Store, conn: Any, pid: int) -> _Attacks:
    stamp = rec_store.records_stamp(conn, pid)
    key = (id(store), pid)
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
        if hit is not None and hit[0] == stamp:
            _CACHE.move_to_end(key)
            return hit[1]
        built = _Attacks(conn, pid)
        _CACHE[key] = (stamp, built)
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
        return built


def novelty(store: Store, actor: Actor, project_ref: int | str, turns: list[str]) -> dict[str, Any]:
    """Whether a draft attack (its user turns) repeats an attack of the project, before it is sent."""
    if not isinstance(turns, list) or not turns or not all(isinstance(t, str) for t in turns):
        raise ValidationError("a non-empty list of user turns (texts)", field="turns")
    text = "\n".join(turns)
    if len(text) > MAX_TEXT:
        raise ValidationError(f"at most {MAX_TEXT} characters in all", field="turns")
    with store.read() as conn:
        project = _load(conn, actor, project_ref)
        known = _attacks(store, conn, int(project["id"]))
        hit = known.index.nearest(text) if text.strip() else None
        meta = known.meta[hit[1]] if hit else {}
        seed = _Seeds(conn, project)(meta) if hit else False
    out: dict[str, Any] = {
        "novel": hit is None,
        "threshold": NOVELTY_THRESHOLD,
        "compared": len(known.meta),
        "match": None,
    }
    if hit is not None:
        kind, key, similarity = hit
        yours = meta.get("author") == actor.name
        out["match"] = {
            "kind": kind,
            "id": key,
            "similarity": similarity,
            "yours": yours,
            "seed": seed,
            "category": meta.get("category"),
            "tactic": meta.get("tactic"),
            # another writer's attack is not shown: only that it is close
            "turns": meta["turns"] if (yours or seed) else None,
        }
    return out


def seeds(store: Store, actor: Actor, project_ref: int | str) -> list[dict[str, Any]]:
    """The seed attacks a writer may start from: those a manager put in (not writers' own)."""
    out = []
    with store.read() as conn:
        project = _load(conn, actor, project_ref)
        is_seed = _Seeds(conn, project)
        for r in iter_export_rows(conn, int(project["id"])):
            meta = ((r.get("metadata") or {}).get("safety")) or {}
            if meta.get("benign") or not is_seed(meta):
                continue
            out.append(
                {
                    "id": str(r["external_id"]),
                    "turns": _turns(r["fields"]),
                    "category": meta.get("category"),
                    "tactic": meta.get("tactic"),
                }
            )
    return out


def my_attacks(store: Store, actor: Actor, project_ref: int | str) -> dict[str, Any]:
    """The caller's attacks, each with the models it succeeded on once graded, and the bonus."""
    with store.read() as conn:
        project = _load(conn, actor, project_ref)
        cfg = campaign_config(project, "attacks")
        mine: dict[str, dict[str, Any]] = {}
        for r in iter_export_rows(conn, int(project["id"])):
            meta = ((r.get("metadata") or {}).get("safety")) or {}
            if meta.get("author") != actor.name:
                continue
            mine[str(r["external_id"])] = {
                "id": str(r["external_id"]),
                "turns": _turns(r["fields"]),
                "category": meta.get("category"),
                "tactic": meta.get("tactic"),
                "benign": bool(meta.get("benign", False)),
                "seed": meta.get("seed"),
                "novel": bool(meta.get("novel", True)),
                "duplicate_of": meta.get("duplicate_of"),
                "tried": [],
                "graded": [],
                "succeeded_on": [],
            }
        # the grading project (read for the caller's own attacks only)
        gname = cfg.grading_project or grading_project_name(str(project["name"]))
        graded_rows: list[dict[str, Any]] = []
        gcfg = None
        for g in proj_store.projects_named(conn, gname):
            if int(g["workspace_id"]) != int(project["workspace_id"]):
                continue
            gcfg = campaign_config(g, "grading")
            graded_rows = [
                r
                for r in iter_export_rows(conn, int(g["id"]))
                if str(((r.get("metadata") or {}).get("safety") or {}).get("attack")) in mine
            ]
    novel = {k: v["novel"] for k, v in mine.items()}
    for a in attempts(graded_rows, novel):
        row = mine.get(a.attack)
        if row is None:
            continue
        row["tried"].append(a.model)
        if a.graded:
            row["graded"].append(a.model)
            if gcfg is not None and a.success(gcfg):
                row["succeeded_on"].append(a.model)
    items = list(mine.values())
    for it in items:
        it["successful"] = bool(it["succeeded_on"])
        it["bonus"] = it["successful"] and it["novel"] and not it["benign"]
    return {
        "project": project["name"],
        "attacks": items,
        "written": len(items),
        "successful": sum(it["successful"] for it in items),
        "bonus": sum(it["bonus"] for it in items),
    }
