"""bench/ai_first.py runs end to end on a slice of the pandalm pairs and prints its JSON lines."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_ai_first_bench_prints_one_line_per_case() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "ai_first.py"), "--limit", "60", "--round", "30"],
        capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [o["case"] for o in lines] == ["judges", "strong"]
    for o in lines:
        assert {
            "human_answers_all_human",
            "human_answers_ai_first",
            "accuracy_all_human",
            "accuracy_ai_first",
        } <= set(o)
        assert o["human_answers_all_human"] == 120 and 0 < o["human_answers_ai_first"] <= 120
