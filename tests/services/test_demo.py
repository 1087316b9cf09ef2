"""The demo instance builds on both databases with its three projects and simulated work."""

from __future__ import annotations

import sqlalchemy as sa

from assay.services import exports
from assay.services.demo import build_demo
from assay.store.engine import Store
from assay.store.tables import consensus, records, responses, suggestions


def test_demo_builds_three_projects_with_work(store: Store) -> None:
    demo = build_demo(store)
    assert set(demo.projects) == {"ticket-sentiment", "chatbot-replies", "agent-review"}
    assert {role for _, role, _ in demo.logins} == {"admin", "manager", "reviewer", "annotator"}
    with store.read() as conn:
        n_gold = conn.execute(sa.select(sa.func.count()).where(records.c.is_gold.is_(True))).scalar_one()
        n_resp = conn.execute(sa.select(sa.func.count()).select_from(responses)).scalar_one()
        n_cons = conn.execute(sa.select(sa.func.count()).select_from(consensus)).scalar_one()
        prechecks = conn.execute(
            sa.select(sa.func.count()).where(suggestions.c.model == "assay-precheck")
        ).scalar_one()
    assert n_gold == 12 and n_resp == demo.responses > 100 and n_cons > 50
    assert prechecks == 4  # the planted repeated searches, found on import
    with store.read() as conn:
        rows = list(exports.iter_export_rows(conn, demo.projects["ticket-sentiment"], lineage=True))
    answered = [r for r in rows if r["responses"]]
    assert answered and all(r["consensus"] for r in answered if not r["gold"])
