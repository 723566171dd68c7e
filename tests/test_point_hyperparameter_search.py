"""Properties of the hyperparameter-search experiment (not the generic checks)."""

import numpy as np
import pytest

from essay_code.core import Estimate
from essay_code.points import hyperparameter_search as hs


def test_halving_epochs_match_the_analytic_total():
    # 9 configs, eta 3, R 9: rungs 9@1, 3@3, 1@9; resumed trials pay only the
    # added epochs: 9*1 + 3*(3-1) + 1*(9-3) = 21.
    assert hs.halving_rungs(9, 9, 3) == [(9, 1), (3, 3), (1, 9)]
    assert hs.halving_epochs(9, 9, 3) == 21
    # 81 configs to R 27: 81*1 + 27*2 + 9*6 + 3*18 = 243.
    assert hs.halving_epochs(81, 27, 3) == 243


def test_successive_halving_picks_the_best_final_trial_when_ranks_persist():
    rng = np.random.default_rng(0)
    quality = rng.permutation(27).astype(float)
    val = quality[:, None] + np.arange(9)[None] * 0.1  # [27, 9], ranks never change
    assert hs.successive_halving(val, 27, 3) == int(np.argmax(quality))


def test_random_search_is_reproducible_and_within_bounds():
    a = hs.sample_configs(200, np.random.default_rng(3))
    b = hs.sample_configs(200, np.random.default_rng(3))
    assert a == b
    assert a != hs.sample_configs(200, np.random.default_rng(4))
    for config in a:
        assert set(config) == set(hs.SPACE)
        for name, (low, high) in hs.SPACE.items():
            assert low <= config[name] <= high
            if name in hs.INTEGER:
                assert config[name] == int(config[name])
    assert len(hs.grid_configs()) == 2 ** len(hs.SPACE)


def test_budget_curve_is_monotone_non_decreasing():
    values = np.random.default_rng(1).normal(size=(5, 50))
    curve = hs.best_so_far(values)
    assert np.all(np.diff(curve, axis=-1) >= 0)
    assert np.allclose(curve[:, -1], values.max(axis=-1))


def estimate(value: float, half: float = 0.2) -> Estimate:
    return Estimate(value, value - half, value + half, method="test", n=5)


@pytest.mark.parametrize(
    ("gap", "trials", "forest", "ratio", "status"),
    [
        (8.0, 30.0, 0.3, 1.5, "holds"),
        (8.0, 30.0, 0.3, 5.0, "mitigated"),
        (1.0, 30.0, 0.3, 5.0, "refuted"),
        (8.0, 5.0, 0.3, 1.5, "refuted"),
        (5.0, 30.0, 0.3, 1.5, "inconclusive"),
        (8.0, 30.0, 0.3, 3.0, "inconclusive"),
    ],
)
def test_verdict_returns_each_status(gap, trials, forest, ratio, status):
    summary = {
        "mlp_tuning_gap": estimate(gap),
        "random_trials_within": estimate(trials),
        "forest_tuning_gap": estimate(forest),
        "halving_compute_ratio": estimate(ratio),
    }
    result = hs.verdict(summary)
    assert result.status == status
    assert result.thresholds[hs.KEY] == hs.MIN_GAP
    assert set(result.thresholds) == set(summary)
