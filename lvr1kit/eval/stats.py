"""Confidence intervals for accuracies: bootstrap over questions, Wilson as a cross-check, and spread over seeds.

Contents:
    - ``bootstrap_ci``: percentile bootstrap of the mean of per-question scores (seeded RNG, so reruns agree).
    - ``paired_bootstrap_diff``: the same for the difference of two systems scored on the same questions.
    - ``wilson_interval``: the Wilson score interval of ``k`` successes in ``n`` trials (closed form).
    - ``seed_spread``: mean, standard deviation (ddof 1) and a t-interval of one metric over several seeds.
    - ``CI_METHOD``: the sentence every result file carries to state how its intervals were made.

Method. A question is the unit of resampling: with several seeds, each question's score is first averaged over the
seeds and the questions are resampled (a cluster bootstrap), so the interval reflects the benchmark's finite size,
not decoding noise alone; ``seed_spread`` shows the decoding noise separately. ``numpy`` only (no scipy): the
normal quantile comes from :class:`statistics.NormalDist`, Student-t quantiles from a short table.

Deviations from the paper:
1. The paper reports single numbers with no interval; every number here comes with one (PAPER.md §12).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

__all__ = ["CI_METHOD", "SeedSpread", "bootstrap_ci", "paired_bootstrap_diff", "seed_spread", "wilson_interval"]

CI_METHOD = (
    "percentile bootstrap over questions ({samples} resamples, numpy default_rng(seed={seed})), {level:.0%} level; "
    "per-question scores averaged over seeds first (cluster bootstrap); Wilson score interval as a cross-check"
)
"""Stated in every result file, formatted with the settings used."""

# Two-sided 95% Student-t quantiles t_{0.975, df}; beyond 30 the normal quantile is within 2%.
_T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228}
_T975 |= {15: 2.131, 20: 2.086, 25: 2.060, 30: 2.042}


def _z(level: float) -> float:
    if not 0 < level < 1:
        raise ValueError(f"level={level} must be between 0 and 1 (e.g. 0.95)")
    return NormalDist().inv_cdf(0.5 + level / 2)


def bootstrap_ci(
    values: Sequence[float] | np.ndarray, *, samples: int = 1000, level: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` (one score in [0, 1] per question).

    >>> bootstrap_ci([1, 1, 1, 1])
    (1.0, 1.0)
    >>> bootstrap_ci([])
    (nan, nan)
    """
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        return math.nan, math.nan
    _z(level)
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, data.size, size=(samples, data.size))].mean(axis=1)  # [samples]
    alpha = (1 - level) / 2
    low, high = np.quantile(means, [alpha, 1 - alpha])
    return float(low), float(high)


def paired_bootstrap_diff(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    *,
    samples: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """Mean of ``a - b`` over the same questions and its paired percentile bootstrap interval.

    >>> paired_bootstrap_diff([1, 1, 0], [1, 1, 0])
    (0.0, 0.0, 0.0)

    Raises:
        ValueError: ``a`` and ``b`` differ in length (they must score the same questions in the same order).
    """
    diff = np.asarray(a, dtype=float) - np.asarray(b, dtype=float) if len(a) == len(b) else None
    if diff is None:
        raise ValueError(f"paired bootstrap needs the same questions: {len(a)} vs {len(b)} scores")
    low, high = bootstrap_ci(diff, samples=samples, level=level, seed=seed)
    return float(diff.mean()) if diff.size else math.nan, low, high


def wilson_interval(successes: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion (well behaved at 0 and 1, unlike the normal approximation).

    >>> [round(x, 4) for x in wilson_interval(50, 100)]
    [0.4038, 0.5962]
    >>> wilson_interval(0, 0)
    (nan, nan)
    """
    if n == 0:
        return math.nan, math.nan
    if not 0 <= successes <= n:
        raise ValueError(f"successes={successes} must be within [0, n={n}]")
    z = _z(level)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    low = 0.0 if successes == 0 else max(0.0, centre - half)  # exact ends: no float residue at 0 and n
    return low, 1.0 if successes == n else min(1.0, centre + half)


def _t_quantile(df: int, level: float) -> float:
    if abs(level - 0.95) > 1e-9:
        return _z(level)  # only the 95% t-table is stored; other levels use the normal quantile
    keys = sorted(_T975)
    if df > keys[-1]:
        return _z(level)
    return _T975[min(k for k in keys if k >= df)]  # next tabulated df: a slightly conservative quantile


@dataclass(frozen=True)
class SeedSpread:
    """A metric over seeds: count, mean, sample std and a t-interval of the mean (NaN with fewer than 2 seeds)."""

    n: int
    mean: float
    std: float
    ci_low: float
    ci_high: float


def seed_spread(values: Sequence[float], level: float = 0.95) -> SeedSpread:
    """Mean ± std and the t-interval of one metric measured under several seeds.

    >>> s = seed_spread([0.5, 0.6, 0.7])
    >>> round(s.mean, 3), round(s.std, 3), round(s.ci_low, 3), round(s.ci_high, 3)
    (0.6, 0.1, 0.352, 0.848)
    """
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        return SeedSpread(0, math.nan, math.nan, math.nan, math.nan)
    mean = float(data.mean())
    if data.size < 2:
        return SeedSpread(1, mean, math.nan, math.nan, math.nan)
    std = float(data.std(ddof=1))
    half = _t_quantile(data.size - 1, level) * std / math.sqrt(data.size)
    return SeedSpread(int(data.size), mean, std, mean - half, mean + half)
