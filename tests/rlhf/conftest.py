from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.rlhf.fake_llm import FakeLLM

QUALITIES = {"model-strong": 3.0, "model-mid": 1.5, "model-weak": 0.0, "judge-1": 0.0}


@pytest.fixture
def llm() -> Iterator[FakeLLM]:
    server = FakeLLM(QUALITIES).start()
    try:
        yield server
    finally:
        server.stop()
