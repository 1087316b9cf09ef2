"""An annotator cannot tell gold records by looking at its figures after each answer: gold
feedback comes in blocks of answers (issue 20, item 2; assay.domain.gold)."""

from __future__ import annotations

from typing import Any

import pytest

from assay.domain.errors import PermissionDenied
from assay.domain.gold import FEEDBACK_BLOCK
from assay.services import dispatch, imports
from assay.services.actors import SYSTEM
from assay.store.engine import Store
from tests.api.conftest import Live
from tests.api.test_security import schema
from tests.factories import make_project, make_user

# What moves with every answer whatever the record was: counts, time, cost.
_EVERY_ANSWER = {"answered", "answered_today", "time_ms", "first_at", "last_at", "cost"}


def _view(client: Any, pid: int, leases: int) -> dict[str, Any]:
    """Everything the annotator can read about itself and the project, less what moves with
    every answer; ``left_for_me`` plus the leases it took (falls by one per lease, gold or not)."""
    mine = next(p for p in client.get("/me/stats").json()["projects"] if p["project_id"] == pid)
    listed = next(p for p in client.get("/projects").json()["items"] if p["id"] == pid)
    project = client.get(f"/projects/{pid}").json()
    return {
        "stats": {k: v for k, v in mine.items() if k not in _EVERY_ANSWER},
        "left_plus_taken": listed["left_for_me"] + leases,
        "project": {k: v for k, v in project.items() if k != "updated_at"},
    }


def test_figures_move_only_once_a_block_so_gold_records_cannot_be_told(live: Live) -> None:
    p = make_project(live.store, schema(gold_rate=0.5))
    rows: list[dict[str, Any]] = [{"id": f"r{i}", "text": f"ordinary {i}"} for i in range(30)]
    rows += [{"id": f"g{i}", "text": f"gold {i}", "gold": {"label": "b"}} for i in range(15)]
    imports.import_rows(live.store, SYSTEM, p["id"], enumerate(rows, 1))
    _, token = make_user(live.store, "ann")
    ann = live.client(token)
    pid = p["id"]
    gold_seen: list[bool] = []
    right: list[bool] = []
    views: list[dict[str, Any]] = []
    while len(gold_seen) < 3 * FEEDBACK_BLOCK:
        lease = ann.post(f"/projects/{pid}/next").json()
        is_gold = lease["record"]["fields"]["text"].startswith("gold")
        answer = "b" if len(gold_seen) % 3 else "a"  # right on gold two times in three
        r = ann.post(f"/assignments/{lease['assignment_id']}/responses", json={"values": {"label": answer}})
        assert r.status_code == 201 and "gold_score" not in r.json()
        gold_seen.append(is_gold)
        right.append(is_gold and answer == "b")
        views.append(_view(ann, pid, len(gold_seen)))
    assert 0 < sum(gold_seen) < len(gold_seen)  # both kinds were answered
    assert "done_records" not in views[0]["project"] and "gold_records" not in views[0]["project"]
    for n, view in enumerate(views, 1):
        if n % FEEDBACK_BLOCK:  # within a block: the same after a gold answer as after any other
            before = views[n - 2] if n > 1 else None
            if before is not None:
                assert view == before, n
        shown = n - n % FEEDBACK_BLOCK
        stats = view["stats"]
        assert stats["feedback_through"] == shown
        assert stats["gold_answered"] == sum(gold_seen[:shown])
        if stats["gold_answered"]:
            assert stats["gold_accuracy"] == round(sum(right[:shown]) / sum(gold_seen[:shown]), 4)
    # the classifier (gold = "the gold count rose right after this answer") finds nothing
    # but block ends
    rose = [n for n in range(2, len(views) + 1) if views[n - 1]["stats"] != views[n - 2]["stats"]]
    assert all(n % FEEDBACK_BLOCK == 0 for n in rose)


def test_the_quality_bar_pauses_at_the_end_of_a_block(store: Store) -> None:
    p = make_project(store, schema(gold_rate=1.0, quality_bar=0.8))
    rows = [{"id": f"g{i}", "text": f"g{i}", "gold": {"label": "b"}} for i in range(30)]
    imports.import_rows(store, SYSTEM, p["id"], enumerate(rows, 1))
    bad, _ = make_user(store, "bad")
    for _ in range(FEEDBACK_BLOCK):  # every one wrong: no pause within the block
        lease = dispatch.next_assignment(store, bad, p["id"])
        assert lease is not None
        dispatch.submit_response(store, bad, lease["assignment_id"], {"label": "a"})
    with pytest.raises(PermissionDenied, match="paused"):
        dispatch.next_assignment(store, bad, p["id"])
