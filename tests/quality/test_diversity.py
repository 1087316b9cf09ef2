"""Farthest-first traversal in embedding space (shared by AI-first routing and the bench)."""

from __future__ import annotations

import numpy as np

from assay.quality.diversity import farthest_first


def test_farthest_first_alternates_between_clusters_and_starts_far_from_anchors() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(0, 0.01, (10, 4)) + np.array([1.0, 0, 0, 0])
    b = rng.normal(0, 0.01, (3, 4)) + np.array([0, 1.0, 0, 0])
    x = np.vstack([a, b])
    order = farthest_first(x, 4)
    assert order[0] == 0 and order[1] >= 10  # row 0, then the other cluster
    anchored = farthest_first(x, 2, anchors=a[:1])
    assert anchored[0] >= 10  # the other cluster than the anchor's
    assert farthest_first(x, 0) == [] and sorted(farthest_first(x, 99)) == list(range(13))
