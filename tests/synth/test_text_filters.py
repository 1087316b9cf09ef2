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


def test_kmeans_finds_separated_groups_and_the_spread_of_repeated_text() -> None:
    import numpy as np

    from assay.services.diversity import diversity, kmeans

    rng = np.random.default_rng(0)
    x = np.vstack([rng.normal(c, 0.05, size=(20, 2)) for c in ((0, 0), (5, 5), (0, 5))])
    labels = kmeans(x, 3, seed=1)
    assert sorted(np.bincount(labels).tolist()) == [20, 20, 20]
    assert all(len(set(labels[i * 20 : (i + 1) * 20].tolist())) == 1 for i in range(3))
    same = diversity(["the same answer again"] * 10, embedder="hashing")
    assert same["embedding"]["spread"] == 0.0 and same["distinct_1"] == 0.1
    varied = diversity([f"answer {w} about {v}" for w in "abcdefghij" for v in ("cats", "tax law")],
                       prompts=["p1", "p2", "p3"], covered=[True, False, True], embedder="hashing")  # fmt: skip
    assert varied["embedding"]["spread"] > 0.3 and varied["embedding"]["clusters"] == 3
    assert varied["embedding"]["prompt_clusters"] == 1 and varied["embedding"]["prompt_coverage"] == 1.0
    assert diversity(["one"], embedder="hashing")["embedding"] is None
    assert diversity(["a b", "c d"], embedder="none")["embedding"] is None


def test_language_of_names_the_language() -> None:
    from assay.services.text_filters import language_codes, language_of

    assert language_of("The quick brown fox jumps over the lazy dog near the river bank.")[0] == "en"
    assert language_of("El rápido zorro marrón salta sobre el perro perezoso junto al río.")[0] == "es"
    assert language_of("الثعلب البني السريع يقفز فوق الكلب الكسول")[0] == "ar"
    assert {"en", "es", "ar"} <= language_codes()
