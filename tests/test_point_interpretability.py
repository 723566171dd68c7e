"""interpretability: integrated gradients' completeness, gradient x input on a
linear model, the shortcut's agreement rates, the metrics, the batched MLPs against
one seed alone, and the verdict rule."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from essay_code.core import Estimate
from essay_code.points import interpretability as point

CFG = point.Config()


def small_mlp(seed: int = 0, d: int = 6):
    params = point.init_mlps([seed], d, 8, torch.device("cpu"))
    params = {name: value.detach().double() for name, value in params.items()}
    return lambda x: point.mlp_logits(params, x)


def test_integrated_gradients_are_complete():
    model = small_mlp()
    x = torch.randn(1, 30, 6, generator=torch.Generator().manual_seed(1)).double()
    baseline = torch.zeros_like(x)
    attributions = point.integrated_gradients(model, x, baseline, steps=256)
    difference = model(x) - model(baseline)  # [1, 30]
    assert torch.allclose(attributions.sum(dim=-1), difference, atol=1e-3)
    # Too few steps on a ReLU network are visibly incomplete: the test can fail.
    coarse = point.integrated_gradients(model, x, baseline, steps=1)
    assert not torch.allclose(coarse.sum(dim=-1), difference, atol=1e-3)


def test_gradient_x_input_is_w_times_x_on_a_linear_model():
    weights = torch.tensor([0.5, -2.0, 0.0, 3.0], dtype=torch.float64)
    x = torch.randn(10, 4, generator=torch.Generator().manual_seed(2)).double()

    def linear(inputs):
        return inputs @ weights + 1.5

    assert torch.equal(point.gradient_x_input(linear, x), weights * x)
    # Integrated gradients from zero agree on a linear model too.
    ig = point.integrated_gradients(linear, x, torch.zeros_like(x), steps=4)
    assert torch.allclose(ig, weights * x)


def test_shortcut_agrees_with_the_label_in_train_but_not_at_test():
    cfg = dataclasses.replace(CFG, train_size=20_000, test_size=20_000)
    ds = point.make_data(cfg, np.random.default_rng(0))
    signs = lambda y: 2 * y - 1  # noqa: E731
    train_rate = np.mean(ds.x_train[:, ds.shortcut] == signs(ds.y_train))
    iid_rate = np.mean(ds.x_test[:, ds.shortcut] == signs(ds.y_test))
    shifted_rate = np.mean(ds.x_shifted[:, ds.shortcut] == signs(ds.y_test))
    assert train_rate == pytest.approx(cfg.shortcut_rate, abs=0.01)
    assert iid_rate == pytest.approx(cfg.shortcut_rate, abs=0.01)
    assert shifted_rate == pytest.approx(0.5, abs=0.01)
    # Only the shortcut column changes between the two test sets.
    others = np.arange(cfg.features) != ds.shortcut
    assert np.array_equal(ds.x_test[:, others], ds.x_shifted[:, others])
    assert ds.shortcut not in ds.relevant and len(ds.relevant) == cfg.relevant
    # Both classes are common: accuracy is not trivially high.
    assert set(np.unique(ds.y_train)) == {0.0, 1.0}
    assert 0.3 < ds.y_train.mean() < 0.7


def test_auroc_and_rank_helpers():
    relevant, shortcut = np.array([1, 4]), 2
    perfect = np.array([0.1, 5.0, 9.0, 0.2, 4.0, 0.0])
    assert point.relevance_auroc(perfect, relevant, shortcut) == 1.0
    assert point.relevance_auroc(-perfect, relevant, shortcut) == 0.0
    assert point.feature_rank(perfect, shortcut) == 1.0
    assert point.feature_rank(perfect, 5) == 6.0


def test_rowwise_spearman():
    a = np.array([[1.0, 2.0, 3.0], [3.0, 1.0, 2.0]])
    assert point.rowwise_spearman(a, a) == pytest.approx(1.0)
    assert point.rowwise_spearman(a, -a) == pytest.approx(-1.0)


def test_batched_mlps_equal_one_seed_alone():
    cfg = dataclasses.replace(CFG, hidden=8, steps=20, batch_size=32)
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.standard_normal((2, 100, 6)), dtype=torch.float32)
    y = (x[..., 0] > 0).float()
    both = point.train_mlps(x, y, [3, 7], cfg)
    alone = point.train_mlps(x[1:], y[1:], [7], cfg)
    for name in both:
        assert torch.allclose(both[name][1], alone[name][0], atol=1e-6)


def estimates(auroc: tuple, rank: tuple, spearman: tuple) -> dict[str, Estimate]:
    return {
        "ig_auroc": Estimate(*auroc, method="test", n=5),
        "ig_shortcut_rank": Estimate(*rank, method="test", n=5),
        "ig_random_spearman": Estimate(*spearman, method="test", n=5),
    }


@pytest.mark.parametrize(
    ("auroc", "rank", "spearman", "status"),
    [
        ((0.98, 0.95, 1.0), (2.0, 1.0, 3.0), (0.2, 0.1, 0.3), "holds"),
        ((0.80, 0.70, 0.85), (2.0, 1.0, 3.0), (0.2, 0.1, 0.3), "refuted"),
        ((0.98, 0.95, 1.0), (9.0, 7.0, 12.0), (0.2, 0.1, 0.3), "refuted"),
        ((0.98, 0.95, 1.0), (2.0, 1.0, 3.0), (0.8, 0.7, 0.9), "refuted"),
        ((0.92, 0.85, 0.97), (2.0, 1.0, 3.0), (0.2, 0.1, 0.3), "inconclusive"),
        ((0.98, 0.95, 1.0), (4.0, 3.0, 7.0), (0.2, 0.1, 0.3), "inconclusive"),
    ],
)
def test_verdict_statuses(auroc, rank, spearman, status):
    result = point.verdict(estimates(auroc, rank, spearman))
    assert result.status == status
    assert "AUROC" in result.reason and str(point.MIN_AUROC) in result.rule
    assert result.thresholds[point.KEY] == point.MIN_AUROC
    assert result.thresholds["ig_shortcut_rank"] == point.TOP_K
