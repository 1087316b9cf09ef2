"""Confidence intervals for proportions.

:func:`wilson_interval` is the Wilson score interval (Wilson 1927, "Probable inference, the law of
succession, and statistical inference", JASA 22:209-212, doi:10.1080/01621459.1927.10502953):
unlike the normal (Wald) interval it stays inside [0, 1], is not empty at 0 or n successes, and
keeps close to its nominal coverage for small n — the usual case of an attack success rate per
model, hazard category and tactic.
"""

from __future__ import annotations

import math

from scipy import special

__all__ = ["wilson_interval"]


def wilson_interval(successes: int, n: int, *, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval ``(low, high)`` of a proportion: ``successes`` out of ``n`` trials.

    ``n == 0`` gives ``(0.0, 1.0)`` (nothing is known). Raises ``ValueError`` for counts out of
    range or a confidence outside (0, 1).
    """
    if n < 0 or successes < 0 or successes > n:
        raise ValueError(f"need 0 <= successes <= n, got {successes} of {n}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if n == 0:
        return 0.0, 1.0
    z = float(special.ndtri(0.5 + confidence / 2.0))
    p = successes / n
    den = 1.0 + z * z / n
    centre = (p + z * z / (2.0 * n)) / den
    half = z * math.sqrt(p * (1.0 - p) / n + z * z / (4.0 * n * n)) / den
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high
