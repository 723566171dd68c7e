"""feature-scales: the scale ladder, the fixes' invariance, PLE, the batched MLPs
(one learning rate each) against a loop of nn.Modules with torch.optim.Adam (with
and without BatchNorm), training a cell once when its inputs are the same bits, the
forest cut back to a setting against a refit, choices made on validation rows only,
the capped recovery, the verdict rule and the assessment of a smoke run."""

from __future__ import annotations

import dataclasses
import io

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.ensemble import RandomForestClassifier
from torch import nn
from torch.nn import functional as F

from essay_code.core import Estimate, RunContext
from essay_code.points import feature_scales as point

CFG = point.Config()
QUIET = RunContext(show_progress=False, record_timings=False)


def test_scale_ladder_spans_the_spread_in_decades():
    rank = np.array([3, 0, 2, 1])
    assert np.array_equal(point.feature_scales(0.0, rank), np.ones(4))
    scales = point.feature_scales(6.0, rank)
    assert scales[1] == pytest.approx(1e-3) and scales[0] == pytest.approx(1e3)
    assert np.allclose(np.log10(scales[[1, 3, 2, 0]]), [-3, -1, 1, 3])


def test_dataset_is_balanced_split_three_ways_and_reproducible():
    cfg = dataclasses.replace(CFG, n_train=2000, n_val=500, n_test=1500)
    latent, labels, rank = point.make_dataset(cfg, seed=3)
    assert latent.shape == (4000, 16) and sorted(rank) == list(range(16))
    assert labels.mean() == pytest.approx(0.5, abs=1e-3)
    parts = point.split(cfg, latent)
    assert [len(parts[name]) for name in point.SPLITS] == [2000, 500, 1500]
    again = point.make_dataset(cfg, seed=3)
    assert all(
        np.array_equal(a, b) for a, b in zip((latent, labels, rank), again, strict=True)
    )


def test_budgets_halve_from_the_full_budget():
    assert point.budgets_of(dataclasses.replace(CFG, epochs=32)) == (4, 8, 16, 32)
    with pytest.raises(ValueError, match="divisible"):
        point.budgets_of(dataclasses.replace(CFG, epochs=30))
    with pytest.raises(ValueError, match="include 0 and 8"):
        point.check_spreads(dataclasses.replace(CFG, tree_spreads=(0.0, 4.0)))
    with pytest.raises(ValueError, match="include 8"):
        point.check_spreads(dataclasses.replace(CFG, boosting_spreads=(4.0,)))


@pytest.mark.parametrize(
    ("arm", "max_changed"),
    [
        ("mlp-standard", 0),
        ("mlp-ple", 0),
    ],
)
def test_preprocessing_fixes_are_blind_to_per_feature_scale(arm, max_changed):
    cfg = dataclasses.replace(CFG, n_train=500, n_val=100, n_test=200, ple_bins=8)
    latent, _labels, rank = point.make_dataset(cfg, seed=0)
    narrow = point.split(cfg, latent)
    wide = point.split(cfg, latent * point.feature_scales(8.0, rank))
    step = point.steps(cfg)[arm]
    narrow_fit, wide_fit = step(narrow["train"], 0), step(wide["train"], 0)
    for name in point.SPLITS:
        a, b = narrow_fit(narrow[name]), wide_fit(wide[name])
        assert np.sum(~np.isclose(a, b, rtol=0, atol=1e-6)) <= max_changed


def test_standard_scaled_cells_share_a_fingerprint_and_raw_cells_do_not():
    cfg = dataclasses.replace(CFG, n_train=500, n_val=100, n_test=200)
    latent, _labels, rank = point.make_dataset(cfg, seed=1)
    keys = {}
    for arm in ("mlp-standard", "mlp-raw"):
        for spread in (0.0, 8.0):
            parts = point.split(cfg, latent * point.feature_scales(spread, rank))
            transform = point.steps(cfg)[arm](parts["train"], 1)
            arrays = [transform(parts[n]).astype(np.float32) for n in point.SPLITS]
            keys[arm, spread] = point.fingerprint(1, arrays)
    assert keys["mlp-standard", 0.0] == keys["mlp-standard", 8.0]
    assert keys["mlp-raw", 0.0] != keys["mlp-raw", 8.0]
    assert point.fingerprint(1, [np.zeros(3)]) != point.fingerprint(2, [np.zeros(3)])
    assert point.distinct([b"a", b"b", b"a", b"c"]) == ([0, 1, 3], [0, 1, 0, 2])


def test_piecewise_linear_encoding_by_hand():
    edges = np.array([[0.0, 1.0, 3.0]])  # one feature, two bins: [0, 1), [1, 3]
    values = np.array([[-1.0], [0.5], [1.0], [2.0], [5.0]])
    expected = [[-1.0, 0.0], [0.5, 0.0], [1.0, 0.0], [1.0, 0.5], [1.0, 2.0]]
    assert np.allclose(point.piecewise_linear_encode(values, edges), expected)
    train = np.arange(9.0)[:, None]
    assert np.allclose(point.ple_edges(train, 4), [[0, 2, 4, 6, 8]])


def looped_logits(train_x, train_y, test_x, seed, lr, cfg, batchnorm):
    """The reference: one nn.Module per model, trained alone with torch.optim.Adam."""
    torch.manual_seed(seed)
    mlp = nn.Sequential(
        nn.Linear(train_x.shape[-1], cfg.hidden),
        nn.ReLU(),
        nn.Linear(cfg.hidden, cfg.hidden),
        nn.ReLU(),
        nn.Linear(cfg.hidden, 1),
    )
    layers = [nn.BatchNorm1d(train_x.shape[-1], affine=False, eps=cfg.batchnorm_eps)]
    net = nn.Sequential(*(layers if batchnorm else []), *mlp)
    optimizer = torch.optim.Adam(mlp.parameters(), lr=lr)
    order_rng = torch.Generator().manual_seed(seed)
    for _epoch in range(cfg.epochs):
        order = torch.randperm(len(train_x), generator=order_rng)
        for start in range(0, len(train_x), cfg.batch_size):
            index = order[start : start + cfg.batch_size]
            loss = F.binary_cross_entropy_with_logits(
                net(train_x[index]).squeeze(-1), train_y[index]
            )
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    net.eval()
    with torch.no_grad():
        return net(test_x).squeeze(-1)


@pytest.mark.parametrize(
    "batchnorm", [False, True, [True, False, True]], ids=["plain", "batchnorm", "mixed"]
)
def test_batched_mlps_equal_one_loop_per_model(batchnorm):
    cfg = dataclasses.replace(CFG, hidden=8, epochs=4, batch_size=32)
    generator = torch.Generator().manual_seed(7)
    scales = torch.tensor([1e-3, 1.0, 1e3, 10.0])
    train_x = torch.randn(2, 100, 4, generator=generator) * scales  # last batch: 4
    train_y = (torch.rand(2, 100, generator=generator) > 0.5).float()
    test_x = torch.randn(2, 20, 4, generator=generator) * scales
    test_y = (torch.rand(2, 20, generator=generator) > 0.5).float()
    # Models 0 and 2 share dataset 0 and their seed, not their learning rate;
    # model 1 shares model 0's seed (init and order), not its data.
    input_of, seeds, lrs = [0, 1, 0], [0, 0, 0], [1e-2, 1e-2, 3e-3]
    trained = point.train_mlps(
        {"train": (train_x, train_y), "test": (test_x, test_y)},
        input_of,
        seeds,
        lrs,
        cfg,
        batchnorm=batchnorm,
        budgets=(2, 4),
    )
    batched = trained.fitted.logits(test_x[input_of])
    flags = [batchnorm] * 3 if isinstance(batchnorm, bool) else batchnorm
    for model, (data, seed, lr) in enumerate(zip(input_of, seeds, lrs, strict=True)):
        expected = looped_logits(
            train_x[data], train_y[data], test_x[data], seed, lr, cfg, flags[model]
        )
        assert torch.allclose(batched[model], expected, rtol=1e-4, atol=1e-4)
    # The accuracy read after the last budget is that of the final models.
    final = ((batched > 0) == (test_y[input_of] > 0.5)).float().mean(dim=1) * 100
    assert trained.accuracy["test"].shape == (2, 3)
    assert np.allclose(trained.accuracy["test"][-1], final.numpy())
    assert not np.array_equal(batched[0], batched[2])  # the rates differ


def test_a_forest_cut_back_equals_a_forest_grown_with_those_limits():
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, size=(600, 5))
    y = ((x[:, 0] * x[:, 1] + 0.3 * x[:, 2]) > 0).astype(int)
    test = rng.uniform(-1, 1, size=(300, 5))
    full = RandomForestClassifier(n_estimators=20, random_state=0).fit(x, y)
    # No limit: exactly the forest's own probabilities.
    assert np.allclose(
        point.truncated_proba(full, test, 0, 2), full.predict_proba(test)[:, 1]
    )
    # A deterministic tree (all features, no bootstrap) cut back to a setting is
    # the tree grown with that setting.
    one = dict(n_estimators=1, bootstrap=False, max_features=None, random_state=0)
    grown = RandomForestClassifier(**one).fit(x, y)
    for depth, split in ((3, 2), (0, 40), (5, 25)):
        limited = RandomForestClassifier(
            **one, max_depth=depth or None, min_samples_split=split
        ).fit(x, y)
        cut = point.truncated_proba(grown, test, depth, split)
        assert np.allclose(cut, limited.predict_proba(test)[:, 1])


def test_tree_fits_choose_on_validation_and_report_every_setting():
    cfg = dataclasses.replace(
        CFG,
        n_train=400,
        n_val=200,
        n_test=200,
        forest_trees=10,
        forest_depths=(2, 0),
        forest_min_split=(2, 16),
        boosting_rounds=(2, 10, 30),
    )
    latent, labels, _rank = point.make_dataset(cfg, seed=0)
    parts, targets = point.split(cfg, latent), point.split(cfg, labels)
    forest = point.fit_forest(parts, targets, cfg, seed=0, threads=1)
    boosting = point.fit_boosting(parts, targets, cfg, seed=0)
    for fit in (forest, boosting):
        best = max(value for _, value in fit.grid)
        assert fit.scores["val"] == best
        assert [s for s, v in fit.grid if v == best][0] == fit.chosen
    assert len(forest.grid) == 4 and len(boosting.grid) == 3


def test_boosting_is_blind_to_per_feature_scale():
    # Boosting bins each feature at its training quantiles: at 8 decades of spread
    # it grows the same trees, so it runs at the widest spread only.
    cfg = dataclasses.replace(
        CFG, n_train=600, n_val=200, n_test=200, boosting_rounds=(5, 20, 40)
    )
    latent, labels, rank = point.make_dataset(cfg, seed=2)
    targets = point.split(cfg, labels)
    narrow = point.fit_boosting(point.split(cfg, latent), targets, cfg, seed=2)
    scaled = latent * point.feature_scales(8.0, rank)
    wide = point.fit_boosting(point.split(cfg, scaled), targets, cfg, seed=2)
    assert (narrow.grid, narrow.chosen, narrow.scores) == (
        wide.grid,
        wide.chosen,
        wide.scores,
    )


def estimates(drop, forest, recovery, trees=(1.0, 0.0, 2.0)):
    """Hand-made estimates: (value, low, high) for each quantity the verdict reads."""

    def est(triple):
        return Estimate(*triple, method="hand-made", n=10)

    made = {
        point.KEY: est(drop),
        "forest_move": est(forest),
        "trees_minus_best_mlp": est(trees),
    }
    for fix in point.FIX_ARMS:
        made[point.estimate_name("recovery", fix)] = est((10, 0, 20))
    made["recovery_mlp_ple"] = est(recovery)
    return made


@pytest.mark.parametrize(
    ("drop", "forest", "recovery", "status"),
    [
        ((20, 15, 25), (0, -0.5, 0.5), (50, 40, 60), "holds"),
        ((20, 15, 25), (0, -0.5, 0.5), (95, 90, 100), "mitigated"),
        ((20, 15, 25), (0, -0.5, 0.5), (80, 70, 90), "inconclusive"),
        ((12, 8, 16), (0, -0.5, 0.5), (95, 90, 100), "inconclusive"),
        ((20, 15, 25), (0, -1.5, 0.5), (95, 90, 100), "inconclusive"),
        ((3, 1, 5), (0, -0.5, 0.5), (95, 90, 100), "refuted"),
        ((20, 15, 25), (3, 2, 4), (95, 90, 100), "refuted"),
    ],
)
def test_verdict_rule(drop, forest, recovery, status):
    result = point.verdict(estimates(drop, forest, recovery))
    assert result.status == status
    assert result.thresholds[point.KEY] == point.MIN_RAW_DROP
    assert result.thresholds["recovery_mlp_ple"] == point.MIN_RECOVERY
    assert "raw MLP drops" in result.reason and "random forest" in result.rule
    assert "piecewise-linear encoding" in result.reason


def hand_made_records(test_of=None) -> pd.DataFrame:
    """Two published seeds at spreads 0 and 8, two budgets, and one selection seed
    whose validation accuracy picks the learning rate. Validation accuracy equals
    test accuracy unless test_of overrides an (arm, spread)'s test value."""
    test_of = test_of or {}
    accuracy = {  # arm -> (narrowest, widest), the same for both seeds
        "mlp-raw": (80.0, 60.0),
        "mlp-standard": (80.0, 80.0),
        "mlp-batchnorm": (79.0, 75.0),
        "mlp-ple": (90.0, 90.0),
        "random-forest": (85.0, 85.0),
        "gradient-boosting": (88.0, 88.0),
    }
    rows = []
    for seed in (0, 1):
        for arm, ends in accuracy.items():
            for spread, value in zip((0.0, 8.0), ends, strict=True):
                test = test_of.get((arm, spread), value)
                where = dict(stage="published", seed=seed, arm=arm, spread=spread)
                metrics = {"val_accuracy": value, "accuracy": test}
                metrics["train_accuracy"] = value + 5
                if arm in point.MLP_ARMS:
                    for epochs in (2, 4):
                        late = 0.0 if epochs == 4 else -1.0
                        for metric, v in metrics.items():
                            rows.append(
                                where
                                | dict(lr=1e-2, epochs=epochs, metric=metric)
                                | {"value": v + late}
                            )
                else:
                    for metric, v in metrics.items():
                        rows.append(where | dict(metric=metric, value=v))
    for arm in point.MLP_ARMS:
        for spread in (0.0, 8.0):
            for lr, value in ((1e-3, 70.0), (1e-2, 75.0)):
                rows.append(
                    dict(
                        stage="selection",
                        seed=1000,
                        arm=arm,
                        spread=spread,
                        lr=lr,
                        epochs=4,
                        metric="val_accuracy",
                        value=value,
                    )
                )
    return pd.DataFrame(rows)


def test_summaries_on_hand_made_records():
    summary = point.summarize(hand_made_records())
    assert summary[point.KEY].value == 20.0
    assert summary["forest_move"].value == 0.0
    assert summary["recovery_mlp_standard"].value == 100.0
    assert summary["recovery_mlp_batchnorm"].value == 75.0
    # PLE at the widest spread beats even the raw MLP unscaled: capped at 100%.
    assert summary["recovery_mlp_ple"].value == 100.0
    # Best tree (boosting, 88) minus best MLP (PLE, 90) at the widest spread.
    assert summary["trees_minus_best_mlp"].value == -2.0
    assert summary["accuracy_random_forest_widest"].value == 85.0
    assert summary["train_accuracy_mlp_raw_widest"].value == 65.0
    assert set(summary) <= set(point.NAMES)  # every estimate has a readable name
    # A smaller budget reads the earlier checkpoint.
    early = point.cell_estimates(hand_made_records(), 8.0, 2)
    assert early[point.KEY].value == 20.0
    assert point.chosen_lrs(hand_made_records())[point.RAW_ARM, 8.0] == 1e-2


def test_the_rate_is_chosen_on_the_last_two_budgets_of_the_selection_datasets():
    rows = []
    # lr 1e-3 is best at the last checkpoint only (still climbing); 1e-2 has
    # settled higher on average over the last two budgets.
    for lr, (half, full) in ((1e-3, (70.0, 86.0)), (1e-2, (84.0, 85.0))):
        for epochs, value in ((2, half), (4, full)):
            rows.append(
                dict(
                    stage="selection",
                    seed=1000,
                    arm="mlp-raw",
                    spread=0.0,
                    lr=lr,
                    epochs=epochs,
                    metric="val_accuracy",
                    value=value,
                )
            )
    # Test rows of the published stage never enter the choice.
    rows.append(
        dict(
            stage="published",
            seed=0,
            arm="mlp-raw",
            spread=0.0,
            lr=1e-3,
            epochs=4,
            metric="accuracy",
            value=99.0,
        )
    )
    assert point.chosen_lrs(pd.DataFrame(rows)) == {("mlp-raw", 0.0): 1e-2}


def test_the_better_arms_are_picked_on_validation_not_on_test():
    # On test rows the standard-scaled MLP would look best (95) and the forest
    # beat boosting (99); validation still picks PLE and boosting.
    records = hand_made_records(
        {("mlp-standard", 8.0): 95.0, ("random-forest", 8.0): 99.0}
    )
    summary = point.summarize(records)
    assert summary["trees_minus_best_mlp"].value == 88.0 - 90.0
    assert "mlp-ple in 2 of 2" in summary["trees_minus_best_mlp"].method


def test_a_capped_share_has_its_interval_cut_at_100_percent():
    share = Estimate(98.0, 94.0, 103.0, "t", 10, "%", 0)
    cut = point.capped(share)
    assert (cut.value, cut.low, cut.high) == (98.0, 94.0, 100.0)
    assert point.capped(Estimate(50.0, 40.0, 60.0, "t", 10)) == Estimate(
        50.0, 40.0, 60.0, "t", 10
    )


# ---------------------------------------------------------------- smoke


@pytest.fixture(scope="module")
def smoke():
    cfg = point.Config(**point.PROFILES["smoke"])
    return cfg, point.run(cfg, QUIET)


def test_smoke_run_choices_never_read_test_rows(smoke):
    cfg, records = smoke
    selection = records[records["stage"] == point.SELECTION]
    assert set(selection["metric"]) == {"val_accuracy"}
    assert set(selection["seed"]) == {point.SELECTION_SEED0}
    chosen = point.chosen_lrs(records)
    for (arm, spread), lr in chosen.items():
        rows = point.published(records)
        used = rows[(rows["arm"] == arm) & (rows["spread"] == spread)]["lr"]
        assert set(used) == {lr} and lr in cfg.lr
    # Standard scaling is blind to scale: its cells at both spreads are one model.
    standard = point.table(records, "mlp-standard")
    assert standard[0.0].equals(standard[8.0])


def test_smoke_run_assessment_has_its_shape(smoke):
    cfg, records = smoke
    estimates = point.summarize(records)
    verdict = point.verdict(estimates)
    assessment = point.assess(records, estimates)
    robustness = assessment.robustness
    budgets = list(point.budgets_of(cfg))
    assert robustness.axes == {"epochs": budgets, "spread": [8.0]}
    assert robustness.headline == {"epochs": cfg.epochs, "spread": 8.0}
    assert robustness.status_at(robustness.headline) == verdict.status
    assert [c.arm for c in assessment.convergence] == list(point.MLP_ARMS)
    for record in assessment.convergence:
        assert record.budgets == tuple(float(b) for b in budgets)
        assert cfg.epochs / 2 in record.budgets
        assert record.tolerance == point.CONVERGENCE_TOLERANCE
    arms = [t.arm for t in assessment.tuning]
    assert arms == [*point.MLP_ARMS, *point.TREE_ARMS]
    for tuning in assessment.tuning:
        assert "test" not in tuning.selected_on.lower().split()
    assert assessment.tuning[0].grid == {"lr": list(cfg.lr)}
    forest = assessment.tuning[-2]
    assert forest.grid["min_samples_split"] == list(cfg.forest_min_split)
    assert len(forest.chosen["min_samples_split"]) == cfg.seeds
    assert assessment.tuning[-1].grid == {"rounds": list(cfg.boosting_rounds)}
    assert assessment.scale_axis == "epochs" and assessment.effort
    assert set(point.charts(records)) == {
        "accuracy",
        "gap-recovered",
        "drop-by-budget",
        "lr-search",
    }
    # Everything assess() needs survives a CSV round trip (gather's path).
    reloaded = pd.read_csv(io.StringIO(records.to_csv(index=False)))
    again = point.assess(reloaded, point.summarize(reloaded))
    assert again.to_json(verdict.status) == assessment.to_json(verdict.status)
