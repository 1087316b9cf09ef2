"""Diversity in embedding space: farthest-first traversal (a greedy k-center order).

Active learning picks what people answer next by the model's uncertainty; among equally useful
records, those far from what people already answered (and from each other) teach more than a
cluster of near copies. :func:`farthest_first` orders candidates that way; AI-first routing
(:mod:`assay.services.ai_first`) and ``bench/active_learning.py`` share it.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["farthest_first"]

Matrix = npt.NDArray[np.float64]


def farthest_first(x: Matrix, k: int, anchors: Matrix | None = None) -> list[int]:
    """Indices of ``k`` rows of ``x`` in farthest-first order: each pick is the row farthest
    (Euclidean) from the anchors and from the rows picked before it. Without anchors the first pick
    is row 0; ties go to the lowest index, so rows given most useful first keep that order among
    equals."""
    n = x.shape[0]
    k = min(k, n)
    if k <= 0:
        return []
    if anchors is not None and anchors.shape[0]:
        # distance of each row to its nearest anchor: |x|^2 + |a|^2 - 2 x.a, anchors in blocks
        sq = (x**2).sum(axis=1)
        dist = np.full(n, np.inf)
        for i in range(0, anchors.shape[0], 4096):
            block = anchors[i : i + 4096]
            d2 = sq[:, None] + (block**2).sum(axis=1)[None, :] - 2.0 * (x @ block.T)
            dist = np.minimum(dist, np.sqrt(np.maximum(0.0, d2)).min(axis=1))
        first = int(np.argmax(dist))
    else:
        first = 0
        dist = np.full(n, np.inf)
    chosen = [first]
    dist = np.minimum(dist, np.linalg.norm(x - x[first], axis=1))
    dist[first] = -1.0
    while len(chosen) < k:
        nxt = int(np.argmax(dist))
        chosen.append(nxt)
        dist = np.minimum(dist, np.linalg.norm(x - x[nxt], axis=1))
        dist[chosen] = -1.0
    return chosen
