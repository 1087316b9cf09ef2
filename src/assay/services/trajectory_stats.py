"""Agent-review figures of a project: per trajectory, per step, per tool and per agent.

The computation is :mod:`assay.formats.trajectory_summary` (pure, over export rows); this
module runs it on a project the caller may manage.
"""

from __future__ import annotations

from assay.domain.schema import ProjectSchema
from assay.formats.trajectory_summary import (
    ERROR_VERDICTS,
    GroupRate,
    TrajectoryStats,
    TrajectorySummary,
    response_values,
    trajectory_stats,
)
from assay.services.actors import Actor
from assay.services.exports import iter_export_rows
from assay.services.policies import load_project
from assay.store.engine import Store

__all__ = [
    "ERROR_VERDICTS",
    "GroupRate",
    "TrajectoryStats",
    "TrajectorySummary",
    "project_trajectory_stats",
    "response_values",
    "trajectory_stats",
]


def project_trajectory_stats(
    store: Store, actor: Actor, project_ref: int | str, *, question: str | None = None, method: str = "mv"
) -> TrajectoryStats:
    """:func:`trajectory_stats` over a project's records."""
    with store.read() as conn:
        project = load_project(conn, actor, project_ref, need="manager")
        schema = ProjectSchema.from_dict(project["schema"])
        return trajectory_stats(
            schema, iter_export_rows(conn, int(project["id"])), question=question, method=method
        )
