"""Trust in a contributor's answers from counts: the Beta posterior's lower credible bound.

With ``correct`` right out of ``n`` checked answers and a uniform prior, the precision's posterior is
``Beta(1 + correct, 1 + n - correct)``; its ``level`` one-sided lower bound is what a routing rule
may rely on (it is low while evidence is scarce, however right the few answers were).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import stats

__all__ = ["precision_lower_bound"]


def precision_lower_bound(
    correct: npt.ArrayLike, n: npt.ArrayLike, level: float = 0.9
) -> npt.NDArray[np.float64]:
    """The ``level`` lower credible bound of each precision (0 where ``n`` is 0)."""
    if not 0 < level < 1:
        raise ValueError("level must be between 0 and 1")
    c = np.asarray(correct, dtype=np.float64)
    m = np.asarray(n, dtype=np.float64)
    if np.any(c < 0) or np.any(c > m):
        raise ValueError("need 0 <= correct <= n")
    out: npt.NDArray[np.float64] = np.asarray(
        stats.beta.ppf(1.0 - level, 1.0 + c, 1.0 + m - c), dtype=np.float64
    )
    return np.where(m > 0, out, 0.0)
