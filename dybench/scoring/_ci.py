"""A metric value with its 95% confidence interval (`Proportion`), dybench's one record of a number and
its uncertainty: what a ``dybench.scoring`` metric returns, the score of a results file's
``dybench.results.TaskMetric``, and each number of ``dybench reproduce``'s report.

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
    """A proportion (one metric value) with its 95 % interval and the independent units behind it."""

    value: float | None
    """The metric, a fraction in [0, 1]: NaN (and so are the bounds) when there was nothing to score;
    None when there is no value at all (a run that does not report the metric)."""
    ci_low: float | None = None
    """Lower end of the 95 % interval (Wilson, for dybench's own metrics); None when the source gives none."""
    ci_high: float | None = None
    """Upper end of that interval."""
    n: int | None = None
    """Independent units behind the value and interval (pairs or instances); None when not known (a
    number read from a results file)."""

    @classmethod
    def of(cls, value: float, n: int) -> Proportion:
        """The proportion ``value`` measured over ``n`` units (NaN when n is 0)."""
        if n == 0:
            return cls(math.nan, math.nan, math.nan, 0)
        low, high = wilson_interval(value, n)
        return cls(value, low, high, n)

    @property
    def interval(self) -> tuple[float, float] | None:
        """``(ci_low, ci_high)``; None without an interval."""
        if self.ci_low is None or self.ci_high is None:
            return None
        return self.ci_low, self.ci_high

    def as_metrics(self, name: str) -> dict[str, float]:
        """``{name: value, name_ci_low: ..., name_ci_high: ...}``, the lmms-eval metric names (the bounds
        only when there is an interval; a missing value is NaN, as lmms-eval's results carry numbers)."""
        out = {name: math.nan if self.value is None else self.value}
        if self.interval is not None:
            out |= {f"{name}_ci_low": self.interval[0], f"{name}_ci_high": self.interval[1]}
        return out


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
