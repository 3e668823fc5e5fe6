"""Proportions with their 95% confidence intervals (`Proportion`).

dybench uses the Wilson score interval over the *independent unit*: the pair for pair metrics, the
instance for TimeBlind. A pair's two items (a TimeBlind instance's four) share a video and a question,
so they are not independent draws; for an item-level metric (Acc) the interval is still taken with
n = number of units, which is conservative (it treats a unit's items as perfectly correlated, the widest
case) and needs no resampling or seed. Wilson, unlike the normal approximation, stays inside [0, 1] and
is sensible at 0 % and 100 % and for small n.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

Z95 = 1.959963984540054
"""Two-sided 95 % normal quantile."""


@dataclass(frozen=True)
class Proportion:
    """A proportion (one metric value) measured over ``n`` independent units, with its 95 % interval;
    all NaN when there was nothing to score."""

    value: float
    """The metric, a fraction in [0, 1]."""
    ci_low: float
    """Lower end of the 95 % Wilson interval."""
    ci_high: float
    """Upper end of the 95 % Wilson interval."""
    n: int
    """Independent units behind the value and interval (pairs or instances)."""

    @classmethod
    def of(cls, value: float, n: int) -> Proportion:
        """The proportion ``value`` measured over ``n`` units (NaN when n is 0)."""
        if n == 0:
            return cls(math.nan, math.nan, math.nan, 0)
        low, high = wilson_interval(value, n)
        return cls(value, low, high, n)

    def as_metrics(self, name: str) -> dict[str, float]:
        """``{name: value, name_ci_low: ..., name_ci_high: ...}``, the lmms-eval metric names."""
        return {name: self.value, f"{name}_ci_low": self.ci_low, f"{name}_ci_high": self.ci_high}


def wilson_interval(p: float, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a proportion ``p`` observed over ``n`` units."""
    if n <= 0:
        return math.nan, math.nan
    z2 = z * z
    center = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(max(p * (1 - p), 0.0) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    low = 0.0 if p <= 0 else max(0.0, center - half)  # exact ends at 0 % and 100 %, no rounding residue
    high = 1.0 if p >= 1 else min(1.0, center + half)
    return low, high
