"""Who is acting: the authenticated caller that every service call names."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from assay.domain.roles import Role

__all__ = ["ROLE_RANK", "SYSTEM", "Actor", "actor_from_row"]

# Each role's rank, lowest first (annotator < reviewer < manager < admin): domain.roles says it.
ROLE_RANK = {r.value: r.rank for r in sorted(Role, key=lambda r: r.rank)}


@dataclass(frozen=True)
class Actor:
    """A user acting through a face (HTTP token, browser session, or the local CLI)."""

    id: int | None
    name: str
    role: str
    kind: str = "human"
    skills: tuple[str, ...] = ()
    token_id: int | None = None
    token_kind: str = "api"
    cost_per_hour: float | None = None
    cost_per_item: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def at_least(self, role: str) -> bool:
        return ROLE_RANK.get(self.role, -1) >= ROLE_RANK[role]

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


# The local CLI acting directly on a database: whoever can open the file is its administrator.
SYSTEM = Actor(id=None, name="system", role="admin")


def actor_from_row(row: dict[str, Any]) -> Actor:
    return Actor(
        id=int(row["id"]),
        name=str(row["name"]),
        role=str(row["role"]),
        kind=str(row.get("kind") or "human"),
        skills=tuple(row.get("skills") or ()),
        token_id=row.get("token_id"),
        token_kind=str(row.get("token_kind") or "api"),
        cost_per_hour=row.get("cost_per_hour"),
        cost_per_item=row.get("cost_per_item"),
    )
