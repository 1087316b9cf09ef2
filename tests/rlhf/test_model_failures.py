"""A command whose model calls all fail says why and exits 1 (issue 24, item 1)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assay.cli.main import app
from tests.rlhf.fake_llm import FakeLLM
from tests.rlhf.helpers import write_prompts
from tests.rlhf.test_eval_and_cli import _bench

runner = CliRunner()


@pytest.fixture
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, llm: FakeLLM) -> FakeLLM:
    """The model server refuses every call (401: not retried, so the test is quick)."""
    monkeypatch.setenv("OPENAI_BASE_URL", llm.base_url)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    llm.faults.extend([401] * 1000)
    return llm


def test_generate_with_every_call_failing_says_why_and_exits_1(
    offline: FakeLLM, db_url: str, tmp_path: Path
) -> None:
    prompts = write_prompts(tmp_path / "p.jsonl", 2)
    args = ["generate", str(prompts), "-p", "arena", "-m", "a", "-m", "b", "--no-cache", "--db", db_url]
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output
    assert "every model call failed" in result.output
    assert "a at " in result.output and "401" in result.output and "injected 401" in result.output
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["candidates"] == 0 and len(report["failed"]) == 2


def test_generate_with_one_model_failing_names_its_error_and_succeeds(
    llm: FakeLLM, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    prompts = write_prompts(tmp_path / "p.jsonl", 2)
    args = ["generate", str(prompts), "-p", "arena", "--no-cache", "--db", db_url]
    args += ["-m", "model-strong", "-m", "model-weak", "--base-url", llm.base_url]
    llm.faults.extend([401])  # one call of four fails: its prompt has one answer only
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "into 1 records" in result.output
    assert "fewer than 2 answers (model-" in result.output and "injected 401" in result.output
    down = FakeLLM().start()  # a second server, refusing every call: no prompt gets two answers
    try:
        down.faults.extend([401] * 10)
        models = tmp_path / "models.yaml"
        models.write_text(f"[{{model: model-mid, base_url: '{down.base_url}'}}]\n")
        base = ["generate", str(prompts), "-p", "arena", "--no-cache", "--db", db_url]
        result = runner.invoke(
            app, [*base, "-m", "model-weak", "--base-url", llm.base_url, "--models", str(models)]
        )
    finally:
        down.stop()
    assert result.exit_code == 1, result.output
    assert "no prompt got two answers" in result.output and "model-mid: " in result.output


def test_judge_and_eval_with_every_call_failing_exit_1(
    llm: FakeLLM, store: object, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", llm.base_url)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    prompts = write_prompts(tmp_path / "p.jsonl", 2)
    ok = runner.invoke(
        app,
        ["generate", str(prompts), "-p", "arena", "-m", "model-strong", "-m", "model-weak"]
        + ["--no-cache", "--db", db_url],
    )
    assert ok.exit_code == 0, ok.output
    _bench(store, 2)  # type: ignore[arg-type]
    llm.faults.extend([401] * 1000)
    judge = runner.invoke(
        app,
        ["judge", "run", "arena", "--user", "j", "--model", "judge-1", "--create", "--no-cache"]
        + ["--db", db_url],
    )
    assert judge.exit_code == 1, judge.output
    assert "the judge answered no record" in judge.output and "injected 401" in judge.output
    ev = runner.invoke(app, ["eval", "run", "bench", "-m", "model-strong", "--no-cache", "--db", db_url])
    assert ev.exit_code == 1, ev.output
    assert "every model call failed" in ev.output and "model-strong" in ev.output


def test_prelabel_with_every_call_failing_says_why_and_exits_1(
    offline: FakeLLM, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not db_url.startswith("sqlite"):
        pytest.skip("on PostgreSQL a job waits for `assay worker` (tests/jobs run those)")
    monkeypatch.setenv("ASSAY_MODEL_ENDPOINTS", offline.base_url)
    schema = tmp_path / "s.yaml"
    schema.write_text(
        "name: s\nfields: [{name: text, type: text}]\n"
        "questions: [{name: sentiment, type: label, options: [positive, negative]}]\n"
    )
    assert runner.invoke(app, ["project", "create", "--schema", str(schema), "--db", db_url]).exit_code == 0
    data = tmp_path / "r.jsonl"
    data.write_text('{"id": "t1", "text": "great"}\n')
    assert runner.invoke(app, ["import", "s", str(data), "--db", db_url]).exit_code == 0
    result = runner.invoke(
        app, ["prelabel", "s", "--model", "m", "--endpoint", offline.base_url, "--db", db_url]
    )
    assert result.exit_code == 1, result.output
    assert "every item of job" in result.output and "injected 401" in result.output
