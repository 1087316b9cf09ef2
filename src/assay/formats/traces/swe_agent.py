"""SWE-agent ``.traj`` files: ``{"trajectory": [{"thought", "action", "observation", ...}], "history", "info"}``.

Each trajectory entry becomes an assistant step (the thought, and the action as a tool call) and
a ``tool`` step holding the observation. SWE-agent's interface commands (``open``, ``edit``,
``find_file`` …) are tools of their own name; any other shell command is a call of ``bash``;
the arguments are ``{"command": <the whole action>}``. A file with a ``history`` only (function
calling mode) reads its history as chat messages. ``info.exit_status`` / ``info.submission``
make the outcome; the first user message (the issue) is the task.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from assay.domain.errors import ValidationError
from assay.formats.traces._common import TraceItem, as_text, clean, json_items, obj
from assay.formats.traces.openai_chat import convert_messages

NAME = "swe-agent"
SUFFIXES = (".traj",)

ACI_COMMANDS = frozenset(
    {
        "open",
        "goto",
        "scroll_up",
        "scroll_down",
        "create",
        "edit",
        "insert",
        "append",
        "search_dir",
        "search_file",
        "find_file",
        "submit",
        "str_replace_editor",
        "filemap",
        "exit_forfeit",
        "connect_start",
        "connect_sendline",
        "connect_stop",
        "debug_start",
        "debug_add_breakpoint",
        "debug_continue",
        "debug_step",
        "debug_exec",
        "debug_stop",
        "decompile",
        "disassemble",
        "check_flag",
    }
)


def detect(sample: Any) -> bool:
    if not isinstance(sample, dict):
        return False
    traj = sample.get("trajectory")
    if isinstance(traj, list) and (not traj or (isinstance(traj[0], dict) and "action" in traj[0])):
        return True
    hist = sample.get("history")
    return (
        isinstance(hist, list)
        and bool(hist)
        and isinstance(hist[0], dict)
        and ("message_type" in hist[0] or "agent" in hist[0])
    )


def tool_name(action: str) -> str:
    words = action.strip().split(None, 1)
    first = words[0] if words else ""
    return first if first in ACI_COMMANDS else "bash"


def _task(history: Any) -> str | None:
    if not isinstance(history, list):
        return None
    for m in history:
        if isinstance(m, dict) and m.get("role") == "user":
            return as_text(m.get("content"))
    return None


def convert(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ValidationError("a .traj file must hold an object")
    traj = data.get("trajectory")
    history = data.get("history")
    steps: list[dict[str, Any]] = []
    if isinstance(traj, list) and traj:
        for i, entry in enumerate(traj):
            if not isinstance(entry, dict):
                raise ValidationError("must be an object", field=f"trajectory[{i}]")
            action = entry.get("action")
            action = action if isinstance(action, str) else ""
            thought = entry.get("thought")
            step = clean({"role": "assistant", "content": thought if isinstance(thought, str) else None})
            if action.strip():
                step["tool_calls"] = [
                    {"id": f"a{i}", "name": tool_name(action), "arguments": {"command": action.strip()}}
                ]
            steps.append(step)
            obs = entry.get("observation")
            if obs is not None and action.strip():
                text = obs if isinstance(obs, str) else as_text(obs) or ""
                steps.append({"role": "tool", "tool_results": [{"call_id": f"a{i}", "content": text}]})
    elif isinstance(history, list):
        msgs = [m for m in history if isinstance(m, dict)]
        steps = convert_messages(msgs, error_prefix=False, where="history")
    else:
        raise ValidationError("has neither 'trajectory' nor 'history'")
    value: dict[str, Any] = {"steps": steps}
    task = _task(history)
    if task:
        value["task"] = task
    info = obj(data.get("info"))
    outcome = {k: info[k] for k in ("exit_status", "submission") if k in info}
    if outcome:
        value["outcome"] = outcome
    env = data.get("environment")
    if isinstance(env, str):
        value["metadata"] = {"environment": env}
    return value


def read(path: Path) -> Iterator[TraceItem]:
    for place, data in json_items(path):
        try:
            value = convert(data)
        except ValidationError as e:
            raise e.at(file=path.name, line=place) from None
        yield TraceItem(place, path.stem if place == 1 else f"{path.stem}-{place}", value)
