"""Leaderboard pieces without a database: outcomes, Bradley-Terry rows, win rates, agreement, bias."""

from __future__ import annotations

import math
import random

from assay.domain.schema import ProjectSchema
from assay.services.generation import comparison_schema
from assay.services.leaderboard import (
    ELO_SCALE,
    Comparison,
    comparisons_from_rows,
    fit_leaderboard,
    judge_agreement,
    position_bias_rate,
    win_rate_matrix,
)

SCHEMA = ProjectSchema.from_dict(comparison_schema("x"))


def _row(cands: list[str], votes: list[tuple[str, str, str]], cons: str | None = None) -> dict:
    return {
        "external_id": "r",
        "fields": {"prompt": "p", "candidates": [{"model": m, "text": m} for m in cands]},
        "metadata": {"cat": "a"},
        "responses": [{"user": u, "kind": k, "values": {"preference": {"choice": c}}} for u, k, c in votes],
        "consensus": {"preference": {"value": {"choice": cons}, "confidence": 1.0}} if cons else {},
    }


def test_outcomes_from_consensus_responses_and_ties() -> None:
    rows = [
        _row(["a", "b", "c"], [("u", "human", "a")], cons="b"),
        _row(["a", "b"], [("u", "human", "tie"), ("v", "human", "a")]),
    ]
    comps = comparisons_from_rows(SCHEMA, rows, category="cat")
    assert [(c.a, c.b, c.tie) for c in comps] == [
        ("b", "a", False),
        ("b", "c", False),
        ("a", "b", True),
        ("a", "b", False),
    ]
    assert all(c.category == "a" for c in comps)
    only_resp = comparisons_from_rows(SCHEMA, rows, source="responses")
    assert len(only_resp) == 2 + 2


def test_fit_recovers_planted_strengths() -> None:
    planted = {"x": 1.2, "y": 0.3, "z": -1.5}
    rng = random.Random(0)
    comps = []
    names = list(planted)
    for _ in range(3000):
        a, b = rng.sample(names, 2)
        p = 1 / (1 + math.exp(planted[b] - planted[a]))
        comps.append(Comparison(a, b) if rng.random() < p else Comparison(b, a))
    rows = fit_leaderboard(comps, n_boot=200)
    assert [r["model"] for r in rows] == ["x", "y", "z"]
    mean = sum(planted.values()) / 3
    for r in rows:
        lo, hi = (r["ci_low"] - 1000) / ELO_SCALE, (r["ci_high"] - 1000) / ELO_SCALE
        assert lo <= planted[r["model"]] - mean <= hi
        assert r["wins"] + r["losses"] == r["games"]
    wr = win_rate_matrix(comps)
    assert wr["matrix"][0][0] is None and wr["matrix"][0][2] > 0.8


def test_judge_agreement_and_position_bias_rate() -> None:
    rows = [
        _row(["a", "b"], [("h1", "human", "a"), ("h2", "human", "a"), ("j", "model", "a")]),
        _row(["a", "b"], [("h1", "human", "b"), ("h2", "human", "b"), ("j", "model", "a")]),
        _row(["a", "b"], [("h1", "human", "a"), ("h2", "human", "b"), ("j", "model", "a")]),  # no majority
    ]
    (j,) = judge_agreement(SCHEMA, rows)
    assert j["judge"] == "j" and j["n"] == 2 and j["agreement"] == 0.5 and j["human_human"] == 1.0
    pb = position_bias_rate([(["a", "b"], "a")] * 30 + [(["b", "a"], "a")] * 10 + [(["a", "b"], "tie")] * 5)
    assert pb["n"] == 40 and pb["left_rate"] == 0.75 and pb["ci_low"] > 0.5 and pb["p_value"] < 0.01
    assert position_bias_rate([])["left_rate"] is None
