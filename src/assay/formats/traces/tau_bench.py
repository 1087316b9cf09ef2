"""tau-bench results: a JSON array of ``{"task_id", "trial", "reward", "info", "traj"}``.

``traj`` holds OpenAI chat messages (the system prompt is the domain policy); ``reward`` (1 or 0)
becomes the outcome; the gold ``info.task.actions`` (``{"name", "kwargs"}``) become the
``reference`` trajectory, one assistant step per action. The results file carries no tool
declarations, so ``tools`` lists every tool the file's runs and gold actions use (names only).
Tool outputs starting with ``Error:`` are marked ``is_error`` (tau-bench's convention).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from assay.domain.errors import ValidationError
from assay.formats.traces._common import TraceItem, json_items, obj
from assay.formats.traces.openai_chat import convert_messages

NAME = "tau-bench"


def detect(sample: Any) -> bool:
    return isinstance(sample, dict) and isinstance(sample.get("traj"), list) and "reward" in sample


def _actions(info: Any) -> list[dict[str, Any]]:
    task = info.get("task") if isinstance(info, dict) else None
    actions = task.get("actions") if isinstance(task, dict) else None
    return [a for a in actions or [] if isinstance(a, dict) and isinstance(a.get("name"), str)]


def tool_names(traces: list[Any]) -> list[str]:
    names: set[str] = set()
    for t in traces:
        if not isinstance(t, dict):
            continue
        for m in t.get("traj") or []:
            for c in (m.get("tool_calls") or []) if isinstance(m, dict) else []:
                f = c.get("function") if isinstance(c, dict) else None
                if isinstance(f, dict) and isinstance(f.get("name"), str):
                    names.add(f["name"])
        names.update(a["name"] for a in _actions(t.get("info")))
    return sorted(names)


def convert(trace: Any, tools: list[str] | None = None) -> dict[str, Any]:
    if not isinstance(trace, dict) or not isinstance(trace.get("traj"), list):
        raise ValidationError("must be an object with 'traj' (a list of messages)")
    steps = convert_messages(trace["traj"], where="traj")
    info = obj(trace.get("info"))
    task_info = obj(info.get("task"))
    value: dict[str, Any] = {"steps": steps}
    instruction = task_info.get("instruction")
    first_user = next((s.get("content") for s in steps if s["role"] == "user" and s.get("content")), None)
    if isinstance(instruction, str) and instruction:
        value["task"] = instruction
    elif first_user:
        value["task"] = first_user
    reward = trace.get("reward")
    outcome: dict[str, Any] = {"reward": reward}
    if isinstance(reward, int | float) and not isinstance(reward, bool):
        outcome["success"] = reward >= 1.0
    outputs = task_info.get("outputs")
    if outputs:
        outcome["expected_outputs"] = outputs
    value["outcome"] = outcome
    value["reference"] = [
        {
            "role": "assistant",
            "tool_calls": [{"name": a["name"], "arguments": obj(a.get("kwargs"))}],
        }
        for a in _actions(info)
    ]
    names = tools if tools is not None else tool_names([trace])
    if names:
        value["tools"] = [{"name": n} for n in names]
    meta = {k: trace.get(k) for k in ("task_id", "trial") if k in trace}
    for k in ("user_id",):
        if k in task_info:
            meta[k] = task_info[k]
    for k in ("source", "user_cost"):
        if k in info:
            meta[k] = info[k]
    reward_info = info.get("reward_info")
    if isinstance(reward_info, dict) and isinstance(reward_info.get("info"), dict):
        meta["reward_info"] = reward_info["info"]
    value["metadata"] = meta
    return value


def read(path: Path) -> Iterator[TraceItem]:
    items = json_items(path)
    names = tool_names([v for _, v in items])
    for place, trace in items:
        try:
            value = convert(trace, names)
        except ValidationError as e:
            raise e.at(file=path.name, line=place) from None
        tid = f"task-{trace.get('task_id')}-trial-{trace.get('trial', 0)}" if "task_id" in trace else None
        yield TraceItem(
            place,
            tid or f"{path.stem}-{place}",
            value,
            metadata={"source_format": NAME, "reward": trace.get("reward")},
        )
