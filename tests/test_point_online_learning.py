"""Properties of the online-learning experiment itself (tweets 11-12)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from essay_code import core
from essay_code.core import Estimate, RunContext, batched_call, stack_seeded
from essay_code.points import online_learning as ol
from essay_code.tooling.registry import load_point
from essay_code.tooling.runner import resolve_config

SMALL = ol.Config(
    seeds=2,
    tasks=3,
    prefixes=(2, 3),
    train_per_class=16,
    val_per_class=8,
    test_per_class=8,
    hidden=8,
    budgets=(1, 2),
    ewc_lambdas=(10.0,),
    ewc_samples=8,
    replay_per_task=4,
    replay_batch=4,
    features=60,
    bandwidths=(4.0,),
    penalties=(0.1,),
    stream_batch=16,
)
CTX = RunContext(show_progress=False)


@pytest.fixture(scope="module", params=ol.DRIFTS)
def data(request):
    seeds = [0, 1]
    return seeds, ol.stacked([ol.make_tasks(SMALL, s, request.param) for s in seeds])


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


def test_the_split_is_balanced_and_its_parts_share_no_image():
    parts = ol.split_digits(SMALL, seed=0)
    assert [p.shape[:2] for p in parts] == [(10, 16), (10, 8), (10, 8)]
    rows = np.concatenate([p.reshape(-1, 64) for p in parts])
    assert len(np.unique(rows, axis=0)) == len(rows)
    assert (ol.split_digits(SMALL, seed=1)[0] != parts[0]).any()


def test_permuted_tasks_show_the_same_images_through_their_permutation():
    tasks = ol.make_tasks(SMALL, 0, ol.PERMUTED)
    perms = ol.task_permutations(SMALL.tasks, 0)
    for task, perm in enumerate(perms):
        np.testing.assert_array_equal(
            tasks["train_x"][task], tasks["train_x"][0][:, perm]
        )
        np.testing.assert_array_equal(
            tasks["test_x"][task], tasks["test_x"][0][:, perm]
        )
        np.testing.assert_array_equal(tasks["train_y"][task], tasks["train_y"][0])
    assert set(tasks["train_y"][0]) == set(range(10))


def test_class_incremental_tasks_hold_disjoint_pairs_of_digits_unpermuted():
    tasks = ol.make_tasks(SMALL, 0, ol.CLASS_INCREMENTAL)
    pairs = ol.class_pairs(SMALL.tasks, 0)
    assert len(set(pairs.ravel())) == 2 * SMALL.tasks  # disjoint
    split = ol.split_digits(SMALL, 0)[0]
    for task, pair in enumerate(pairs):
        assert set(tasks["train_y"][task]) == set(pair)
        assert set(tasks["test_y"][task]) == set(pair)
        # Original pixels: every row is one of its digit's training images.
        np.testing.assert_array_equal(
            tasks["train_x"][task], split[pair].reshape(-1, 64)
        )
    assert set(ol.class_pairs(5, 0).ravel()) == set(range(10))
    with pytest.raises(ValueError):
        ol.class_pairs(6, 0)


def test_backward_transfer_on_a_hand_made_matrix():
    matrix = np.array([[0.9, 0.1, 0.1], [0.5, 0.8, 0.1], [0.3, 0.6, 0.95]])
    # ((0.3 - 0.9) + (0.6 - 0.8)) / 2 = -0.4
    assert ol.backward_transfer(matrix) == pytest.approx(-0.4)
    np.testing.assert_allclose(
        ol.average_accuracy(matrix), [0.9, 0.65, (0.3 + 0.6 + 0.95) / 3]
    )


def test_stacked_forward_matches_each_seeds_own_mlp():
    seeds = [0, 1, 2]
    params = ol.init_stack(12, seeds, "cpu")
    x = torch.randn(3, 5, 64)
    logits, pre, inputs = ol.mlp_forward(params, x)
    skeleton, stacked_params = stack_seeded(lambda: ol.make_mlp(12), seeds)
    torch.testing.assert_close(logits, batched_call(skeleton, stacked_params, x))
    assert [a.shape[-1] for a in inputs] == [64, 12, 12]
    torch.testing.assert_close(pre[-1], logits)


def test_fisher_is_the_expected_squared_gradient_under_the_models_own_labels():
    params = ol.init_stack(6, [0, 1], "cpu")
    x = torch.randn(2, 4, 64)
    fisher = ol.diagonal_fisher(params, x)
    for model in range(2):
        expected = [torch.zeros_like(p[model]) for p in params]
        for row in range(4):
            one = [p[model : model + 1].detach().requires_grad_() for p in params]
            logits, _, _ = ol.mlp_forward(one, x[model : model + 1, row : row + 1])
            prob = logits[0, 0].softmax(-1).detach()
            for label in range(10):
                loss = torch.nn.functional.cross_entropy(
                    logits[0], torch.tensor([label])
                )
                grads = torch.autograd.grad(loss, one, retain_graph=True)
                for total, g in zip(expected, grads, strict=True):
                    total += prob[label] * g[0] ** 2 / 4
        for got, want in zip(fisher, expected, strict=True):
            torch.testing.assert_close(got[model], want)


def test_ewc_step_is_the_exact_proximal_step_and_zero_strength_is_the_identity():
    theta = [torch.randn(3, 4, 5)]
    fisher, anchor_at = [torch.rand(3, 4, 5)], [torch.randn(3, 4, 5)]
    anchor = [fisher[0] * anchor_at[0]]
    strength = torch.tensor([0.0, 0.5, 40.0])
    scale, shift = ol.ewc_coefficients(fisher, anchor, strength)
    new = theta[0] * scale[0] + shift[0]
    # Strength 0 leaves the model exactly where it was (naive SGD in the stack).
    assert torch.equal(new[0], theta[0][0])
    # Otherwise new minimises 1/2 |v - theta|^2 + s/2 F (v - anchor)^2: zero gradient.
    s = strength.view(-1, 1, 1)
    gradient = (new - theta[0]) + s * fisher[0] * (new - anchor_at[0])
    torch.testing.assert_close(gradient, torch.zeros_like(gradient), atol=1e-5, rtol=0)
    # A huge strength pins the weights to their anchor (where F > 0).
    scale, shift = ol.ewc_coefficients(fisher, anchor, torch.tensor([1e9, 1e9, 1e9]))
    torch.testing.assert_close(
        theta[0] * scale[0] + shift[0], anchor_at[0], atol=1e-3, rtol=0
    )


def test_the_schedule_replays_only_rows_of_finished_tasks():
    cfg = SMALL
    schedule = ol.draw_schedule([0, 1], (3, 32), 2, cfg, "cpu")
    assert schedule.orders.shape == (3, 2, 2, 32)
    assert (schedule.orders.sort(-1).values == torch.arange(32)).all()
    assert (schedule.picks[0] == 0).all()  # the buffer is empty during task 0
    for task in (1, 2):  # slots fill by replay_per_task per finished task
        assert schedule.picks[task].max() < task * cfg.replay_per_task
    assert schedule.kept.shape == (3, 2, cfg.replay_per_task)
    again = ol.draw_schedule([0, 1], (3, 32), 2, cfg, "cpu")
    assert torch.equal(schedule.picks, again.picks)


def test_naive_sgd_forgets_the_first_pair_of_digits_and_replay_keeps_it():
    """Class-incremental: after the second pair, naive SGD has lost the first (its
    single head predicts the new classes) though it learned each pair; replay keeps
    much of it."""
    changes = dict(
        hidden=32, tasks=2, prefixes=(2,), replay_per_task=16, replay_batch=16
    )
    cfg = ol.Config(**{**SMALL.__dict__, **changes})
    seeds = [0, 1]
    data = ol.stacked([ol.make_tasks(cfg, s, ol.CLASS_INCREMENTAL) for s in seeds])
    lambdas = [[0.0, 0.0]]  # one group: naive SGD, then the replay stack
    test_r, val_r, preq = ol.train_sequential(data, seeds, cfg, 40, CTX, lambdas)
    naive, replay = test_r[:2].numpy(), test_r[2:].numpy()
    assert (naive[:, 0, 0] > 0.8).all() and (naive[:, 1, 1] > 0.8).all()
    assert (naive[:, 1, 0] < 0.2).all()
    assert (replay[:, 1, 0] > naive[:, 1, 0] + 0.3).all()
    assert (val_r[:, 1, 1] > 0.5).all() and (val_r[:, 0] == 0).all()  # prefix end only
    # Each task's first pass is a single minibatch here, scored before its step:
    # a learner has never seen those two digits, so it gets none right.
    assert (preq == 0).all()


def test_a_zero_strength_in_the_ewc_stack_is_exactly_naive_sgd():
    seeds = [0, 1]
    data = ol.stacked([ol.make_tasks(SMALL, s, ol.PERMUTED) for s in seeds])
    alone = ol.train_sequential(data, seeds, SMALL, 1, CTX, [[0.0, 0.0]], False)
    mixed = ol.train_sequential(
        data, seeds, SMALL, 1, CTX, [[50.0, 5.0], [0.0, 0.0]], False
    )
    torch.testing.assert_close(mixed[0][2:], alone[0])
    assert (mixed[0][:2, -1] != alone[0][:, -1]).any()  # EWC does change the learner


def test_joint_checkpoints_equal_the_shorter_runs(data):
    seeds, stacked = data
    long = ol.train_joint(stacked, seeds, SMALL, CTX)
    short_cfg = ol.Config(**{**SMALL.__dict__, "budgets": (1,)})
    short = ol.train_joint(stacked, seeds, short_cfg, CTX)
    # Columns: budgets, then twice the largest for the whole sequence (the last
    # prefix) only. Budget 1 for every prefix, budget 2 for the whole sequence.
    for got, want in zip(long, short, strict=True):
        torch.testing.assert_close(got[..., 0], want[..., 0])
        torch.testing.assert_close(got[-1, :, 1], want[-1, :, 1])
        assert (got[-1, :, 2] > 0).all() and (got[0, :, 2] == 0).all()


def test_online_ridge_equals_the_batch_ridge_after_all_tasks(data):
    seeds, stacked = data
    _, _, readouts = ol.ridge_sequential(stacked, seeds, SMALL, CTX)
    directions, phases = ol.draw_features(SMALL, seeds, "cpu")
    feats = (directions / SMALL.bandwidths[0], phases)
    batch = ol.ridge_batch(stacked, feats, SMALL.penalties[0])
    torch.testing.assert_close(readouts[0, 0], batch, rtol=1e-9, atol=1e-9)
    # And it is not trivially so: after one task the answer differs.
    one_task = {**stacked, "train_x": stacked["train_x"][:, :1]}
    one_task["train_y"] = stacked["train_y"][:, :1]
    assert (
        ol.ridge_batch(one_task, feats, SMALL.penalties[0]) - batch
    ).abs().max() > 1e-3


def test_recursive_ridge_ends_at_the_batch_solution(data):
    """The prequential RLS pass must reach the same readout as the batch solve."""
    seeds, stacked = data
    chosen = [(4.0, 0.1), (2.0, 1.0)]  # each seed its own choice
    _, readout = ol.ridge_prequential(stacked, seeds, SMALL, CTX, chosen)
    directions, phases = ol.draw_features(SMALL, seeds, "cpu")
    for s, (bandwidth, penalty) in enumerate(chosen):
        feats = (directions[s : s + 1] / bandwidth, phases[s : s + 1])
        one = {k: v[s : s + 1] for k, v in stacked.items()}
        batch = ol.ridge_batch(one, feats, penalty)
        torch.testing.assert_close(readout[s : s + 1], batch, rtol=1e-6, atol=1e-6)


def test_knn_never_forgets_its_own_task(data):
    seeds, stacked = data
    matrix = ol.knn_sequential(stacked, CTX).numpy()
    # Task 0's accuracy can only change through rows of other tasks winning, which
    # in either drift are other images or other digits; it never drops to chance.
    assert (matrix[:, -1, 0] > 0.7).all()


def choice_records() -> pd.DataFrame:
    """Hand-made validation scores: seed 0 peaks at lambda 10, seed 1 ties 1 and 10."""
    records = core.Records(epochs=4, bandwidth=0.0, penalty=0.0, drift="permuted")
    for seed, scores in ((0, (50, 70, 60)), (1, (80, 80, 10))):
        for lam, score in zip((1.0, 10.0, 100.0), scores, strict=True):
            cell = dict(seed=seed, arm=ol.EWC, lam=lam, after_task=2)
            records.add("val_average", score, **cell)
            records.add("bwt", -score / 100, **cell)
    for seed, best in ((0, (4.0, 0.1)), (1, (8.0, 1.0))):
        for bandwidth in (4.0, 8.0):
            for penalty in (0.1, 1.0):
                score = 90 if (bandwidth, penalty) == best else 50
                cell = dict(seed=seed, bandwidth=bandwidth, penalty=penalty, lam=0.0)
                cell.update(arm=ol.RIDGE, epochs=0, after_task=2)
                records.add("val_average", score, **cell)
                records.add("bwt", -score / 1000, **cell)
    return records.frame()


def test_choices_are_the_best_validation_score_with_ties_to_the_first():
    records = choice_records()
    assert list(ol.ewc_choice(records, "permuted", 4, 2)) == [10.0, 1.0]
    assert list(ol.ridge_choice(records, "permuted", 2)) == [(4.0, 0.1), (8.0, 1.0)]
    # values() reads each seed's test metric at its own choice.
    ewc = ol.values(records, ol.EWC, "bwt", ("permuted", 4, 2))
    assert list(ewc) == [-0.7, -0.8]
    ridge = ol.values(records, ol.RIDGE, "bwt", ("permuted", 4, 2))
    assert list(ridge) == [-0.09, -0.09]


def test_convergence_reads_ewc_at_its_headline_strength_at_every_budget():
    """Budget 4 on its own would pick lambda 1, but the curve asks what more training
    does to the headline learner (lambda 10, chosen at the largest budget, 8)."""
    records = core.Records(bandwidth=0.0, penalty=0.0, drift="permuted", seed=0)
    for epochs, scores in ((4, (60, 40)), (8, (50, 70))):
        for lam, score in zip((1.0, 10.0), scores, strict=True):
            cell = dict(arm=ol.EWC, epochs=epochs, lam=lam, after_task=2)
            records.add("val_average", score, **cell)
            records.add("bwt", -0.1, **cell)
    # The longer check ran the chosen strength only and records no BWT.
    records.add("val_average", 72, arm=ol.EWC, epochs=16, lam=10.0, after_task=2)
    frame = records.frame()
    assert ol.budgets_of(frame) == [4, 8] and ol.headline(frame) == (8, 3)
    curve = ol.convergence_curve(frame, ol.EWC, "permuted")
    assert list(curve.columns) == [4, 8, 16]
    assert curve.loc[0].tolist() == [40, 70, 72]


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


@pytest.fixture(scope="module")
def smoke():
    config = resolve_config(load_point("online-learning"), "smoke")
    records = ol.run(config, RunContext(show_progress=False, record_timings=False))
    estimates = ol.summarize(records)
    assert set(estimates) <= set(ol.NAMES)  # every estimate has a readable name
    return config, records, estimates, ol.assess(records, estimates)


def test_smoke_assessment_has_every_record_and_agrees_with_the_verdict(smoke):
    config, records, estimates, assessment = smoke
    assert [c.arm for c in assessment.convergence] == list(ol.DEEP_ARMS)
    budgets = tuple(map(float, config.budgets))
    longer = (*budgets, 2 * budgets[-1])  # EWC and the joint MLP: one more doubling
    ran = {c.arm: c.budgets for c in assessment.convergence}
    assert ran == {
        ol.NAIVE: budgets,
        ol.REPLAY: budgets,
        ol.EWC: longer,
        ol.JOINT: longer,
    }
    arms = {t.arm for t in assessment.tuning}
    assert {f"{ol.EWC} ({d})" for d in ol.DRIFTS} <= arms
    assert {f"{ol.RIDGE} ({d})" for d in ol.DRIFTS} <= arms
    for tuning in assessment.tuning:
        for name, chosen in tuning.chosen.items():
            picks = chosen if isinstance(chosen, list) else [chosen]
            assert set(picks) <= set(tuning.grid[name])
    robustness = assessment.robustness
    assert robustness.axes == {
        "epochs_per_task": list(config.budgets),
        "drift": list(ol.DRIFTS),
        "tasks": list(config.prefixes),
    }
    assert len(robustness.cells) == len(config.budgets) * 2 * len(config.prefixes)
    assert robustness.status_at(robustness.headline) == ol.verdict(estimates).status
    assert assessment.scale_axis == "epochs_per_task"
    assert "Unequal" in assessment.effort
    assert estimates["ewc_lambda_best_mean"].value in config.ewc_lambdas
    grids = {t.arm: t.grid for t in assessment.tuning}
    assert grids[f"{ol.EWC} ({ol.CLASS_INCREMENTAL})"]["lambda"] == list(
        config.ewc_lambdas_classes
    )


def test_every_record_has_a_finite_value_and_the_design_columns(smoke):
    config, records, _, _ = smoke
    assert np.isfinite(records["value"]).all()
    assert {"drift", "epochs", "lam", "bandwidth", "penalty", "after_task"} <= set(
        records.columns
    )
    for drift in ol.DRIFTS:
        assert ol.ewc_grid_of(records, drift) == list(ol.ewc_grid(config, drift))
    assert set(records.loc[records["arm"].isin([ol.RIDGE, ol.KNN]), "epochs"]) == {0}
