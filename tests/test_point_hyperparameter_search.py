"""hyperparameter-search: the batched trials (against torch's own Adam and against
training alone), dropout, the search replays, the noise-based tolerance, the
tuning-curve bands, the forest's space, the verdict rule and the assessment."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch
from torch import nn

from essay_code.core import Estimate, RunContext
from essay_code.points import hyperparameter_search as hs
from essay_code.tooling.device import cpu_threads
from essay_code.tooling.registry import load_point
from essay_code.tooling.runner import execute, resolve_config

QUIET = RunContext(show_progress=False, record_timings=False)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    with cpu_threads(1):
        yield


@pytest.fixture(scope="module")
def data():
    cfg = hs.Config()
    return hs.stack_splits([hs.load_split(seed, cfg) for seed in (0, 1)], "cpu")


@pytest.fixture(scope="module")
def smoke():
    point = load_point("hyperparameter-search")
    return execute(point, resolve_config(point, "smoke"), QUIET)


def config(**changes) -> dict:
    return {**hs.DEFAULT, **changes}


# ---------------------------------------------------------------- the trials


def test_a_batched_trial_trains_exactly_like_torch_adam_alone(data):
    """One trial of the batched model (L2 added to the gradient, as torch's Adam
    weight_decay does) against nn.Linear layers and torch.optim.Adam on the same
    minibatches: the same weights after an epoch."""
    chosen = config(log2_width=5.0, depth=2.0, log10_lr=-2.5, log10_weight_decay=-3.0)
    state = hs.fresh_state(chosen, 64, trial_seed=11)
    net = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU())
    net.append(nn.Linear(32, 10))
    with torch.no_grad():
        start = 0
        for layer in (0, 2, 4):
            linear = net[layer]
            size = linear.weight.numel()
            w = state.params[0, start : start + size].view(linear.in_features, -1)
            linear.weight.copy_(w.T)
            start += size
            linear.bias.copy_(state.params[0, start : start + linear.out_features])
            start += linear.out_features
    optimiser = torch.optim.Adam(net.parameters(), lr=10**-2.5, weight_decay=1e-3)
    gen = torch.Generator().manual_seed(5)
    orders = [torch.randperm(data["x_train"].shape[1], generator=gen) for _ in (0, 1)]
    x, y = data["x_train"][1], data["y_train"][1]
    for begin in range(0, len(x), 64):
        rows = orders[1][begin : begin + 64]
        optimiser.zero_grad()
        nn.functional.cross_entropy(net(x[rows]), y[rows]).backward()
        optimiser.step()
    _val, _test, states = hs.train_trials([chosen], [1], [state], data, 1, 64, 5, True)
    trained = states[0].params[0]
    start = 0
    for layer in (0, 2, 4):
        linear = net[layer]
        size = linear.weight.numel()
        w = trained[start : start + size].view(linear.in_features, -1)
        assert torch.allclose(w.T, linear.weight, atol=2e-5)
        start += size + linear.out_features
    assert states[0].steps == math.ceil(len(x) / 64)


def test_padding_a_trial_inside_a_wider_group_changes_nothing(data):
    narrow = config(log2_width=4.0, depth=2.0, log10_lr=-2.0)
    wide = config(log2_width=6.0, depth=2.0, log10_lr=-2.5)
    alone_val, alone_test, alone = hs.train_trials(
        [narrow], [0], [hs.fresh_state(narrow, 64, 3)], data, 2, 64, 9, True
    )
    both_val, both_test, both = hs.train_trials(
        [narrow, wide],
        [0, 1],
        [hs.fresh_state(narrow, 64, 3), hs.fresh_state(wide, 64, 4)],
        data,
        2,
        64,
        9,
        True,
    )
    assert np.array_equal(alone_val[0], both_val[0])
    assert alone_test[0] == both_test[0]
    assert torch.allclose(alone[0].params, both[0].params, atol=1e-6)
    assert both[0].params.shape == alone[0].params.shape  # cut back to its width
    # Inside the group, the padded units' weights stayed exactly zero.
    group = hs.Trials([narrow], [0], both[:1], 2, 64, 64, "cpu")
    hidden = group.views(group.params)[0][0]  # W0 [64, 64]: 16 real columns
    assert torch.count_nonzero(hidden[:, 16:]) == 0


def test_dropout_keeps_each_unit_at_its_configured_rate_and_rescales():
    trials = [config(dropout=0.0), config(dropout=0.25), config(dropout=0.5)]
    states = [hs.fresh_state(c, 64, i) for i, c in enumerate(trials)]
    group = hs.Trials(trials, [0, 0, 0], states, 1, 64, 64, "cpu")
    mask = group.keep_mask((3, 4096, 64), torch.Generator().manual_seed(0))
    for row, rate in enumerate((0.0, 0.25, 0.5)):
        kept = (mask[row] > 0).float().mean().item()
        assert abs(kept - (1 - rate)) < 0.005
        assert torch.allclose(mask[row][mask[row] > 0], torch.tensor(1 / (1 - rate)))


def test_random_configs_are_reproducible_and_within_bounds():
    a = hs.sample_configs(200, np.random.default_rng(3))
    assert a == hs.sample_configs(200, np.random.default_rng(3))
    assert a != hs.sample_configs(200, np.random.default_rng(4))
    for drawn in a:
        assert set(drawn) == set(hs.SPACE)
        for name, (low, high) in hs.SPACE.items():
            assert low <= drawn[name] <= high
            if name in hs.INTEGER:
                assert drawn[name] == int(drawn[name])


def test_the_forest_default_is_scikit_learns():
    assert hs.forest_params(hs.FOREST_DEFAULT) == {
        "max_features": 8,  # sqrt(64)
        "max_depth": None,
        "min_samples_leaf": 1,
        "bootstrap": True,
        "criterion": "gini",
    }
    for drawn in hs.sample_space(
        hs.FOREST_SPACE, hs.FOREST_INTEGER, 100, np.random.default_rng(0)
    ):
        params = hs.forest_params(drawn)
        assert 1 <= params["max_features"] <= 32
        assert 3 <= params["max_depth"] <= 32
        assert params["min_samples_leaf"] in (1, 2, 4, 8)


# ---------------------------------------------------------------- replays


def test_halving_epochs_match_the_analytic_total():
    # 8 configs, eta 2, R 8: rungs 8@1, 4@2, 2@4, 1@8; resumed trials pay only the
    # added epochs: 8*1 + 4*(2-1) + 2*(4-2) + 1*(8-4) = 20.
    assert hs.halving_rungs(8, 8, 2) == [(8, 1), (4, 2), (2, 4), (1, 8)]
    assert hs.halving_epochs(8, 8, 2) == 20
    assert hs.halving_epochs(32, 8, 2) == 80
    assert hs.halving_epochs(81, 27, 3) == 81 + 27 * 2 + 9 * 6 + 3 * 18


def test_successive_halving_picks_the_best_final_trial_when_ranks_persist():
    quality = np.random.default_rng(0).permutation(32).astype(float)
    val = quality[:, None] + np.arange(8)[None] * 0.1  # [32, 8], ranks never change
    assert hs.successive_halving(val, 32, 2) == int(np.argmax(quality))


def test_the_pool_dwarfs_every_bracket_so_the_ratio_is_not_capped_near_the_rule():
    cfg = hs.Config()
    largest = hs.halving_epochs(max(cfg.halving_starts), cfg.pool_epochs, cfg.eta)
    assert cfg.random_pool >= 4 * max(cfg.halving_starts)
    cap = cfg.random_pool * cfg.pool_epochs / largest
    assert cap >= 3 * hs.MIN_SPEEDUP


def test_a_search_keeps_the_first_trial_that_reaches_its_best():
    values = np.array([[1.0, 3.0, 2.0, 3.0, 5.0]])
    assert hs.best_so_far(values).tolist() == [[1, 3, 3, 3, 5]]
    assert hs.pick_positions(values).tolist() == [[0, 1, 1, 1, 4]]


def test_trials_within_counts_to_the_first_trial_at_the_target():
    curves = np.array([[90.0, 95.0, 97.0], [97.0, 97.0, 97.0], [90.0, 90.0, 90.0]])
    # 3 trials, 1 trial, and censored at the pool (3): mean 7/3.
    assert hs.trials_within(curves, 96.5) == pytest.approx(7 / 3)


def test_the_tolerance_is_a_binomial_standard_error_that_never_vanishes():
    # 98% of 360 rows (353 right): p = 354 / 362, about 0.77 points.
    p = 354 / 362
    assert hs.standard_error(98.0, 360) == pytest.approx(
        100 * math.sqrt(p * (1 - p) / 360)
    )
    assert hs.standard_error(98.0, 360) == pytest.approx(0.77, abs=0.01)
    assert hs.standard_error(100.0, 360) > 0.2
    assert hs.standard_error(90.0, 360) > hs.standard_error(98.0, 360)


def test_interpolation_matches_the_mean_budget():
    curve = np.array([90.0, 94.0, 96.0])
    assert hs.interpolate(curve, 2.0) == 94.0
    assert hs.interpolate(curve, 2.5) == 95.0
    assert hs.interpolate(curve, 9.0) == 96.0


def test_tuning_curve_bands_bracket_the_median_curve_and_rise():
    scores = np.random.default_rng(0).uniform(80, 99, size=40)
    band = hs.tuning_curve_band(scores, [1, 2, 4, 8, 16, 40])
    low, mid, high = band["curve_low"], band["curve_median"], band["curve_high"]
    assert np.all(low <= mid) and np.all(mid <= high)
    assert np.all(np.diff(low) >= 0) and np.all(np.diff(high) >= 0)
    assert mid[-1] <= scores.max() and high[-1] <= 100.0
    # The true median tuning curve of uniform(80, 99) lies inside the band here.
    truth = 80 + 19 * 0.5 ** (1 / np.array([1, 2, 4, 8, 16, 40]))
    assert np.all((low <= truth) & (truth <= high))


# ---------------------------------------------------------------- the rule


def estimate(value: float, half: float = 0.2) -> Estimate:
    return Estimate(value, value - half, value + half, method="test", n=10)


@pytest.mark.parametrize(
    ("gap", "trials", "forest", "ratio", "status"),
    [
        (8.0, 30.0, 0.3, 1.5, "holds"),
        (8.0, 30.0, 0.3, 5.0, "mitigated"),
        (1.0, 30.0, 0.3, 5.0, "refuted"),
        (8.0, 5.0, 0.3, 1.5, "refuted"),
        (8.0, 30.0, 3.0, 1.5, "refuted"),
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


# ---------------------------------------------------------------- the smoke run


def test_default_and_tuned_are_compared_at_every_trial_length(smoke):
    records = smoke[0]
    cfg = hs.Config(**hs.PROFILES["smoke"])
    lengths = hs.ladder(cfg)
    assert hs.lengths_of(records) == lengths
    for length in lengths:
        default = hs.core.per_seed(records, "test", arm=hs.MLP_DEFAULT, length=length)
        tuned = hs.core.per_seed(records, "test", arm=hs.MLP_TUNED, length=length)
        assert list(default.index) == list(tuned.index) == list(range(cfg.seeds))
        # Chosen on validation among trials that include the default: never worse
        # than the default there.
        tuned_val = hs.core.per_seed(
            records, "val", arm=hs.MLP_TUNED, length=length, epochs=length
        )
        default_val = hs.core.per_seed(
            records, "val", arm=hs.MLP_DEFAULT, epochs=length
        )
        assert np.all(tuned_val.to_numpy() >= default_val.to_numpy())
    # The default trains the whole way, scored at every epoch the record reads.
    epochs = hs.core.select(records, arm=hs.MLP_DEFAULT, metric="val")["epochs"]
    assert sorted(epochs.unique()) == sorted(hs.evaluated_epochs(cfg))
    assert max(epochs) == cfg.max_epochs


def test_the_assessment_reads_convergence_tuning_and_the_map(smoke):
    records, judgement, _charts = smoke
    fields = judgement.assessment
    arms = [c["arm"] for c in fields["convergence"]]
    assert len(arms) == 3 and arms[0] == "MLP with defaults"
    for record in fields["convergence"]:
        budgets = record["budgets"]
        assert len(budgets) >= 3 and budgets[-1] / 2 in budgets
    for record in fields["tuning"]:
        assert "test" not in record["selected_on"].lower().split()
    robustness = fields["robustness"]
    assert set(robustness["axes"]) == {hs.LENGTH_AXIS, hs.TOLERANCE_AXIS}
    assert fields["robustness"]["axes"][hs.TOLERANCE_AXIS] == list(hs.TOLERANCES_SE)
    headline = robustness["headline"]
    assert headline[hs.LENGTH_AXIS] == max(robustness["axes"][hs.LENGTH_AXIS])
    cell = next(c for c in robustness["cells"] if c["setting"] == headline)
    rule_status = hs.verdict(judgement.estimates).status
    assert cell["status"] == rule_status
    assert fields["intrinsic_or_engineering"] in (
        "fixed-by-engineering",
        "closes-with-scale",
        "persists",
        "no-failure",
        "undecided",
    )


def test_sub_pools_and_tolerances_are_replayed(smoke):
    records = smoke[0]
    cfg = hs.Config(**hs.PROFILES["smoke"])
    assert hs.pools_of(records) == hs.pool_sizes(cfg)
    rows = hs.core.select(records, arm=hs.RANDOM, metric="trials_within")
    assert set(rows["tolerance_se"]) == set(hs.TOLERANCES_SE)
    for (_seed, _pool), group in rows.groupby(["seed", "pool"]):
        by_tolerance = group.sort_values("tolerance_se")["value"].to_numpy()
        # A wider tolerance is never harder to reach.
        assert np.all(np.diff(by_tolerance) <= 0)
    ratio = hs.core.select(records, arm=hs.HALVING, metric="compute_ratio")
    cap = hs.core.select(records, arm=hs.HALVING, metric="ratio_cap")
    assert np.all(ratio["value"].to_numpy() <= cap["value"].to_numpy() + 1e-9)


def test_a_longer_smoke_default_is_not_worse_on_validation():
    """Sanity of the training loop: the default improves with epochs."""
    cfg = replace(hs.Config(**hs.PROFILES["smoke"]), seeds=1)
    data = hs.stack_splits([hs.load_split(0, cfg)], "cpu")
    val, _test, _states = hs.train_trials(
        [hs.DEFAULT], [0], [hs.fresh_state(hs.DEFAULT, 64, 0)], data, 6, 64, 0, True
    )
    assert val[0, -1] > val[0, 0] + 10
