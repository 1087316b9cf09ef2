from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest

from tests.api.conftest import live  # noqa: F401 (the running server fixture)
from tests.rlhf.fake_llm import FakeLLM

# The label a deterministic "model" gives a text: the word it names, else negative.
WORD = re.compile(r"\b(positive|negative|neutral)\b")


def sentiment_answer(model: str, prompt: str) -> str | None:
    """What the test endpoint answers to a pre-labeling prompt (None: not such a prompt)."""
    if "text:" not in prompt:
        return None
    text = prompt.split("text:", 1)[1]
    m = WORD.search(text)
    return "Sure.\n" + json.dumps({"sentiment": m.group(1) if m else "negative", "score": 0.75})


@pytest.fixture
def llm() -> Iterator[FakeLLM]:
    server = FakeLLM().start()
    server.answerer = sentiment_answer
    try:
        yield server
    finally:
        server.release.set()
        server.stop()
