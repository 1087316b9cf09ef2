"""Golden benchmarks (freeze, run, grade, results) and the RLHF commands on a real database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from assay.cli.common import AssayGroup
from assay.cli.rlhf import register
from assay.connectors import CallableConnector
from assay.domain.errors import Conflict
from assay.services import evaluation, imports
from assay.services.actors import SYSTEM
from assay.services.evaluation import (
    benchmark_items,
    eval_results,
    freeze_version,
    list_versions,
    model_contributor,
    run_eval,
)
from assay.services.exports import iter_export_rows
from assay.services.generation import ModelSpec
from assay.services.judge import run_judge
from assay.services.policies import load_project
from assay.store import datasets as ds_store
from assay.store.engine import Store
from tests.factories import make_project
from tests.rlhf.fake_llm import FakeLLM
from tests.rlhf.helpers import annotate_all, close, specs, write_prompts

BENCH = {
    "name": "bench",
    "fields": [{"name": "prompt", "type": "text"}, {"name": "reference", "type": "text"}],
    "questions": [{"name": "ok", "type": "label", "options": ["yes", "no"]}],
}


def _bench(store: Store, n: int = 4) -> None:
    make_project(store, BENCH)
    rows = [
        (
            i,
            {
                "external_id": f"b{i}",
                "prompt": f"What is {i}+{i}?",
                "reference": str(2 * i),
                "metadata": {"category": "math"},
            },
        )
        for i in range(n)
    ]
    imports.import_rows(store, SYSTEM, "bench", rows)


def test_freeze_run_grade_results(store: Store, llm: FakeLLM, tmp_path: Path) -> None:
    _bench(store)
    v1 = freeze_version(store, SYSTEM, "bench", home=tmp_path)
    assert v1["name"] == "v1" and v1["record_count"] == 4 and v1["content_hash"].startswith("sha256:")
    assert v1["kind"] == "benchmark" and v1["stored"]
    # v2, same content
    assert freeze_version(store, SYSTEM, "bench", home=tmp_path)["content_hash"] == v1["content_hash"]
    with pytest.raises(Conflict):
        freeze_version(store, SYSTEM, "bench", home=tmp_path, name="v1")
    ss = specs(llm, models=("model-strong", "model-weak"))
    try:
        out = run_eval(store, SYSTEM, "bench", ss, home=tmp_path, version="v1")
    finally:
        close(ss)
    assert out["records"] == 8 and out["grading_project"] == "bench-grading" and not out["failed"]
    assert out["models"]["model-strong"]["answers"] == 4 and out["cost"] > 0
    # a model grader (a python function here) grades through dispatch, like a person
    grader = model_contributor(store, SYSTEM, "grader", create=True)

    def grade(messages: list[dict[str, Any]], **params: Any) -> str:
        text = messages[-1]["content"]
        return json.dumps({"correct": 5 if "(q=3)" in text else 2, "helpful": 4})

    template = (
        "Prompt: {{prompt}}\nReference: {{reference}}\nAnswer: {{answer}}\nReply as JSON: {{questions}}"
    )
    rep = run_judge(store, grader, "bench-grading", CallableConnector(grade, model="grader-fn"), template)
    assert rep.answered == 8 and not rep.skipped
    res = eval_results(store, SYSTEM, "bench-grading")
    assert [m["model"] for m in res["models"]] == ["model-strong", "model-weak"]
    assert res["models"][0]["correct"]["mean"] == 5 and res["models"][1]["correct"]["mean"] == 2
    assert len(res["items"]) == 8 and {i["item"] for i in res["items"]} == {"b0", "b1", "b2", "b3"}
    # the benchmark changed: v1 still holds (and runs on) what was frozen; a new freeze has the change
    imports.import_rows(
        store, SYSTEM, "bench", [(1, {"external_id": "b0", "prompt": "changed", "reference": "x"})]
    )
    _, items = benchmark_items(store, SYSTEM, "bench", "v1", home=tmp_path)
    assert [i.prompt for i in items if i.id == "b0"] == ["What is 0+0?"]
    freeze_version(store, SYSTEM, "bench", home=tmp_path, name="v3")
    _, items = benchmark_items(store, SYSTEM, "bench", "v3", home=tmp_path)
    assert [i.prompt for i in items if i.id == "b0"] == ["changed"]
    assert [v["name"] for v in list_versions(store, SYSTEM, "bench")] == ["v1", "v2", "v3"]


def test_a_version_frozen_before_content_was_kept_runs_while_the_project_matches(
    store: Store, tmp_path: Path
) -> None:
    """Versions of the first kind (a hash and the record ids, format ``benchmark``) still work:
    read from the project, which must not have changed."""
    _bench(store, 2)
    with store.tx() as conn:
        project = load_project(conn, SYSTEM, "bench", need="manager")
        rows = list(iter_export_rows(conn, int(project["id"])))
        ds_store.insert_version(
            conn,
            project_id=project["id"],
            name="old",
            content_hash=evaluation._content_hash(rows),
            schema=project["schema"],
            schema_version=1,
            filters=None,
            lineage={"kind": "benchmark", "external_ids": ["b0", "b1"]},
            card=None,
            format="benchmark",
            path=None,
            record_count=2,
            created_by=None,
        )
    _, items = benchmark_items(store, SYSTEM, "bench", "old", home=tmp_path)
    assert sorted(i.id for i in items) == ["b0", "b1"]
    assert [v["stored"] for v in list_versions(store, SYSTEM, "bench")] == [False]
    imports.import_rows(
        store, SYSTEM, "bench", [(1, {"external_id": "b0", "prompt": "changed", "reference": "x"})]
    )
    with pytest.raises(Conflict, match="changed since version"):
        benchmark_items(store, SYSTEM, "bench", "old", home=tmp_path)


runner = CliRunner()


def _app() -> typer.Typer:
    app = typer.Typer(cls=AssayGroup, no_args_is_help=True)

    @app.callback()
    def main() -> None:
        """assay (test)."""

    register(app)
    return app


def _run(app: typer.Typer, *args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.output


def test_cli_generate_judge_leaderboard_eval(
    store: Store, db_url: str, llm: FakeLLM, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", llm.base_url)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    app = _app()
    db = ["--db", db_url, "--cache", str(tmp_path / "cache.sqlite")]
    prompts = write_prompts(tmp_path / "p.jsonl", 8)
    out = json.loads(
        _run(
            app,
            "generate",
            str(prompts),
            "--project",
            "cli-arena",
            "-m",
            "model-strong",
            "-m",
            "model-mid@temperature=0.2",
            "-m",
            "model-weak",
            "--pairwise",
            "--price",
            "model-strong=5,15",
            "--json",
            *db,
        )
    )
    assert out["records"] == 24 and out["cost"] > 0
    calls = llm.calls
    again = json.loads(
        _run(
            app,
            "generate",
            str(prompts),
            "--project",
            "cli-arena",
            "-m",
            "model-strong",
            "-m",
            "model-mid@temperature=0.2",
            "-m",
            "model-weak",
            "--pairwise",
            "--json",
            *db,
        )
    )
    assert llm.calls == calls and again["cached"] == 24 and again["cost"] == 0
    out = json.loads(
        _run(
            app,
            "judge",
            "run",
            "cli-arena",
            "--user",
            "judge-1",
            "--model",
            "judge-1",
            "--create",
            "--json",
            *db,
        )
    )
    assert out["answered"] == 24
    rows = json.loads(_run(app, "leaderboard", "cli-arena", "--json", "--boot", "100", "--db", db_url))
    assert [r["model"] for r in rows] == ["model-strong", "model-mid", "model-weak"]
    assert set(rows[0]) >= {"model", "rating", "ci_low", "ci_high", "wins", "losses", "ties"}
    assert rows[0]["wins"] == 16 and rows[-1]["losses"] == 16
    by_cat = json.loads(
        _run(
            app,
            "leaderboard",
            "cli-arena",
            "--json",
            "--category",
            "category",
            "--boot",
            "50",
            "--db",
            db_url,
        )
    )
    assert {r["category"] for r in by_cat} == {"math", "writing"}
    text = _run(app, "leaderboard", "cli-arena", "--boot", "50", "--db", db_url)
    assert "model-strong" in text and "Position bias" in text
    # golden benchmark through the CLI
    _bench(store, 3)
    _run(app, "eval", "freeze", "bench", "--db", db_url, "--home", str(tmp_path))
    out = json.loads(
        _run(
            app,
            "eval",
            "run",
            "bench",
            "--version",
            "v1",
            "-m",
            "model-strong",
            "-m",
            "model-weak",
            "--json",
            "--home",
            str(tmp_path),
            *db,
        )
    )
    assert out["records"] == 6 and out["grading_project"] == "bench-grading"
    res = json.loads(_run(app, "eval", "results", "bench-grading", "--json", "--db", db_url))
    assert {m["model"] for m in res["models"]} == {"model-strong", "model-weak"}
    bad = runner.invoke(
        app, ["generate", str(prompts), "--project", "x", "-m", "m@temperature", "--no-cache", "--db", db_url]
    )
    assert bad.exit_code == 1 and "key=value" in bad.output


def test_humans_then_leaderboard_uses_responses_without_consensus(
    store: Store, llm: FakeLLM, tmp_path: Path
) -> None:
    from assay.services.generation import comparison_schema, ensure_project, load_prompts, run_generation
    from assay.services.leaderboard import leaderboard
    from tests.factories import make_user

    ensure_project(store, SYSTEM, "noc", comparison_schema("noc", overlap=1))
    run_generation(
        store,
        SYSTEM,
        "noc",
        load_prompts(write_prompts(tmp_path / "p.jsonl", 10)),
        [
            ModelSpec(CallableConnector(lambda m, n=n, **p: n, model=n))
            for n in ("model-strong", "model-weak")
        ],
        pairwise=True,
    )
    annotate_all(store, make_user(store, "solo")[0], "noc")
    board = leaderboard(store, SYSTEM, "noc", n_boot=50)
    assert board["comparisons"] == 10 and board["rows"][0]["games"] == 10
