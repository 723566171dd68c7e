"""Properties of the finicky-rl experiment: the batched CartPole is gymnasium's,
LQR balances, the A2C pieces are per-policy, the statistics are right, choices are
made on selection seeds only, and the verdict reaches every status."""

import dataclasses

import gymnasium as gym
import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats as sps

from essay_code import core
from essay_code.core import Estimate, RunContext, iqm
from essay_code.points import finicky_rl as point


def test_batched_cartpole_matches_gymnasium_step_for_step():
    env = gym.make("CartPole-v1")
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(300):
        # Random states across the whole non-terminal box, some near the edges.
        start = rng.uniform([-2.4, -2, -0.21, -2], [2.4, 2, 0.21, 2])
        action = int(rng.integers(2))
        env.unwrapped.state = start.copy()
        env.unwrapped.steps_beyond_terminated = None
        obs, reward, terminated, _, _ = env.step(action)
        ours, our_reward, our_terminated = point.step(
            torch.tensor(start, dtype=torch.float64), torch.tensor(action)
        )
        np.testing.assert_allclose(ours.numpy(), env.unwrapped.state, atol=1e-12)
        np.testing.assert_allclose(ours.numpy(), obs, atol=1e-6)
        assert float(our_reward) == reward
        assert bool(our_terminated) == terminated


def test_batched_cartpole_matches_a_gymnasium_trajectory():
    env = gym.make("CartPole-v1")
    state, _ = env.reset(seed=3)
    ours = torch.tensor(env.unwrapped.state, dtype=torch.float64)
    rng = np.random.default_rng(1)
    for _ in range(200):
        action = int(rng.integers(2))
        _, _, terminated, _, _ = env.step(action)
        # The training loop passes boolean actions (True = push right).
        ours, _, our_terminated = point.step(ours, torch.tensor(action == 1))
        np.testing.assert_allclose(ours.numpy(), env.unwrapped.state, atol=1e-10)
        assert bool(our_terminated) == terminated
        if terminated:
            env.reset(seed=int(rng.integers(1000)))
            ours = torch.tensor(env.unwrapped.state, dtype=torch.float64)


def test_lqr_balances_in_gymnasium_for_500_steps():
    gain = point.lqr_gain(0.1)
    env = gym.make("CartPole-v1")
    for seed in range(3):
        obs, _ = env.reset(seed=seed)
        total = 0.0
        for _ in range(500):
            state = torch.tensor(env.unwrapped.state, dtype=torch.float64)
            action = int(point.lqr_action(gain, state[None])[0])
            obs, reward, terminated, truncated, _ = env.step(action)
            total += reward
            assert not terminated
        assert truncated and total == 500.0


def test_evaluate_counts_steps_until_termination():
    starts = point.start_states([0, 1], point.TEST_BASE, 20)  # [2, 20, 4]
    always_right = point.evaluate(lambda s: torch.ones(s.shape[:-1]), starts)
    assert always_right.shape == (2, 20)
    assert (always_right < 20).all()  # pushing one way tips the pole in ~10 steps
    assert (always_right >= 1).all()  # the terminating step earns its reward
    gains = point.lqr_gain(0.1)
    balanced = point.evaluate(lambda s: point.lqr_action(gains, s), starts)
    assert (balanced == 500).all()  # the cap: no step after it counts


def test_start_states_are_per_seed_and_in_the_reset_box():
    first = point.start_states([3, 4], point.TEST_BASE, 5)
    again = point.start_states([4], point.TEST_BASE, 5)
    torch.testing.assert_close(first[1], again[0])  # seed 4's, whatever comes first
    assert first.abs().max() <= point.RESET_BOUND
    other = point.start_states([3], point.VALIDATION_BASE, 5)
    assert not torch.equal(first[0], other[0])  # validation differs from test


def test_budgets_include_the_last_doubling():
    assert point.budgets(3200) == [400, 800, 1600, 3200]
    assert point.budgets(16) == [2, 4, 8, 16]


def test_the_same_seed_starts_from_the_same_weights_in_every_configuration():
    flat = point.init_flat([5, 6, 5], 8, torch.device("cpu"))
    torch.testing.assert_close(flat[0], flat[2])
    assert not torch.equal(flat[0], flat[1])
    params = point.unflatten(flat, 8)
    assert params["wp2"].shape == (3, 8, 8) and params["bv3"].shape == (3, 1, 1)
    assert sum(p[0].numel() for p in params.values()) == flat.shape[1]


def test_a2c_loss_gives_each_policy_its_own_gradient():
    cfg = dataclasses.replace(point.Config(), hidden=8)
    generator = torch.Generator().manual_seed(0)
    obs = torch.randn((2, 12, 4), generator=generator)
    actions = torch.randint(0, 2, (2, 12), generator=generator)
    target = torch.rand((2, 12), generator=generator) * 10
    normalize = torch.tensor([True, False])
    flat = point.init_flat([0, 1], 8, torch.device("cpu")).requires_grad_(True)
    loss = point.a2c_loss(
        point.unflatten(flat, 8), obs, actions, target, normalize, cfg
    )
    (both,) = torch.autograd.grad(loss, flat)
    for p in range(2):
        alone = flat[p : p + 1].detach().clone().requires_grad_(True)
        loss = point.a2c_loss(
            point.unflatten(alone, 8),
            obs[p : p + 1],
            actions[p : p + 1],
            target[p : p + 1],
            normalize[p : p + 1],
            cfg,
        )
        (grad,) = torch.autograd.grad(loss, alone)
        torch.testing.assert_close(both[p], grad[0])


def test_training_snapshots_and_learning_rate_per_policy():
    cfg = dataclasses.replace(point.Config(), hidden=8, envs=2, rollout=4, updates=8)
    ctx = RunContext(show_progress=False)
    lr = torch.tensor([0.0, 1e-2])
    snaps = point.train_agents([0, 0], lr, torch.tensor([False, False]), cfg, ctx)
    assert len(snaps) == len(point.budgets(8))
    start = point.init_flat([0], 8, torch.device("cpu"))[0]
    torch.testing.assert_close(snaps[-1][0], start)  # lr 0: never moves
    assert not torch.allclose(snaps[-1][1], start)
    again = point.train_agents([0, 0], lr, torch.tensor([False, False]), cfg, ctx)
    torch.testing.assert_close(snaps[-1], again[-1], rtol=0, atol=0)


def test_welch_matches_scipy():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(200, 5)), rng.normal(0.8, 2.0, size=(200, 5))
    ours = point.welch_significant(a, b)
    theirs = sps.ttest_ind(a, b, axis=1, equal_var=False).pvalue < point.SIGNIFICANCE
    np.testing.assert_array_equal(ours, theirs)
    assert 0 < ours.sum() < 200


def test_random_splits_are_disjoint_groups():
    index = point.random_splits(20, 50, 5)
    assert index.shape == (50, 10)
    assert all(len(set(row)) == 10 for row in index.tolist())
    np.testing.assert_array_equal(index, point.random_splits(20, 50, 5))


def test_henderson_share_and_its_chance_rate():
    assert point.henderson_share(np.full(20, 500.0)) == 0.0
    chance = point.henderson_chance(20)
    assert 0.02 < chance < 0.07  # Welch at 5% on normal data, 5 v 5
    # The share is scipy's Welch test over the same random splits.
    values = np.array([500.0] * 12 + [20.0, 35.0, 60.0, 90.0, 150.0, 210.0, 9, 480])
    index = point.random_splits(20, point.HENDERSON_SPLITS, 5)
    p = sps.ttest_ind(
        values[index[:, :5]], values[index[:, 5:]], axis=1, equal_var=False
    ).pvalue
    expected = np.mean(np.nan_to_num(p, nan=1.0) < point.SIGNIFICANCE)
    assert point.henderson_share(values) == pytest.approx(expected)
    assert 0 < expected < 0.5


def agent_rows(values, split, lr, norm, updates, metric="val_return"):
    first = point.SELECTION_BASE if split == point.SELECTION else 0
    return [
        {
            "seed": first + k,
            "arm": point.A2C,
            "split": split,
            "lr": lr,
            "adv_norm": norm,
            "updates": updates,
            "lqr_cost": 0.0,
            "metric": metric,
            "value": float(v),
        }
        for k, v in enumerate(values)
    ]


def lqr_rows(values, split, cost, metric):
    first = point.SELECTION_BASE if split == point.SELECTION else 0
    return [
        {
            "seed": first + k,
            "arm": point.LQR,
            "split": split,
            "lr": 0.0,
            "adv_norm": "n/a",
            "updates": 0,
            "lqr_cost": cost,
            "metric": metric,
            "value": float(v),
        }
        for k, v in enumerate(values)
    ]


def hand_records(seeds=20):
    """Selection seeds favour lr 0.003 with normalization on; the reported seeds
    favour lr 0.001 (which must not matter); LQR ties at 500 on every cost."""
    rng = np.random.default_rng(0)
    rows = []
    for updates in (1, 2, 4):
        for lr in (0.001, 0.003):
            for norm in ("off", "on"):
                best = lr == 0.003 and norm == "on"
                sel = np.full(3, 400.0 if best else 100.0) + updates
                rows += agent_rows(sel, point.SELECTION, lr, norm, updates)
                level = 450.0 if lr == 0.001 else 100.0 + 50 * updates
                spread = 150.0 if norm == "off" else 10.0
                reported = np.clip(level + spread * rng.standard_normal(seeds), 9, 500)
                for metric in ("val_return", "test_return"):
                    rows += agent_rows(
                        reported, point.REPORTED, lr, norm, updates, metric
                    )
    for cost in (0.1, 1.0):
        rows += lqr_rows([500.0] * 3, point.SELECTION, cost, "val_return")
        rows += lqr_rows([500.0] * seeds, point.REPORTED, cost, "test_return")
    return pd.DataFrame(rows)


def test_choices_are_made_on_selection_seeds_only():
    records = hand_records()
    lr, norm, scores = point.choose_agent(records, 4)
    assert (lr, norm) == (0.003, "on")
    assert scores[(0.003, "on")] == 404.0
    assert point.choose_agent(records, 4, lr=0.001)[1] == "off"  # a tie: first
    cost, _ = point.choose_lqr(records)
    assert cost == 0.1  # a tie: the smaller cost


def test_summary_and_assessment_on_hand_made_records():
    records = hand_records()
    estimates = point.summarize(records)
    assert estimates["chosen_lr"].value == 0.003 and estimates["chosen_norm"].value
    on = point.returns(records, "test_return", point.REPORTED, 0.003, "on", 4)
    assert estimates["agent_iqm"].value == pytest.approx(float(iqm(on)))
    assert estimates["lqr_iqm"].value == 500.0 and estimates["lqr_cv"].value == 0.0
    assert estimates["henderson_chance"].value == pytest.approx(
        100 * point.henderson_chance(20)
    )
    assessment = point.assess(records, estimates)
    robustness = assessment.robustness
    assert robustness.axes == {"updates": [1, 2, 4], "lr": [0.001, 0.003]}
    assert robustness.headline == {"updates": 4, "lr": 0.003}
    assert robustness.status_at(robustness.headline) == point.verdict(estimates).status
    # Validation returns grow by 50 per update at lr 0.003: not converged.
    assert [c.converged for c in assessment.convergence] == [False, False]
    assert assessment.convergence[0].last_doubling_gain.value == pytest.approx(
        100.0, abs=40
    )
    assert {t.arm for t in assessment.tuning} == {point.A2C, point.LQR}


def estimate(value, low=None, high=None, n=20):
    low = value if low is None else low
    high = value if high is None else high
    return Estimate(value, low, high, method="test", n=n)


def summary(cv=0.1, toggle=0.0, on=50.0, off=50.0, lqr=500.0, lqr_cv=0.0):
    return {
        "agent_cv": estimate(cv, cv - 0.02, cv + 0.02),
        "agent_iqm": estimate(300.0),
        "toggle_change": estimate(toggle, toggle - 0.05, toggle + 0.05),
        "solved_on": estimate(on),
        "solved_off": estimate(off),
        "lqr_iqm": estimate(lqr),
        "lqr_cv": estimate(lqr_cv),
        "chosen_lr": estimate(0.003),
        "chosen_norm": estimate(1.0),
        "budget": estimate(3200.0),
    }


def test_verdict_statuses_and_the_cell_they_name():
    held = point.verdict(summary(cv=0.5))
    assert held.status == "holds"
    assert "lr 0.003 with advantage normalization on" in held.reason
    assert "after 3200 updates" in held.reason and "spread across seeds" in held.reason
    by_toggle = point.verdict(summary(toggle=-0.5))
    assert by_toggle.status == "holds" and "toggle" in by_toggle.reason
    assert point.verdict(summary(on=95.0, off=90.0)).status == "refuted"
    assert point.verdict(summary(on=95.0, off=50.0)).status == "inconclusive"
    assert point.verdict(summary(cv=0.25)).status == "inconclusive"  # straddles
    assert point.verdict(summary(cv=0.5, lqr=400.0)).status == "inconclusive"
    assert point.verdict(summary()).status == "inconclusive"
    thresholds = point.verdict(summary()).thresholds
    assert thresholds[point.KEY] == point.MIN_CV
    assert thresholds["toggle_change"] == point.MIN_TOGGLE


def test_smoke_run_and_assessment_shape():
    from essay_code.tooling.registry import load_point
    from essay_code.tooling.runner import resolve_config

    cfg = resolve_config(load_point("finicky-rl"), "smoke")
    records = point.run(cfg, RunContext(show_progress=False, record_timings=False))
    n_configs = 2 * len(cfg.lrs)
    reported = core.select(records, arm=point.A2C, split=point.REPORTED)
    assert len(reported) == 2 * 4 * n_configs * cfg.seeds  # val + test, 4 budgets
    selection = core.select(records, arm=point.A2C, split=point.SELECTION)
    assert set(selection["metric"]) == {"val_return"}  # no test returns to peek at
    assert records["value"].between(1, 500).all()
    estimates = point.summarize(records)
    assert set(estimates) <= set(point.NAMES)  # every estimate has a readable name
    assessment = point.assess(records, estimates)
    assert isinstance(assessment, core.Assessment)
    assert assessment.scale_axis == "updates"
    assert list(assessment.robustness.axes) == ["updates", "lr"]
    assert len(assessment.robustness.cells) == 4 * len(cfg.lrs)
    assert len(assessment.convergence) == 2
    assert all(len(c.budgets) == 4 for c in assessment.convergence)
    assert assessment.effort
    status = assessment.robustness.status_at(assessment.robustness.headline)
    assert status == point.verdict(estimates).status
