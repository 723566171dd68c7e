"""Tweets 17 and 20: hyperparameter search remains terrible; more hardware will help.

Claim: a deep network needs heavy compute or hand tweaking to tune, unlike a random
forest that works out of the box; more hardware (automatic search) will fix it.

What the experiment does: scikit-learn's digits (8x8 images, 10 classes), split per
seed into train, validation and test. A search space of six MLP hyperparameters
(log learning rate, width, depth 1-3, log L2 weight decay, dropout, log init scale)
with Adam at a fixed batch size. Per seed the default and a random pool (much
larger than any successive-halving bracket) are trained for a short search trial,
every trial of one shape in every seed batched as one model, recording validation
accuracy after the epochs the replays read. The best trials are then continued,
halving their number at every doubling of the trial length, up to a long trial that
the default also gets, so that the default and the tuned network are always compared
at the same trial length. Random search and successive halving (Jamieson &
Talwalkar 2016; the inner loop of Hyperband) are replayed over the pool for many
search seeds, with compute counted in training epochs, and compared on test accuracy
at matched compute. The random forest gets the same kind of random search over its
own hyperparameters, chosen on the same validation rows.

Metrics: the MLP's tuning gap (test accuracy of the best configuration on
validation minus the default's, at one trial length); the trials random search
needs for its expected best validation accuracy (Dodge et al. 2019) to come within a
tolerance of the pool's best, the tolerance a multiple of the validation set's
binomial standard error; the compute random search needs to match successive
halving's test accuracy, over halving's; the forest's tuning gap. Tuning curves
(best validation accuracy against trials) carry distribution-free 95% confidence
bands (Lourie, Cho & He 2024, the opda package).

What it does not show: one small data set, one optimiser, fixed batch size; a
pool-replay measures search strategies over the same trained trials (a resumed
trial equals the first epochs of the full run because the learning rate is
constant), not wall-clock time; large models, where one trial costs days, are
where tuning hurts most.

References: Bergstra & Bengio 2012 (random search); Jamieson & Talwalkar 2016
(successive halving); Li et al. 2018 (Hyperband); Dodge et al. 2019 (expected
validation performance); Lourie et al. 2024 (tuning-curve bands); Yang et al. 2022
(muTransfer).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import altair as alt
import numpy as np
import pandas as pd
import torch
from opda.nonparametric import EmpiricalDistribution
from sklearn.datasets import load_digits
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import train_test_split
from torch.nn import functional as F

from essay_code import core

TITLE = "Hyperparameter search"
TWEETS = (17, 20)
KEY = "mlp_tuning_gap"

RANDOM = "random"
HALVING = "successive-halving"
STRATEGY_LABELS = {
    RANDOM: "random search",
    HALVING: "successive halving",
}
MLP_DEFAULT = "mlp-default"
MLP_TUNED = "mlp-tuned"
FOREST = "random-forest"
MODEL_LABELS = {
    MLP_DEFAULT: "MLP, defaults",
    MLP_TUNED: "MLP, tuned",
    FOREST: "random forest",
}

# Verdict thresholds, fixed before any run.
MIN_GAP = 5.0  # points of test accuracy: tuning matters a lot for the MLP
MIN_TRIALS = 20.0  # random-search trials to come within the tolerance of the best
MAX_FOREST_GAP = 1.0  # points: the forest works with its defaults
MIN_SPEEDUP = 3.0  # successive halving cuts the compute this much: mitigated
# "As good as the best": within this many binomial standard errors of the pool's
# best validation accuracy (chosen here; the map also reads 1 and 3).
TOLERANCE_SE = 2.0
TOLERANCES_SE = (1.0, 2.0, 3.0)
# An MLP arm is converged when its validation accuracy gains less than this over
# the last doubling of its trial length (points; chosen here, under one binomial
# standard error of the validation set at the accuracies reached).
CONVERGENCE_TOLERANCE = 0.5
# The robustness map's axes: the trial length (epochs) of the default and the tuned
# network, and the tolerance (binomial standard errors) of the trials measure.
LENGTH_AXIS = "trial length"
TOLERANCE_AXIS = "tolerance"
CLASSES = 10
# Host syncs in a smoke run: the stacked data copied in once (6 arrays), and per
# batched group (at most 12 shapes in the first stage and 3 depths in each of the 3
# later ones) its settings copied in once and its scores read back (counted twice).
HOST_SYNC_BUDGET = 6 + 3 * (12 + 3 * 3)

# The search space: (low, high) of each hyperparameter as sampled. Width is
# 2**log2_width and depth an integer; both are drawn uniformly over the integers.
SPACE = {
    "log10_lr": (-4.5, -1.0),
    "log2_width": (4, 7),  # 16 to 128 hidden units per layer
    "depth": (1, 3),  # hidden layers
    "log10_weight_decay": (-7.0, -1.0),  # L2 added to the gradient (sklearn alpha)
    "dropout": (0.0, 0.6),
    "log10_init_scale": (-1.0, 0.7),  # multiplier on PyTorch's default init
}
INTEGER = ("log2_width", "depth")
# The "default" a practitioner would try first: scikit-learn MLPClassifier's
# defaults as near as the space allows (Adam lr 1e-3, L2 1e-4, one hidden layer of
# 64 ~ its 100), no dropout, PyTorch's default init.
DEFAULT = {
    "log10_lr": -3.0,
    "log2_width": 6,
    "depth": 1,
    "log10_weight_decay": -4.0,
    "dropout": 0.0,
    "log10_init_scale": 0.0,
}
# The forest's search space, sampled the same way (uniform; integers where listed).
# max_features = round(2**log2_max_features) of the 64 pixels (1 to 32: at 64 a
# forest is plain bagging, and each tree costs twice as much), max_depth =
# round(2**log2_max_depth), where 32 is deeper than any tree grown on these rows.
FOREST_SPACE = {
    "log2_max_features": (0.0, 5.0),
    "log2_max_depth": (1.5, 5.0),
    "log2_min_samples_leaf": (0, 3),  # 1 to 8 rows per leaf
    "bootstrap": (0, 1),
    "entropy": (0, 1),  # split criterion: 0 gini, 1 entropy
}
FOREST_INTEGER = ("log2_min_samples_leaf", "bootstrap", "entropy")
# scikit-learn's defaults: sqrt(64) = 8 features, unlimited depth, leaves of 1 row,
# bootstrap samples, gini.
FOREST_DEFAULT = {
    "log2_max_features": 3.0,
    "log2_max_depth": math.inf,
    "log2_min_samples_leaf": 0,
    "bootstrap": 1,
    "entropy": 0,
}
# Trial counts at which tuning curves and search curves are recorded (log-spaced).
CURVE_POINTS = (1, 2, 3, 4, 6, 8, 11, 16, 23, 32, 45, 64, 91, 128, 181, 256, 362, 512)


@dataclass(frozen=True)
class Config:
    seeds: int = 10  # data splits, each with its own trained pool of trials
    random_pool: int = 128  # random MLP configurations trained per seed
    pool_epochs: int = 8  # R: a search trial's length (successive halving's top rung)
    max_epochs: int = 128  # longest trial (R times a power of 2): default, survivors
    ladder_keep: int = 4  # trials per seed continued to 2R, halved at each doubling
    batch_size: int = 64  # minibatch rows (fixed, shared by all trials)
    eta: int = 2  # successive halving keeps the best 1/eta at each rung
    halving_starts: tuple[int, ...] = (8, 16, 32)  # configs a bracket starts with
    search_seeds: int = 200  # replays of each strategy over the pool per seed
    val_fraction: float = 0.2  # of all rows
    test_fraction: float = 0.2  # of all rows
    forest_trees: int = 100  # trees of every random forest (sklearn's default)
    forest_pool: int = 6  # random forest configurations per seed


PROFILES = {
    "smoke": {
        "seeds": 3,
        "random_pool": 32,
        "pool_epochs": 4,
        "max_epochs": 32,
        "ladder_keep": 4,
        "halving_starts": (4, 8),
        "search_seeds": 20,
        "forest_trees": 10,
        "forest_pool": 4,
    },
    "full": {
        "seeds": 20,
        "random_pool": 1024,
        "max_epochs": 256,
        "halving_starts": (16, 32, 64, 128),
        "search_seeds": 1000,
        "forest_pool": 64,
    },
}

NAMES = {
    KEY: "MLP tuning gap at the longest trial (tuned − defaults, test)",
    "mlp_default_test": "MLP with defaults, test accuracy (longest trial)",
    "mlp_tuned_test": "MLP tuned on validation, test accuracy (longest trial)",
    "mlp_headroom": "test errors left to the MLP's defaults (longest trial)",
    "mlp_tuning_gap_short": "MLP tuning gap at the search trial length",
    "mlp_default_test_short": "MLP with defaults, test accuracy (search trial)",
    "mlp_tuned_test_short": "MLP tuned, test accuracy (search trial)",
    "forest_tuning_gap": "random forest tuning gap (tuned − defaults, test)",
    "forest_default_test": "random forest with defaults, test accuracy",
    "forest_tuned_test": "random forest tuned on validation, test accuracy",
    "random_trials_within": "random-search trials to within the tolerance",
    "forest_trials_within": "forest random-search trials to within the tolerance",
    "tolerance_points": f"the tolerance ({TOLERANCE_SE:g} standard errors), in points",
    "halving_compute_ratio": "random search's compute ÷ successive halving's",
    "halving_censored": "seeds where random search never matched halving",
    "halving_test_gain": "successive halving − random search, test, equal compute",
    "random_trials_within_quarter_pool": "trials to within tolerance, quarter pool",
    "halving_compute_ratio_quarter_pool": "compute ratio, quarter pool",
    "ratio_cap": "largest compute ratio the pool can show",
    "halving_largest_start": "configurations of the largest halving bracket",
    "pool_over_bracket": "pool size ÷ the largest bracket",
    "mlp_default_chosen": "seeds whose tuned MLP is the default (longest trial)",
    "trial_epochs": "trial length of the headline (epochs)",
    "tolerance_se": "tolerance of the headline (standard errors)",
    "pool_size": "random configurations per seed",
}


def ladder(cfg: Config) -> list[int]:
    """The trial lengths compared: R, 2R, 4R, ... up to max_epochs."""
    lengths = [cfg.pool_epochs]
    while lengths[-1] < cfg.max_epochs:
        lengths.append(lengths[-1] * 2)
    if lengths[-1] != cfg.max_epochs:
        raise ValueError("max_epochs must be pool_epochs times a power of 2")
    return lengths


def evaluated_epochs(cfg: Config) -> set[int]:
    """The epochs after which validation accuracy is measured: every rung of
    successive halving, every trial length and its half, quarter and eighth (the
    convergence budgets); the others are not needed, so not spent."""
    rungs = {
        r for _, r in halving_rungs(max(cfg.halving_starts), cfg.pool_epochs, cfg.eta)
    }
    lengths = {max(1, n // 2**k) for n in ladder(cfg) for k in range(4)}
    return rungs | lengths


def pool_sizes(cfg: Config) -> list[int]:
    """The pool and its quarter and half (the sub-pools replayed for the map)."""
    sizes = [cfg.random_pool // 4, cfg.random_pool // 2, cfg.random_pool]
    if max(cfg.halving_starts) > sizes[0]:
        raise ValueError("the largest bracket must fit in a quarter of the pool")
    return sizes


# ---------------------------------------------------------------- the spaces


def sample_space(space: dict, integer: tuple, n: int, rng: np.random.Generator):
    """n configurations drawn uniformly over `space` (integers for `integer` keys)."""
    configs = []
    for _ in range(n):
        config = {}
        for name, (low, high) in space.items():
            if name in integer:
                config[name] = float(rng.integers(low, high + 1))
            else:
                config[name] = float(rng.uniform(low, high))
        configs.append(config)
    return configs


def sample_configs(n: int, rng: np.random.Generator) -> list[dict[str, float]]:
    """n MLP configurations drawn uniformly over SPACE."""
    return sample_space(SPACE, INTEGER, n, rng)


# ---------------------------------------------------------------- the data


def load_split(
    seed: int, cfg: Config
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Stratified train/val/test split of digits; pixels scaled to [0, 1]."""
    x, y = load_digits(return_X_y=True)
    x = x.astype(np.float32) / 16.0
    x_rest, x_test, y_rest, y_test = train_test_split(
        x, y, test_size=cfg.test_fraction, stratify=y, random_state=seed
    )
    val = cfg.val_fraction / (1.0 - cfg.test_fraction)
    x_train, x_val, y_train, y_val = train_test_split(
        x_rest, y_rest, test_size=val, stratify=y_rest, random_state=seed
    )
    return x_train, y_train, x_val, y_val, x_test, y_test


def stack_splits(splits: list[tuple], device) -> dict[str, torch.Tensor]:
    """Every seed's split as [S, rows, ...] tensors (all splits have equal sizes)."""
    names = ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test")
    out = {}
    for index, name in enumerate(names):
        array = np.stack([split[index] for split in splits])
        dtype = torch.float32 if name.startswith("x") else torch.long
        out[name] = torch.tensor(array, dtype=dtype, device=device)
    return out


# ---------------------------------------------------------------- the trials


def layout(d: int, width: int, depth: int) -> list[tuple[int, ...]]:
    """Parameter shapes of one MLP, in flat order: W0, b0, W1, b1, ..., Wout, bout."""
    shapes: list[tuple[int, ...]] = []
    fan_in = d
    for _ in range(depth):
        shapes += [(fan_in, width), (width,)]
        fan_in = width
    return shapes + [(width, CLASSES), (CLASSES,)]


def flat_size(shapes: list[tuple[int, ...]]) -> int:
    return sum(math.prod(shape) for shape in shapes)


def resize_rows(rows: torch.Tensor, d: int, depth: int, width: int, to: int):
    """Flat parameter rows laid out for `width` hidden units -> laid out for `to`:
    each layer's block in the top-left corner, zeros in the padded units (which
    stay zero in training: no gradient reaches them). Shrinks when to < width."""
    if width == to:
        return rows
    out = rows.new_zeros(rows.shape[0], flat_size(layout(d, to, depth)))
    src = dst = 0
    for old, new in zip(layout(d, width, depth), layout(d, to, depth), strict=True):
        common = tuple(slice(0, min(a, b)) for a, b in zip(old, new, strict=True))
        block = rows[:, src : src + math.prod(old)].reshape(-1, *old)
        target = out[:, dst : dst + math.prod(new)].view(-1, *new)
        target[(slice(None), *common)] = block[(slice(None), *common)]
        src, dst = src + math.prod(old), dst + math.prod(new)
    return out


def init_rows(config: dict, d: int, trial_seed: int) -> torch.Tensor:
    """One trial's initial weights, flat [1, size]: PyTorch's default Linear init
    (uniform +-1/sqrt(fan_in) for weights and biases) times the trial's init scale,
    drawn from the trial's own generator (whatever group it trains in)."""
    gen = torch.Generator().manual_seed(trial_seed)
    width, depth = 2 ** int(config["log2_width"]), int(config["depth"])
    scale = 10 ** config["log10_init_scale"]
    parts, fan_in = [], d
    for shape in layout(d, width, depth):
        if len(shape) == 2:
            fan_in = shape[0]
        bound = scale / math.sqrt(fan_in)
        parts.append((torch.rand(math.prod(shape), generator=gen) * 2 - 1) * bound)
    return torch.cat(parts)[None]


@dataclass
class TrialState:
    """What a trial carries between training stages: its parameters and Adam moments
    (flat [1, size], laid out for its own width; no moments before its first step)
    and the Adam steps taken."""

    params: torch.Tensor
    m: torch.Tensor | None = None
    v: torch.Tensor | None = None
    steps: int = 0


class Trials:
    """T MLPs of one depth, each on its own seed's data, as one batched model:
    parameters [T, size] laid out for `width` hidden units (narrower trials padded
    with zeros), per-trial learning rate, L2 and dropout, hand-written Adam. The
    summed loss gives each trial exactly its own gradient."""

    def __init__(
        self,
        configs: list[dict],
        seed_pos: list[int],
        states: list[TrialState],
        depth: int,
        width: int,
        d: int,
        device,
    ):
        self.configs, self.depth, self.width, self.d = configs, depth, width, d
        self.device = device
        self.own = [2 ** int(c["log2_width"]) for c in configs]
        steps = {state.steps for state in states}
        if len(steps) != 1:
            raise ValueError("trials trained together must have taken equal steps")
        self.steps = steps.pop()

        def stack(name: str) -> torch.Tensor:
            rows = [
                resize_rows(getattr(state, name), d, depth, own, width)
                for state, own in zip(states, self.own, strict=True)
            ]
            return torch.cat(rows).to(device)  # one copy in, whatever the stage

        self.params = stack("params").requires_grad_(True)
        fresh = states[0].m is None
        self.m = torch.zeros_like(self.params) if fresh else stack("m")
        self.v = torch.zeros_like(self.params) if fresh else stack("v")
        # Dropout as a byte threshold: a unit is kept when a uniform random byte is
        # >= round(256 p), so the rate is p to the nearest 1/256.
        drop = [round(256 * c["dropout"]) for c in configs]
        self.dropout = any(drop)
        settings = torch.tensor(  # one copy in for all of a group's settings
            [
                seed_pos,
                [10 ** c["log10_lr"] for c in configs],
                [10 ** c["log10_weight_decay"] for c in configs],
                drop,
                [256 / (256 - t) for t in drop],
            ],
            dtype=torch.float64,
        ).to(device=device, dtype=torch.float32)
        self.seed_pos = settings[0].long()
        self.lr, self.l2 = settings[1], settings[2]
        self.threshold = settings[3].to(torch.uint8)
        self.keep_scale = settings[4]
        self.shapes = layout(d, width, depth)

    def views(self, flat: torch.Tensor) -> list[torch.Tensor]:
        """Per-layer views of flat rows: [W0 [T, d, H], b0 [T, 1, H], ...]."""
        out, start = [], 0
        for shape in self.shapes:
            part = flat[:, start : start + math.prod(shape)]
            out.append(part.view(-1, *shape) if len(shape) == 2 else part[:, None])
            start += math.prod(shape)
        return out

    def forward(self, x: torch.Tensor, gen=None, weights=None) -> torch.Tensor:
        """x [T, n, d] -> logits [T, n, 10]; dropout (with gen) between layers."""
        weights = self.views(self.params) if weights is None else weights
        h = x
        for layer in range(self.depth + 1):
            if layer:
                h = torch.relu(h)
                if gen is not None and self.dropout:
                    h = h * self.keep_mask(h.shape, gen)
            h = torch.baddbmm(weights[2 * layer + 1], h, weights[2 * layer])
        return h

    def keep_mask(self, shape, gen: torch.Generator) -> torch.Tensor:
        """Inverted-dropout multipliers [T, n, H] from random bytes (eight per
        64-bit draw: a sixth of the cost of one float per unit)."""
        count = math.prod(shape) // 8
        words = torch.randint(
            -(2**63), 2**63 - 1, (count,), generator=gen, device=self.device
        )
        keep = words.view(torch.uint8).view(shape) >= self.threshold[:, None, None]
        return keep.to(torch.float32).mul_(self.keep_scale[:, None, None])

    def train_epoch(self, data: dict, batch_size: int, gen: torch.Generator):
        """One epoch: each seed's rows in a fresh random order, shared by that
        seed's trials."""
        x_all, y_all = data["x_train"], data["y_train"]
        seeds, n = x_all.shape[0], x_all.shape[1]
        orders = torch.stack(
            [torch.randperm(n, generator=gen, device=self.device) for _ in range(seeds)]
        )
        pick = torch.arange(seeds, device=self.device)[:, None]
        beta1, beta2, eps = 0.9, 0.999, 1e-8
        for start in range(0, n, batch_size):
            rows = orders[:, start : start + batch_size]
            x = x_all[pick, rows].index_select(0, self.seed_pos)  # [T, b, d]
            y = y_all[pick, rows].index_select(0, self.seed_pos)  # [T, b]
            weights = self.views(self.params)
            logits = self.forward(x, gen, weights)
            loss = (
                F.cross_entropy(
                    logits.reshape(-1, CLASSES), y.reshape(-1), reduction="sum"
                )
                / y.shape[1]
            )  # sum over trials of each trial's mean loss
            # The views' gradients: asking for the flat leaf's would make autograd
            # zero-fill a full copy of it for every layer.
            grads = torch.autograd.grad(loss, weights)
            self.steps += 1
            correction1 = 1 - beta1**self.steps
            correction2 = math.sqrt(1 - beta2**self.steps)
            step = self.lr * correction2 / correction1
            with torch.no_grad():
                for w, g, m, v in zip(
                    weights, grads, self.views(self.m), self.views(self.v), strict=True
                ):
                    per = (-1,) + (1,) * (w.dim() - 1)  # broadcast over trials
                    g = torch.addcmul(g, w, self.l2.view(per))  # + L2 * weight
                    m.lerp_(g, 1 - beta1)
                    v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
                    # w -= lr/c1 * m / (sqrt(v)/c2 + eps), as one division
                    denom = v.sqrt().add_(eps * correction2).div_(step.view(per))
                    w.addcdiv_(m, denom, value=-1.0)

    @torch.no_grad()
    def accuracy(self, x_all: torch.Tensor, y_all: torch.Tensor) -> torch.Tensor:
        """Per-trial accuracy in points [T] on its own seed's rows (on the device);
        a diverged trial (NaN logits) scores what argmax makes of them."""
        x = x_all.index_select(0, self.seed_pos)
        y = y_all.index_select(0, self.seed_pos)
        return 100 * (self.forward(x).argmax(-1) == y).float().mean(-1)

    def state(self, index: int) -> TrialState:
        """Trial `index`'s state, cut back to its own width (on the device)."""
        own = self.own[index]

        def cut(rows: torch.Tensor) -> torch.Tensor:
            row = rows[index : index + 1].detach()
            return resize_rows(row, self.d, self.depth, self.width, own)

        return TrialState(cut(self.params), cut(self.m), cut(self.v), self.steps)


def train_trials(
    configs: list[dict],
    seed_pos: list[int],
    states: list[TrialState],
    data: dict,
    epochs: int,
    batch_size: int,
    gen_seed: int,
    test_at_end: bool,
    evaluate=None,
) -> tuple[np.ndarray, np.ndarray | None, list[TrialState]]:
    """Train trials of one depth for `epochs` more epochs as one batched model
    padded to the widest. Returns validation accuracy after each epoch [T, epochs]
    (NaN after the epochs, counted from this call's first, that `evaluate` leaves
    out; all by default), test accuracy at the end [T] (if asked) and each trial's
    state."""
    depth = {int(c["depth"]) for c in configs}
    if len(depth) != 1:
        raise ValueError("train_trials needs trials of one depth")
    device = data["x_train"].device
    width = max(2 ** int(c["log2_width"]) for c in configs)
    group = Trials(
        configs, seed_pos, states, depth.pop(), width, data["x_train"].shape[2], device
    )
    gen = torch.Generator(device=device).manual_seed(gen_seed)
    val, kept = [], []
    for epoch in range(1, epochs + 1):
        group.train_epoch(data, batch_size, gen)
        if evaluate is None or epoch in evaluate or epoch == epochs:
            val.append(group.accuracy(data["x_val"], data["y_val"]))
            kept.append(epoch - 1)
    if test_at_end:
        val.append(group.accuracy(data["x_test"], data["y_test"]))
    scores = torch.stack(val, 1).cpu().numpy().astype(np.float64)  # one read-back
    val_acc = np.full((len(configs), epochs), np.nan)
    val_acc[:, kept] = scores[:, : len(kept)]
    test = scores[:, -1] if test_at_end else None
    return val_acc, test, [group.state(i) for i in range(len(configs))]


def fresh_state(config: dict, d: int, trial_seed: int) -> TrialState:
    return TrialState(init_rows(config, d, trial_seed))


def train_groups(
    trials: list[dict],
    data: dict,
    epochs: int,
    batch_size: int,
    stage: int,
    key,
    evaluate: set[int],
) -> None:
    """Train every trial (dicts with config, seed_pos, state; updated in place with
    the new state and the validation curve appended, NaN at the epochs not in
    `evaluate`) for `epochs` more, grouped by key(config) into batched models of
    one depth."""
    groups: dict[tuple, list[int]] = {}
    for index, trial in enumerate(trials):
        groups.setdefault(key(trial["config"]), []).append(index)
    for number, (group_key, members) in enumerate(sorted(groups.items())):
        chosen = [trials[i] for i in members]
        val, test, states = train_trials(
            [t["config"] for t in chosen],
            [t["seed_pos"] for t in chosen],
            [t["state"] for t in chosen],
            data,
            epochs,
            batch_size,
            gen_seed=1_000_003 * stage + 1009 * number + hash_key(group_key),
            test_at_end=True,
            evaluate={e - len(chosen[0].get("val", ())) for e in evaluate},
        )
        for row, trial in enumerate(chosen):
            trial["state"] = states[row]
            trial["val"] = np.concatenate([trial.get("val", np.zeros(0)), val[row]])
            trial.setdefault("test", {})[len(trial["val"])] = float(test[row])


def shape_key(config: dict) -> tuple[int, int]:
    return (int(config["depth"]), int(config["log2_width"]))


def depth_key(config: dict) -> tuple[int]:
    return (int(config["depth"]),)


def hash_key(key: tuple) -> int:
    """A stable small integer for a group key of ints (Python's hash is salted)."""
    value = 0
    for part in key:
        value = (value * 131 + int(part)) % 1_000_003
    return value


# ---------------------------------------------------------------- search replays


def best_so_far(values: np.ndarray) -> np.ndarray:
    """Running maximum along the last axis: the budget curve of a search that
    keeps the best trial seen."""
    return np.maximum.accumulate(values, axis=-1)


def pick_positions(values: np.ndarray) -> np.ndarray:
    """Position (along the last axis) of the trial a search keeps after each trial:
    the first one to reach the running maximum (ties keep the earlier)."""
    running = best_so_far(values)
    new = np.ones(values.shape, dtype=bool)
    new[..., 1:] = values[..., 1:] > running[..., :-1]
    positions = np.where(new, np.arange(values.shape[-1]), 0)
    return np.maximum.accumulate(positions, axis=-1)


def halving_rungs(n0: int, max_epochs: int, eta: int) -> list[tuple[int, int]]:
    """(configs, epochs) per rung of successive halving from n0 configs at one
    epoch: keep ceil(n/eta) and multiply the epochs by eta until max_epochs."""
    rungs, n, r = [], n0, 1
    while True:
        rungs.append((n, min(r, max_epochs)))
        if r >= max_epochs:
            return rungs
        n, r = max(1, -(-n // eta)), r * eta


def halving_epochs(n0: int, max_epochs: int, eta: int) -> int:
    """Epochs successive halving spends: promoted trials resume, so each rung
    costs its configs times the epochs added since the rung before."""
    total, previous = 0, 0
    for n, r in halving_rungs(n0, max_epochs, eta):
        total += n * (r - previous)
        previous = r
    return total


def successive_halving(val: np.ndarray, n0: int, eta: int) -> int:
    """Index (into val's rows) of the winner of one bracket. val [n0, R]: each
    configuration's validation accuracy after every epoch."""
    alive = np.arange(n0)
    rungs = halving_rungs(n0, val.shape[1], eta)
    for (_, r), (keep, _) in zip(rungs, rungs[1:] + [(1, 0)], strict=True):
        scores = val[alive, r - 1]
        # Stable sort on -score: ties go to the earlier draw.
        alive = alive[np.argsort(-scores, kind="stable")[:keep]]
    return int(alive[0])


def standard_error(best: float, rows: int) -> float:
    """Binomial standard error (points) of a validation accuracy near `best` on
    `rows` rows, with the proportion taken as (k + 1) / (rows + 2) so that a
    perfect score does not give zero."""
    correct = round(best / 100 * rows)
    p = (correct + 1) / (rows + 2)
    return 100 * math.sqrt(p * (1 - p) / rows)


def trials_within(curves: np.ndarray, target: float) -> float:
    """Mean over replays of the trials until the best-so-far reaches target
    (censored at the pool: a replay that never does counts the whole pool)."""
    return float(((curves < target).sum(axis=1) + 1).clip(max=curves.shape[1]).mean())


def interpolate(curve: np.ndarray, trials: float) -> float:
    """A curve over 1..len trials read at a fractional trial count: a search of
    floor or ceil trials, with the probabilities that make the mean budget exact."""
    low = int(math.floor(trials))
    if low >= len(curve):
        return float(curve[-1])
    if low < 1:
        return float(curve[0])
    weight = trials - low
    return float(
        (1 - weight) * curve[low - 1] + weight * curve[min(low, len(curve) - 1)]
    )


def replay(
    pool_val: np.ndarray,
    pool_test: np.ndarray,
    cfg: Config,
    rng: np.random.Generator,
) -> dict:
    """Random search and successive halving replayed over one seed's
    trained pool, at every sub-pool size. Returns curves and summary numbers."""
    R = cfg.pool_epochs
    out: dict = {"pools": {}}
    orders = np.stack([rng.permutation(len(pool_val)) for _ in range(cfg.search_seeds)])
    for pool in pool_sizes(cfg):
        # A sub-pool is the first `pool` draws (iid, so a random subset); each
        # replay visits it in its own order.
        sub = np.stack([order[order < pool] for order in orders])
        vals = pool_val[sub, -1]  # [replays, pool]
        curves = best_so_far(vals)
        picks = np.take_along_axis(sub, pick_positions(vals), axis=1)
        pick_test = pool_test[picks]
        entry = {
            "best_val": curves.mean(axis=0),
            "pick_test": pick_test.mean(axis=0),
            "pool_best": float(pool_val[:pool, -1].max()),
            "halving": {},
        }
        for n0 in cfg.halving_starts:
            winners = np.array(
                [
                    sub[s, successive_halving(pool_val[sub[s, :n0]], n0, cfg.eta)]
                    for s in range(cfg.search_seeds)
                ]
            )
            epochs = halving_epochs(n0, R, cfg.eta)
            entry["halving"][n0] = {
                "epochs": epochs,
                "best_val": float(pool_val[winners, -1].mean()),
                "best_test": float(pool_test[winners].mean()),
                "random_test": interpolate(entry["pick_test"], epochs / R),
            }
        largest = entry["halving"][max(cfg.halving_starts)]
        reached = np.nonzero(entry["pick_test"] >= largest["best_test"])[0]
        trials = reached[0] + 1 if len(reached) else pool
        entry["compute_ratio"] = R * trials / largest["epochs"]
        entry["censored"] = float(len(reached) == 0)
        entry["ratio_cap"] = R * pool / largest["epochs"]
        entry["curves"] = curves
        out["pools"][pool] = entry
    return out


# ---------------------------------------------------------------- tuning curves


# One generator per sample size: opda caches the Learned-Miller-DeStefano band
# weights per (size, confidence, generator), so each size is simulated once.
_BAND_GENERATORS: dict[int, np.random.Generator] = {}


def tuning_curve_band(scores: np.ndarray, trials) -> dict[str, np.ndarray]:
    """Median tuning curve (the median best score after n random-search trials)
    with its simultaneous 95% band, from opda's Learned-Miller-DeStefano CDF bands
    (Lourie et al. 2024), on accuracies bounded by [0, 100]. Accuracies on a fixed
    set tie; the bands assume a continuous distribution for exact coverage, and
    with ties their coverage is at least the nominal 95% (the order-statistic
    argument that makes them exact only gains slack), so the warning is silenced."""
    n = len(scores)
    generator = _BAND_GENERATORS.setdefault(n, np.random.default_rng(0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        low_cdf, point_cdf, high_cdf = EmpiricalDistribution.confidence_bands(
            np.asarray(scores, dtype=float),
            confidence=0.95,
            a=0.0,
            b=100.0,
            method="ld_equal_tailed",
            generator=generator,
            n_jobs=1,
        )
    trials = np.asarray(trials)
    return {
        # The upper CDF band gives the lower tuning curve, and vice versa.
        "curve_low": high_cdf.quantile_tuning_curve(trials),
        "curve_median": point_cdf.quantile_tuning_curve(trials),
        "curve_high": low_cdf.quantile_tuning_curve(trials),
        "curve_expected": point_cdf.average_tuning_curve(trials),
    }


# ---------------------------------------------------------------- classical


def forest_params(config: dict) -> dict:
    """scikit-learn arguments of one forest configuration."""
    depth = config["log2_max_depth"]
    return {
        "max_features": max(1, round(2 ** config["log2_max_features"])),
        "max_depth": None if not math.isfinite(depth) else round(2**depth),
        "min_samples_leaf": int(2 ** config["log2_min_samples_leaf"]),
        "bootstrap": bool(config["bootstrap"]),
        "criterion": "entropy" if config["entropy"] else "gini",
    }


def forest_search(split: tuple, cfg: Config, seed: int, threads: int) -> dict:
    """The forest's defaults and a random search over FOREST_SPACE, every forest
    fitted on the training rows and scored (in points) on validation and test. A
    seeded forest is the same for any number of jobs."""
    x_train, y_train, x_val, y_val, x_test, y_test = split
    pool = sample_space(
        FOREST_SPACE, FOREST_INTEGER, cfg.forest_pool, np.random.default_rng(seed + 7)
    )
    scores = []
    for config in [FOREST_DEFAULT, *pool]:
        model = RandomForestClassifier(
            n_estimators=cfg.forest_trees,
            random_state=seed,
            n_jobs=threads,
            **forest_params(config),
        ).fit(x_train, y_train)
        scores.append(
            (100 * model.score(x_val, y_val), 100 * model.score(x_test, y_test))
        )
    val, test = np.array(scores).T
    best = int(np.argmax(val))  # the default (first) wins ties
    return {"configs": [FOREST_DEFAULT, *pool], "val": val, "test": test, "best": best}


# ---------------------------------------------------------------- the run


def curve_points(limit: int) -> list[int]:
    return [n for n in CURVE_POINTS if n < limit] + [limit]


def run(cfg: Config, ctx: core.RunContext) -> pd.DataFrame:
    """Tidy records: one row per (seed, arm, metric[, epochs, trials, pool,
    tolerance_se, starts, length]); search-seed replays enter as their mean per
    data seed."""
    lengths = ladder(cfg)
    records = core.Records()
    seeds = list(range(cfg.seeds))
    splits = [load_split(seed, cfg) for seed in seeds]
    data = stack_splits(splits, ctx.device)
    d, n_val = data["x_train"].shape[2], data["x_val"].shape[1]

    # Stage 1: every trial of every seed for the search trial length, batched by
    # shape (depth, width): the default, the grid and the random pool.
    trials = []
    for pos, seed in enumerate(seeds):
        pool = sample_configs(cfg.random_pool, np.random.default_rng(seed))
        for index, (kind, config) in enumerate(
            [("default", DEFAULT)] + [("pool", c) for c in pool]
        ):
            trials.append(
                {
                    "seed": seed,
                    "seed_pos": pos,
                    "kind": kind,
                    "config": config,
                    "state": fresh_state(config, d, 1_000_003 * seed + index),
                }
            )
    # Stage 0 trains every trial for the search trial length, batched by shape
    # (depth, width). Each later stage continues the best trials of each seed (on
    # validation at the length before), their number halved at every doubling,
    # with the default alongside, batched by depth.
    evaluate = evaluated_epochs(cfg)
    alive = {
        seed: [t for t in trials if t["seed"] == seed and t["kind"] != "default"]
        for seed in seeds
    }
    defaults = [t for t in trials if t["kind"] == "default"]
    for stage in ctx.progress(range(len(lengths)), total=len(lengths), desc="lengths"):
        if stage == 0:
            train_groups(
                trials, data, lengths[0], cfg.batch_size, 0, shape_key, evaluate
            )
            continue
        before, keep = lengths[stage - 1], max(1, cfg.ladder_keep >> (stage - 1))
        for seed in seeds:
            ranked = sorted(alive[seed], key=lambda t: -t["val"][before - 1])
            alive[seed] = ranked[:keep]  # a stable sort: ties keep the earlier
        batch = defaults + [t for seed in seeds for t in alive[seed]]
        train_groups(
            batch,
            data,
            lengths[stage] - before,
            cfg.batch_size,
            stage,
            depth_key,
            evaluate,
        )

    for seed, pos in zip(seeds, range(len(seeds)), strict=True):
        mine = [t for t in trials if t["seed"] == seed]
        record_seed(cfg, records, seed, mine, lengths, n_val)
        forest = forest_search(splits[pos], cfg, seed, ctx.threads)
        record_forest(cfg, records, seed, forest, n_val)
    frame = records.frame()
    for column in ("epochs", "trials", "pool", "tolerance_se", "starts", "length"):
        if column not in frame:
            frame[column] = np.nan
    return frame


def record_seed(cfg, records, seed: int, trials: list[dict], lengths, n_val: int):
    """One seed's MLP records: the default and the tuned network at every trial
    length, the search replays and the tuning-curve band."""
    R = cfg.pool_epochs

    def add(arm, metric, value, **extra):
        records.add(metric, value, seed=seed, arm=arm, **extra)

    add("split", "validation_rows", n_val)
    default = next(t for t in trials if t["kind"] == "default")
    for epoch, value in enumerate(default["val"], start=1):
        if np.isfinite(value):
            add(MLP_DEFAULT, "val", value, epochs=epoch)
    for length in lengths:
        add(MLP_DEFAULT, "test", default["test"][length], epochs=length, length=length)
        # Tuned at this length: the best on validation of the trials trained this
        # long (the default among them).
        reached = [t for t in trials if len(t["val"]) >= length]
        best = max(reached, key=lambda t: t["val"][length - 1])  # first of ties
        for epoch in sorted({length // 4, length // 2, length} - {0}):
            add(MLP_TUNED, "val", best["val"][epoch - 1], epochs=epoch, length=length)
        add(MLP_TUNED, "test", best["test"][length], epochs=length, length=length)
        for name, value in best["config"].items():
            add(MLP_TUNED, f"chosen_{name}", value, length=length)
        add(MLP_TUNED, "is_default", float(best["kind"] == "default"), length=length)

    pool = [t for t in trials if t["kind"] == "pool"]
    pool_val = np.stack([t["val"][:R] for t in pool])
    pool_test = np.array([t["test"][R] for t in pool])
    result = replay(pool_val, pool_test, cfg, np.random.default_rng(10_000 + seed))
    for pool_size, entry in result["pools"].items():
        se = standard_error(entry["pool_best"], n_val)
        for k in TOLERANCES_SE:
            target = entry["pool_best"] - k * se
            add(
                RANDOM,
                "trials_within",
                trials_within(entry["curves"], target),
                pool=pool_size,
                tolerance_se=k,
            )
            add(RANDOM, "tolerance", k * se, pool=pool_size, tolerance_se=k)
        for n0, bracket in entry["halving"].items():
            extra = {"pool": pool_size, "starts": n0, "epochs": bracket["epochs"]}
            for name in ("best_val", "best_test", "random_test"):
                add(HALVING, name, bracket[name], **extra)
        for name in ("compute_ratio", "censored", "ratio_cap"):
            add(HALVING, name, entry[name], pool=pool_size)
    full = result["pools"][cfg.random_pool]
    for n in curve_points(cfg.random_pool):
        extra = {"pool": cfg.random_pool, "trials": n, "epochs": n * R}
        add(RANDOM, "best_val", full["best_val"][n - 1], **extra)
        add(RANDOM, "pick_test", full["pick_test"][n - 1], **extra)
    band = tuning_curve_band(pool_val[:, -1], curve_points(cfg.random_pool))
    for metric, values in band.items():
        for n, value in zip(curve_points(cfg.random_pool), values, strict=True):
            add(RANDOM, metric, value, trials=n, pool=cfg.random_pool)


def record_forest(cfg, records, seed: int, forest: dict, n_val: int):
    def add(metric, value, **extra):
        records.add(metric, value, seed=seed, arm=FOREST, **extra)

    val, test, best = forest["val"], forest["test"], forest["best"]
    add("default_val", val[0])
    add("default_test", test[0])
    add("tuned_val", val[best])
    add("tuned_test", test[best])
    add("tuning_gap", test[best] - test[0])
    add("is_default", float(best == 0))
    for name, value in forest_params(forest["configs"][best]).items():
        if name == "max_depth":
            value = -1 if value is None else value  # -1: unlimited
        if name == "criterion":
            value = float(value == "entropy")
        add(f"chosen_{name}", float(value))
    # Random search over the forest pool (the default is not one of its draws).
    pool_val = val[1:]
    rng = np.random.default_rng(20_000 + seed)
    orders = np.stack([rng.permutation(len(pool_val)) for _ in range(cfg.search_seeds)])
    curves = best_so_far(pool_val[orders])
    se = standard_error(float(pool_val.max()), n_val)
    for k in TOLERANCES_SE:
        add(
            "trials_within",
            trials_within(curves, pool_val.max() - k * se),
            tolerance_se=k,
        )
    points = curve_points(len(pool_val))
    band = tuning_curve_band(pool_val, points)
    for metric, values in band.items():
        for n, value in zip(points, values, strict=True):
            add(metric, value, trials=n, pool=len(pool_val))


# ---------------------------------------------------------------- summary


SPLIT = "split"


def lengths_of(records: pd.DataFrame) -> list[int]:
    rows = core.select(records, arm=MLP_DEFAULT, metric="test")
    return sorted(int(n) for n in rows["length"].unique())


def pools_of(records: pd.DataFrame) -> list[int]:
    rows = core.select(records, arm=RANDOM, metric="trials_within")
    return sorted(int(n) for n in rows["pool"].unique())


def largest_start(records: pd.DataFrame) -> int:
    return int(core.select(records, arm=HALVING, metric="best_test")["starts"].max())


def gap_at(records: pd.DataFrame, length: int) -> pd.Series:
    """Per seed: the tuned network's test accuracy minus the default's, both at
    `length` epochs."""
    tuned = core.per_seed(records, "test", arm=MLP_TUNED, length=length)
    default = core.per_seed(records, "test", arm=MLP_DEFAULT, length=length)
    return tuned - default


def points(values, label: str, unit: str = "points", digits: int = 1):
    return core.bootstrap(values, unit=unit, digits=digits, label=label)


def cell_estimates(
    records: pd.DataFrame, length: int, tolerance_se: float, pool: int | None = None
) -> dict[str, core.Estimate]:
    """The rule's four inputs at one setting: the trial length of the default and
    tuned networks, the tolerance (in standard errors) and the pool size."""
    pool = max(pools_of(records)) if pool is None else pool
    seeds = records["seed"].nunique()
    return {
        KEY: points(gap_at(records, length), "mean tuned minus default"),
        "random_trials_within": points(
            core.per_seed(
                records,
                "trials_within",
                arm=RANDOM,
                pool=pool,
                tolerance_se=tolerance_se,
            ),
            "mean trials",
            unit="trials",
        ),
        "forest_tuning_gap": points(
            core.per_seed(records, "tuning_gap", arm=FOREST), "mean tuned minus default"
        ),
        "halving_compute_ratio": points(
            core.per_seed(records, "compute_ratio", arm=HALVING, pool=pool),
            "mean ratio",
            unit="x",
        ),
        "trial_epochs": core.exact(length, seeds, label="trial length", unit="epochs"),
        "tolerance_se": core.exact(
            tolerance_se, seeds, label="tolerance", unit="standard errors", digits=0
        ),
        "pool_size": core.exact(pool, seeds, label="random configurations per seed"),
    }


def summarize(records: pd.DataFrame) -> dict[str, core.Estimate]:
    lengths, pools = lengths_of(records), pools_of(records)
    longest, short, pool, quarter = lengths[-1], lengths[0], pools[-1], pools[0]
    seeds = records["seed"].nunique()
    estimates = cell_estimates(records, longest, TOLERANCE_SE, pool)

    def test(arm: str, length: int):
        return core.per_seed(records, "test", arm=arm, length=length)

    estimates.update(
        {
            "mlp_default_test": points(test(MLP_DEFAULT, longest), "mean"),
            "mlp_tuned_test": points(test(MLP_TUNED, longest), "mean"),
            "mlp_headroom": points(100 - test(MLP_DEFAULT, longest), "mean"),
            "mlp_tuning_gap_short": points(gap_at(records, short), "mean"),
            "mlp_default_test_short": points(test(MLP_DEFAULT, short), "mean"),
            "mlp_tuned_test_short": points(test(MLP_TUNED, short), "mean"),
            "mlp_default_chosen": core.exact(
                core.per_seed(
                    records, "is_default", arm=MLP_TUNED, length=longest
                ).sum(),
                seeds,
                label="seeds whose tuned network is the default",
                unit="seeds",
            ),
        }
    )
    for name in ("default_test", "tuned_test"):
        estimates[f"forest_{name}"] = points(
            core.per_seed(records, name, arm=FOREST), "mean"
        )
    estimates["forest_trials_within"] = points(
        core.per_seed(records, "trials_within", arm=FOREST, tolerance_se=TOLERANCE_SE),
        "mean trials",
        unit="trials",
    )
    estimates["tolerance_points"] = points(
        core.per_seed(
            records, "tolerance", arm=RANDOM, pool=pool, tolerance_se=TOLERANCE_SE
        ),
        "mean",
        digits=2,
    )
    censored = core.per_seed(records, "censored", arm=HALVING, pool=pool)
    estimates["halving_censored"] = core.exact(
        censored.sum(), seeds, label="seeds censored at the pool", unit="seeds"
    )
    estimates["ratio_cap"] = core.exact(
        core.per_seed(records, "ratio_cap", arm=HALVING, pool=pool).iloc[0],
        seeds,
        label="the pool's epochs over the largest bracket's",
        unit="x",
        digits=1,
    )
    start = largest_start(records)
    bracket = {"arm": HALVING, "pool": pool, "starts": start}
    estimates["halving_test_gain"] = points(
        core.per_seed(records, "best_test", **bracket)
        - core.per_seed(records, "random_test", **bracket),
        "mean halving minus random",
        digits=2,
    )
    estimates["halving_largest_start"] = core.exact(
        start, seeds, label="configurations of the largest bracket"
    )
    estimates["pool_over_bracket"] = core.exact(
        pool / start, seeds, label="pool size over the largest bracket", unit="x"
    )
    quarter_cell = cell_estimates(records, longest, TOLERANCE_SE, quarter)
    estimates["random_trials_within_quarter_pool"] = quarter_cell[
        "random_trials_within"
    ]
    estimates["halving_compute_ratio_quarter_pool"] = quarter_cell[
        "halving_compute_ratio"
    ]
    return estimates


RULE = (
    f"At the longest trial length (the default trained as long as the tuned "
    f"network) and a tolerance of {TOLERANCE_SE:g} binomial standard errors of the "
    f"validation accuracy: holds if the MLP's tuning gap (tuned minus default test "
    f"accuracy) is >= {MIN_GAP:g} points, random search needs >= {MIN_TRIALS:g} "
    f"trials for its expected best validation accuracy to come within the "
    f"tolerance of the pool's best, and the random forest's tuning gap is <= "
    f"{MAX_FOREST_GAP:g} point; mitigated if all that holds but successive halving "
    f"reaches random search's test accuracy with >= {MIN_SPEEDUP:g}x less compute "
    f"(tweet 20); refuted if the MLP's gap is < {MIN_GAP:g} points, or search needs "
    f"fewer trials, or the forest needs tuning too; each comparison needs its whole "
    f"95% CI past the threshold, otherwise inconclusive."
)


def verdict(estimates: dict[str, core.Estimate]) -> core.Verdict:
    gap = estimates[KEY]
    trials = estimates["random_trials_within"]
    forest = estimates["forest_tuning_gap"]
    ratio = estimates["halving_compute_ratio"]
    where = ""
    if "trial_epochs" in estimates:
        k = estimates["tolerance_se"].value
        where = (
            f"at trials of {estimates['trial_epochs'].value:.0f} epochs and a "
            f"tolerance of {k:g} standard error{'' if k == 1 else 's'}: "
        )
    reason = (
        f"{where}MLP tuning gap {gap.text()}; random-search trials to within the "
        f"tolerance {trials.text()}; forest tuning gap {forest.text()}; successive "
        f"halving compute ratio {ratio.text()}"
    )
    claim = core.all_of(
        gap.above(MIN_GAP), trials.above(MIN_TRIALS), forest.below(MAX_FOREST_GAP)
    )
    if claim is False:
        status = "refuted"
    elif claim is None:
        status = "inconclusive"
    else:
        speedup = ratio.above(MIN_SPEEDUP)
        status = {True: "mitigated", False: "holds", None: "inconclusive"}[speedup]
    thresholds = {
        KEY: MIN_GAP,
        "random_trials_within": MIN_TRIALS,
        "forest_tuning_gap": MAX_FOREST_GAP,
        "halving_compute_ratio": MIN_SPEEDUP,
    }
    return core.Verdict(status, reason, RULE, thresholds=thresholds)


# ---------------------------------------------------------------- assessment


def convergence_records(records: pd.DataFrame) -> tuple[core.Convergence, ...]:
    """Validation accuracy at 3+ budgets, half the last among them, for each MLP
    the verdict reads: the default, the tuned network at the longest trial, and
    the best search trial (the pool's best at the search trial length)."""
    lengths = lengths_of(records)
    longest, short = lengths[-1], lengths[0]
    default_budgets = sorted({max(1, longest // 2**k) for k in range(4)})
    default = np.stack(
        [
            core.per_seed(records, "val", arm=MLP_DEFAULT, epochs=e).to_numpy()
            for e in default_budgets
        ],
        axis=1,
    )
    out = [
        core.convergence(
            "MLP with defaults",
            default_budgets,
            default,
            tolerance=CONVERGENCE_TOLERANCE,
            metric="validation accuracy (points) by epochs trained",
            unit="points",
        )
    ]
    for length, what in ((longest, "the longest trial"), (short, "a search trial")):
        budgets = sorted({max(1, length // 4), max(1, length // 2), length})
        values = np.stack(
            [
                core.per_seed(records, "val", arm=MLP_TUNED, length=length, epochs=e)
                for e in budgets
            ],
            axis=1,
        )
        out.append(
            core.convergence(
                f"MLP tuned, {length}-epoch trials ({what})",
                budgets,
                values,
                tolerance=CONVERGENCE_TOLERANCE,
                metric="validation accuracy (points) of the chosen configuration",
                unit="points",
            )
        )
    return tuple(out)


def chosen(records: pd.DataFrame, arm: str, name: str, **where) -> list:
    values = core.per_seed(records, f"chosen_{name}", arm=arm, **where)
    return [round(float(v), 3) for v in values]


def assess(
    records: pd.DataFrame, estimates: dict[str, core.Estimate]
) -> core.Assessment:
    """Convergence of every MLP the verdict reads, both arms' random searches on
    validation, and the rule over trial length x tolerance."""
    lengths, pools = lengths_of(records), pools_of(records)
    longest, short, pool = lengths[-1], lengths[0], pools[-1]
    rows = int(core.per_seed(records, "validation_rows", arm=SPLIT).iloc[0])
    forest_pool = int(
        core.select(records, arm=FOREST, metric="curve_median")["pool"].max()
    )
    tuned_on = (
        f"validation accuracy ({rows} rows per seed, apart from the rows that score "
        "the verdict): "
    )
    mlp_space = {name: list(bounds) for name, bounds in SPACE.items()}
    tuning = [
        core.Tuning(
            "MLP",
            mlp_space,
            {name: chosen(records, MLP_TUNED, name, length=longest) for name in SPACE},
            tuned_on
            + f"random search over {pool} configurations drawn uniformly from the "
            f"ranges listed, and the default, each trained {short} epochs; the best "
            f"on validation continue to {longest} epochs, their number halved at "
            f"every doubling; the tuned network at a trial length is the best on "
            f"validation at that length (listed: at {longest} epochs, one per seed)",
        ),
        core.Tuning(
            "random forest",
            FOREST_RANGES,
            forest_choices(records),
            tuned_on
            + f"random search over {forest_pool} configurations drawn uniformly from "
            "the ranges listed (max_features, max_depth and min_samples_leaf "
            "uniform in their base-2 logarithm), and scikit-learn's defaults; the "
            "best on validation is the tuned forest (listed: one per seed)",
        ),
        core.Tuning(
            "successive halving",
            {
                "bracket_starts": sorted(
                    int(s)
                    for s in core.select(records, arm=HALVING)["starts"]
                    .dropna()
                    .unique()
                )
            },
            {},
            "not chosen: every bracket is reported, and the compute ratio reads the "
            "largest",
        ),
    ]
    effort = (
        f"The MLP got more: per seed {pool} random configurations and the default, "
        f"the best of them trained on to {longest} epochs, against {forest_pool} "
        f"random forest configurations and the default ({pool // forest_pool}x the "
        "trials), both chosen on the same validation rows; each arm's space has five "
        "or six hyperparameters, and the forest's number of trees is fixed at "
        "scikit-learn's default."
    )

    def verdict_at(setting: dict) -> core.Verdict:
        return verdict(
            cell_estimates(records, setting[LENGTH_AXIS], setting[TOLERANCE_AXIS])
        )

    robustness = core.robustness_map(
        {LENGTH_AXIS: lengths, TOLERANCE_AXIS: list(TOLERANCES_SE)},
        verdict_at,
        {LENGTH_AXIS: longest, TOLERANCE_AXIS: TOLERANCE_SE},
    )
    return core.Assessment(
        robustness=robustness,
        convergence=convergence_records(records),
        tuning=tuple(tuning),
        scale_axis=LENGTH_AXIS,
        effort=effort,
    )


# The forest's space as scikit-learn arguments (what the tuning table lists).
FOREST_RANGES = {
    "max_features": [1, 32],
    "max_depth": [3, 32],
    "min_samples_leaf": [1, 8],
    "bootstrap": [False, True],
    "criterion": ["gini", "entropy"],
}


def forest_choices(records: pd.DataFrame) -> dict[str, list]:
    """The chosen forests' scikit-learn arguments, one per seed."""
    out = {}
    for name in FOREST_RANGES:
        values = chosen(records, FOREST, name)
        if name == "max_depth":
            values = ["unlimited" if v < 0 else int(v) for v in values]
        elif name == "criterion":
            values = ["entropy" if v else "gini" for v in values]
        elif name == "bootstrap":
            values = [bool(v) for v in values]
        else:
            values = [int(v) for v in values]
        out[name] = values
    return out


# ---------------------------------------------------------------- charts

LENGTH_TITLE = "trial length (epochs, log scale)"


def length_rows(records: pd.DataFrame) -> pd.DataFrame:
    """Per-seed test accuracy of the MLP with defaults and tuned, by trial length."""
    rows = records[
        records["arm"].isin([MLP_DEFAULT, MLP_TUNED]) & (records["metric"] == "test")
    ].copy()
    rows["model"] = rows["arm"].map(MODEL_LABELS)
    return rows[["seed", "model", "length", "value"]]  # thin: only what is drawn


def gap_chart(records: pd.DataFrame) -> alt.LayerChart:
    lengths = lengths_of(records)
    rows = pd.concat(
        pd.DataFrame(
            {
                "seed": gaps.index,
                "value": gaps.to_numpy(),
                "length": length,
                "model": "MLP: tuned minus defaults",
            }
        )
        for length in lengths
        for gaps in [gap_at(records, length)]
    )
    chart = core.ci_curve(
        core.ci_table(rows, ["model", "length"], core.bootstrap),
        x="length",
        x_title=LENGTH_TITLE,
        value_title="tuning gap (points of test accuracy)",
        colour="model",
        seeds=rows,
        thresholds={"holds needs at least": MIN_GAP},
        fmt=".2f",
        x_fmt="d",
        log_x=True,
        x_values=lengths,
    )
    return core.sized(
        chart, "The MLP's tuning gap by trial length (mean, 95% CI over seeds)"
    )


def accuracy_chart(records: pd.DataFrame) -> alt.LayerChart:
    """Test accuracy of the MLP (defaults, tuned) by trial length, with the random
    forest's (defaults, tuned; no epochs) as dashed levels."""
    rows = length_rows(records)
    lengths = lengths_of(records)
    curves = core.ci_curve(
        core.ci_table(rows, ["model", "length"], core.bootstrap),
        x="length",
        x_title=LENGTH_TITLE,
        value_title="test accuracy (%)",
        colour="model",
        colour_sort=[MODEL_LABELS[MLP_DEFAULT], MODEL_LABELS[MLP_TUNED]],
        seeds=rows,
        fmt=".2f",
        x_fmt="d",
        log_x=True,
        x_values=lengths,
    )
    forest = []
    for metric, label in (("default_test", "defaults"), ("tuned_test", "tuned")):
        est = core.bootstrap(core.per_seed(records, metric, arm=FOREST))
        forest.append(
            {
                "forest": f"random forest, {label}",
                "mean": est.value,
                "low": est.low,
                "high": est.high,
                "seeds": est.n,
            }
        )
    levels = (
        alt.Chart(pd.DataFrame(forest))
        .mark_rule(strokeDash=[6, 3], color="gray")
        .encode(
            y=alt.Y("mean:Q", scale=core.scale()),
            tooltip=core.ci_tooltips("test accuracy (%)", ".2f", "forest:N"),
        )
    )
    return core.sized(
        alt.layer(curves, levels),
        "Test accuracy by trial length; dashed: the random forest (95% CI, seeds)",
    )


def band_chart(records: pd.DataFrame) -> alt.LayerChart:
    """The median tuning curve of random search with its 95% band, for the MLP and
    the forest, on the first seed."""
    seed = int(records["seed"].min())
    frames = []
    for arm, label in ((RANDOM, "MLP"), (FOREST, "random forest")):
        rows = records[
            (records["seed"] == seed)
            & (records["arm"] == arm)
            & records["metric"].isin(["curve_low", "curve_median", "curve_high"])
        ]
        wide = rows.pivot_table(index="trials", columns="metric", values="value")
        frames.append(wide.reset_index().assign(model=label))
    table = pd.concat(frames)
    x = alt.X(
        "trials:Q",
        title="random-search trials (log scale)",
        scale=alt.Scale(type="log", nice=False),
    )
    y_scale = core.scale()
    colour = alt.Color("model:N", title=None, legend=core.LEGEND)
    tips = core.tooltips(
        "model:N",
        alt.Tooltip("trials:Q", title="trials"),
        alt.Tooltip("curve_median:Q", title="median best validation (%)", format=".2f"),
        alt.Tooltip("curve_low:Q", title="95% band low", format=".2f"),
        alt.Tooltip("curve_high:Q", title="95% band high", format=".2f"),
    )
    base = alt.Chart(table).encode(x=x, color=colour, tooltip=tips)
    band = base.mark_area(opacity=0.15).encode(
        y=alt.Y("curve_low:Q", scale=y_scale), y2="curve_high:Q"
    )
    line = base.mark_line(point=True).encode(
        y=alt.Y("curve_median:Q", title="best validation accuracy (%)", scale=y_scale)
    )
    return core.sized(
        alt.layer(band, line),
        f"Tuning curves of seed {seed}: median and 95% band (Lourie et al.)",
    )


def strategy_chart(records: pd.DataFrame) -> alt.LayerChart:
    """Expected test accuracy of each strategy's pick against compute, full pool."""
    pool = max(pools_of(records))
    random = core.select(records, arm=RANDOM, metric="pick_test", pool=pool)
    halving = core.select(records, arm=HALVING, metric="best_test", pool=pool)
    rows = pd.concat([random, halving]).copy()
    rows["strategy"] = rows["arm"].map(STRATEGY_LABELS)
    rows = rows[["seed", "strategy", "epochs", "value"]]  # thin: only what is drawn
    chart = core.ci_curve(
        core.ci_table(rows, ["strategy", "epochs"], core.bootstrap),
        x="epochs",
        x_title="compute (epochs, log scale)",
        value_title="test accuracy of the pick (%)",
        colour="strategy",
        colour_sort=[STRATEGY_LABELS[RANDOM], STRATEGY_LABELS[HALVING]],
        seeds=rows,
        fmt=".2f",
        log_x=True,
    )
    return core.sized(
        chart, "Search strategies at equal compute (mean, 95% CI over seeds)"
    )


def training_chart(records: pd.DataFrame) -> alt.LayerChart:
    """The default's validation accuracy after every epoch (mean and 95% CI)."""
    rows = core.select(records, arm=MLP_DEFAULT, metric="val").copy()
    rows["model"] = MODEL_LABELS[MLP_DEFAULT]
    chart = core.ci_curve(
        core.ci_table(rows, ["model", "epochs"], core.bootstrap),
        x="epochs",
        x_title="epochs trained (log scale)",
        value_title="validation accuracy (%)",
        colour="model",
        fmt=".2f",
        x_fmt="d",
        log_x=True,
        x_values=sorted(int(e) for e in rows["epochs"].unique()),
    )
    return core.sized(
        chart, "The default's validation accuracy while it trains (95% CI)"
    )


def charts(records: pd.DataFrame) -> dict[str, alt.TopLevelMixin]:
    return {
        "tuning_gap": gap_chart(records),
        "test_accuracy": accuracy_chart(records),
        "tuning_curves": band_chart(records),
        "strategies": strategy_chart(records),
        "default_training": training_chart(records),
    }
