"""feature-scales: the scale ladder, the fixes' invariance, PLE, the batched MLPs
against a loop of nn.Modules (with and without BatchNorm), and the verdict rule."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from essay_code.core import Estimate
from essay_code.points import feature_scales as point

CFG = point.Config()


def test_scale_ladder_spans_the_spread_in_decades():
    rank = np.array([3, 0, 2, 1])
    assert np.array_equal(point.feature_scales(0.0, rank), np.ones(4))
    scales = point.feature_scales(6.0, rank)
    assert scales[1] == pytest.approx(1e-3) and scales[0] == pytest.approx(1e3)
    assert np.allclose(np.log10(scales[[1, 3, 2, 0]]), [-3, -1, 1, 3])


def test_dataset_is_balanced_and_only_scales_change_across_spreads():
    cfg = dataclasses.replace(CFG, n_train=2000, n_test=2000)
    latent, labels, rank = point.make_dataset(cfg, seed=3)
    assert latent.shape == (4000, 16) and sorted(rank) == list(range(16))
    assert labels.mean() == pytest.approx(0.5, abs=1e-3)
    again = point.make_dataset(cfg, seed=3)
    assert all(
        np.array_equal(a, b) for a, b in zip((latent, labels, rank), again, strict=True)
    )


@pytest.mark.parametrize(
    ("step", "max_changed"),
    [
        (point.standard_inputs, 0),
        # sklearn's QuantileTransformer treats values within an absolute 1e-7 of a
        # feature's training minimum or maximum as at the bound, so at scale 1e-4 a
        # value or two per feature can move: nearly, not exactly, scale-blind.
        (point.quantile_inputs, 5),
        (lambda train, test, seed: point.ple_inputs(train, test, 8), 0),
    ],
    ids=["standard", "quantile", "ple"],
)
def test_preprocessing_fixes_are_blind_to_per_feature_scale(step, max_changed):
    latent, _labels, rank = point.make_dataset(
        dataclasses.replace(CFG, n_train=500, n_test=300), seed=0
    )
    wide = latent * point.feature_scales(8.0, rank)
    narrow_inputs = step(latent[:500], latent[500:], 0)
    wide_inputs = step(wide[:500], wide[500:], 0)
    for narrow, wide in zip(narrow_inputs, wide_inputs, strict=True):
        assert np.sum(~np.isclose(narrow, wide, rtol=0, atol=1e-6)) <= max_changed


def test_piecewise_linear_encoding_by_hand():
    edges = np.array([[0.0, 1.0, 3.0]])  # one feature, two bins: [0, 1), [1, 3]
    values = np.array([[-1.0], [0.5], [1.0], [2.0], [5.0]])
    expected = [[-1.0, 0.0], [0.5, 0.0], [1.0, 0.0], [1.0, 0.5], [1.0, 2.0]]
    assert np.allclose(point.piecewise_linear_encode(values, edges), expected)
    train = np.arange(9.0)[:, None]
    assert np.allclose(point.ple_edges(train, 4), [[0, 2, 4, 6, 8]])


def looped_logits(train_x, train_y, test_x, seed, cfg, batchnorm):
    """The reference: one nn.Module per model, trained alone, as in any tutorial."""
    torch.manual_seed(seed)
    mlp = point.make_mlp(train_x.shape[-1], cfg.hidden)
    layers = [nn.BatchNorm1d(train_x.shape[-1], affine=False, eps=cfg.batchnorm_eps)]
    net = nn.Sequential(*(layers if batchnorm else []), *mlp)
    optimizer = torch.optim.Adam(mlp.parameters(), lr=cfg.lr)
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


@pytest.mark.parametrize("batchnorm", [False, True], ids=["plain", "batchnorm"])
def test_batched_mlps_equal_one_loop_per_model(batchnorm):
    cfg = dataclasses.replace(CFG, hidden=8, epochs=3, batch_size=32)
    seeds = [0, 1, 0]  # model 2 shares model 0's init and order, not its data
    generator = torch.Generator().manual_seed(7)
    scales = torch.tensor([1e-3, 1.0, 1e3, 10.0])
    train_x = torch.randn(3, 100, 4, generator=generator) * scales  # last batch: 4 rows
    train_y = (torch.rand(3, 100, generator=generator) > 0.5).float()
    test_x = torch.randn(3, 20, 4, generator=generator) * scales
    fitted = point.train_mlps(train_x, train_y, seeds, cfg, batchnorm=batchnorm)
    batched = fitted.logits(test_x)
    for model, seed in enumerate(seeds):
        expected = looped_logits(
            train_x[model], train_y[model], test_x[model], seed, cfg, batchnorm
        )
        assert torch.allclose(batched[model], expected, rtol=1e-4, atol=1e-4)


def estimates(drop, forest, recovery, trees=(1.0, 0.0, 2.0)):
    """Hand-made estimates: (value, low, high) for each quantity the verdict reads."""

    def est(triple):
        return Estimate(*triple, method="hand-made", n=5)

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
        ((20, 15, 25), (0, -0.5, 0.5), (100, 90, 110), "mitigated"),
        ((20, 15, 25), (0, -0.5, 0.5), (80, 70, 90), "inconclusive"),
        ((12, 8, 16), (0, -0.5, 0.5), (100, 90, 110), "inconclusive"),
        ((20, 15, 25), (0, -1.5, 0.5), (100, 90, 110), "inconclusive"),
        ((3, 1, 5), (0, -0.5, 0.5), (100, 90, 110), "refuted"),
        ((20, 15, 25), (3, 2, 4), (100, 90, 110), "refuted"),
    ],
)
def test_verdict_rule(drop, forest, recovery, status):
    result = point.verdict(estimates(drop, forest, recovery))
    assert result.status == status
    assert result.thresholds[point.KEY] == point.MIN_RAW_DROP
    assert result.thresholds["recovery_mlp_ple"] == point.MIN_RECOVERY
    assert "raw MLP drops" in result.reason and "random forest" in result.rule


def test_summaries_on_hand_made_records():
    import pandas as pd

    rows = []
    accuracy = {  # arm -> (narrowest, widest), the same for both seeds
        "mlp-raw": (80.0, 60.0),
        "mlp-standard": (80.0, 80.0),
        "mlp-quantile": (81.0, 81.0),
        "mlp-batchnorm": (79.0, 75.0),
        "mlp-ple": (90.0, 90.0),
        "random-forest": (85.0, 85.0),
        "gradient-boosting": (88.0, 88.0),
    }
    for seed in (0, 1):
        for arm, (narrow, wide) in accuracy.items():
            for spread, value in ((0.0, narrow), (8.0, wide)):
                rows.append(
                    dict(
                        seed=seed,
                        arm=arm,
                        spread=spread,
                        metric="accuracy",
                        value=value,
                    )
                )
    summary = point.summarize(pd.DataFrame(rows))
    assert summary[point.KEY].value == 20.0
    assert summary["forest_move"].value == 0.0
    assert summary["recovery_mlp_standard"].value == 100.0
    assert summary["recovery_mlp_batchnorm"].value == 75.0
    assert summary["recovery_mlp_ple"].value == 150.0
    # Best tree (boosting, 88) minus best MLP (PLE, 90) at the widest spread.
    assert summary["trees_minus_best_mlp"].value == -2.0
    assert summary["accuracy_random_forest_widest"].value == 85.0
