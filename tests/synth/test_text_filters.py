"""The text filters alone: exact and near-duplicates on planted copies, contamination, distinct-n."""

from __future__ import annotations

import random

from assay.services.text_filters import NearDuplicateIndex, NgramIndex, distinct_n, normalize

WORDS = [f"w{i}x" for i in range(2000)]


def _text(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(40))


def test_planted_near_copies_are_found_and_nothing_else() -> None:
    rng = random.Random(5)
    texts, planted = [], set()
    for i in range(600):
        if i > 5 and i % 7 == 0:
            ws = texts[rng.choice([k for k in range(i) if k not in planted])].split()  # of an original
            ws[rng.randrange(len(ws))] = "edited"
            texts.append(" ".join(ws))
            planted.add(i)
        else:
            texts.append(_text(rng))
    index = NearDuplicateIndex(0.8)
    found = {i for i, t in enumerate(texts) if index.check_add(str(i), t) is not None}
    assert found == planted
    assert index.check(texts[0].upper() + " !") == ("exact", "0")
    assert len(index) == 600 - len(planted)


def test_contamination_by_shared_ngrams() -> None:
    grams = NgramIndex(["The capital of France is Paris, a city on the Seine river."], n=8)
    assert grams.overlap("Everyone knows the capital of France is Paris, a city on the Seine") > 0
    assert grams.overlap("The capital of Spain is Madrid, a city on the Manzanares river.") == 0
    assert NgramIndex(["short one"], n=8).overlap("Short   one!") == 1.0


def test_distinct_n_and_normalize() -> None:
    assert normalize("  Hello,   WORLD! ") == "hello world"
    assert distinct_n(["a b a b"], 1) == 0.5 and distinct_n(["a b a b"], 2) == round(2 / 3, 4)
    assert distinct_n([], 2) is None
