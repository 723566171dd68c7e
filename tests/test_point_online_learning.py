"""Properties of the online-learning experiment itself (tweets 11-12)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from essay_code.core import Estimate, RunContext, batched_call, stack_seeded
from essay_code.points import online_learning as ol

SMALL = ol.Config(seeds=2, tasks=3, features=60, hidden=8)
CTX = RunContext(show_progress=False)


@pytest.fixture(scope="module")
def data():
    seeds = [0, 1]
    return seeds, ol.stacked([ol.make_tasks(SMALL, seed) for seed in seeds])


def test_each_task_is_a_pixel_permutation_and_task_0_is_the_identity():
    perms = ol.task_permutations(10, seed=3)
    assert perms.shape == (10, 64)
    for perm in perms:
        assert sorted(perm) == list(range(64))
    # Task 0 is the original images, as in permuted MNIST; the others are not.
    assert (perms[0] == np.arange(64)).all()
    assert all((perm != np.arange(64)).any() for perm in perms[1:])
    assert len({tuple(perm) for perm in perms}) == 10
    assert (ol.task_permutations(10, seed=4) != perms).any()


def test_tasks_show_the_same_images_through_their_permutation():
    tasks = ol.make_tasks(SMALL, seed=0)
    for task, perm in enumerate(tasks.permutations):
        np.testing.assert_array_equal(tasks.train_x[task], tasks.train_x[0][:, perm])
        np.testing.assert_array_equal(tasks.test_x[task], tasks.test_x[0][:, perm])


def test_online_ridge_equals_the_batch_ridge_after_all_tasks(data):
    seeds, stacked = data
    _, online, feats = ol.ridge_sequential(stacked, seeds, SMALL, CTX)
    batch = ol.ridge_batch(stacked, feats, SMALL.ridge)
    torch.testing.assert_close(online, batch, rtol=1e-9, atol=1e-9)
    # And it is not trivially so: after one task the answer differs.
    one_task = {**stacked, "train_x": stacked["train_x"][:, :1]}
    assert (ol.ridge_batch(one_task, feats, SMALL.ridge) - batch).abs().max() > 1e-3


def test_recursive_ridge_ends_at_the_batch_solution(data):
    """The prequential RLS pass must reach the same readout as the batch solve."""
    seeds, stacked = data
    cfg = ol.Config(seeds=2, tasks=3, features=60, stream_batch=50)
    feats = ol.draw_features(cfg, seeds, "cpu")
    batch = ol.ridge_batch(stacked, feats, cfg.ridge)
    _, readout = ol.ridge_prequential(stacked, seeds, cfg, CTX, return_readout=True)
    torch.testing.assert_close(readout, batch, rtol=1e-6, atol=1e-6)


def test_backward_transfer_on_a_hand_made_matrix():
    matrix = np.array(
        [
            [0.9, 0.1, 0.1],
            [0.5, 0.8, 0.1],
            [0.3, 0.6, 0.95],
        ]
    )
    # ((0.3 - 0.9) + (0.6 - 0.8)) / 2 = -0.4
    assert ol.backward_transfer(matrix) == pytest.approx(-0.4)
    np.testing.assert_allclose(
        ol.average_accuracy(matrix), [0.9, 0.65, (0.3 + 0.6 + 0.95) / 3]
    )


def test_manual_forward_matches_batched_call():
    skeleton, params = stack_seeded(lambda: ol.make_mlp(12), [0, 1, 2])
    x = torch.randn(3, 5, 64)
    logits, _, _ = ol.mlp_forward(params, x)
    torch.testing.assert_close(logits, batched_call(skeleton, params, x))


def test_fisher_equals_mean_squared_per_row_gradient():
    _, params = stack_seeded(lambda: ol.make_mlp(6), [0, 1])
    x, y = torch.randn(2, 4, 64), torch.randint(10, (2, 4))
    fisher = ol.diagonal_fisher(params, x, y)
    for model in range(2):
        squares = {name: torch.zeros_like(p[model]) for name, p in params.items()}
        for row in range(4):
            one = {
                n: p[model : model + 1].detach().requires_grad_()
                for n, p in params.items()
            }
            logits, _, _ = ol.mlp_forward(one, x[model : model + 1, row : row + 1])
            loss = torch.nn.functional.cross_entropy(logits[0], y[model, row : row + 1])
            grads = torch.autograd.grad(loss, list(one.values()))
            for name, g in zip(one, grads, strict=True):
                squares[name] += g[0] ** 2 / 4
        for name in params:
            torch.testing.assert_close(fisher[name][model], squares[name])


def test_ewc_step_with_zero_strength_changes_nothing():
    _, params = stack_seeded(lambda: ol.make_mlp(6), [0, 1])
    before = {name: p.detach().clone() for name, p in params.items()}
    fisher = {name: torch.ones_like(p) for name, p in params.items()}
    anchor = {name: torch.zeros_like(p) for name, p in params.items()}
    ol.ewc_step(params, fisher, anchor, torch.tensor([0.0, 1.0]))
    for name in params:
        torch.testing.assert_close(params[name][0], before[name][0])
        # strength 1, F = 1, anchor 0: theta / 2
        torch.testing.assert_close(params[name][1], before[name][1] / 2)


def test_knn_never_forgets_its_own_task(data):
    seeds, stacked = data
    matrix = ol.knn_sequential(stacked, CTX)
    # Accuracy on task 0 may only change through rows of other tasks winning, which
    # permuted images rarely do; it never drops to chance.
    assert (matrix[:, -1, 0] > 0.9).all()


def est(value, low, high):
    return Estimate(value, low, high, method="test", n=5)


def estimates(naive, gap, ewc, replay):
    return {
        "naive_bwt": est(*naive),
        "joint_minus_ridge": est(*gap),
        "ewc_bwt": est(*ewc),
        "replay_bwt": est(*replay),
    }


FORGETS, RIDGE_CLOSE, STILL_FORGETS = (-0.6, -0.7, -0.5), (1, -2, 3), (-0.3, -0.4, -0.2)


@pytest.mark.parametrize(
    ("summary", "status"),
    [
        (estimates(FORGETS, RIDGE_CLOSE, STILL_FORGETS, STILL_FORGETS), "holds"),
        (
            estimates(FORGETS, RIDGE_CLOSE, STILL_FORGETS, (-0.02, -0.04, 0)),
            "mitigated",
        ),
        (
            estimates((-0.1, -0.2, 0), RIDGE_CLOSE, STILL_FORGETS, STILL_FORGETS),
            "refuted",
        ),
        (estimates(FORGETS, (9, 7, 11), STILL_FORGETS, STILL_FORGETS), "refuted"),
        (
            estimates((-0.3, -0.4, -0.2), RIDGE_CLOSE, STILL_FORGETS, STILL_FORGETS),
            "inconclusive",
        ),
        (estimates(FORGETS, (5, 3, 7), STILL_FORGETS, STILL_FORGETS), "inconclusive"),
        (
            estimates(FORGETS, RIDGE_CLOSE, STILL_FORGETS, (-0.05, -0.1, 0)),
            "inconclusive",
        ),
    ],
)
def test_verdict_returns_each_status(summary, status):
    result = ol.verdict(summary)
    assert result.status == status
    assert "-0.30" in result.rule and "5" in result.rule
    assert result.thresholds[ol.KEY] == ol.MAX_NAIVE_BWT
    assert result.thresholds["joint_minus_ridge"] == ol.MAX_RIDGE_GAP
