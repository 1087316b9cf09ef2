"""Python functions the job tests name as connectors (this module is listed in $ASSAY_CALLABLE_MODULES)."""

from __future__ import annotations

from typing import Any

CALLS: list[str] = []
HOOKS: dict[str, Any] = {}


def echo_label(messages: list[dict[str, Any]], **params: Any) -> dict[str, Any]:
    """Answers "neutral" with a cost of 0.01; runs a test's hook first (to cancel, to move the clock)."""
    CALLS.append(str(messages[-1]["content"]))
    hook = HOOKS.get("on_call")
    if hook is not None:
        hook()
    return {"text": '{"sentiment": "neutral", "score": 0.5}', "cost": 0.01}
