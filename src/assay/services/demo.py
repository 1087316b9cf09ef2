"""The demo instance: three projects with people and simulated contributors already at work."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from assay.demo.data import SCHEMAS, agent_rows, preference_rows, sentiment_rows
from assay.services import accounts, blind, consensus, dispatch, imports, projects
from assay.services.actors import SYSTEM, Actor, actor_from_row
from assay.store import accounts as acc
from assay.store.engine import Store

__all__ = ["DEMO_PASSWORD", "DemoInstance", "build_demo"]

DEMO_PASSWORD = "assay-demo"
PEOPLE = [
    ("admin", "admin"),
    ("maria", "manager"),
    ("rev", "reviewer"),
    ("ann", "annotator"),
    ("bob", "annotator"),
]
# Simulated crowd workers and their accuracy on the sentiment project.
CROWD = [("crowd-1", 0.92), ("crowd-2", 0.85), ("crowd-3", 0.7), ("crowd-4", 0.55)]


@dataclass
class DemoInstance:
    logins: list[tuple[str, str, str]] = field(default_factory=list)  # name, role, password
    projects: dict[str, int] = field(default_factory=dict)
    responses: int = 0


def _actor(store: Store, name: str) -> Actor:
    with store.read() as conn:
        row = acc.get_user_by_name(conn, name)
    assert row is not None
    return actor_from_row(row)


def build_demo(store: Store, *, seed: int = 11) -> DemoInstance:
    """Create the demo users and projects, and let simulated contributors answer part of the work."""
    rng = random.Random(seed)
    demo = DemoInstance()
    if accounts.init_instance(store, admin_name="admin", password=DEMO_PASSWORD) is None:
        raise RuntimeError("this database has an admin already: give the demo an empty data directory")
    demo.logins.append(("admin", "admin", DEMO_PASSWORD))
    for name, role in PEOPLE[1:]:
        accounts.add_user(store, SYSTEM, name, role=role, password=DEMO_PASSWORD, cost_per_hour=24.0)
        demo.logins.append((name, role, DEMO_PASSWORD))
    for name, _ in CROWD:
        accounts.add_user(store, SYSTEM, name, role="annotator", cost_per_item=0.05)
    accounts.add_user(store, SYSTEM, "judge-small", role="annotator", kind="model", cost_per_item=0.001)

    rows: dict[str, list[dict[str, Any]]] = {
        "ticket-sentiment": sentiment_rows(),
        "chatbot-replies": preference_rows(),
        "agent-review": agent_rows(),
    }
    for name, schema in SCHEMAS.items():
        p = projects.create_project(store, SYSTEM, schema)
        demo.projects[name] = int(p["id"])
        imports.import_rows(store, SYSTEM, p["id"], enumerate(rows[name], 1), name=f"demo:{name}")

    truth = {r["text"]: r["metadata"]["truth"] for r in rows["ticket-sentiment"]}
    labels = ["positive", "neutral", "negative"]
    for name, accuracy in CROWD:
        who = _actor(store, name)
        for _ in range(70):
            lease = dispatch.next_assignment(store, who, demo.projects["ticket-sentiment"])
            if lease is None:
                break
            right = truth[lease["record"]["fields"]["text"]]
            value = right if rng.random() < accuracy else rng.choice([x for x in labels if x != right])
            dispatch.submit_response(
                store, who, lease["assignment_id"], {"sentiment": value}, duration_ms=rng.randint(2000, 9000)
            )
            demo.responses += 1
    judge = _actor(store, "judge-small")
    for _ in range(25):
        lease = dispatch.next_assignment(store, judge, demo.projects["chatbot-replies"])
        if lease is None:
            break
        shown = blind.reveal(store, int(lease["assignment_id"]))["candidates"]  # a simulation knows models
        better = next(letter for letter, c in shown.items() if c["model"] == "helpful-v2")
        values = {"preference": {"choice": better, "strength": 2}, "helpful": 6}
        dispatch.submit_response(
            store, judge, lease["assignment_id"], values, duration_ms=400, extra={"model": "judge-small"}
        )
        demo.responses += 1
    consensus.recompute_project(store, SYSTEM, demo.projects["ticket-sentiment"])
    return demo
