r"""Krippendorff's alpha: chance-corrected agreement for any number of coders, missing data allowed.

Problem: how much do annotators agree beyond chance, when not everyone rated every item and
the answers may be nominal, ordinal or interval? Krippendorff (2011, "Computing Krippendorff's
Alpha-Reliability", https://repository.upenn.edu/asc_papers/43; Hayes & Krippendorff 2007,
doi:10.1080/19312450709336664):

.. math:: \alpha = 1 - \frac{D_o}{D_e} = 1 - (n-1)\frac{\sum_{c,k} o_{ck}\,\delta^2_{ck}}{\sum_{c,k} n_c n_k\,\delta^2_{ck}}

with the coincidence matrix :math:`o_{ck} = \sum_u \frac{\#\{(c,k) \text{ pairs in unit } u\}}{m_u-1}`
over units with :math:`m_u \ge 2` values, :math:`n_c = \sum_k o_{ck}`, :math:`n=\sum_c n_c`, and
:math:`\delta^2` the metric: nominal :math:`[c\ne k]`, interval :math:`(c-k)^2`, ordinal
:math:`(\sum_{g=c}^{k} n_g - (n_c+n_k)/2)^2`, ratio :math:`((c-k)/(c+k))^2`.
Alpha is 1 for perfect agreement, 0 for chance, negative for systematic disagreement.

The test-suite checks Krippendorff's published example (4 coders, 12 units, missing data:
0.743 nominal, 0.815 ordinal, 0.849 interval, 0.797 ratio).

Example
-------
>>> unit = [0, 0, 0, 1, 1]; val = [1, 1, 1, 2, 2]
>>> round(krippendorff_alpha(unit, val, level="nominal"), 3)
1.0
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import sparse

from assay.quality._arrays import FloatArray, as_float, as_index

__all__ = ["Level", "coincidence_matrix", "distance_alpha", "krippendorff_alpha"]

Level = Literal["nominal", "ordinal", "interval", "ratio"]


def coincidence_matrix(unit: npt.ArrayLike, value: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Coincidence matrix ``(V, V)`` and the sorted distinct values ``(V,)``.

    ``unit``: ``(n,)`` int unit (item) index per answer; ``value``: ``(n,)`` numeric answer
    (nan = missing, dropped). One row per (unit, coder) answer.
    """
    u = as_index(unit, "unit")
    v = as_float(value, "value")
    if u.size != v.size:
        raise ValueError("unit and value differ in length")
    ok = ~np.isnan(v)
    u, v = u[ok], v[ok]
    values, code = np.unique(v, return_inverse=True)
    n_u = int(u.max()) + 1 if u.size else 0
    n_v = values.size
    counts = sparse.csr_matrix((np.ones(u.size), (u, code)), shape=(n_u, n_v))
    m = np.asarray(counts.sum(axis=1)).ravel()
    pairable = m >= 2
    inv = np.where(pairable, 1.0 / np.maximum(m - 1, 1), 0.0)
    weighted = sparse.diags(inv) @ counts
    o = np.asarray((counts.T @ weighted).todense())
    o -= np.diag(np.asarray(weighted.sum(axis=0)).ravel())
    return o, values


def _delta2(values: FloatArray, n_c: FloatArray, level: Level) -> FloatArray:
    c = values[:, None]
    k = values[None, :]
    if level == "nominal":
        nominal: FloatArray = (c != k).astype(np.float64)
        return nominal
    if level == "interval":
        out: FloatArray = (c - k) ** 2
        return out
    if level == "ratio":
        s = c + k
        return np.divide((c - k) ** 2, s**2, out=np.zeros((values.size, values.size)), where=s != 0)
    if level == "ordinal":
        cum = np.concatenate([[0.0], np.cumsum(n_c)])
        i = np.arange(values.size)
        lo = np.minimum(i[:, None], i[None, :])
        hi = np.maximum(i[:, None], i[None, :])
        between = cum[hi + 1] - cum[lo]
        out = (between - (n_c[:, None] + n_c[None, :]) / 2.0) ** 2
        return out
    raise ValueError(f"unknown level {level!r}")


def krippendorff_alpha(unit: npt.ArrayLike, value: npt.ArrayLike, *, level: Level = "nominal") -> float:
    """Krippendorff's alpha of answers given as parallel ``unit`` / ``value`` arrays.

    Parameters
    ----------
    unit : ``(n,)`` int, the item each answer belongs to (coder identity is not needed).
    value : ``(n,)`` float; integer codes for nominal data; nan = missing.
    level : "nominal" | "ordinal" | "interval" | "ratio".

    Returns
    -------
    float in [-1, 1] (nan when fewer than two pairable values or no variation at all).
    """
    o, values = coincidence_matrix(unit, value)
    n_c = o.sum(axis=1)
    n = float(n_c.sum())
    if n <= 1:
        return float("nan")
    d2 = _delta2(values, n_c, level)
    d_e = float((np.outer(n_c, n_c) * d2).sum())
    if d_e == 0:
        return float("nan")
    return 1.0 - (n - 1) * float((o * d2).sum()) / d_e


def distance_alpha(
    unit: npt.ArrayLike,
    distance: Callable[[int, int], float],
    *,
    max_pairs: int = 100_000,
    seed: int = 0,
) -> float:
    """Krippendorff's alpha for answers compared by any distance (boxes, spans, rankings …).

    ``unit`` ``(n,)`` gives each answer's item; ``distance(i, j)`` the disagreement in [0, 1] of
    answers ``i`` and ``j`` (0 = the same; symmetric). Observed disagreement is the mean distance
    of the pairs within each item (weighted ``1/(m_u - 1)`` as in :func:`krippendorff_alpha`),
    expected disagreement the mean distance of all pairs of pairable answers, from
    ``max_pairs`` pairs drawn at random (seeded) when there are more. With the nominal or
    interval distance this is :func:`krippendorff_alpha`. Returns nan with fewer than two
    pairable answers or no disagreement to expect.
    """
    u = as_index(unit, "unit")
    m = np.bincount(u) if u.size else np.zeros(0, dtype=np.int64)
    pairable = np.flatnonzero(m[u] >= 2) if u.size else np.zeros(0, dtype=np.int64)
    n = pairable.size
    if n < 2:
        return float("nan")
    observed = 0.0
    order = pairable[np.argsort(u[pairable], kind="stable")]
    bounds = np.flatnonzero(np.diff(u[order])) + 1
    for grp in np.split(order, bounds):
        k = grp.size
        within = sum(distance(int(grp[a]), int(grp[b])) for a in range(k) for b in range(a + 1, k))
        observed += 2.0 * within / (k - 1)
    d_o = observed / n
    total = n * (n - 1) // 2
    if total <= max_pairs:
        d_e = (
            sum(distance(int(pairable[a]), int(pairable[b])) for a in range(n) for b in range(a + 1, n))
            / total
        )
    else:
        rng = np.random.default_rng(seed)
        a = rng.integers(0, n, size=max_pairs)
        b = rng.integers(0, n - 1, size=max_pairs)
        b = b + (b >= a)
        d_e = float(
            np.mean([distance(int(pairable[i]), int(pairable[j])) for i, j in zip(a, b, strict=True)])
        )
    if d_e <= 0:
        return float("nan")
    return 1.0 - d_o / d_e
