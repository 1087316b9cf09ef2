from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.api.conftest import live  # noqa: F401 (the running server fixture)
from tests.rlhf.fake_llm import FakeLLM
from tests.safety.targets import answerer


@pytest.fixture
def llm() -> Iterator[FakeLLM]:
    server = FakeLLM().start()
    server.answerer = answerer
    try:
        yield server
    finally:
        server.stop()
