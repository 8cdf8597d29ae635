"""Confidence intervals on known inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lvr1kit.eval.stats import bootstrap_ci, paired_bootstrap_diff, seed_spread, wilson_interval


def test_all_correct_and_all_wrong_give_degenerate_bootstrap_intervals() -> None:
    assert bootstrap_ci([1.0] * 50) == (1.0, 1.0)
    assert bootstrap_ci([0.0] * 50) == (0.0, 0.0)


def test_bootstrap_is_seeded_and_close_to_wilson_for_a_known_proportion() -> None:
    values = np.array([1.0] * 300 + [0.0] * 700)
    low, high = bootstrap_ci(values, samples=2000, seed=3)
    assert (low, high) == bootstrap_ci(values, samples=2000, seed=3)
    w_low, w_high = wilson_interval(300, 1000)
    assert low < 0.3 < high
    assert abs(low - w_low) < 0.01 and abs(high - w_high) < 0.01
    # normal approximation half-width 1.96 * sqrt(.3 * .7 / 1000) = 0.0284
    assert (high - low) / 2 == pytest.approx(0.0284, abs=0.004)


def test_wilson_matches_hand_computed_values_and_stays_in_unit_interval() -> None:
    low, high = wilson_interval(50, 100)
    assert (round(low, 4), round(high, 4)) == (0.4038, 0.5962)
    assert wilson_interval(10, 10)[1] == 1.0
    assert wilson_interval(0, 10) == (0.0, pytest.approx(0.2775, abs=1e-4))
    with pytest.raises(ValueError, match="within"):
        wilson_interval(11, 10)


def test_seed_spread_t_interval_and_single_seed() -> None:
    s = seed_spread([0.5, 0.6, 0.7])
    assert (s.n, s.mean, round(s.std, 6)) == (3, pytest.approx(0.6), 0.1)
    assert s.ci_low == pytest.approx(0.6 - 4.303 * 0.1 / math.sqrt(3))
    one = seed_spread([0.4])
    assert one.mean == 0.4 and math.isnan(one.std) and math.isnan(one.ci_low)


def test_paired_difference_interval_excludes_zero_for_a_clear_gain() -> None:
    a = [1.0] * 80 + [0.0] * 20
    b = [1.0] * 40 + [0.0] * 60
    mean, low, high = paired_bootstrap_diff(a, b, samples=2000)
    assert mean == pytest.approx(0.4) and 0 < low < 0.4 < high
    with pytest.raises(ValueError, match="same questions"):
        paired_bootstrap_diff([1.0], [1.0, 0.0])
