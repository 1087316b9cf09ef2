"""Roles of workspace/project members, what each may do, and the kinds of contributor."""

from __future__ import annotations

from enum import StrEnum
from typing import Final

__all__ = ["ACTIONS", "ContributorKind", "Role"]


class ContributorKind(StrEnum):
    HUMAN = "human"
    MODEL = "model"


# the lowest role that may do each action; every higher role may do it too
ACTIONS: Final[dict[str, str]] = {
    "annotate": "annotator",  # take assignments, submit own responses
    "view_own_responses": "annotator",
    "review": "reviewer",  # accept/reject/correct responses
    "view_responses": "reviewer",
    "view_gold": "reviewer",
    "import": "manager",
    "export": "manager",
    "edit_project": "manager",
    "edit_schema": "manager",
    "manage_members": "manager",
    "view_metrics": "manager",
    "run_models": "manager",
    "create_project": "manager",
    "delete_project": "admin",
    "manage_users": "admin",
    "manage_tokens": "admin",
    "view_audit": "admin",
}


class Role(StrEnum):
    """A member's role, ordered ``annotator < reviewer < manager < admin``."""

    ADMIN = "admin"
    MANAGER = "manager"
    REVIEWER = "reviewer"
    ANNOTATOR = "annotator"

    @property
    def rank(self) -> int:
        return _RANK[self.value]

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Role):
            return NotImplemented
        return self.rank < other.rank

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Role):
            return NotImplemented
        return self.rank <= other.rank

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Role):
            return NotImplemented
        return self.rank > other.rank

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Role):
            return NotImplemented
        return self.rank >= other.rank

    def at_least(self, other: Role | str) -> bool:
        """True when this role is ``other`` or above it."""
        return self.rank >= Role(other).rank

    def can(self, action: str) -> bool:
        """Whether this role may do ``action`` (a key of :data:`ACTIONS`); unknown actions: no."""
        need = ACTIONS.get(action)
        return need is not None and self.rank >= _RANK[need]


_RANK: Final[dict[str, int]] = {"annotator": 0, "reviewer": 1, "manager": 2, "admin": 3}
