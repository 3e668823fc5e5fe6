"""Two runs on the same pairs, and intervals by resampling pairs.

The pair is the independent unit (see ``_ci``): a run's P-Acc is the mean of one 0/1 outcome per pair.
Two runs answered the same pairs, so their outcomes are paired; the test of "same P-Acc" that uses
this is McNemar's, on the pairs where exactly one of the two runs is right (the discordant pairs).
With ``b`` pairs right only in run A and ``c`` right only in run B, under the null each discordant
pair is a fair coin, so ``min(b, c)`` is Binomial(b + c, 1/2); the exact two-sided p-value is
``min(1, 2 P(X <= min(b, c)))``, computed with exact integer arithmetic (the same number as
``scipy.stats.binomtest``, which a test checks), so the result and its method string never depend on
which packages happen to be installed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from dybench.scoring._pair_metrics import ItemResult, _by_pair, _complete


@dataclass(frozen=True)
class McNemar:
    """McNemar's exact test over the discordant pairs of two runs."""

    a_only: int
    """Pairs run A got right and run B wrong (``b``)."""
    b_only: int
    """Pairs run B got right and run A wrong (``c``)."""
    p_value: float
    """Exact two-sided p-value; 1.0 when no pair is discordant."""
    method: str
    """The test's name, as reports print it."""


def pair_outcomes(results: Sequence[ItemResult]) -> dict[str, bool]:
    """``pair_id -> right``: a pair is right when both of its items are answered correctly (P-Acc's unit)."""
    return {pid: _complete(p) and all(r.correct for r in p) for pid, p in _by_pair(results).items()}


def mcnemar_exact(a_only: int, b_only: int) -> McNemar:
    """McNemar's exact test for ``a_only`` pairs right only in A and ``b_only`` right only in B."""
    if a_only < 0 or b_only < 0:
        raise ValueError(f"discordant counts must be >= 0, got {a_only} and {b_only}")
    p = exact_binomial_two_sided(min(a_only, b_only), a_only + b_only)
    return McNemar(a_only, b_only, p, "McNemar exact test (two-sided binomial, exact integer arithmetic)")


def exact_binomial_two_sided(k: int, n: int) -> float:
    """``min(1, 2 P(X <= min(k, n - k)))`` for X ~ Binomial(n, 1/2), with integers until the last division."""
    if not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    tail = sum(math.comb(n, i) for i in range(min(k, n - k) + 1))
    return min(1.0, 2 * tail / 2**n)


def bootstrap_interval(
    values: Sequence[float], *, n_resamples: int = 2000, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` (one value per independent unit: per pair
    for P-Acc). Deterministic for a seed; NaNs when there are no values."""
    import numpy as np

    if not values:
        return math.nan, math.nan
    data = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    chunk = max(1, 2_000_000 // len(data))  # at most ~16 MB of indices at a time
    means = np.concatenate(
        [
            data[rng.integers(0, len(data), size=(min(chunk, n_resamples - start), len(data)))].mean(axis=1)
            for start in range(0, n_resamples, chunk)
        ]
    )
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)
