"""Tweet 8: deep reinforcement learning depends on tuning and implementation tricks.

Claim: deep RL is finicky: the same algorithm, with the same hyperparameters, gives
very different results across random seeds, and small implementation choices change
how well it works; a classical controller on a problem it fits does not have this
problem.

What the experiment does: CartPole-v1 (gymnasium's dynamics re-written as a batched
torch environment; a test checks it against gymnasium step for step). The deep arm
is advantage actor-critic (A2C: tanh MLP policy and value networks, n-step returns,
entropy bonus, Adam) over learning rates x advantage normalization off/on. A few
selection seeds per configuration choose it (validation episodes); 20 reported seeds
per configuration give the test returns the verdict reads. Every policy trains in
one batched model; snapshots after 1/8, 1/4, 1/2 and all of the updates give the
budget axis. The classical arm is bang-bang LQR on the dynamics linearized about
upright, its control cost chosen on the same selection seeds, run from the same
start states. Metrics: IQM (Agarwal et al. 2021) and CV across seeds, the toggle's
effect on the IQM, and Henderson et al.'s split test (two groups of 5 seeds of one
configuration, Welch p < 0.05) against its rate on identically distributed samples.

What it does not show: one small environment, one algorithm; CartPole is close to
linear near upright, so LQR is at its best here, and LQR needs the model that RL does
without. Better-tuned RL (PPO with many tricks, longer budgets, early stopping on
validation returns) solves CartPole reliably; the claim is about sensitivity, not
impossibility.

References: Henderson et al. 2018 (Deep RL that matters); Engstrom et al. 2020
(Implementation matters in deep policy gradients); Agarwal et al. 2021 (Deep RL at
the edge of the statistical precipice: IQM and bootstrap CIs); Mnih et al. 2016
(A3C/A2C); Barto, Sutton, Anderson 1983 (cart-pole).
"""

from __future__ import annotations

import functools
import math
import warnings
from dataclasses import dataclass

import altair as alt
import numpy as np
import pandas as pd
import torch
from scipy import linalg
from scipy import stats as sps

from essay_code import core
from essay_code.core import Estimate, RunContext, Verdict, all_of, any_of, iqm

TITLE = "Finicky reinforcement learning"
TWEETS = (8,)
KEY = "agent_cv"

A2C = "a2c"
LQR = "lqr"
REPORTED, SELECTION = "reported", "selection"
SELECTION_COLUMN = "split"  # selection seeds are listed apart in summary.json

# CartPole-v1 constants (gymnasium/envs/classic_control/cartpole.py).
GRAVITY = 9.8
MASSCART = 1.0
MASSPOLE = 0.1
TOTAL_MASS = MASSCART + MASSPOLE
LENGTH = 0.5  # half the pole's length
POLEMASS_LENGTH = MASSPOLE * LENGTH
FORCE_MAG = 10.0
TAU = 0.02  # seconds per step (explicit Euler)
THETA_THRESHOLD = 12 * 2 * math.pi / 360
X_THRESHOLD = 2.4
MAX_STEPS = 500  # CartPole-v1's episode cap
RESET_BOUND = 0.05  # initial state ~ U(-0.05, 0.05)^4

# Verdict thresholds, fixed before any run.
MIN_CV = 0.25  # the chosen configuration is "finicky" if its CV reaches this
MIN_TOGGLE = 0.30  # ...or switching the toggle changes its IQM by this fraction
LQR_MIN_IQM = 495.0  # the classical controller must score this...
LQR_MAX_CV = 0.02  # ...with at most this CV
SOLVED = 475.0  # a seed "solves" CartPole-v1 at this return
MIN_SOLVED_SHARE = 90.0  # refuted if >= 90% of seeds solve it, toggle off and on
SIGNIFICANCE = 0.05  # Henderson's split test: Welch p below this
HENDERSON_GROUP = 5  # seeds per group in the split test, as Henderson et al.
HENDERSON_SPLITS = 2000  # random disjoint splits per configuration (fixed rng)
CHANCE_SAMPLES = 500  # normal samples for the split test's chance rate

# Convergence: the mean gain in validation return over the last doubling of
# updates must stay below this. Chosen here, because 25 is 5% of the 500-step cap
# and a quarter of the spread the verdict is about (a CV of 0.25 at a mean return
# of 400 is a standard deviation of 100 across seeds).
CONVERGENCE_TOLERANCE = 25.0

# Seed ids: reported seeds are 0..seeds-1, selection seeds start here, and the
# validation and test start states of seed s come from generators seeded with
# VALIDATION_BASE + s and TEST_BASE + s (the same for every arm and configuration).
SELECTION_BASE = 1000
VALIDATION_BASE = 20_000
TEST_BASE = 30_000

# The environment keeps gymnasium's float64 state on ctx.device (the networks run in
# float32), so `--device auto` must not pick Apple's MPS, which has no float64.
NEEDS_FLOAT64 = True
# Host syncs in a smoke run: the linearization's two numpy copies (made once), the
# per-policy learning rates and toggles and the LQR gains copied to the device once
# each, and the one read-back of all returns (a copy and a numpy view). None per
# environment step: actions and resets are drawn on the device, and evaluation runs
# the full 500 steps instead of asking the device whether episodes remain.
HOST_SYNC_BUDGET = 7


@dataclass(frozen=True)
class Config:
    seeds: int = 20  # reported seeds per A2C configuration (and LQR start-state seeds)
    selection_seeds: int = 5  # seeds per configuration that choose lr and toggle
    lrs: tuple[float, ...] = (1e-3, 3e-3, 1e-2)  # Adam learning rates searched
    envs: int = 8  # parallel environments per agent
    rollout: int = 8  # steps per environment between updates (n-step returns)
    updates: int = 3200  # A2C updates per agent (checkpoints at 1/8, 1/4, 1/2, 1)
    hidden: int = 32  # width of the two tanh hidden layers (policy and value)
    gamma: float = 0.99  # discount
    entropy_coef: float = 0.01  # entropy bonus weight
    value_coef: float = 0.5  # value loss weight
    val_episodes: int = 8  # greedy validation episodes per agent (tuning, convergence)
    test_episodes: int = 8  # greedy test episodes per agent (the reported returns)
    lqr_costs: tuple[float, ...] = (0.01, 0.1, 1.0, 10.0)  # LQR costs R searched


PROFILES = {
    "smoke": {
        "seeds": 2,
        "selection_seeds": 1,
        "lrs": (1e-3, 3e-3),
        "envs": 4,
        "updates": 16,
        "hidden": 8,
        "val_episodes": 2,
        "test_episodes": 2,
        "lqr_costs": (0.1, 1.0),
    },
    "full": {"seeds": 40, "selection_seeds": 10, "updates": 6400},
}


def budgets(updates: int) -> list[int]:
    """The checkpoints: 1/8, 1/4, 1/2 and all of the updates (the last doubling)."""
    return sorted({max(1, updates // d) for d in (8, 4, 2)} | {updates})


# ---------------------------------------------------------------- environment


def dynamics(state: torch.Tensor, force: torch.Tensor) -> torch.Tensor:
    """One explicit-Euler step of CartPole-v1: state [..., 4] (x, x_dot, theta,
    theta_dot), force [...] in newtons -> next state [..., 4]."""
    x, x_dot, theta, theta_dot = state.unbind(-1)
    cos, sin = torch.cos(theta), torch.sin(theta)
    temp = (force + POLEMASS_LENGTH * theta_dot**2 * sin) / TOTAL_MASS
    theta_acc = (GRAVITY * sin - cos * temp) / (
        LENGTH * (4.0 / 3.0 - MASSPOLE * cos**2 / TOTAL_MASS)
    )
    x_acc = temp - POLEMASS_LENGTH * theta_acc * cos / TOTAL_MASS
    return torch.stack(
        (
            x + TAU * x_dot,
            x_dot + TAU * x_acc,
            theta + TAU * theta_dot,
            theta_dot + TAU * theta_acc,
        ),
        dim=-1,
    )


def step(
    state: torch.Tensor, action: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Batched CartPole-v1 step: state [..., 4], action [...] in {0, 1} (or bool) ->
    (next state, reward 1.0 [...], terminated [...] bool), as gymnasium."""
    force = torch.where(action == 1, FORCE_MAG, -FORCE_MAG).to(state.dtype)
    nxt = dynamics(state, force)
    terminated = (nxt[..., 0].abs() > X_THRESHOLD) | (
        nxt[..., 2].abs() > THETA_THRESHOLD
    )
    return nxt, torch.ones_like(force), terminated


def reset_states(shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
    """Initial states U(-0.05, 0.05)^4 [*shape, 4] (float64, like gymnasium), drawn
    on the generator's device."""
    u = torch.rand(
        (*shape, 4), generator=generator, dtype=torch.float64, device=generator.device
    )
    return (2 * u - 1) * RESET_BOUND


def start_states(seeds: list[int], base: int, episodes: int) -> torch.Tensor:
    """[seeds, episodes, 4] start states, seed s's from a generator seeded base + s
    (on the CPU, so a seed's episodes are the same whatever the device)."""
    return torch.stack(
        [
            reset_states((episodes,), torch.Generator().manual_seed(base + s))
            for s in seeds
        ]
    )


def evaluate(policy, starts: torch.Tensor) -> torch.Tensor:
    """Run `policy(state [..., 4]) -> action [...]` from `starts` [..., 4] for the
    full 500 steps (no host sync to ask whether episodes remain: the steps after an
    episode ends add nothing); returns each episode's return [...]."""
    state = starts
    alive = torch.ones(starts.shape[:-1], dtype=torch.bool, device=starts.device)
    total = torch.zeros(starts.shape[:-1], device=starts.device)
    for _ in range(MAX_STEPS):
        state, _reward, terminated = step(state, policy(state))
        total += alive  # the terminating step earns 1, as gymnasium
        alive &= ~terminated
    return total


# ---------------------------------------------------------------- the agent


def layer_shapes(hidden: int) -> dict[str, tuple[int, int]]:
    """Policy 4-h-h-2 and value 4-h-h-1 networks, layer by layer."""
    return {
        "p1": (4, hidden),
        "p2": (hidden, hidden),
        "p3": (hidden, 2),
        "v1": (4, hidden),
        "v2": (hidden, hidden),
        "v3": (hidden, 1),
    }


def init_flat(seeds: list[int], hidden: int, device: torch.device) -> torch.Tensor:
    """All parameters of one policy and value network per seed as one row of a
    [P, D] tensor (so Adam is a few tensor ops, not a dozen per layer), with
    nn.Linear's default uniform init from the seed's own generator: the same seed
    starts from the same weights in every configuration."""
    rows = []
    for seed in seeds:
        generator = torch.Generator().manual_seed(seed)
        parts = []
        for fan_in, fan_out in layer_shapes(hidden).values():
            bound = 1.0 / math.sqrt(fan_in)
            w = (torch.rand((fan_in, fan_out), generator=generator) * 2 - 1) * bound
            b = (torch.rand((fan_out,), generator=generator) * 2 - 1) * bound
            parts += [w.ravel(), b]
        rows.append(torch.cat(parts))
    return torch.stack(rows).to(device)


def unflatten(flat: torch.Tensor, hidden: int) -> dict[str, torch.Tensor]:
    """Views of a [P, D] parameter tensor: weights [P, in, out], biases [P, 1, out],
    laid out for torch.baddbmm."""
    params, at, n_pol = {}, 0, flat.shape[0]
    for name, (fan_in, fan_out) in layer_shapes(hidden).items():
        params[f"w{name}"] = flat[:, at : at + fan_in * fan_out].view(
            n_pol, fan_in, fan_out
        )
        at += fan_in * fan_out
        params[f"b{name}"] = flat[:, at : at + fan_out].view(n_pol, 1, fan_out)
        at += fan_out
    return params


def net(params: dict, prefix: str, obs: torch.Tensor) -> torch.Tensor:
    """obs [P, n, 4] -> outputs [P, n, out] of every policy's own network."""
    h = torch.tanh(torch.baddbmm(params[f"b{prefix}1"], obs, params[f"w{prefix}1"]))
    h = torch.tanh(torch.baddbmm(params[f"b{prefix}2"], h, params[f"w{prefix}2"]))
    return torch.baddbmm(params[f"b{prefix}3"], h, params[f"w{prefix}3"])


def a2c_loss(
    params: dict,
    obs: torch.Tensor,
    actions: torch.Tensor,
    target: torch.Tensor,
    normalize: torch.Tensor,
    cfg: Config,
) -> torch.Tensor:
    """The summed A2C losses of P policies: obs [P, n, 4], actions [P, n] (long),
    target n-step returns [P, n], normalize [P] bool (standardize the advantages
    within each policy's batch). Summing gives each policy exactly its own gradient."""
    logp = torch.log_softmax(net(params, "p", obs), -1)  # [P, n, 2]
    value = net(params, "v", obs)[..., 0]  # [P, n]
    advantage = (target - value).detach()
    normed = (advantage - advantage.mean(1, keepdim=True)) / (
        advantage.std(1, keepdim=True) + 1e-8
    )
    advantage = torch.where(normalize[:, None], normed, advantage)
    chosen = logp.gather(-1, actions[..., None])[..., 0]
    entropy = -(logp.exp() * logp).sum(-1)
    losses = (
        -(chosen * advantage).mean(1)
        - cfg.entropy_coef * entropy.mean(1)
        + cfg.value_coef * ((target - value) ** 2).mean(1)
    )
    return losses.sum()


def train_agents(
    seeds: list[int],
    lr: torch.Tensor,
    normalize: torch.Tensor,
    cfg: Config,
    ctx: RunContext,
) -> list[torch.Tensor]:
    """A2C for P = len(seeds) policies at once on P x envs batched CartPoles.

    lr [P] and normalize [P] (bool) give each policy its configuration. Episodes
    that hit the 500-step cap are treated as terminal (as in the original A2C
    baselines). Adam with torch's defaults and a per-policy learning rate. Returns
    the [P, D] parameters after each of budgets(cfg.updates) updates.
    """
    device = ctx.device
    n_pol, n_env, horizon = len(seeds), cfg.envs, cfg.rollout
    flat = init_flat(seeds, cfg.hidden, device)
    m, v = torch.zeros_like(flat), torch.zeros_like(flat)
    lr_col = lr[:, None]
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    checkpoints = set(budgets(cfg.updates))
    # Actions and resets are drawn on the device, so an environment step never waits
    # for the host (on the CPU this is the same generator as a plain CPU one).
    generator = torch.Generator(device=device).manual_seed(1_000_003)
    state = reset_states((n_pol, n_env), generator)  # [P, E, 4]
    steps = torch.zeros((n_pol, n_env), dtype=torch.long, device=device)
    snapshots = []
    for update in ctx.progress(range(cfg.updates), total=cfg.updates, desc="A2C"):
        # Gradients of the views, not of `flat`: the backward of a view would fill a
        # zero [P, D] tensor per layer, about a sixth of an update on a CPU.
        params = {
            k: p.requires_grad_(True) for k, p in unflatten(flat, cfg.hidden).items()
        }
        obs_buf, act_buf, done_buf = [], [], []
        with torch.no_grad():
            for _ in range(horizon):
                obs = state.float()
                right = torch.softmax(net(params, "p", obs), -1)[..., 1]
                draw = torch.rand((n_pol, n_env), generator=generator, device=device)
                action = draw < right  # Bernoulli(p(push right)), as a softmax sample
                state, _reward, terminated = step(state, action)
                steps += 1
                done = terminated | (steps >= MAX_STEPS)
                fresh = reset_states((n_pol, n_env), generator)
                state = torch.where(done[..., None], fresh, state)
                steps = torch.where(done, 0, steps)
                obs_buf.append(obs)
                act_buf.append(action)
                done_buf.append(done)
            # n-step discounted returns, cut at episode ends; reward is 1 per step.
            running = net(params, "v", state.float())[..., 0]  # bootstrap [P, E]
            keep = (~torch.stack(done_buf)).float() * cfg.gamma  # [T, P, E]
            returns = []
            for t in reversed(range(horizon)):
                running = 1.0 + keep[t] * running
                returns.append(running)
            target = torch.stack(returns[::-1], 1).reshape(n_pol, horizon * n_env)
        obs = torch.stack(obs_buf, 1).reshape(n_pol, horizon * n_env, 4)
        actions = torch.stack(act_buf, 1).reshape(n_pol, horizon * n_env).long()
        loss = a2c_loss(params, obs, actions, target, normalize, cfg)
        grads = torch.autograd.grad(loss, list(params.values()))
        grad = torch.cat([g.reshape(n_pol, -1) for g in grads], 1)  # flat's layout
        with torch.no_grad():  # Adam, torch's defaults, one lr per policy (row)
            t = update + 1
            m.mul_(beta1).add_(grad, alpha=1 - beta1)
            v.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            denom = (v / (1 - beta2**t)).sqrt_().add_(eps)
            flat.addcdiv_(m * (lr_col / (1 - beta1**t)), denom, value=-1.0)
        if t in checkpoints:
            snapshots.append(flat.detach().clone())
    return snapshots


# ---------------------------------------------------------------- LQR


@functools.cache
def linearized() -> tuple[np.ndarray, np.ndarray]:
    """A [4, 4] and B [4, 1]: the Jacobians of `dynamics` at the upright origin
    (computed once: every control cost shares them)."""
    zero = torch.zeros(4, dtype=torch.float64)
    force = torch.zeros((), dtype=torch.float64)
    a, b = torch.autograd.functional.jacobian(dynamics, (zero, force))
    return a.numpy(), b.numpy().reshape(4, 1)


def lqr_gain(control_cost: float) -> np.ndarray:
    """Discrete LQR gain K [1, 4] for the Euler dynamics linearized about the
    upright pole, Q = I, R = control_cost (scipy's discrete Riccati solver)."""
    a, b = linearized()
    r = np.array([[control_cost]])
    p = linalg.solve_discrete_are(a, b, np.eye(4), r)
    return np.linalg.solve(r + b.T @ p @ b, b.T @ p @ a)


def lqr_action(gain: np.ndarray, state: torch.Tensor) -> torch.Tensor:
    """Bang-bang LQR: push right (1) when the LQR force -Kx is positive."""
    k = torch.as_tensor(gain[0], dtype=torch.float64, device=state.device)
    return (-(state @ k) > 0).long()


# ---------------------------------------------------------------- the run


def run(cfg: Config, ctx: RunContext) -> pd.DataFrame:
    """Rows: per seed, configuration and checkpoint, the A2C agent's mean greedy
    return on its validation episodes (metric val_return; selection and reported
    seeds) and on its test episodes (test_return; reported seeds); per seed and LQR
    control cost, LQR's val_return and test_return."""
    device = ctx.device
    configs = [(lr, norm) for lr in cfg.lrs for norm in (False, True)]
    reported = list(range(cfg.seeds))
    selection = [SELECTION_BASE + k for k in range(cfg.selection_seeds)]
    seeds = reported + selection
    # Policy p = config * len(seeds) + seed index.
    lr = torch.tensor([c[0] for c in configs for _ in seeds], device=device)
    normalize = torch.tensor([c[1] for c in configs for _ in seeds], device=device)
    snapshots = train_agents(seeds * len(configs), lr, normalize, cfg, ctx)
    n_ckpt, n_val = len(snapshots), cfg.val_episodes
    # Every policy of a seed meets that seed's validation and test start states.
    starts = torch.cat(
        [
            start_states(seeds, VALIDATION_BASE, cfg.val_episodes),
            start_states(seeds, TEST_BASE, cfg.test_episodes),
        ],
        dim=1,
    ).to(device)  # [S, val + test episodes, 4]
    params = unflatten(torch.cat(snapshots), cfg.hidden)
    shape = (n_ckpt, len(configs), len(seeds))

    def greedy(state: torch.Tensor) -> torch.Tensor:  # [checkpoints * configs, S, K, 4]
        flat_state = state.reshape(-1, state.shape[-2], 4).float()  # policy p's own
        return net(params, "p", flat_state).argmax(-1).view(state.shape[:-1])

    gains = torch.tensor(
        np.stack([lqr_gain(cost)[0] for cost in cfg.lqr_costs]), device=device
    )  # [R, 4]

    def lqr(state: torch.Tensor) -> torch.Tensor:  # [R, S, K, 4]
        return (-(state * gains[:, None, None, :]).sum(-1) > 0).long()

    with torch.no_grad():
        agent = evaluate(greedy, starts.expand(n_ckpt * len(configs), *starts.shape))
        classical = evaluate(lqr, starts.expand(len(cfg.lqr_costs), *starts.shape))
        # Mean over the validation and over the test episodes; one read-back.
        both = torch.cat([agent.flatten(0, 1), classical.flatten(0, 1)])
        both = torch.stack([both[:, :n_val].mean(1), both[:, n_val:].mean(1)], 1)
        both = both.cpu().numpy()  # [checkpoints * configs * S + R * S, 2]
    n_agent = math.prod(shape)
    agent = both[:n_agent].reshape(*shape, 2)
    classical = both[n_agent:].reshape(len(cfg.lqr_costs), len(seeds), 2)
    records = core.Records()

    def add(values: np.ndarray, **columns) -> None:  # values [S, 2] (val, test)
        for seed, (val, test) in zip(seeds, values, strict=True):
            split = SELECTION if seed >= SELECTION_BASE else REPORTED
            records.add("val_return", val, seed=seed, split=split, **columns)
            if split == REPORTED:  # selection seeds' test returns are never kept
                records.add("test_return", test, seed=seed, split=split, **columns)

    for k, updates in enumerate(budgets(cfg.updates)):
        for c, (cell_lr, norm) in enumerate(configs):
            add(
                agent[k, c],
                arm=A2C,
                lr=float(cell_lr),
                adv_norm="on" if norm else "off",
                updates=updates,
                lqr_cost=0.0,
            )
    for r, cost in enumerate(cfg.lqr_costs):
        add(classical[r], arm=LQR, lr=0.0, adv_norm="n/a", updates=0, lqr_cost=cost)
    return records.frame()


# ---------------------------------------------------------------- statistics


def cv(values: np.ndarray, axis: int = -1) -> np.ndarray:
    """Coefficient of variation across seeds: sample sd / mean."""
    return np.std(values, axis=axis, ddof=1) / np.mean(values, axis=axis)


def iqm_change(on: np.ndarray, off: np.ndarray, axis: int = -1) -> np.ndarray:
    """Relative change of the IQM when the toggle is on: iqm(on) / iqm(off) - 1
    (bootstrapped in pairs: the same seed starts from the same weights)."""
    return iqm(on, axis=axis) / iqm(off, axis=axis) - 1


def welch_significant(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Welch's two-sided t-test at SIGNIFICANCE for groups a, b [splits, n]; a
    split whose values are all equal counts as not significant (nothing to find)."""
    mean_a, mean_b = a.mean(1), b.mean(1)
    var_a, var_b = a.var(1, ddof=1) / a.shape[1], b.var(1, ddof=1) / b.shape[1]
    se2 = var_a + var_b
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        t = (mean_a - mean_b) / np.sqrt(se2)
        df = se2**2 / (var_a**2 / (a.shape[1] - 1) + var_b**2 / (b.shape[1] - 1))
        p = 2 * sps.t.sf(np.abs(t), df)
    return np.isfinite(p) & (p < SIGNIFICANCE)


def random_splits(n: int, splits: int, group: int, seed: int = 0) -> np.ndarray:
    """[splits, 2 * group] indices: two disjoint groups of `group` of n seeds per
    row (a fixed generator, so the same seeds give the same share)."""
    rng = np.random.default_rng(seed)
    return np.argsort(rng.random((splits, n)), axis=1)[:, : 2 * group]


def henderson_share(values: np.ndarray) -> float:
    """Henderson et al.'s split test: the fraction of random pairs of disjoint
    groups of 5 seeds (fewer with under 10 seeds) whose Welch t-test gives
    p < 0.05. Every pair comes from one configuration, so each hit is a false
    positive of the test on this distribution of returns."""
    group = min(HENDERSON_GROUP, len(values) // 2)
    if group < 2:
        return 0.0
    index = random_splits(len(values), HENDERSON_SPLITS, group)
    picked = np.asarray(values, dtype=float)[index]
    return float(welch_significant(picked[:, :group], picked[:, group:]).mean())


def henderson_chance(n: int) -> float:
    """The split test's rate when both groups come from one normal distribution
    (CHANCE_SAMPLES samples of n values, fixed seed): its false-positive rate
    where a t-test's assumptions hold, close to the nominal 5%."""
    group = min(HENDERSON_GROUP, n // 2)
    if group < 2:
        return 0.0
    rng = np.random.default_rng(1)
    samples = rng.standard_normal((CHANCE_SAMPLES, n))
    index = random_splits(n, HENDERSON_SPLITS // 4, group)
    picked = samples[:, index].reshape(-1, 2 * group)
    return float(welch_significant(picked[:, :group], picked[:, group:]).mean())


# ---------------------------------------------------------------- reading records


def returns(
    records: pd.DataFrame, metric: str, split: str, lr: float, norm: str, updates: int
) -> np.ndarray:
    """Per-seed returns of one A2C configuration at one checkpoint, sorted by seed."""
    return core.per_seed(
        records, metric, arm=A2C, split=split, lr=lr, adv_norm=norm, updates=updates
    ).to_numpy()


def lrs_of(records: pd.DataFrame) -> list[float]:
    return sorted(records.loc[records["arm"] == A2C, "lr"].unique().tolist())


def budgets_of(records: pd.DataFrame) -> list[int]:
    return sorted(
        int(u) for u in records.loc[records["arm"] == A2C, "updates"].unique()
    )


def choose_agent(
    records: pd.DataFrame, updates: int, lr: float | None = None
) -> tuple[float, str, dict]:
    """The (lr, adv_norm) with the highest IQM of the selection seeds' validation
    returns after `updates` (at a given lr, only the toggle is chosen); ties go to
    the first in grid order. Returns (lr, adv_norm, {(lr, norm): score})."""
    grid = [
        (x, n)
        for x in ([lr] if lr is not None else lrs_of(records))
        for n in ("off", "on")
    ]
    scores = {
        (x, n): float(iqm(returns(records, "val_return", SELECTION, x, n, updates)))
        for x, n in grid
    }
    best = max(grid, key=lambda key: scores[key])
    return best[0], best[1], scores


def choose_lqr(records: pd.DataFrame) -> tuple[float, dict]:
    """The LQR control cost with the highest IQM of the selection seeds' validation
    returns; ties go to the smaller cost."""
    lqr = core.select(records, arm=LQR, split=SELECTION, metric="val_return")
    costs = sorted(lqr["lqr_cost"].unique().tolist())
    scores = {
        c: float(iqm(core.per_seed(lqr, "val_return", lqr_cost=c).to_numpy()))
        for c in costs
    }
    return max(costs, key=lambda c: scores[c]), scores


def lqr_estimates(records: pd.DataFrame) -> dict[str, Estimate]:
    cost, _ = choose_lqr(records)
    lqr = core.per_seed(
        records, "test_return", arm=LQR, split=REPORTED, lqr_cost=cost
    ).to_numpy()
    return {
        "lqr_iqm": core.bootstrap(lqr, iqm, digits=0, label="IQM"),
        "lqr_cv": core.bootstrap(lqr, cv, digits=3, label="CV"),
        "lqr_cost": core.exact(
            cost, len(lqr), label="chosen on selection seeds", digits=2
        ),
    }


def setting_estimates(
    records: pd.DataFrame, lr: float, updates: int, lqr: dict[str, Estimate]
) -> dict[str, Estimate]:
    """What the rule reads at one learning rate and update budget: the toggle chosen
    there on the selection seeds, that configuration's CV and IQM over the reported
    seeds' test returns, the toggle's effect and the solved shares."""
    _, chosen_norm, _ = choose_agent(records, updates, lr)
    on = returns(records, "test_return", REPORTED, lr, "on", updates)
    off = returns(records, "test_return", REPORTED, lr, "off", updates)
    values = on if chosen_norm == "on" else off
    n = len(values)
    return {
        "agent_cv": core.bootstrap(values, cv, digits=2, label="CV"),
        "agent_iqm": core.bootstrap(values, iqm, digits=0, label="IQM"),
        "toggle_change": core.paired_bootstrap(
            on, off, iqm_change, label="iqm(on)/iqm(off) - 1"
        ),
        "solved_on": core.exact(
            100.0 * np.mean(on >= SOLVED), n, label="share of seeds", unit="% of seeds"
        ),
        "solved_off": core.exact(
            100.0 * np.mean(off >= SOLVED), n, label="share of seeds", unit="% of seeds"
        ),
        "chosen_lr": core.exact(lr, n, label="learning rate", digits=4),
        "chosen_norm": core.exact(chosen_norm == "on", n, label="1 = adv. norm on"),
        "budget": core.exact(updates, n, label="A2C updates"),
        **lqr,
    }


# ---------------------------------------------------------------- summary


def summarize(records: pd.DataFrame) -> dict[str, Estimate]:
    last = budgets_of(records)[-1]
    lr, _, _ = choose_agent(records, last)
    estimates = setting_estimates(records, lr, last, lqr_estimates(records))
    shares = []
    for x in lrs_of(records):
        for norm in ("off", "on"):
            values = returns(records, "test_return", REPORTED, x, norm, last)
            name = f"lr{x:g}_norm_{norm}".replace(".", "p").replace("-", "m")
            n = len(values)
            estimates[f"iqm_{name}"] = core.bootstrap(
                values, iqm, digits=0, label="IQM"
            )
            estimates[f"cv_{name}"] = core.bootstrap(values, cv, label="CV")
            shares.append(100 * henderson_share(values))
            estimates[f"henderson_{name}"] = core.exact(
                shares[-1],
                n,
                label="share of random 5/5 splits",
                unit="% of splits",
                digits=1,
            )
    for name, value, label in (
        ("henderson_mean", np.mean(shares), "mean over the configurations"),
        ("henderson_chance", 100 * henderson_chance(n), "normal samples, same size"),
    ):
        estimates[name] = core.exact(
            value, n, label=label, unit="% of splits", digits=1
        )
    return estimates


def where(estimates: dict[str, Estimate]) -> str:
    """The configuration the rule read, in words."""
    norm = "on" if estimates["chosen_norm"].value else "off"
    return (
        f"lr {estimates['chosen_lr'].value:g} with advantage normalization {norm} "
        f"(chosen on the selection seeds), after "
        f"{estimates['budget'].value:.0f} updates"
    )


# Readable names of the estimates (the page's estimates table and answer box).
SEARCHED_LRS = sorted(
    {*Config().lrs, *(lr for p in PROFILES.values() for lr in p.get("lrs", ()))}
)
NAMES = {
    KEY: "CV across seeds, chosen setting",
    "agent_iqm": "IQM test return, chosen setting",
    "toggle_change": "IQM change, normalization on vs off",
    "solved_on": "seeds solving, normalization on",
    "solved_off": "seeds solving, normalization off",
    "chosen_lr": "learning rate chosen",
    "chosen_norm": "normalization chosen (1 = on)",
    "budget": "A2C updates",
    "lqr_iqm": "LQR IQM test return",
    "lqr_cv": "LQR CV across seeds",
    "lqr_cost": "LQR control cost chosen",
    **{
        f"{stat}_lr{lr:g}_norm_{norm}".replace(".", "p").replace("-", "m"): (
            f"{words}, lr {lr:g}, norm {norm}"
        )
        for lr in SEARCHED_LRS
        for norm in ("off", "on")
        for stat, words in (
            ("iqm", "IQM"),
            ("cv", "CV"),
            ("henderson", "split test flags"),
        )
    },
    "henderson_mean": "split test flags, mean",
    "henderson_chance": "split test flags by chance",
}


RULE = (
    f"At the learning rate and advantage-normalization setting chosen on the selection "
    f"seeds, after the full update budget, over the reported seeds' test returns: "
    f"refuted if >= {MIN_SOLVED_SHARE:g}% of seeds return >= {SOLVED:g} with "
    f"normalization off and on; holds if the chosen configuration's coefficient of "
    f"variation across seeds is >= {MIN_CV:g}, or switching normalization changes the "
    f"IQM at that learning rate by >= {MIN_TOGGLE:.0%} (whole 95% CI past the "
    f"threshold), while LQR's IQM is >= {LQR_MIN_IQM:g} with CV <= {LQR_MAX_CV:g}; "
    f"inconclusive otherwise (including CIs that straddle)."
)


def decide(estimates: dict[str, Estimate]) -> Verdict:
    """The rule, for verdict() and for every cell of the robustness map."""
    spread, toggle = estimates["agent_cv"], estimates["toggle_change"]
    on, off = estimates["solved_on"], estimates["solved_off"]
    lqr_iqm, lqr_cv = estimates["lqr_iqm"], estimates["lqr_cv"]
    thresholds = {
        KEY: MIN_CV,
        "toggle_change": MIN_TOGGLE,  # and -MIN_TOGGLE
        "solved_on": MIN_SOLVED_SHARE,
        "solved_off": MIN_SOLVED_SHARE,
        "lqr_iqm": LQR_MIN_IQM,
        "lqr_cv": LQR_MAX_CV,
    }
    seed_finicky = spread.above(MIN_CV)
    trick_finicky = any_of(toggle.above(MIN_TOGGLE), toggle.below(-MIN_TOGGLE))
    lqr_ok = all_of(lqr_iqm.above(LQR_MIN_IQM), lqr_cv.below(LQR_MAX_CV))
    numbers = (
        f"at {where(estimates)}: CV across {spread.n} seeds {spread.text()}; "
        f"advantage normalization changes the IQM by {toggle.text()}; seeds solving "
        f"it {on.value:.0f}% with normalization on, {off.value:.0f}% off; LQR IQM "
        f"{lqr_iqm.text()}, CV {lqr_cv.text()}"
    )
    if on.value >= MIN_SOLVED_SHARE and off.value >= MIN_SOLVED_SHARE:
        return Verdict(
            "refuted", f"both settings solve it: {numbers}", RULE, thresholds
        )
    checks = {
        "the spread across seeds": seed_finicky,
        "the toggle's effect": trick_finicky,
    }
    finicky = any_of(*checks.values())
    if all_of(finicky, lqr_ok):
        by = " and ".join(name for name, check in checks.items() if check)
        return Verdict("holds", f"decided by {by}: {numbers}", RULE, thresholds)
    if lqr_ok is not True:
        why = "LQR is not clearly reliable"
    elif finicky is None:
        open_ = [name for name, check in checks.items() if check is None]
        why = f"{' and '.join(open_)} straddle{'s' * (len(open_) == 1)} the threshold"
    else:
        why = "neither the spread nor the toggle's effect reaches its threshold"
    return Verdict("inconclusive", f"{why}: {numbers}", RULE, thresholds)


def verdict(estimates: dict[str, Estimate]) -> Verdict:
    return decide(estimates)


# ---------------------------------------------------------------- assessment


def assess(records: pd.DataFrame, estimates: dict[str, Estimate]) -> core.Assessment:
    checkpoints = budgets_of(records)
    last = checkpoints[-1]
    lr, norm, scores = choose_agent(records, last)
    lqr = lqr_estimates(records)
    convergence = tuple(
        core.convergence(
            f"A2C (lr {lr:g}, adv. norm {toggle})",
            checkpoints,
            np.stack(
                [
                    returns(records, "val_return", REPORTED, lr, toggle, u)
                    for u in checkpoints
                ],
                axis=1,
            ),
            tolerance=CONVERGENCE_TOLERANCE,
            metric="validation return",
            digits=0,
        )
        for toggle in (norm, "off" if norm == "on" else "on")
    )
    lqr_cost, _ = choose_lqr(records)
    n_sel = core.select(records, split=SELECTION, arm=A2C)["seed"].nunique()
    lqr_grid = sorted(records.loc[records["arm"] == LQR, "lqr_cost"].unique().tolist())
    tuning = (
        core.Tuning(
            A2C,
            {"lr": lrs_of(records), "adv_norm": ["off", "on"]},
            {"lr": lr, "adv_norm": norm},
            f"validation episodes of {n_sel} selection seeds: IQM of the return "
            f"after {last} updates (the reported seeds are not used)",
        ),
        core.Tuning(
            LQR,
            {"control_cost": lqr_grid},
            {"control_cost": lqr_cost},
            f"validation episodes of the same {n_sel} selection seeds: IQM of the "
            "return, ties to the smaller cost",
        ),
    )
    effort = (
        f"A2C got more: {len(scores)} configurations "
        f"trained on {n_sel} selection seeds each, against {len(lqr_grid)} LQR "
        "control costs scored on the same seeds' validation episodes."
    )

    def verdict_at(setting: dict) -> Verdict:
        return decide(
            setting_estimates(records, setting["lr"], setting["updates"], lqr)
        )

    robustness = core.robustness_map(
        {"updates": checkpoints, "lr": lrs_of(records)},
        verdict_at,
        {"updates": last, "lr": lr},
    )
    return core.Assessment(robustness, convergence, tuning, "updates", effort)


# ---------------------------------------------------------------- charts


def config_name(lr: float, norm: str) -> str:
    return f"lr {lr:g}, norm {norm}"


def charts(records: pd.DataFrame) -> dict[str, alt.TopLevelMixin]:
    last = budgets_of(records)[-1]
    test = core.select(records, metric="test_return", split=REPORTED).copy()
    lqr_cost, _ = choose_lqr(records)
    test = test[(test["arm"] == A2C) | (test["lqr_cost"] == lqr_cost)]
    test["config"] = [
        config_name(x, n) if arm == A2C else f"LQR (R = {c:g})"
        for arm, x, n, c in zip(
            test["arm"], test["lr"], test["adv_norm"], test["lqr_cost"], strict=True
        )
    ]
    final = test[(test["arm"] == LQR) | (test["updates"] == last)]
    order = [config_name(x, n) for x in lrs_of(records) for n in ("off", "on")]
    order += [f"LQR (R = {lqr_cost:g})"]
    iqm_of = lambda values: core.bootstrap(values, iqm, label="IQM")  # noqa: E731
    cv_of = lambda values: core.bootstrap(values, cv, label="CV")  # noqa: E731
    returns_panel = core.sized(
        core.ci_dots(
            core.ci_table(final, ["config"], iqm_of),
            category="config",
            value_title="test return; dot, bar: IQM, 95% CI",
            sort=order,
            seeds=final[["config", "seed", "value"]],  # only the fields drawn
            thresholds={"solved": SOLVED},
            fmt=".0f",
        ),
        "Return of each seed",
    )
    # The rule's number: the spread across seeds (CV) of each configuration.
    spread_panel = core.sized(
        core.ci_dots(
            core.ci_table(final, ["config"], cv_of),
            category="config",
            value_title="CV (sd / mean) across seeds, 95% CI",
            sort=order,
            thresholds={"finicky at": MIN_CV},
            fmt=".2f",
            zero=True,
        ),
        "Spread across seeds",
    )
    final_returns = alt.vconcat(returns_panel, spread_panel).properties(
        title=f"After {last} updates"
    )
    # Returns split into seeds that solve CartPole and seeds that do not, so a mean
    # (or IQM) line along the budget would run where few seeds are: the share of
    # seeds that solve it is what each checkpoint shows.
    agent = test[test["arm"] == A2C]
    solved = (
        agent.assign(solved=agent["value"] >= SOLVED)
        .groupby(["config", "lr", "adv_norm", "updates"], as_index=False)
        .agg(share=("solved", "mean"), seeds=("seed", "size"))
    )
    solved["share"] *= 100
    x_values = budgets_of(records)
    base = alt.Chart(solved).encode(
        x=alt.X(
            "updates:Q",
            title="A2C updates (log scale)",
            scale=alt.Scale(type="log", nice=False),
            axis=alt.Axis(values=x_values, format="d"),
        ),
        y=alt.Y(
            "share:Q",
            title="reported seeds solving CartPole (%)",
            scale=alt.Scale(domain=[0, 100]),
        ),
        color=alt.Color("lr:N", title="learning rate", legend=core.LEGEND),
        tooltip=core.tooltips(
            "config:N",
            "updates:Q",
            alt.Tooltip("share:Q", title="seeds solving (%)", format=".0f"),
            alt.Tooltip("seeds:Q", title="seeds"),
        ),
    )
    # Points apart from the lines, so the dash legend shows strokes, not dots.
    points = base.mark_point(filled=True, size=40)
    curve = base.mark_line().encode(
        strokeDash=alt.StrokeDash(
            "adv_norm:N",
            title="adv. norm",
            scale=alt.Scale(domain=["off", "on"], range=[[1, 0], [8, 4]]),
            legend=alt.Legend(
                orient="bottom",
                symbolType="stroke",
                symbolStrokeColor="#888888",
                symbolStrokeWidth=2,
                symbolSize=400,
            ),
        ),
    )
    threshold = core.threshold_rules(
        {"refuted needs, both settings": MIN_SOLVED_SHARE}, axis="y", fmt=".0f"
    )
    return {
        "final_returns": final_returns,
        "learning_curves": core.sized(
            alt.layer(curve, points, threshold),
            f"Seeds returning >= {SOLVED:g}, along the update budget",
            height=core.CHART_HEIGHT,
        ),
    }
