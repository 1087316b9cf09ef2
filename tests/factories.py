"""Test data made through the services (so every invariant holds), shared by the test modules."""

from __future__ import annotations

from typing import Any

from assay.services import accounts, projects
from assay.services.actors import SYSTEM, Actor, actor_from_row
from assay.store import accounts as acc
from assay.store.engine import Store

TEXT_SCHEMA: dict[str, Any] = {
    "name": "sentiment",
    "fields": [{"name": "text", "type": "text"}],
    "questions": [{"name": "sentiment", "type": "label", "options": ["positive", "negative", "neutral"]}],
    "workflow": {"overlap": 3},
}

RICH_SCHEMA: dict[str, Any] = {
    "name": "rich",
    "fields": [
        {"name": "prompt", "type": "text"},
        {"name": "chat", "type": "chat", "required": False},
        {"name": "candidates", "type": "comparison"},
        {"name": "trace", "type": "trajectory", "required": False},
        {"name": "extra", "type": "json", "required": False},
    ],
    "questions": [
        {"name": "preference", "type": "preference", "field": "candidates", "ties": True, "strength": True},
        {"name": "helpful", "type": "rating", "scale": 7, "required": False},
        {"name": "steps", "type": "step_review", "field": "trace", "required": False},
    ],
    "workflow": {"overlap": {"min": 2, "max": 5, "confidence": 0.9}, "gold_rate": 0.05, "review_rate": 0.1},
    "guidelines": "Prefer the reply that solves the problem.",
}


def rich_row(i: int) -> dict[str, Any]:
    return {
        "external_id": f"t-{i:05d}",
        "fields": {
            "prompt": f"How do I reset my password? ({i})",
            "chat": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": f"hello {i}"}],
            "candidates": [{"model": "a", "text": f"Answer A {i}"}, {"model": "b", "text": "Answer B"}],
            "trace": {
                "steps": [
                    {"role": "user", "content": "find flights"},
                    {
                        "role": "assistant",
                        "tool_calls": [{"id": "c1", "name": "search", "arguments": {"q": "x"}}],
                    },
                    {"role": "tool", "tool_results": [{"call_id": "c1", "content": "3 flights"}]},
                ]
            },
            "extra": {"nested": [1, 2, {"k": "v"}], "unicode": "naïve ✓"},
        },
        "metadata": {"source": "tickets-2025", "n": i},
        "priority": i % 3,
        "gold": {"preference": {"choice": "a", "strength": 2}} if i % 4 == 0 else None,
        "suggestions": [{"question": "helpful", "value": 6, "score": 0.8, "model": "judge-1"}]
        if i % 2
        else [],
    }


def make_project(store: Store, schema: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
    return projects.create_project(store, SYSTEM, schema or TEXT_SCHEMA, **kw)


def make_user(store: Store, name: str, role: str = "annotator", **kw: Any) -> tuple[Actor, str]:
    new = accounts.add_user(store, SYSTEM, name, role=role, **kw)
    with store.read() as conn:
        row = acc.get_user(conn, new.id)
    assert row is not None
    return actor_from_row(row), new.token


def reveal_lease(store: Store, lease: dict[str, Any]) -> dict[str, Any]:
    """A lease as a simulated contributor who knows the models sees it: each blinded candidate
    is the real one (model and all) under the letter the lease shows (``id``)."""
    from assay.services import blind

    shown = blind.reveal(store, int(lease["assignment_id"]))
    fields = dict(lease["record"]["fields"])
    for name, by_letter in shown.items():
        if lease.get("view", {}).get("blind") and name in lease["view"]["blind"]:
            fields[name] = [{**c, "id": letter} for letter, c in by_letter.items()]
    return {**lease, "record": {**lease["record"], "fields": fields}}
