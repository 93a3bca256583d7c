"""Bootstrap intervals and the paired sign-flip test: seeded, exact on small inputs."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats as scipy_stats

from evals.stats import bootstrap_ci, paired_randomization_test


def test_bootstrap_ci_is_seeded_and_brackets_the_mean():
    values = np.random.default_rng(0).uniform(size=200)
    first = bootstrap_ci(values, n_resamples=2000, seed=7)
    assert first == bootstrap_ci(values, n_resamples=2000, seed=7)
    assert first != bootstrap_ci(values, n_resamples=2000, seed=8)
    assert first.low < first.mean < first.high
    assert first.mean == pytest.approx(values.mean())


def test_bootstrap_ci_agrees_with_scipy_percentile_bootstrap():
    values = np.random.default_rng(1).exponential(size=100)
    ours = bootstrap_ci(values, n_resamples=20_000, seed=0)
    ref = scipy_stats.bootstrap(
        (values,), np.mean, n_resamples=20_000, method="percentile", rng=np.random.default_rng(1)
    ).confidence_interval
    assert ours.low == pytest.approx(ref.low, abs=0.01)
    assert ours.high == pytest.approx(ref.high, abs=0.01)


def test_bootstrap_ci_narrows_with_more_queries_and_lower_confidence():
    rng = np.random.default_rng(2)
    small = bootstrap_ci(rng.uniform(size=20), n_resamples=2000)
    large = bootstrap_ci(rng.uniform(size=2000), n_resamples=2000)
    assert large.high - large.low < small.high - small.low
    narrow = bootstrap_ci(rng.uniform(size=50), n_resamples=2000, confidence=0.5, seed=3)
    wide = bootstrap_ci(rng.uniform(size=50), n_resamples=2000, confidence=0.99, seed=3)
    assert narrow.high - narrow.low < wide.high - wide.low


def test_constant_scores_give_a_zero_width_interval():
    interval = bootstrap_ci([0.5] * 10, n_resamples=100)
    assert (interval.low, interval.mean, interval.high) == pytest.approx((0.5, 0.5, 0.5))


def test_exact_sign_flip_p_value_on_small_input():
    a = np.array([0.9, 0.8, 0.7, 0.95, 0.6, 0.5])
    b = np.array([0.5, 0.7, 0.75, 0.6, 0.4, 0.5])
    d = a - b
    flips = [abs(np.mean(np.array(s) * d)) for s in itertools.product([-1, 1], repeat=len(d))]
    expected = np.mean(np.array(flips) >= abs(d.mean()) - 1e-12)
    result = paired_randomization_test(a, b, n_resamples=1000)
    assert result.p_value == pytest.approx(expected)
    assert result.mean_difference == pytest.approx(d.mean())
    assert result.n_queries == 6


def test_identical_plans_are_not_significant_and_clear_gaps_are():
    rng = np.random.default_rng(4)
    a = rng.uniform(size=100)
    assert paired_randomization_test(a, a.copy(), n_resamples=500).p_value == 1.0
    better = paired_randomization_test(a + 0.1, a + rng.normal(0, 0.01, size=100), n_resamples=2000)
    assert better.p_value < 0.01
    assert better.interval.low > 0.05


def test_monte_carlo_p_value_is_seeded_and_close_to_a_t_test():
    rng = np.random.default_rng(5)
    a, b = rng.normal(0.5, 0.2, 60), rng.normal(0.45, 0.2, 60)
    first = paired_randomization_test(a, b, n_resamples=20_000, seed=1)
    assert first == paired_randomization_test(a, b, n_resamples=20_000, seed=1)
    assert first.p_value == pytest.approx(scipy_stats.ttest_rel(a, b).pvalue, abs=0.03)


@pytest.mark.parametrize(
    ("a", "b", "message"),
    [([1.0, 2.0], [1.0], "same queries"), ([], [], "empty"), ([np.nan], [1.0], "finite")],
)
def test_invalid_inputs_raise_value_error(a, b, message):
    with pytest.raises(ValueError, match=message):
        paired_randomization_test(a, b)


def test_invalid_confidence_raises_value_error():
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_ci([1.0, 2.0], confidence=1.5)
