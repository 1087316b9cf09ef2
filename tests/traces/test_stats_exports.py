"""Aggregation of simulated reviews with known truth, and the trajectory training exports (loaded with datasets)."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from assay.domain.fields import normalize_trajectory
from assay.domain.questions import DEFAULT_VERDICTS
from assay.domain.schema import ProjectSchema
from assay.formats.training import TrainingOptions, load_transforms
from assay.services.trajectory_stats import trajectory_stats
from tests.traces.test_import import AGENT_SCHEMA

SCHEMA = ProjectSchema.from_dict(AGENT_SCHEMA)
TOOLS = ["search", "book", "pay"]
AGENTS = ["planner", "executor"]


def _trajectory(rng: random.Random, n: int) -> dict[str, Any]:
    steps: list[dict[str, Any]] = [{"role": "user", "content": "Plan my trip"}]
    for k in range(n):
        tool = TOOLS[k % 3]
        steps.append(
            {
                "role": "assistant",
                "actor": AGENTS[k % 2],
                "content": f"step {k}",
                "tool_calls": [{"id": f"c{k}", "name": tool, "arguments": {"k": k}}],
            }
        )
        steps.append({"role": "tool", "tool_results": [{"call_id": f"c{k}", "content": f"ok {k}"}]})
    steps.append({"role": "assistant", "actor": "executor", "content": "Done."})
    return normalize_trajectory(
        {"task": "Plan my trip", "tools": [{"name": t} for t in TOOLS], "steps": steps}
    )


def _truth(rng: random.Random, traj: dict[str, Any]) -> dict[int, str]:
    truth = {}
    for s in traj["steps"]:
        if s["role"] != "assistant":
            continue
        tool = (s.get("tool_calls") or [{"name": None}])[0]["name"]
        p_bad = 0.5 if tool == "pay" else 0.1  # the pay tool goes wrong far more often
        truth[s["index"]] = (
            rng.choice(["wrong_arguments", "unnecessary"]) if rng.random() < p_bad else "correct"
        )
    return truth


def simulate(n_records: int = 60, seed: int = 7) -> tuple[list[dict[str, Any]], list[dict[int, str]]]:
    rng = random.Random(seed)
    accuracy = {"ann": 0.9, "bob": 0.85, "cat": 0.8, "dan": 0.9, "eve": 0.35}
    rows, truths = [], []
    for r in range(n_records):
        traj = _trajectory(rng, 5)
        truth = _truth(rng, traj)
        responses = []
        for user in rng.sample(sorted(accuracy), 4):
            review = {}
            for step, v in truth.items():
                if rng.random() > accuracy[user]:
                    v = rng.choice([x for x in DEFAULT_VERDICTS if x != v])
                review[str(step)] = {"verdict": v}
            ok = not any(v in ("wrong_arguments", "harmful", "wrong_tool") for v in truth.values())
            responses.append(
                {"user": user, "kind": "human", "values": {"steps": review, "success": "yes" if ok else "no"}}
            )
        rows.append({"external_id": f"r{r}", "fields": {"run": traj}, "gold": None, "responses": responses})
        truths.append(truth)
    return rows, truths


@pytest.mark.parametrize("method", ["mv", "onecoin"])
def test_aggregation_recovers_known_truth(method: str) -> None:
    rows, truths = simulate()
    stats = trajectory_stats(SCHEMA, rows, method=method)
    assert stats.method == method
    hits = total = 0
    for summary, truth in zip(stats.trajectories, truths, strict=True):
        for step, v in truth.items():
            total += 1
            hits += summary.verdicts[step].verdict == v
    assert hits / total >= 0.95
    right_first = sum(
        s.first_error_step == min([i for i, v in t.items() if v == "wrong_arguments"], default=None)
        for s, t in zip(stats.trajectories, truths, strict=True)
    )
    assert right_first / len(truths) >= 0.85
    right_unnec = sum(
        s.unnecessary_steps == sum(v == "unnecessary" for v in t.values())
        for s, t in zip(stats.trajectories, truths, strict=True)
    )
    assert right_unnec / len(truths) >= 0.8
    tools = {g.name: g for g in stats.tools}
    assert stats.tools[0].name == "pay" and tools["pay"].error_rate > 2 * tools["search"].error_rate
    assert {g.name for g in stats.agents} == set(AGENTS)
    ok_truth = [not any(v == "wrong_arguments" for v in t.values()) for t in truths]
    assert sum(s.success == ok for s, ok in zip(stats.trajectories, ok_truth, strict=True)) >= 0.95 * len(
        truths
    )
    assert stats.to_dict()["tools"][0]["name"] == "pay"


def test_plan_answers_and_gold_clamp() -> None:
    traj = _trajectory(random.Random(1), 2)
    rows = [
        {
            "external_id": "x",
            "fields": {"run": traj},
            "gold": {"steps": {"1": {"verdict": "harmful"}}},
            "responses": [
                {
                    "user": u,
                    "values": {
                        "steps": {"1": {"verdict": "correct"}},
                        "skippable": sk,
                        "first_error": fe,
                        "success": "no",
                    },
                }
                for u, sk, fe in (("a", [3], 1), ("b", [3], 1), ("c", [], None))
            ]
            + [
                {
                    "user": "d",
                    "values": {"steps": {"1": {"verdict": "harmful"}}},
                    "review": {"verdict": "reject"},
                }
            ],
        }
    ]
    s = trajectory_stats(SCHEMA, rows, method="mv").trajectories[0]
    assert s.verdicts[1].verdict == "harmful" and s.first_error_step == 1  # gold wins
    assert s.plan["skippable"]["value"] == [3] and s.plan["first_error"]["value"] == 1
    assert s.success is False and s.unnecessary_steps == 1


def _export(name: str, rows: list[dict[str, Any]], **opts: Any) -> list[dict[str, Any]]:
    return list(load_transforms()[name](SCHEMA, rows, TrainingOptions(**opts)))


def _load_with_datasets(examples: list[dict[str, Any]], tmp_path: Path) -> Any:
    datasets = pytest.importorskip("datasets")
    path = tmp_path / "ex.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in examples))
    ds = datasets.load_dataset("json", data_files=str(path), split="train", cache_dir=str(tmp_path / "cache"))
    folder = tmp_path / "saved"
    datasets.Dataset.from_list(examples).save_to_disk(str(folder))
    again = datasets.load_from_disk(str(folder))
    assert len(again) == len(ds) == len(examples)
    return ds


def test_prm_export(tmp_path: Path) -> None:
    rows, truths = simulate(20)
    ex = _export("prm", rows)
    assert len(ex) == 20
    for e in ex:
        assert len(e["completions"]) == len(e["labels"]) == 6  # 5 tool steps + the final answer
        assert e["prompt"] == "Plan my trip"
    agree = sum(
        lab == (t[i] == "correct")
        for e, t in zip(ex, truths, strict=True)
        for lab, i in zip(e["labels"], sorted(t), strict=True)
    )
    assert agree / (20 * 6) >= 0.9
    assert (
        "<tool_call>" in ex[0]["completions"][0]
        and "<tool_result>ok 0</tool_result>" in ex[0]["completions"][0]
    )
    ds = _load_with_datasets(ex, tmp_path)
    assert ds.column_names == ["prompt", "completions", "labels"] and isinstance(ds[0]["labels"][0], bool)


def test_orm_export(tmp_path: Path) -> None:
    rows, _ = simulate(20)
    ex = _export("orm", rows)
    assert len(ex) == 20 and {type(e["label"]) for e in ex} == {bool}
    ds = _load_with_datasets(ex, tmp_path)
    assert set(ds.column_names) == {"prompt", "completion", "label"}


def test_sft_trajectories_export(tmp_path: Path) -> None:
    rows, truths = simulate(30)
    ex = _export("sft-trajectories", rows)
    good = [t for t in truths if not any(v == "wrong_arguments" for v in t.values())]
    assert 0 < len(ex) <= len(good) + 2
    m = ex[0]["messages"]
    assert m[0] == {"role": "user", "content": "Plan my trip", "tool_calls": None, "tool_call_id": None}
    assert m[1]["tool_calls"][0]["function"]["name"] == "search" and m[2]["role"] == "tool"
    trimmed = _export("sft-trajectories", rows, remove_unnecessary=True)
    assert sum(len(e["messages"]) for e in trimmed) < sum(len(e["messages"]) for e in ex)
    for e in trimmed:  # every tool message still answers a call that is kept
        ids = {c["id"] for x in e["messages"] if x["tool_calls"] for c in x["tool_calls"]}
        assert all(x["tool_call_id"] in ids for x in e["messages"] if x["role"] == "tool")
    ds = _load_with_datasets(ex, tmp_path)
    assert ds[0]["messages"][1]["tool_calls"][0]["function"]["arguments"] == '{"k": 0}'
