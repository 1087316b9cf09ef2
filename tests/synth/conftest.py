from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.conftest import live  # noqa: F401 (the running server fixture)
from tests.rlhf.fake_llm import FakeLLM
from tests.synth.teachers import answerer


@pytest.fixture
def llm() -> Iterator[FakeLLM]:
    server = FakeLLM().start()
    server.answerer = answerer
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test its own $ASSAY_HOME (the runs' response cache lives under it)."""
    monkeypatch.setenv("ASSAY_HOME", str(tmp_path / "home"))
    return tmp_path / "home"
