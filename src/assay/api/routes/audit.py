"""The audit log's hash chain: admins check it and read its head (an anchor to keep elsewhere)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from assay.api import models as m
from assay.api.access import access
from assay.api.deps import CurrentActor, StoreDep
from assay.api.routes import out
from assay.services import audit

router = APIRouter(tags=["audit"])


@router.get("/audit/verify", response_model=m.AuditReport, **access("admin"))
def verify_audit_log(
    actor: CurrentActor,
    store: StoreDep,
    limit: Annotated[int | None, Query(ge=1, description="check the first N events only")] = None,
    anchor_seq: Annotated[int | None, Query(ge=0, description="an anchor's seq, to check too")] = None,
    anchor_hash: Annotated[str | None, Query(max_length=64, description="that anchor's hash")] = None,
) -> Response:
    anchor = None if anchor_seq is None else {"seq": anchor_seq, "hash": anchor_hash or ""}
    return out(audit.verify(store, actor, limit=limit, anchor=anchor))


@router.get("/audit/anchor", response_model=m.Anchor, **access("admin"))
def audit_anchor(actor: CurrentActor, store: StoreDep) -> Response:
    return out(audit.anchor(store, actor))
