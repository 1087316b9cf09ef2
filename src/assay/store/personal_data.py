"""What the personal-data detectors found in records (kind, field, span, action; never the value)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assay.store.tables import personal_data
from assay.store.types import IN_CHUNK, utcnow

__all__ = ["count_by_kind", "findings_for_record", "findings_for_records", "replace_findings"]


def replace_findings(conn: Connection, record_ids: Sequence[int], rows: list[dict[str, Any]]) -> None:
    """Forget what was found in ``record_ids`` before (a re-import), then store ``rows``."""
    ids = list(record_ids)
    for i in range(0, len(ids), IN_CHUNK):
        conn.execute(personal_data.delete().where(personal_data.c.record_id.in_(ids[i : i + IN_CHUNK])))
    if rows:
        now = utcnow()
        conn.execute(personal_data.insert(), [r | {"created_at": now} for r in rows])


def findings_for_record(conn: Connection, record_id: int) -> list[dict[str, Any]]:
    q = (
        sa.select(personal_data)
        .where(personal_data.c.record_id == record_id)
        .order_by(personal_data.c.field, personal_data.c.span_start)
    )
    return [
        {
            "field": r.field,
            "kind": r.kind,
            "start": r.span_start,
            "end": r.span_end,
            "action": r.action,
        }
        for r in conn.execute(q)
    ]


def findings_for_records(conn: Connection, record_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    """What was found in each of the given records (an export page), by record id."""
    out: dict[int, list[dict[str, Any]]] = {}
    ids = list(record_ids)
    for i in range(0, len(ids), IN_CHUNK):
        q = (
            sa.select(personal_data)
            .where(personal_data.c.record_id.in_(ids[i : i + IN_CHUNK]))
            .order_by(personal_data.c.record_id, personal_data.c.field, personal_data.c.span_start)
        )
        for r in conn.execute(q):
            out.setdefault(int(r.record_id), []).append(
                {
                    "field": r.field,
                    "kind": r.kind,
                    "start": r.span_start,
                    "end": r.span_end,
                    "action": r.action,
                }
            )
    return out


def count_by_kind(conn: Connection, project_id: int) -> dict[str, dict[str, int]]:
    """A project's findings counted by kind and action: ``{kind: {action: n}}``."""
    q = (
        sa.select(personal_data.c.kind, personal_data.c.action, sa.func.count())
        .where(personal_data.c.project_id == project_id)
        .group_by(personal_data.c.kind, personal_data.c.action)
    )
    out: dict[str, dict[str, int]] = {}
    for kind, action, n in conn.execute(q):
        out.setdefault(str(kind), {})[str(action)] = int(n)
    return out
