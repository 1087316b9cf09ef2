"""Prompt set → 3 models (real client, fake server) → pairwise campaign answered by simulated
annotators with planted strengths → consensus → leaderboard → DPO export that datasets and trl load."""

from __future__ import annotations

import importlib.util
import json
import types
from pathlib import Path

import pytest

from assay.connectors import ResponseCache
from assay.formats.training import TrainingOptions
from assay.services import consensus, training_exports
from assay.services.actors import SYSTEM
from assay.services.generation import comparison_schema, ensure_project, load_prompts, run_generation
from assay.services.leaderboard import ELO_BASE, ELO_SCALE, leaderboard
from assay.store.engine import Store
from tests.factories import make_user
from tests.rlhf.fake_llm import FakeLLM
from tests.rlhf.helpers import MODELS, PLANTED, annotate_all, close, specs, write_prompts

N_PROMPTS = 30


def _score(elo: float) -> float:
    return (elo - ELO_BASE) / ELO_SCALE


def test_prompts_to_leaderboard_to_dpo(store: Store, llm: FakeLLM, tmp_path: Path) -> None:
    # 1. generation: 3 models answer 30 prompts; one record per pair of models
    items = load_prompts(write_prompts(tmp_path / "prompts.jsonl", N_PROMPTS))
    ensure_project(store, SYSTEM, "arena", comparison_schema("arena", overlap=3, ties=True, strength=True))
    ss = specs(llm, ResponseCache(tmp_path / "cache.sqlite"))
    try:
        report = run_generation(store, SYSTEM, "arena", items, ss, pairwise=True, run_name="run-1")
    finally:
        close(ss)
    assert report.records == N_PROMPTS * 3 and not report.failed
    assert llm.ok_calls == N_PROMPTS * 3
    assert report.cost > 0 and report.by_model["model-strong"]["cost"] > report.by_model["model-weak"]["cost"]

    # 2. campaign: three annotators with the planted preferences, through dispatch
    annotators = [make_user(store, f"ann-{i}")[0] for i in range(3)]
    answered = sum(annotate_all(store, a, "arena") for a in annotators)
    assert answered == N_PROMPTS * 3 * 3

    # 3. consensus, then the leaderboard from it and from the raw responses
    # Majority vote: the EM aggregators ("auto"/"ds") code preference choices in one label space
    # across records with different candidate pairs and can pick a label that is not even a
    # candidate of the record (reported to the consensus owner).
    consensus.recompute_project(store, SYSTEM, "arena", method="ds")
    board = leaderboard(store, SYSTEM, "arena", source="consensus", category="category", n_boot=300)
    rows = board["rows"]
    assert [r["model"] for r in rows] == list(MODELS)
    assert board["comparisons"] == N_PROMPTS * 3
    assert rows[0]["ci_low"] > rows[2]["ci_high"]  # strong and weak are clearly apart
    for r in rows:
        assert r["ci_low"] <= r["rating"] <= r["ci_high"]
        assert r["wins"] + r["losses"] + r["ties"] == r["games"] == 2 * N_PROMPTS
    assert set(board["categories"]) == {"math", "writing"}
    assert board["position_bias"]["n"] == answered and 0.35 < board["position_bias"]["left_rate"] < 0.65

    raw = leaderboard(store, SYSTEM, "arena", source="responses", n_boot=300)
    assert [r["model"] for r in raw["rows"]] == list(MODELS)
    for r in raw["rows"]:  # the planted (centred) strengths lie inside the 95% intervals
        assert _score(r["ci_low"]) <= PLANTED[r["model"]] <= _score(r["ci_high"]), r
    wr = raw["win_rates"]
    i, j = wr["models"].index("model-strong"), wr["models"].index("model-weak")
    assert wr["matrix"][i][j] > 0.7 and wr["matrix"][i][j] + wr["matrix"][j][i] == pytest.approx(1.0)

    # 4. DPO export: a datasets folder and JSONL, loaded by datasets (and prepared by trl if present)
    datasets = pytest.importorskip("datasets")  # a test dependency: pip install 'assay[hf]'

    folder = tmp_path / "dpo"
    n = training_exports.export_training(store, SYSTEM, "arena", folder, "dpo")
    assert n == N_PROMPTS * 3
    ds = datasets.load_from_disk(str(folder))
    assert ds.column_names == ["prompt", "chosen", "rejected"] and len(ds) == n
    jsonl = tmp_path / "dpo.jsonl"
    training_exports.export_training(
        store, SYSTEM, "arena", jsonl, "dpo", TrainingOptions(min_confidence=0.0, ties="drop")
    )
    ds2 = datasets.load_dataset("json", data_files=str(jsonl), split="train", cache_dir=str(tmp_path / "hf"))
    assert ds2.column_names == ["prompt", "chosen", "rejected"] and len(ds2) == n
    first = json.loads(jsonl.read_text().splitlines()[0])
    assert first["prompt"].startswith("Question number") and first["chosen"] != first["rejected"]
    # the strong model's answer is chosen over the weak one's in most pairs
    sw = [
        r
        for r in ds2
        if "model-strong" in r["chosen"] + r["rejected"] and "model-weak" in r["chosen"] + r["rejected"]
    ]
    assert sum("model-strong" in r["chosen"] for r in sw) / len(sw) > 0.7

    # reward-model pairs carry margins from strength and agreement
    rm = tmp_path / "rm.jsonl"
    training_exports.export_training(store, SYSTEM, "arena", rm, "rm")
    margins = [json.loads(x)["margin"] for x in rm.read_text().splitlines()]
    assert len(margins) == n and all(0 < m <= 3 for m in margins)

    if importlib.util.find_spec("trl") is not None and store.is_sqlite:
        _trl_accepts(ds2, tmp_path)


def _trl_accepts(ds: object, tmp_path: Path) -> None:
    """trl's own DPO data preparation (extract prompt, add EOS, tokenize) on the exported dataset."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from tokenizers import Tokenizer, models, pre_tokenizers
        from transformers import PreTrainedTokenizerFast
        from trl import DPOConfig, DPOTrainer

        words = {w for row in ds for col in ("prompt", "chosen", "rejected") for w in row[col].split()}  # type: ignore[attr-defined]
        vocab = {"[UNK]": 0, "</s>": 1, **{w: i + 2 for i, w in enumerate(sorted(words))}}
        tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
        tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
        hf = PreTrainedTokenizerFast(
            tokenizer_object=tok, eos_token="</s>", unk_token="[UNK]", pad_token="[UNK]"
        )
        args = DPOConfig(
            output_dir=str(tmp_path / "trl"), report_to=[], max_length=256, use_cpu=True, bf16=False
        )
        prepared = DPOTrainer._prepare_dataset(types.SimpleNamespace(_tokenizer=hf), ds, hf, args, "train")
    assert {"prompt_ids", "chosen_ids", "rejected_ids"} <= set(prepared.column_names)
    assert len(prepared) == len(ds)  # type: ignore[arg-type]
    ex = prepared[0]
    assert ex["chosen_ids"][-1] == 1 and ex["rejected_ids"][-1] == 1 and len(ex["prompt_ids"]) > 0
