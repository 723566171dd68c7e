"""Statistics on small hand-made arrays with exact expected values."""

import numpy as np
import pytest

from essay_code.core.stats import (
    Estimate,
    bootstrap,
    bootstrap_slope,
    iqm,
    loglog_slope,
)
from essay_code.core.verdict import Verdict, all_of, any_of


def test_iqm_trims_a_quarter_each_side():
    # 8 values: drop the two lowest and two highest, mean of 3, 4, 5, 6.
    assert iqm(np.array([100.0, 1, 2, 3, 4, 5, 6, -50])) == pytest.approx(
        (2 + 3 + 4 + 5) / 4
    )
    assert iqm(np.arange(1.0, 9.0)) == pytest.approx(4.5)


def test_bootstrap_of_a_mean_is_the_student_t_interval():
    est = bootstrap([1.0, 2.0, 3.0, 4.0, 5.0])
    assert est.value == 3.0
    assert est.n == 5
    # mean 3, sd sqrt(2.5), t(0.975, 4) = 2.7764: half-width 2.7764 * sqrt(2.5 / 5)
    assert est.low == pytest.approx(3 - 2.7764 * np.sqrt(0.5), abs=1e-4)
    assert est.high == pytest.approx(3 + 2.7764 * np.sqrt(0.5), abs=1e-4)
    assert "Student t" in est.method


def test_other_statistics_get_a_bca_interval_around_the_value():
    values = np.random.default_rng(3).lognormal(size=10)
    est = bootstrap(values, iqm, label="IQM")
    assert "BCa" in est.method
    assert est.low <= est.value <= est.high
    # ties make BCa undefined: the percentile interval stands in, and says so
    tied = bootstrap([0.0] * 9 + [1.0], iqm, label="IQM")
    assert "percentile (BCa undefined here)" in tied.method


SEEDS_PUBLISHED = 10  # the least a point publishes at the default profile
TRIALS = 4000


def _coverage(samples: np.ndarray, truth: float) -> float:
    hits = [(est := bootstrap(row)).low <= truth <= est.high for row in samples]
    return float(np.mean(hits))


def test_mean_intervals_cover_at_the_published_seed_count():
    rng = np.random.default_rng(2026)
    normal = rng.normal(3.0, 2.0, size=(TRIALS, SEEDS_PUBLISHED))
    lognormal = rng.lognormal(0.0, 1.0, size=(TRIALS, SEEDS_PUBLISHED))
    assert _coverage(normal, 3.0) >= 0.93
    assert _coverage(lognormal, float(np.exp(0.5))) >= 0.83


def test_the_coverage_bar_rejects_a_percentile_bootstrap():
    # The check above can fail: the percentile bootstrap this project used before
    # covers a normal mean only about 92% of the time at 10 seeds.
    rng = np.random.default_rng(2026)
    samples = rng.normal(3.0, 2.0, size=(TRIALS, SEEDS_PUBLISHED))
    picks = rng.integers(0, SEEDS_PUBLISHED, size=(TRIALS, 2000, SEEDS_PUBLISHED))
    means = np.take_along_axis(samples[:, None, :], picks, axis=2).mean(axis=2)
    low, high = np.percentile(means, [2.5, 97.5], axis=1)
    assert np.mean((low <= 3.0) & (high >= 3.0)) < 0.93


def test_bounds_cut_an_interval_that_leaves_the_range():
    accuracies = [100.0, 100.0, 100.0, 99.0, 100.0, 98.5, 100.0, 100.0, 100.0, 99.5]
    free = bootstrap(accuracies, unit="%")
    assert free.high > 100.0  # a t interval near a bound passes it
    cut = bootstrap(accuracies, unit="%", bounds=(0.0, 100.0))
    assert (cut.value, cut.low, cut.high) == (free.value, free.low, 100.0)
    assert cut.method.endswith("cut to the range 0 to 100")
    # An interval already inside is left alone, and its method does not change.
    inside = bootstrap([40.0, 50.0, 60.0], bounds=(0.0, 100.0))
    assert inside == bootstrap([40.0, 50.0, 60.0])
    # A non-mean statistic (BCa) takes bounds too.
    median = bootstrap(accuracies, np.median, bounds=(0.0, 100.0))
    assert 0.0 <= median.low <= median.value <= median.high <= 100.0


def test_bounds_must_contain_the_values():
    with pytest.raises(ValueError, match="outside the declared bounds"):
        bootstrap([50.0, 101.0], bounds=(0.0, 100.0))


def test_bootstrap_is_seeded():
    values = np.random.default_rng(7).normal(size=9)
    assert bootstrap(values) == bootstrap(values)


def test_bootstrap_of_constant_values_has_zero_width():
    est = bootstrap([0.25] * 6)
    assert (est.value, est.low, est.high) == (0.25, 0.25, 0.25)


def test_bootstrap_two_point_data():
    # Two values: t(0.975, 1) = 12.706, sem 0.5, so the interval is 0.5 -/+ 6.353.
    est = bootstrap([0.0, 1.0])
    assert (est.low, est.high) == pytest.approx((0.5 - 6.353, 0.5 + 6.353), abs=1e-3)


def test_bootstrap_rejects_empty_and_nan():
    with pytest.raises(ValueError):
        bootstrap([])
    with pytest.raises(ValueError):
        bootstrap([1.0, float("nan")])


def test_loglog_slope_recovers_an_exact_power_law():
    x = np.array([8.0, 16, 32, 64])
    assert loglog_slope(x, 3 * x**2) == pytest.approx(2.0)
    assert loglog_slope(x, 5 * x) == pytest.approx(1.0)


def test_bootstrap_slope_is_exact_when_seeds_agree():
    x = np.tile([10.0, 20, 40], (5, 1))
    y = 2 * x**3
    est = bootstrap_slope(x, y)
    assert est.value == pytest.approx(3.0)
    assert est.low == pytest.approx(3.0)
    assert est.high == pytest.approx(3.0)


def test_estimate_threshold_checks_are_three_valued():
    est = Estimate(value=10, low=8, high=12, method="test", n=5)
    assert est.above(8) is True
    assert est.above(12.5) is False
    assert est.above(10) is None
    assert est.below(12) is True
    assert est.below(7) is False
    assert est.below(10) is None


def test_estimate_text_and_json_roundtrip():
    est = Estimate(12.345, 10.1, 14.26, "test", 5, unit="points", digits=1)
    assert est.text() == "12.3 points (95% CI 10.1 to 14.3)"
    assert Estimate.from_json(est.to_json()) == est


def test_three_valued_logic():
    assert all_of(True, True) is True
    assert all_of(True, None) is None
    assert all_of(None, False) is False
    assert any_of(False, True) is True
    assert any_of(False, None) is None
    assert any_of(False, False) is False


def test_verdict_rejects_unknown_status():
    with pytest.raises(ValueError):
        Verdict("probably", "reason", "rule")
