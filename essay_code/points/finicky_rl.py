"""Tweet 8: deep reinforcement learning depends on tuning and implementation tricks.

Claim: deep RL is finicky: the same algorithm, with the same hyperparameters, gives
very different results across random seeds, and small implementation choices change
how well it works; a classical controller on a problem it fits does not have this
problem.

What the experiment does: CartPole-v1 (gymnasium's equations, constants and
termination, re-written as a batched torch environment that steps every policy's
environments at once; a test checks it against gymnasium step for step). The deep
arm is advantage actor-critic (A2C: small tanh MLP policy and value network, n-step
returns, entropy bonus) trained for a fixed budget of environment steps over seeds x
two learning rates x one implementation toggle (per-batch advantage normalization on
or off); all policies train as one batched model. The classical arm is LQR on the
dynamics linearized about the upright pole (scipy's discrete Riccati solver), used as
a bang-bang linear state feedback (push right when -Kx > 0), evaluated in the same
batched environment from seeded initial states. Metrics: final greedy return (mean
over evaluation episodes) per seed; interquartile mean with a bootstrap CI (Agarwal
et al. 2021); the coefficient of variation across seeds; the effect of the toggle on
the IQM; and Henderson et al.'s check: across all 5/5 splits of one cell's seeds,
the fraction whose Welch t-test gives p < 0.05.

What it does not show: one small environment, one algorithm, one budget; CartPole is
close to linear near upright, so LQR is at its best here, and LQR needs the model
that RL does without. Better-tuned RL (PPO with many tricks, longer budgets) solves
CartPole reliably; the claim is about sensitivity, not impossibility.

References: Henderson et al. 2018 (Deep RL that matters); Engstrom et al. 2020
(Implementation matters in deep policy gradients); Agarwal et al. 2021 (Deep RL at
the edge of the statistical precipice: IQM and bootstrap CIs); Mnih et al. 2016
(A3C/A2C); Barto, Sutton, Anderson 1983 (cart-pole).
"""

from __future__ import annotations

import itertools
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
KEY = "agent_cv_max"

A2C = "a2c"
LQR = "lqr"

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
MIN_CV = 0.25  # agent is "finicky" if its CV across seeds reaches this in some cell
MIN_TOGGLE = 0.30  # ...or one toggle changes its IQM by this fraction
LQR_MIN_IQM = 495.0  # the classical controller must score this...
LQR_MAX_CV = 0.02  # ...with at most this CV
SOLVED = 475.0  # a seed "solves" CartPole-v1 at this return
MIN_SOLVED_SHARE = 90.0  # refuted if >= 9 of 10 seeds solve it in every cell
SIGNIFICANCE = 0.05  # Henderson's split test: Welch p below this

# Evaluation asks the device whether any episode is still running only every this
# many steps (a host sync each time); the extra steps after the last episode ends
# add nothing to any return.
EVAL_CHECK_EVERY = 50
# Host syncs in a smoke run: the evaluations' every-50-steps checks and the final
# read-back of the returns; none per training step.
HOST_SYNC_BUDGET = 36


@dataclass(frozen=True)
class Config:
    seeds: int = 10  # independent agents per cell (and LQR initial-state seeds)
    lrs: tuple[float, ...] = (1e-3, 3e-3)  # Adam learning rates (a cell each)
    envs: int = 16  # parallel environments per agent
    rollout: int = 16  # steps per environment between updates (n-step returns)
    updates: int = 1000  # A2C updates per agent
    hidden: int = 64  # width of the two tanh hidden layers (policy and value)
    gamma: float = 0.99  # discount
    entropy_coef: float = 0.01  # entropy bonus weight
    value_coef: float = 0.5  # value loss weight
    eval_episodes: int = 8  # greedy evaluation episodes per agent (and LQR seed)
    lqr_control_cost: float = 0.1  # R of the LQR cost (Q = identity)


PROFILES = {
    "smoke": {"seeds": 2, "envs": 4, "updates": 20, "eval_episodes": 2, "hidden": 16},
    "full": {"seeds": 20, "updates": 2000},
}


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
    """Batched CartPole-v1 step: state [..., 4], action [...] in {0, 1} ->
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


# ---------------------------------------------------------------- the agent


def init_nets(seeds: list[int], hidden: int, device: torch.device) -> dict:
    """Stacked policy (4-h-h-2) and value (4-h-h-1) MLPs, one per seed, with
    nn.Linear's default uniform init from the seed's generator: weights [P, in, out],
    biases [P, out]."""
    layers = {
        "p1": (4, hidden),
        "p2": (hidden, hidden),
        "p3": (hidden, 2),
        "v1": (4, hidden),
        "v2": (hidden, hidden),
        "v3": (hidden, 1),
    }
    stacks: dict[str, list[torch.Tensor]] = {}
    for seed in seeds:
        generator = torch.Generator().manual_seed(seed)
        for name, (fan_in, fan_out) in layers.items():
            bound = 1.0 / math.sqrt(fan_in)
            w = (torch.rand((fan_in, fan_out), generator=generator) * 2 - 1) * bound
            b = (torch.rand((fan_out,), generator=generator) * 2 - 1) * bound
            stacks.setdefault(f"w{name}", []).append(w)
            stacks.setdefault(f"b{name}", []).append(b)
    return {
        k: torch.stack(v).to(device).requires_grad_(True) for k, v in stacks.items()
    }


def mlp(params: dict, prefix: str, obs: torch.Tensor) -> torch.Tensor:
    """obs [P, n, 4] -> outputs [P, n, out] of every policy's own network."""
    h = obs
    for layer in ("1", "2", "3"):
        w, b = params[f"w{prefix}{layer}"], params[f"b{prefix}{layer}"]
        h = torch.einsum("pni,pio->pno", h, w) + b[:, None]
        if layer != "3":
            h = torch.tanh(h)
    return h


def adam_step(params: dict, state: dict, lr: torch.Tensor, t: int) -> None:
    """Adam (torch defaults) with a per-policy learning rate lr [P]: torch.optim
    takes one lr per parameter group, but here one tensor holds all policies."""
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    with torch.no_grad():
        for name, p in params.items():
            m, v = state.setdefault(name, (torch.zeros_like(p), torch.zeros_like(p)))
            m.mul_(beta1).add_(p.grad, alpha=1 - beta1)
            v.mul_(beta2).addcmul_(p.grad, p.grad, value=1 - beta2)
            m_hat = m / (1 - beta1**t)
            v_hat = v / (1 - beta2**t)
            scale = lr.view(-1, *([1] * (p.dim() - 1)))
            p.sub_(scale * m_hat / (v_hat.sqrt() + eps))
            p.grad = None


def train_agents(
    seeds: list[int],
    lr: torch.Tensor,
    normalize: torch.Tensor,
    cfg: Config,
    ctx: RunContext,
) -> dict:
    """A2C for P = len(seeds) policies at once on P x envs batched CartPoles.

    lr [P] and normalize [P] (bool: advantage normalization) give each policy its
    cell. Episodes that hit the 500-step cap are treated as terminal (as in the
    original A2C baselines). Returns the trained (detached) parameters.
    """
    device = ctx.device
    n_pol, n_env, horizon = len(seeds), cfg.envs, cfg.rollout
    params = init_nets(seeds, cfg.hidden, device)
    adam: dict = {}
    # Actions and resets are drawn on the device, so an environment step never waits
    # for the host (on the CPU this is the same generator as a plain CPU one).
    generator = torch.Generator(device=device).manual_seed(1_000_003 * (1 + seeds[0]))
    state = reset_states((n_pol, n_env), generator)  # [P, E, 4]
    steps = torch.zeros((n_pol, n_env), dtype=torch.long, device=device)
    for update in ctx.progress(range(cfg.updates), total=cfg.updates, desc="A2C"):
        obs_buf, act_buf, done_buf = [], [], []
        with torch.no_grad():
            for _ in range(horizon):
                obs = state.float()
                logits = mlp(params, "p", obs)  # [P, E, 2]
                probs = torch.softmax(logits, -1).reshape(-1, 2)
                action = torch.multinomial(probs, 1, generator=generator)
                action = action.view(n_pol, n_env)
                state, _reward, terminated = step(state, action)
                steps += 1
                done = terminated | (steps >= MAX_STEPS)
                fresh = reset_states((n_pol, n_env), generator)
                state = torch.where(done[..., None], fresh, state)
                steps = torch.where(done, 0, steps)
                obs_buf.append(obs)
                act_buf.append(action)
                done_buf.append(done)
            bootstrap_value = mlp(params, "v", state.float())[..., 0]  # [P, E]
        # n-step discounted returns, cut at episode ends; reward is 1 per step.
        returns = torch.zeros((horizon, n_pol, n_env), device=device)
        running = bootstrap_value
        for t in reversed(range(horizon)):
            running = 1.0 + cfg.gamma * running * (~done_buf[t]).float()
            returns[t] = running
        obs = torch.stack(obs_buf, 1).reshape(n_pol, horizon * n_env, 4)
        actions = torch.stack(act_buf, 1).reshape(n_pol, horizon * n_env)
        target = returns.permute(1, 0, 2).reshape(n_pol, horizon * n_env)
        logp = torch.log_softmax(mlp(params, "p", obs), -1)  # [P, T*E, 2]
        value = mlp(params, "v", obs)[..., 0]  # [P, T*E]
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
        )  # [P]: summing gives each policy exactly its own gradient
        losses.sum().backward()
        adam_step(params, adam, lr, update + 1)
    return {k: v.detach() for k, v in params.items()}


# ---------------------------------------------------------------- evaluation


def evaluate(policy, n_pol: int, episodes: int, generator, device) -> torch.Tensor:
    """Run `policy(state [P, N, 4]) -> action [P, N]` for `episodes` episodes each
    in the batched env up to the 500-step cap; returns the mean return [P]."""
    state = reset_states((n_pol, episodes), generator).to(device)
    alive = torch.ones((n_pol, episodes), dtype=torch.bool, device=device)
    total = torch.zeros((n_pol, episodes), device=device)
    for t in range(MAX_STEPS):
        state, reward, terminated = step(state, policy(state))
        total += reward.float() * alive  # the terminating step earns 1, as gym
        alive &= ~terminated
        if (t + 1) % EVAL_CHECK_EVERY == 0 and not alive.any():
            break
    return total.mean(1)


def lqr_gain(control_cost: float) -> np.ndarray:
    """Discrete LQR gain K [1, 4] for the Euler dynamics linearized about the
    upright pole (Jacobians of `dynamics` at the origin), Q = I, R = control_cost."""
    zero = torch.zeros(4, dtype=torch.float64)
    force = torch.zeros((), dtype=torch.float64)
    a, b = torch.autograd.functional.jacobian(dynamics, (zero, force))
    a, b = a.numpy(), b.numpy().reshape(4, 1)
    r = np.array([[control_cost]])
    p = linalg.solve_discrete_are(a, b, np.eye(4), r)
    return np.linalg.solve(r + b.T @ p @ b, b.T @ p @ a)


def lqr_policy(gain: np.ndarray, device: torch.device):
    """Bang-bang LQR as a batched policy: push right (1) when the LQR force -Kx is
    positive. The gain is copied to the device once here, not at every step."""
    k = torch.as_tensor(gain[0], dtype=torch.float64, device=device)

    def act(state: torch.Tensor) -> torch.Tensor:
        return (-(state @ k) > 0).long()

    return act


def lqr_action(gain: np.ndarray, state: torch.Tensor) -> torch.Tensor:
    """One bang-bang LQR action per state (float64 states, as the env's)."""
    return lqr_policy(gain, state.device)(state)


# ---------------------------------------------------------------- the run


def cell_name(lr: float, normalize: bool) -> str:
    return f"lr {lr:g}, adv. norm {'on' if normalize else 'off'}"


def run(cfg: Config, ctx: RunContext) -> pd.DataFrame:
    """One row per (seed, arm, cell, metric=final_return): the mean greedy return
    over cfg.eval_episodes episodes."""
    device = ctx.device
    cells = [(lr, norm) for lr in cfg.lrs for norm in (False, True)]
    seeds = list(range(cfg.seeds))
    # Policy p = cell * seeds + seed; the same seed starts from the same weights in
    # every cell, so cells differ only by their setting.
    lr = torch.tensor([c[0] for c in cells for _ in seeds], device=device)
    normalize = torch.tensor([c[1] for c in cells for _ in seeds], device=device)
    params = train_agents(seeds * len(cells), lr, normalize, cfg, ctx)

    def greedy(state: torch.Tensor) -> torch.Tensor:
        return mlp(params, "p", state.float()).argmax(-1)

    with torch.no_grad():
        agent = evaluate(
            greedy, len(lr), cfg.eval_episodes, torch.Generator().manual_seed(7), device
        ).cpu()
        lqr_act = lqr_policy(lqr_gain(cfg.lqr_control_cost), device)
        lqr = torch.stack(
            [
                evaluate(
                    lqr_act,
                    1,
                    cfg.eval_episodes,
                    torch.Generator().manual_seed(seed),
                    device,
                )[0].cpu()
                for seed in seeds
            ]
        )
    records = core.Records()
    for index, (cell_lr, norm) in enumerate(cells):
        records.add_per_seed(
            "final_return",
            agent[index * len(seeds) : (index + 1) * len(seeds)],
            seeds,
            arm=A2C,
            cell=cell_name(cell_lr, norm),
            lr=float(cell_lr),
            adv_norm="on" if norm else "off",
        )
    records.add_per_seed(
        "final_return", lqr, seeds, arm=LQR, cell="LQR", lr=0.0, adv_norm="n/a"
    )
    return records.frame()


# ---------------------------------------------------------------- summary


def cv(values: np.ndarray, axis: int = -1) -> np.ndarray:
    """Coefficient of variation across seeds: sample sd / mean."""
    return np.std(values, axis=axis, ddof=1) / np.mean(values, axis=axis)


def henderson_fraction(values: np.ndarray) -> float:
    """Fraction of the distinct 5/5 (half/half) splits of the seeds whose two
    halves differ by Welch's t-test at p < 0.05 (Henderson et al. 2018)."""
    n = len(values)
    half = n // 2
    first = [c for c in itertools.combinations(range(n), half) if 0 in c]
    significant = 0
    for group in first:
        rest = [i for i in range(n) if i not in group][:half]
        a, b = values[list(group)], values[rest]
        if np.ptp(np.concatenate([a, b])) == 0:
            continue  # identical values: no difference to find
        with warnings.catch_warnings():  # near-identical halves warn; p is fine
            warnings.simplefilter("ignore", RuntimeWarning)
            p = sps.ttest_ind(a, b, equal_var=False).pvalue
        significant += bool(np.isfinite(p) and p < SIGNIFICANCE)
    return significant / len(first)


def iqm_change(on: np.ndarray, off: np.ndarray, axis: int = -1) -> np.ndarray:
    """Relative change of the IQM when the toggle is on: iqm(on) / iqm(off) - 1
    (bootstrapped in pairs: the same seed starts from the same weights)."""
    return iqm(on, axis=axis) / iqm(off, axis=axis) - 1


def cell_values(records: pd.DataFrame, cell: str) -> np.ndarray:
    return core.per_seed(records, "final_return", cell=cell).to_numpy()


def agent_cells(records: pd.DataFrame) -> list[tuple[str, str, float, str]]:
    """(cell label, short name, lr, adv_norm) for each agent cell in the records."""
    agent = records[records["arm"] == A2C]
    cells = agent[["cell", "lr", "adv_norm"]].drop_duplicates()
    out = []
    for _, row in cells.sort_values(["lr", "adv_norm"]).iterrows():
        short = f"lr{row['lr']:g}_norm_{row['adv_norm']}".replace(".", "p")
        short = short.replace("-", "m")
        out.append((row["cell"], short, row["lr"], row["adv_norm"]))
    return out


def summarize(records: pd.DataFrame) -> dict[str, Estimate]:
    estimates: dict[str, Estimate] = {}
    cvs: list[Estimate] = []
    for cell, short, _lr, _norm in agent_cells(records):
        values = cell_values(records, cell)
        estimates[f"iqm_{short}"] = core.bootstrap(values, iqm, digits=0, label="IQM")
        estimates[f"cv_{short}"] = core.bootstrap(values, cv, digits=2, label="CV")
        cvs.append(estimates[f"cv_{short}"])
        estimates[f"solved_{short}"] = core.bootstrap(
            100.0 * (values >= SOLVED), unit="% of seeds", digits=0
        )
        estimates[f"henderson_{short}"] = core.exact(
            100 * henderson_fraction(values),
            len(values),
            label="share of all 5/5 splits (exact, no resampling)",
            unit="% of splits",
        )
    estimates["agent_cv_max"] = max(cvs, key=lambda e: e.value)
    for lr in sorted(records.loc[records["arm"] == A2C, "lr"].unique()):
        off = cell_values(records, cell_name(lr, False))
        on = cell_values(records, cell_name(lr, True))
        name = f"toggle_change_lr{lr:g}".replace(".", "p").replace("-", "m")
        estimates[name] = core.paired_bootstrap(
            on, off, iqm_change, label="iqm(on)/iqm(off) - 1"
        )
    lqr = cell_values(records, "LQR")
    estimates["lqr_iqm"] = core.bootstrap(lqr, iqm, digits=0, label="IQM")
    estimates["lqr_cv"] = core.bootstrap(lqr, cv, digits=3, label="CV")
    return estimates


RULE = (
    f"Holds if the A2C agent's coefficient of variation across seeds is >= "
    f"{MIN_CV:g} in some cell, or advantage normalization changes its IQM by >= "
    f"{MIN_TOGGLE:.0%} at some learning rate (whole 95% CI past the threshold), "
    f"while LQR's IQM is >= {LQR_MIN_IQM:g} with CV <= {LQR_MAX_CV:g}; refuted if "
    f"the agent returns >= {SOLVED:g} in >= {MIN_SOLVED_SHARE:g}% of seeds (9 of "
    f"10) in every cell; inconclusive otherwise (including CIs that straddle)."
)


def verdict(estimates: dict[str, Estimate]) -> Verdict:
    cvs = {k: e for k, e in estimates.items() if k.startswith("cv_")}
    toggles = {k: e for k, e in estimates.items() if k.startswith("toggle_change")}
    solved = {k: e for k, e in estimates.items() if k.startswith("solved_")}
    lqr_iqm, lqr_cv = estimates["lqr_iqm"], estimates["lqr_cv"]
    worst = estimates["agent_cv_max"]
    biggest = max(toggles.values(), key=lambda e: abs(e.value))
    reason = (
        f"largest agent CV {worst.text()}; largest toggle effect on the IQM "
        f"{biggest.text()}; seeds solving it per cell "
        f"{', '.join(f'{e.value:.0f}%' for e in solved.values())}; LQR IQM "
        f"{lqr_iqm.text()}, CV {lqr_cv.text()}"
    )
    thresholds = {
        KEY: MIN_CV,
        **dict.fromkeys(cvs, MIN_CV),
        **dict.fromkeys(toggles, MIN_TOGGLE),  # and -MIN_TOGGLE
        **dict.fromkeys(solved, MIN_SOLVED_SHARE),
        "lqr_iqm": LQR_MIN_IQM,
        "lqr_cv": LQR_MAX_CV,
    }
    if all(e.value >= MIN_SOLVED_SHARE for e in solved.values()):
        return Verdict("refuted", reason, RULE, thresholds)
    finicky = any_of(
        *(e.above(MIN_CV) for e in cvs.values()),
        *(any_of(e.above(MIN_TOGGLE), e.below(-MIN_TOGGLE)) for e in toggles.values()),
    )
    decided = all_of(finicky, lqr_iqm.above(LQR_MIN_IQM), lqr_cv.below(LQR_MAX_CV))
    status = "holds" if decided else "inconclusive"
    return Verdict(status, reason, RULE, thresholds)


# ---------------------------------------------------------------- charts


def charts(records: pd.DataFrame) -> dict[str, alt.TopLevelMixin]:
    seeds = core.select(records, metric="final_return")
    order = [c[0] for c in agent_cells(records)] + ["LQR"]
    table = core.ci_table(
        seeds, ["cell"], lambda values: core.bootstrap(values, iqm, label="IQM")
    )
    table["cv"] = [cv(cell_values(records, cell)) for cell in table["cell"]]
    chart = core.ci_dots(
        table,
        category="cell",
        value_title="final greedy return (mean of evaluation episodes)",
        sort=order,
        seeds=seeds,
        thresholds={"solved": SOLVED},
        fmt=".0f",
        extra_tooltips=[alt.Tooltip("cv:Q", title="CV across seeds", format=".2f")],
    )
    title = "Final return per seed, IQM with 95% CI (dashed: solved, 475)"
    return {"final_returns": core.sized(chart, title)}
