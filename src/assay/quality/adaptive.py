"""Adaptive overlap: decide, per record, whether its answers suffice.

Problem: asking every record the same number of people wastes answers on easy records and
gives too few to hard ones. Given the record's current posterior over answers (from an
aggregator such as Dawid-Skene, so that worker reliability is taken into account), the
number of answers so far and the workflow's bounds, return

* ``"done"``   — at least ``min_overlap`` answers and the posterior's top label reaches
  ``target`` confidence;
* ``"more"``   — not confident yet (or below ``min_overlap``) and fewer than ``max_overlap``;
* ``"review"`` — ``max_overlap`` reached without confidence: send to an expert.

This is the "request labels until confident" policy of repeated labelling (Sheng, Provost &
Ipeirotis 2008, doi:10.1145/1401890.1401965; Ipeirotis et al. 2014,
doi:10.1007/s10618-013-0306-1), driven by the EM posterior.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

__all__ = ["Decision", "decide", "decide_many"]

Decision = Literal["done", "more", "review"]


def decide(
    probas: npt.ArrayLike, n_answers: int, *, min_overlap: int = 1, max_overlap: int = 5, target: float = 0.95
) -> Decision:
    """Decision for one record; ``probas`` ``(K,)`` posterior (sums to 1)."""
    p = np.asarray(probas, dtype=np.float64)
    conf = float(p.max()) if p.size else 0.0
    if n_answers >= min_overlap and conf >= target:
        return "done"
    if n_answers >= max_overlap:
        return "review"
    return "more"


def decide_many(
    probas: npt.ArrayLike,
    n_answers: npt.ArrayLike,
    *,
    min_overlap: int = 1,
    max_overlap: int = 5,
    target: float = 0.95,
) -> npt.NDArray[np.str_]:
    """Vectorised :func:`decide`: ``probas`` ``(n, K)``, ``n_answers`` ``(n,)``; returns ``(n,)`` str."""
    p = np.asarray(probas, dtype=np.float64)
    n = np.asarray(n_answers)
    conf = p.max(axis=1)
    done = (n >= min_overlap) & (conf >= target)
    out: npt.NDArray[np.str_] = np.where(done, "done", np.where(n >= max_overlap, "review", "more"))
    return out
