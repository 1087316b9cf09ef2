"""``assay synth`` in the terminal (SQLite: the job runs in the command)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from assay.cli.main import app
from tests.rlhf.fake_llm import FakeLLM

runner = CliRunner()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_assay_synth_runs_two_teachers_and_prints_the_report(
    db_url: str, llm: FakeLLM, tmp_path: Path
) -> None:
    prompts = tmp_path / "seeds.jsonl"
    prompts.write_text("".join(json.dumps({"id": f"q{i}", "prompt": f"Explain topic {i} in plain words."}) + "\n"
                               for i in range(6)))  # fmt: skip

    def run(*args: str) -> Any:
        result = runner.invoke(app, [*args, "--db", db_url, "--json"])
        assert result.exit_code == 0, result.output
        return json.loads(result.output)

    job = run("synth", "seeds", str(prompts), "--teacher", "t-alpha", "--teacher", "t-beta@temperature=0.2",
              "--endpoint", llm.base_url, "--seed", "3", "--min-chars", "10")  # fmt: skip
    assert job["state"] == "succeeded" and job["kind"] == "synth"
    res = job["result"]
    # prompts 0-5: beta copies alpha on q3 and near-copies alpha's q4 on q5; the cap keeps 4 + 4
    assert res["generated"] == 12 and res["accepted"] == 8 and res["removed"]["teacher_cap"] == 2
    assert res["removed"]["exact_duplicate"] == 1 and res["removed"]["near_duplicate"] == 1
    assert res["diversity"]["teacher_shares"] == {"t-alpha": 0.5, "t-beta@temperature=0.2": 0.5}
    one = runner.invoke(app, ["synth", "seeds", str(prompts), "-t", "t-alpha", "--endpoint", llm.base_url,
                              "--db", db_url])  # fmt: skip
    assert one.exit_code != 0 and "at least two teachers" in one.output
