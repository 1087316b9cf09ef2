"""Deterministic teachers on the test endpoint, with planted duplicates, near-duplicates, an answer
that leaks an evaluation item and one too short."""

from __future__ import annotations

import random
import re

VOCAB = [
    "apple",
    "river",
    "stone",
    "cloud",
    "signal",
    "vector",
    "market",
    "garden",
    "engine",
    "harbor",
    "lantern",
    "meadow",
    "orbit",
    "pepper",
    "quartz",
    "ribbon",
    "saddle",
    "timber",
    "urchin",
    "velvet",
    "walnut",
    "yarrow",
    "zephyr",
    "anchor",
    "bramble",
    "candle",
    "dagger",
    "ember",
    "falcon",
    "glacier",
    "hollow",
    "island",
    "jasmine",
    "kettle",
    "lemon",
    "marble",
    "nectar",
    "oyster",
]
PROMPT = re.compile(r"Explain topic (\d+)")


def answer_text(teacher: str, i: int) -> str:
    rng = random.Random(f"{teacher}-{i}")
    return f"Topic {i} by {teacher}: " + " ".join(rng.choice(VOCAB) for _ in range(30)) + "."


def near_copy(text: str) -> str:
    """One word changed and a comma: a near-duplicate (Jaccard of 5-grams well above 0.8)."""
    words = text.split()
    words[-3] = "changed"
    return " ".join(words[:5]) + ", " + " ".join(words[5:])


# planted cases of the teachers' answers to prompts 0..9
EXACT_COPY = 3  # beta copies alpha's answer to prompt 3
NEAR_COPY = 5  # beta answers prompt 5 with a near copy of alpha's answer to prompt 4
LEAK = 7  # beta's answer to prompt 7 is in the evaluation set
SHORT = 9  # alpha answers prompt 9 with "ok"


def answerer(model: str, prompt: str) -> str | None:
    m = PROMPT.search(prompt)
    if m is None:
        return None
    i = int(m.group(1))
    if model == "t-alpha" and i == SHORT:
        return "ok"
    if model == "t-beta" and i == EXACT_COPY:
        return answer_text("t-alpha", EXACT_COPY).upper()
    if model == "t-beta" and i == NEAR_COPY:
        return near_copy(answer_text("t-alpha", NEAR_COPY - 1))
    return answer_text(model, i)
