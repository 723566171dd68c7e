"""Tweets 17 and 20: hyperparameter search remains terrible; more hardware will help.

Claim: a deep network needs heavy compute or hand tweaking to tune, unlike a random
forest that works out of the box; more hardware (automatic search) will fix it.

What the experiment does: scikit-learn's digits (8x8 images, 10 classes), split per
seed into train, validation and test. A search space of six MLP hyperparameters
(log learning rate, width, depth 1-3, log L2 weight decay, dropout, log init scale)
with Adam at a fixed batch size. Per seed a pool of configurations (a 2^6 grid, a
random pool and a plain default) is trained once, all trials of one depth batched
as one masked model, recording validation accuracy after every epoch. Grid search,
random search and successive halving (Jamieson & Talwalkar 2016; the inner loop of
Hyperband) are then replayed over the pool for many search seeds, with compute
counted in training epochs. Metrics: the MLP's tuning gap (test accuracy of the
best configuration on validation minus the default's), the trials random search
needs to get within 1 point of the best validation accuracy of the pool, the
compute ratio of random search to successive halving at the accuracy successive
halving reaches, and the random forest's tuning gap (defaults vs a small grid).

What it does not show: one small data set, one optimiser, fixed batch size and a
short epoch budget; a pool-replay measures search strategies over the same trained
trials (a resumed trial equals the first epochs of the full run because the
learning rate is constant), not wall-clock time; large models, where one trial
costs days, are where tuning hurts most.

References: Bergstra & Bengio 2012 (random search); Jamieson & Talwalkar 2016
(successive halving); Li et al. 2018 (Hyperband); Yang et al. 2022 (muTransfer).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import altair as alt
import numpy as np
import pandas as pd
import torch
from sklearn.datasets import load_digits
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import train_test_split
from torch.nn import functional as F

from essay_code import core

TITLE = "Hyperparameter search"
TWEETS = (17, 20)
KEY = "mlp_tuning_gap"

GRID = "grid"
RANDOM = "random"
HALVING = "successive-halving"
STRATEGY_LABELS = {
    GRID: "grid search",
    RANDOM: "random search",
    HALVING: "successive halving",
}
MLP = "mlp"
FOREST = "random-forest"

# Verdict thresholds, fixed before any run.
MIN_GAP = 5.0  # points of test accuracy: tuning matters a lot for the MLP
MIN_TRIALS = 20.0  # random-search trials to get within WITHIN of the best
MAX_FOREST_GAP = 1.0  # points: the forest works with its defaults
MIN_SPEEDUP = 3.0  # successive halving cuts the compute this much: mitigated
WITHIN = 1.0  # points of validation accuracy counted as "as good as the best"
# Host syncs in a smoke run: copying each seed's data and each trial group's
# settings in once, and reading each group's accuracies back once after training.
HOST_SYNC_BUDGET = 84

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
LONG_DEFAULT = 3  # the default is also trained this many times longer, as a check
# Two values per dimension (about the quartiles of each range): 2**6 = 64 points.
GRID_VALUES = {
    "log10_lr": (-3.6, -1.9),
    "log2_width": (5, 7),
    "depth": (1, 2),
    "log10_weight_decay": (-5.5, -2.5),
    "dropout": (0.15, 0.45),
    "log10_init_scale": (-0.6, 0.3),
}
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


@dataclass(frozen=True)
class Config:
    seeds: int = 5  # data splits, each with its own trained pool of trials
    random_pool: int = 81  # random configurations trained per seed
    max_epochs: int = 9  # R: epochs of a full trial (successive halving's top rung)
    batch_size: int = 64  # minibatch rows (fixed, shared by all trials)
    eta: int = 3  # successive halving keeps the best 1/eta at each rung
    halving_starts: tuple[int, ...] = (3, 9, 27, 81)  # configs a bracket starts with
    search_seeds: int = 200  # replays of each strategy over the pool per seed
    val_fraction: float = 0.2  # of all rows
    test_fraction: float = 0.2  # of all rows
    forest_trees: int = 100  # trees of every random forest (sklearn's default)


PROFILES = {
    "smoke": {
        "seeds": 2,
        "random_pool": 12,
        "max_epochs": 3,
        "halving_starts": (3, 9),
        "search_seeds": 20,
        "forest_trees": 10,
    },
    "full": {"seeds": 20, "random_pool": 243, "max_epochs": 27, "search_seeds": 1000},
}


# ---------------------------------------------------------------- the space


def sample_configs(n: int, rng: np.random.Generator) -> list[dict[str, float]]:
    """n configurations drawn uniformly over SPACE (integers for INTEGER keys)."""
    configs = []
    for _ in range(n):
        config = {}
        for name, (low, high) in SPACE.items():
            if name in INTEGER:
                config[name] = float(rng.integers(low, high + 1))
            else:
                config[name] = float(rng.uniform(low, high))
        configs.append(config)
    return configs


def grid_configs() -> list[dict[str, float]]:
    """Every combination of GRID_VALUES (2**6 configurations)."""
    configs: list[dict[str, float]] = [{}]
    for name, values in GRID_VALUES.items():
        configs = [{**c, name: float(v)} for c in configs for v in values]
    return configs


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


# ---------------------------------------------------------------- training


def init_group(
    configs: list[dict[str, float]], depth: int, d: int, k: int, gen: torch.Generator
) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Weights of T MLPs of one depth, padded to the widest: [W_0 [T, d, H],
    b_0 [T, H], W_i [T, H, H], b_i, W_out [T, H, k], b_out [T, k]], plus the
    unit mask [T, H] (1 for a trial's real hidden units). PyTorch's default
    uniform(+-1/sqrt(fan_in)) init times each trial's init scale. Everything is
    drawn and built on gen's device, so training on it copies nothing in."""
    device = gen.device
    width_list = [2 ** int(c["log2_width"]) for c in configs]
    widths = torch.tensor(width_list, device=device)  # [T]
    scale = torch.tensor([10 ** c["log10_init_scale"] for c in configs], device=device)
    hmax = max(width_list)  # from the configs: no read-back of widths.max()
    mask = (torch.arange(hmax, device=device)[None] < widths[:, None]).float()
    params = []
    fan_in = torch.full_like(scale, float(d))
    shapes = [(d, hmax)] + [(hmax, hmax)] * (depth - 1) + [(hmax, k)]
    for index, (rows, cols) in enumerate(shapes):
        bound = (scale / fan_in.sqrt())[:, None, None]  # [T, 1, 1]
        w = torch.rand(len(configs), rows, cols, generator=gen, device=device)
        w = (w * 2 - 1) * bound
        b = torch.rand(len(configs), cols, generator=gen, device=device)
        b = (b * 2 - 1) * bound[:, 0]
        if index > 0:
            w = w * mask[:, :, None]  # no weights out of padded units
        if index < len(shapes) - 1:
            w, b = w * mask[:, None, :], b * mask  # no weights into padded units
        params += [w, b]
        fan_in = widths.float()
    return params, mask


def forward(
    params: list[torch.Tensor],
    mask: torch.Tensor,
    x: torch.Tensor,
    keep: list[torch.Tensor] | None = None,
) -> torch.Tensor:
    """x [n, d] (shared by all trials) -> logits [T, n, k]. keep: per hidden layer
    a dropout multiplier [T, n, H] (already scaled by 1/(1-p)), or None."""
    h = torch.einsum("nd,tdh->tnh", x, params[0]) + params[1][:, None]
    layers = len(params) // 2
    for i in range(1, layers):
        h = torch.relu(h) * mask[:, None]  # [T, n, H]
        if keep is not None:
            h = h * keep[i - 1]
        h = torch.einsum("tnh,thk->tnk", h, params[2 * i]) + params[2 * i + 1][:, None]
    return h


def accuracy_points(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """logits [T, n, k], y [n] -> per-trial accuracy in points [T], on the device."""
    return 100 * (logits.argmax(-1) == y).float().mean(-1)


def accuracy(logits: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    """accuracy_points read back to the host: [T]."""
    return accuracy_points(logits, y).cpu().numpy()


def train_group(
    configs: list[dict[str, float]],
    depth: int,
    data: tuple[torch.Tensor, ...],
    cfg: Config,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Train T same-depth trials as one batched model with Adam (per-trial lr and
    L2, hand-written so that each trial keeps its own). The summed loss gives each
    trial exactly its own gradient. Returns validation accuracy after every epoch
    [T, max_epochs] and test accuracy at the end [T], in points."""
    x_train, y_train, x_val, y_val, x_test, y_test = data
    device = x_train.device
    # One generator on the device draws the init, the orders and the dropout
    # masks, so no step copies host data in. On a CPU it is the generator this
    # used to be, drawing in the same order: the same numbers.
    gen = torch.Generator(device=device).manual_seed(seed)
    params, mask = init_group(configs, depth, x_train.shape[1], 10, gen)
    params = [p.requires_grad_(True) for p in params]
    lr = torch.tensor([10 ** c["log10_lr"] for c in configs], device=device)
    l2 = torch.tensor([10 ** c["log10_weight_decay"] for c in configs], device=device)
    drop = torch.tensor([c["dropout"] for c in configs], device=device)  # [T]
    moments = [(torch.zeros_like(p), torch.zeros_like(p)) for p in params]
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    n, trials, step = x_train.shape[0], len(configs), 0
    val_acc = []  # per epoch [T] on the device, read back once after training
    for _epoch in range(cfg.max_epochs):
        order = torch.randperm(n, generator=gen, device=device)
        for start in range(0, n, cfg.batch_size):
            rows = order[start : start + cfg.batch_size]
            shape = (trials, len(rows), mask.shape[1])
            keep = [  # inverted dropout, one multiplier [T, b, H] per hidden layer
                (torch.rand(shape, generator=gen, device=device) >= rate) / (1 - rate)
                for rate in [drop[:, None, None]] * depth
            ]
            logits = forward(params, mask, x_train[rows], keep)  # [T, b, k]
            loss = F.cross_entropy(
                logits.reshape(-1, 10), y_train[rows].repeat(trials), reduction="sum"
            ) / len(rows)  # sum over trials of each trial's mean loss
            grads = torch.autograd.grad(loss, params)
            step += 1
            with torch.no_grad():
                for p, g, (m, v) in zip(params, grads, moments, strict=True):
                    per = (-1,) + (1,) * (p.dim() - 1)  # broadcast over trials
                    g = g + l2.view(per) * p
                    m.mul_(beta1).add_(g, alpha=1 - beta1)
                    v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
                    m_hat = m / (1 - beta1**step)
                    v_hat = v / (1 - beta2**step)
                    p.sub_(lr.view(per) * m_hat / (v_hat.sqrt() + eps))
        with torch.no_grad():
            val_acc.append(accuracy_points(forward(params, mask, x_val), y_val))
    with torch.no_grad():
        test_acc = accuracy(forward(params, mask, x_test), y_test)
    val_acc = torch.stack(val_acc, 1).cpu().numpy().astype(np.float64)  # [T, R]
    # A diverged trial (NaN logits) scores as chance-level argmax: keep it finite.
    return np.nan_to_num(val_acc), np.nan_to_num(test_acc)


def train_pool(
    configs: list[dict[str, float]], data: tuple[torch.Tensor, ...], cfg: Config, seed
) -> tuple[np.ndarray, np.ndarray]:
    """Train every configuration (batched by depth): val [P, R], test [P]."""
    val = np.zeros((len(configs), cfg.max_epochs))
    test = np.zeros(len(configs))
    for depth in sorted({int(c["depth"]) for c in configs}):
        index = [i for i, c in enumerate(configs) if int(c["depth"]) == depth]
        group = [configs[i] for i in index]
        val[index], test[index] = train_group(
            group, depth, data, cfg, 1000 * seed + depth
        )
    return val, test


# ---------------------------------------------------------------- search replays


def best_so_far(values: np.ndarray) -> np.ndarray:
    """Running maximum along the last axis: the budget curve of a search that
    keeps the best trial seen."""
    return np.maximum.accumulate(values, axis=-1)


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


# ---------------------------------------------------------------- classical


def forest_gap(
    data: tuple[np.ndarray, ...], cfg: Config, seed: int, threads: int
) -> dict:
    """Random forest test accuracy with sklearn's defaults and tuned on validation
    over a small grid (max_features x max_depth), in points. A seeded forest is the
    same for any number of jobs."""
    x_train, y_train, x_val, y_val, x_test, y_test = data
    grid = [
        {"max_features": f, "max_depth": d}
        for f in ("sqrt", 0.05, 0.3)
        for d in (None, 10)
    ]
    fits = []
    for params in grid:
        model = RandomForestClassifier(
            n_estimators=cfg.forest_trees, random_state=seed, n_jobs=threads, **params
        ).fit(x_train, y_train)
        fits.append((model.score(x_val, y_val), model.score(x_test, y_test)))
    default = 100 * fits[0][1]  # grid[0] is sklearn's default (sqrt, None)
    tuned = 100 * fits[int(np.argmax([v for v, _ in fits]))][1]
    return {"default_test": default, "tuned_test": tuned, "tuning_gap": tuned - default}


# ---------------------------------------------------------------- the run


def run_seed(cfg: Config, ctx: core.RunContext, seed: int, records: core.Records):
    """All records of one data seed, added to records."""
    arrays = load_split(seed, cfg)
    device = ctx.device
    data = tuple(
        torch.tensor(a, device=device, dtype=torch.float32 if i % 2 == 0 else None)
        for i, a in enumerate(arrays)
    )
    grid = grid_configs()
    pool = sample_configs(cfg.random_pool, np.random.default_rng(seed))
    configs = [DEFAULT] + grid + pool
    val, test = train_pool(configs, data, cfg, seed)
    default_test = test[0]
    grid_val, pool_val = val[1 : 1 + len(grid)], val[1 + len(grid) :]
    pool_test = test[1 + len(grid) :]
    R = cfg.max_epochs

    def record(arm: str, metric: str, value: float, **extra) -> None:
        records.add(metric, value, seed=seed, arm=arm, **extra)

    # Tuned = the best on validation of every trial trained (grid and random).
    best = int(np.argmax(val[:, -1]))
    record(MLP, "default_test", default_test)
    record(MLP, "tuned_test", test[best])
    record(MLP, "tuning_gap", test[best] - default_test)
    record(MLP, "default_val", val[0, -1])
    # The default again with LONG_DEFAULT times the epochs: how much of the gap is
    # only that lr 1e-3 is slow within a trial's budget.
    long_cfg = replace(cfg, max_epochs=LONG_DEFAULT * cfg.max_epochs)
    _, long_test = train_group([DEFAULT], 1, data, long_cfg, 1000 * seed + 1)
    record(MLP, "default_long_test", long_test[0])
    record(MLP, "gap_vs_long_default", test[best] - long_test[0])
    for name, value in forest_gap(arrays, cfg, seed, ctx.threads).items():
        record(FOREST, name, value)

    # Replays: each search seed draws its own order of the grid / random pool.
    rng = np.random.default_rng(10_000 + seed)
    orders = np.stack([rng.permutation(len(pool)) for _ in range(cfg.search_seeds)])
    curves = best_so_far(pool_val[orders, -1])  # [search seeds, pool]
    grid_orders = np.stack(
        [rng.permutation(len(grid)) for _ in range(cfg.search_seeds)]
    )
    grid_curves = best_so_far(grid_val[grid_orders, -1])  # [search seeds, grid]
    for trials in range(1, len(pool) + 1):
        record(RANDOM, "best_val", curves[:, trials - 1].mean(), epochs=trials * R)
    for trials in range(1, len(grid) + 1):
        record(GRID, "best_val", grid_curves[:, trials - 1].mean(), epochs=trials * R)
    # Trials until within WITHIN points of the best validation accuracy in the pool.
    target = pool_val[:, -1].max() - WITHIN
    record(RANDOM, "trials_within", ((curves < target).sum(axis=1) + 1).mean())
    halving_val = {}
    for n0 in cfg.halving_starts:
        n0 = min(n0, len(pool))
        winners = [
            orders[s, successive_halving(pool_val[orders[s, :n0]], n0, cfg.eta)]
            for s in range(cfg.search_seeds)
        ]
        epochs = halving_epochs(n0, R, cfg.eta)
        halving_val[n0] = pool_val[winners, -1].mean()
        record(HALVING, "best_val", halving_val[n0], epochs=epochs, starts=n0)
        record(HALVING, "best_test", pool_test[winners].mean(), epochs=epochs)
    # Compute ratio at the accuracy the biggest bracket reaches: epochs random
    # search needs for its expected best to get there (censored at the pool).
    n0 = max(halving_val)
    mean_curve = curves.mean(axis=0)  # [pool]
    reached = np.nonzero(mean_curve >= halving_val[n0])[0]
    random_epochs = R * (reached[0] + 1 if len(reached) else len(pool))
    record(HALVING, "compute_ratio", random_epochs / halving_epochs(n0, R, cfg.eta))
    record(HALVING, "censored", float(len(reached) == 0))


def run(cfg: Config, ctx: core.RunContext) -> pd.DataFrame:
    """Tidy records, one row per (seed, arm, metric[, epochs]); search-seed replays
    enter as their mean per data seed."""
    records = core.Records()
    for seed in ctx.progress(range(cfg.seeds), total=cfg.seeds, desc="seeds"):
        run_seed(cfg, ctx, seed, records)
    frame = records.frame()
    for column in ("epochs", "starts"):
        if column not in frame:
            frame[column] = np.nan
    return frame


# ---------------------------------------------------------------- summary


# Estimate name -> (arm, metric, unit): each a bootstrap over data seeds.
ESTIMATES = {
    "mlp_tuning_gap": (MLP, "tuning_gap", "points"),
    "mlp_default_test": (MLP, "default_test", "points"),
    "mlp_tuned_test": (MLP, "tuned_test", "points"),
    "mlp_default_long_test": (MLP, "default_long_test", "points"),
    "mlp_gap_vs_long_default": (MLP, "gap_vs_long_default", "points"),
    "forest_tuning_gap": (FOREST, "tuning_gap", "points"),
    "forest_default_test": (FOREST, "default_test", "points"),
    "forest_tuned_test": (FOREST, "tuned_test", "points"),
    "random_trials_within": (RANDOM, "trials_within", "trials"),
    "halving_compute_ratio": (HALVING, "compute_ratio", "x"),
}


def summarize(records: pd.DataFrame) -> dict[str, core.Estimate]:
    estimates = {
        name: core.bootstrap(
            core.per_seed(records, metric, arm=arm), unit=unit, digits=1
        )
        for name, (arm, metric, unit) in ESTIMATES.items()
    }
    # Equal compute: grid vs random search after the whole grid's epochs.
    curve = core.select(records, metric="best_val")
    full = curve[curve["arm"] == GRID]["epochs"].max()
    at_full = curve[curve["epochs"] == full].set_index(["arm", "seed"])["value"]
    if RANDOM in at_full.index.get_level_values(0):
        estimates["random_minus_grid_val"] = core.bootstrap(
            at_full[RANDOM] - at_full[GRID], unit="points", digits=2
        )
    return estimates


RULE = (
    f"Holds if the MLP's tuning gap (tuned minus default test accuracy) is >= "
    f"{MIN_GAP:g} points, random search needs >= {MIN_TRIALS:g} trials to get "
    f"within {WITHIN:g} point of the best validation accuracy, and the random "
    f"forest's tuning gap is <= {MAX_FOREST_GAP:g} point; mitigated if all that "
    f"holds but successive halving reaches the same accuracy with >= "
    f"{MIN_SPEEDUP:g}x less compute (tweet 20); refuted if the MLP's gap is < "
    f"{MIN_GAP:g} points, or search needs fewer trials, or the forest needs tuning "
    f"too; each comparison needs its whole 95% CI past the threshold, otherwise "
    f"inconclusive."
)


def verdict(estimates: dict[str, core.Estimate]) -> core.Verdict:
    gap = estimates["mlp_tuning_gap"]
    trials = estimates["random_trials_within"]
    forest = estimates["forest_tuning_gap"]
    ratio = estimates["halving_compute_ratio"]
    reason = (
        f"MLP tuning gap {gap.text()}; random search trials to within {WITHIN:g} "
        f"point {trials.text()}; forest tuning gap {forest.text()}; successive "
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


# ---------------------------------------------------------------- charts


def charts(records: pd.DataFrame) -> dict[str, alt.TopLevelMixin]:
    curve = core.select(records, metric="best_val").copy()
    curve["strategy"] = curve["arm"].map(STRATEGY_LABELS)
    budget = core.ci_curve(
        core.ci_table(curve, ["strategy", "epochs"], core.bootstrap),
        x="epochs",
        x_title="compute (epochs)",
        value_title="best validation accuracy (%)",
        colour="strategy",
        colour_sort=list(STRATEGY_LABELS.values()),
        seeds=curve,
        fmt=".2f",
        log_x=True,
    )
    gaps = records[records["metric"].isin(["default_test", "tuned_test"])].copy()
    gaps["model"] = gaps["arm"].map({MLP: "MLP", FOREST: "random forest"})
    gaps["setting"] = gaps["metric"].map(
        {"default_test": "defaults", "tuned_test": "tuned"}
    )
    tuning = core.ci_dots(
        core.ci_table(gaps, ["model", "setting"], core.bootstrap),
        category="model",
        value_title="test accuracy (%)",
        colour="setting",
        colour_sort=["defaults", "tuned"],
        seeds=gaps,
        fmt=".2f",
    )
    return {
        "budget_curves": core.sized(
            budget,
            "Best validation accuracy vs compute spent (mean, 95% CI over seeds)",
        ),
        "tuning_gap": core.sized(
            tuning, "Test accuracy with defaults and tuned (mean, 95% CI, seeds)"
        ),
    }
