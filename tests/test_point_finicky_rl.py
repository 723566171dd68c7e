"""Properties of the finicky-rl experiment: the batched CartPole is gymnasium's,
LQR balances, the statistics are right and the verdict reaches every status."""

import gymnasium as gym
import numpy as np
import pandas as pd
import torch

from essay_code.core import Estimate, iqm
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
        ours, _, our_terminated = point.step(ours, torch.tensor(action))
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


def test_random_policy_fails_quickly_in_batched_env():
    generator = torch.Generator().manual_seed(0)
    returns = point.evaluate(
        lambda s: torch.randint(0, 2, s.shape[:-1], generator=generator),
        2,
        20,
        torch.Generator().manual_seed(1),
        torch.device("cpu"),
    )
    assert (returns < 60).all()  # random play lasts about 20 steps


def test_iqm_matches_hand_computation():
    values = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 100.0])
    # Middle half: 3, 4, 5, 6.
    assert float(iqm(values)) == 4.5


def test_henderson_fraction():
    assert point.henderson_fraction(np.full(10, 500.0)) == 0.0
    # Five 500s and five 10s: the one split separating them is significant.
    bimodal = np.array([500.0] * 5 + [10.0] * 5)
    fraction = point.henderson_fraction(bimodal)
    assert 0 < fraction < 0.1


def estimate(value, low=None, high=None):
    low = value if low is None else low
    high = value if high is None else high
    return Estimate(value, low, high, method="test", n=10)


def summary(cv=0.1, toggle=0.0, solved=50.0, lqr=500.0, lqr_cv=0.0):
    return {
        "cv_a": estimate(cv, cv - 0.02, cv + 0.02),
        "cv_b": estimate(0.05),
        "agent_cv_max": estimate(cv),
        "toggle_change_lr0p001": estimate(toggle, toggle - 0.05, toggle + 0.05),
        "solved_a": estimate(solved),
        "solved_b": estimate(solved),
        "lqr_iqm": estimate(lqr),
        "lqr_cv": estimate(lqr_cv),
    }


def test_verdict_statuses():
    assert point.verdict(summary(cv=0.5)).status == "holds"
    assert point.verdict(summary(toggle=-0.5)).status == "holds"
    assert point.verdict(summary(solved=100.0)).status == "refuted"
    assert point.verdict(summary(cv=0.25)).status == "inconclusive"  # straddles
    assert point.verdict(summary(cv=0.5, lqr=400.0)).status == "inconclusive"
    assert point.verdict(summary()).status == "inconclusive"
    thresholds = point.verdict(summary()).thresholds
    assert thresholds[point.KEY] == point.MIN_CV
    assert thresholds["toggle_change_lr0p001"] == point.MIN_TOGGLE


def test_summary_on_hand_made_records():
    rows = []
    for seed in range(10):
        for lr in (0.001, 0.003):
            for norm in (False, True):
                rows.append(
                    {
                        "seed": seed,
                        "arm": point.A2C,
                        "cell": point.cell_name(lr, norm),
                        "lr": lr,
                        "adv_norm": "on" if norm else "off",
                        "metric": "final_return",
                        "value": 100.0 + 10 * seed + (300 if norm else 0),
                    }
                )
        rows.append(
            {
                "seed": seed,
                "arm": point.LQR,
                "cell": "LQR",
                "lr": 0.0,
                "adv_norm": "n/a",
                "metric": "final_return",
                "value": 500.0,
            }
        )
    estimates = point.summarize(pd.DataFrame(rows))
    assert estimates["lqr_iqm"].value == 500.0
    assert estimates["lqr_cv"].value == 0.0
    change = estimates["toggle_change_lr0p001"]
    assert abs(change.value - 300 / 145) < 1e-9  # IQM off = 145 (seeds 3..6 mean)
    assert change.low <= change.value <= change.high  # paired bootstrap, widened
    assert point.verdict(estimates).status == "holds"
