"""A plain JSON Lines file of steps in assay's own step format (see the trajectory field).

Each line is one step: ``{"role", "actor"?, "content"?, "tool_calls"?: [{"id"?, "name",
"arguments"}], "tool_results"?: [{"call_id"?, "content", "is_error"?}], "observation"?,
"handoff"?: {"from", "to"}, "timestamp"?, "cost"?, "tokens"?}``. Lines sharing a
``trace_id`` (or ``trajectory_id``, ``run_id``, ``episode_id``) form one trajectory; without
one the whole file is one. A line may also be a whole trajectory (``{"steps": [...], "id"?,
"task"?, "tools"?, ...}``). A step's ``task`` (the first one seen) is the trajectory's task.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from assay.domain.errors import ValidationError
from assay.formats.traces._common import TraceItem, json_items

NAME = "steps"
GROUP_KEYS = ("trace_id", "trajectory_id", "run_id", "episode_id")
_TRAJ_KEYS = ("task", "steps", "outcome", "tools", "agents", "reference", "metadata")
_STEP_HINTS = ("tool_results", "observation", "handoff", "actor", "index")


def detect(sample: Any) -> bool:
    if not isinstance(sample, dict):
        return False
    if isinstance(sample.get("steps"), list):
        return True
    if "role" not in sample:
        return False
    calls = sample.get("tool_calls")
    if isinstance(calls, list) and calls and isinstance(calls[0], dict) and "function" not in calls[0]:
        return "name" in calls[0]
    return any(k in sample for k in (*_STEP_HINTS, *GROUP_KEYS))


def read(path: Path) -> Iterator[TraceItem]:
    items = json_items(path)
    groups: dict[str, dict[str, Any]] = {}
    order: list[str] = []
    for place, line in items:
        if not isinstance(line, dict):
            raise ValidationError("must be an object (a step)", file=path.name, line=place)
        if isinstance(line.get("steps"), list):
            key = str(line.get("id", line.get("external_id", f"{path.stem}-{place}")))
            value = {k: line[k] for k in _TRAJ_KEYS if k in line}
            groups[key] = {"place": place, "value": value, "meta": {}}
            order.append(key)
            continue
        step = dict(line)
        gid = next((step.pop(k) for k in GROUP_KEYS if k in step), None)
        key = str(gid) if gid is not None else path.stem
        if key not in groups:
            groups[key] = {"place": place, "value": {"steps": []}, "meta": {}}
            order.append(key)
        g = groups[key]
        task = step.pop("task", None)
        if isinstance(task, str) and "task" not in g["value"]:
            g["value"]["task"] = task
        step.pop("index", None)
        g["value"]["steps"].append(step)
    for key in order:
        g = groups[key]
        yield TraceItem(g["place"], key, g["value"], g["meta"])
