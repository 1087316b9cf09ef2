"""Reads that explain one record's labels: every review decision on its answers."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assay.store.tables import responses, reviews, users

__all__ = ["record_reviews"]


def record_reviews(conn: Connection, record_id: int) -> dict[int, list[dict[str, Any]]]:
    """Every review of the record's answers (pending ones too), oldest first, by response id."""
    q = (
        sa.select(reviews, users.c.name.label("reviewer"))
        .join(responses, responses.c.id == reviews.c.response_id)
        .outerjoin(users, users.c.id == reviews.c.reviewer_id)
        .where(responses.c.record_id == record_id)
        .order_by(reviews.c.id)
    )
    out: dict[int, list[dict[str, Any]]] = {}
    for row in conn.execute(q):
        r = dict(row._mapping)
        out.setdefault(int(r["response_id"]), []).append(r)
    return out
