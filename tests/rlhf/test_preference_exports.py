"""The preference training transforms on hand-made export rows: layouts, thresholds, ties, margins."""

from __future__ import annotations

from typing import Any

from assay.domain.schema import ProjectSchema
from assay.formats.training import TrainingOptions, load_transforms
from assay.services.generation import comparison_schema

SCHEMA = ProjectSchema.from_dict(
    {
        **comparison_schema("p"),
        "questions": [
            {
                "name": "preference",
                "type": "preference",
                "field": "candidates",
                "ties": True,
                "strength": True,
            },
            {"name": "rewrite", "type": "text", "field": "candidates", "required": False},
        ],
    }
)
CHAT = ProjectSchema.from_dict(comparison_schema("c", chat=True))
RANK = ProjectSchema.from_dict(
    {
        "name": "r",
        "fields": [{"name": "prompt", "type": "text"}, {"name": "candidates", "type": "comparison"}],
        "questions": [{"name": "order", "type": "ranking", "field": "candidates"}],
    }
)
CANDS = [{"model": "a", "text": "A!"}, {"model": "b", "text": "B!"}, {"model": "c", "text": "C!"}]


def row(
    prompt: Any = "P?",
    consensus: dict[str, Any] | None = None,
    responses: list[dict[str, Any]] | None = None,
    cands: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "external_id": "r",
        "fields": {"prompt": prompt, "candidates": cands or CANDS[:2]},
        "metadata": {},
        "consensus": consensus or {},
        "responses": [{"user": f"u{i}", "kind": "human", "values": v} for i, v in enumerate(responses or [])],
    }


def pref(choice: str, confidence: float = 0.9, strength: int | None = None) -> dict[str, Any]:
    value: dict[str, Any] = {"choice": choice}
    if strength is not None:
        value["strength"] = strength
    return {"preference": {"value": value, "confidence": confidence, "method": "mv"}}


def run(
    fmt: str, rows: list[dict[str, Any]], schema: ProjectSchema = SCHEMA, **opts: Any
) -> list[dict[str, Any]]:
    return list(load_transforms()[fmt](schema, rows, TrainingOptions(**opts)))


def test_registered() -> None:
    assert {"dpo", "orpo", "kto", "rm", "sft"} <= set(load_transforms())


def test_dpo_from_consensus_threshold_and_ties() -> None:
    rows = [row(consensus=pref("b", 0.9)), row(consensus=pref("a", 0.4)), row(consensus=pref("tie", 0.99))]
    assert run("dpo", rows) == [
        {"prompt": "P?", "chosen": "B!", "rejected": "A!"},
        {"prompt": "P?", "chosen": "A!", "rejected": "B!"},
    ]
    assert run("dpo", rows, min_confidence=0.5) == [{"prompt": "P?", "chosen": "B!", "rejected": "A!"}]
    assert run("dpo", rows, ties="keep") == run("dpo", rows)  # DPO cannot say "tie"
    assert run("orpo", rows) == run("dpo", rows)


def test_dpo_from_responses_when_no_consensus_and_n_way() -> None:
    votes = [
        {"preference": {"choice": "c"}},
        {"preference": {"choice": "c"}},
        {"preference": {"choice": "a"}},
    ]
    out = run("dpo", [row(responses=votes, cands=CANDS)])
    assert out == [
        {"prompt": "P?", "chosen": "C!", "rejected": "A!"},
        {"prompt": "P?", "chosen": "C!", "rejected": "B!"},
    ]
    assert run("dpo", [row(responses=votes, cands=CANDS)], min_confidence=0.7) == []  # 2/3 agree
    split = [{"preference": {"choice": "a"}}, {"preference": {"choice": "b"}}]
    assert run("dpo", [row(responses=split)]) == []  # an even split is a tie


def test_rm_margins_and_ties() -> None:
    rows = [row(consensus=pref("b", 0.8, strength=3)), row(consensus=pref("tie", 1.0))]
    assert run("rm", rows) == [{"prompt": "P?", "chosen": "B!", "rejected": "A!", "margin": 2.4}]
    kept = run("rm", rows, ties="keep")
    assert kept[1] == {"prompt": "P?", "chosen": "A!", "rejected": "B!", "margin": 0.0}
    votes = [{"preference": {"choice": "a", "strength": 1}}, {"preference": {"choice": "a", "strength": 3}}]
    assert run("rm", [row(responses=votes)])[0]["margin"] == 2.0  # median strength x full agreement


def test_kto_labels() -> None:
    out = run("kto", [row(consensus=pref("a"), cands=CANDS)])
    assert out == [
        {"prompt": "P?", "completion": "A!", "label": True},
        {"prompt": "P?", "completion": "B!", "label": False},
        {"prompt": "P?", "completion": "C!", "label": False},
    ]


def test_sft_prefers_the_rewrite_then_the_winner() -> None:
    rewrite = [{"preference": {"choice": "a"}, "rewrite": "Gold answer."}]
    assert run("sft", [row(responses=rewrite)]) == [
        {"messages": [{"role": "user", "content": "P?"}, {"role": "assistant", "content": "Gold answer."}]}
    ]
    assert run("sft", [row(consensus=pref("b"))])[0]["messages"][-1] == {"role": "assistant", "content": "B!"}
    assert run("sft", [row(consensus=pref("tie"))]) == []


def test_conversational_layout_for_chat_prompts() -> None:
    msgs = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi?"}]
    out = run("dpo", [row(prompt=msgs, consensus=pref("a"))], CHAT)
    assert out == [
        {
            "prompt": msgs,
            "chosen": [{"role": "assistant", "content": "A!"}],
            "rejected": [{"role": "assistant", "content": "B!"}],
        }
    ]
    sft = run("sft", [row(prompt=msgs, consensus=pref("a"))], CHAT)
    assert sft[0]["messages"] == [*msgs, {"role": "assistant", "content": "A!"}]


def test_ranking_pairs() -> None:
    cons = {"order": {"value": ["c", "a", "b"], "confidence": 1.0, "method": "mode"}}
    out = run("rm", [row(consensus=cons, cands=CANDS)], RANK)
    assert [(r["chosen"], r["rejected"], r["margin"]) for r in out] == [("C!", "A!", 1.0), ("C!", "B!", 2.0)]
