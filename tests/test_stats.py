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


def test_bootstrap_mean_and_ci_bounds():
    est = bootstrap([1.0, 2.0, 3.0, 4.0, 5.0])
    assert est.value == 3.0
    assert est.n == 5
    # A percentile interval of resampled means stays within the data's range and
    # around the mean; with this seed it is strictly inside (1, 5).
    assert 1.0 < est.low < 3.0 < est.high < 5.0


def test_bootstrap_is_seeded():
    values = np.random.default_rng(7).normal(size=9)
    assert bootstrap(values) == bootstrap(values)


def test_bootstrap_of_constant_values_has_zero_width():
    est = bootstrap([0.25] * 6)
    assert (est.value, est.low, est.high) == (0.25, 0.25, 0.25)


def test_bootstrap_two_point_data():
    # Resampled means of [0, 1] can only be 0, 0.5 or 1: the 95% interval is [0, 1].
    est = bootstrap([0.0, 1.0])
    assert (est.low, est.high) == (0.0, 1.0)


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
