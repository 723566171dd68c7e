"""Tweets 16 and 21: deep nets and wide feature scales, and the normalization fixes.

Claim (tweet 16): "DNNs are terrible at handling wide feature scales. Unlike robust
random forests, require heavy feature tuning." Tweet 21 adds that architectural hacks
to auto-normalize might fix this.

What the experiment does: one tabular task (binary labels from an irregular function
of 8 informative features, plus 8 pure-noise features), repeated with each feature
multiplied by its own scale. The scales form a ladder over `spread` decades
(spread 0: every scale is 1; spread 8: from 1e-4 to 1e4), assigned to features at
random per seed; the latent data, labels, network initialisation and minibatch order
are shared across spreads, so each seed's curve differs only in the scales. A plain
MLP sees the raw inputs; three fixes put one step in front of the same MLP (standard
scaling, a BatchNorm input layer, piecewise-linear encoding); a random forest and
histogram gradient boosting see the raw inputs.

Every arm's free choices are made on validation rows, never on the test rows: each
MLP variant's Adam learning rate at each spread on separate selection datasets, the
forest's depth and node-size limits and boosting's number of rounds on each
dataset's own validation rows. The MLPs' validation accuracy is read at four
training budgets (checkpoints of one run), which give the convergence record and
the budget axis of the robustness map; the spread compared is its other axis.

What it does not show: real data also has offsets, heavy tails, outliers and
categorical features; this isolates scale alone. Standard scaling and
piecewise-linear encoding are invariant to per-feature scale by construction, as
are the trees (up to scikit-learn's absolute 1e-7 tie thresholds);
the measured question is how much the raw MLP loses without them, and whether the one
fix that learns its statistics during training (BatchNorm) does as well.

References: Grinsztajn, Oyallon, Varoquaux 2022 (tree-based models still outperform
deep learning on typical tabular data); Gorishniy, Rubachev, Babenko 2022 (embeddings
for numerical features, piecewise-linear encoding); Ioffe & Szegedy 2015 (batch
normalization).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

import altair as alt
import numpy as np
import pandas as pd
import torch
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.preprocessing import StandardScaler
from torch.nn import functional as F

from essay_code import core
from essay_code.core import Estimate, RunContext, Verdict

TITLE = "Wide feature scales and normalization"
TWEETS = (16, 21)
KEY = "raw_mlp_drop"

RAW_ARM = "mlp-raw"
# Each fix: one step in front of the same MLP, named as tweet 21's "hacks".
FIX_ARMS = ("mlp-standard", "mlp-batchnorm", "mlp-ple")
FOREST, BOOSTING = "random-forest", "gradient-boosting"
TREE_ARMS = (FOREST, BOOSTING)
MLP_ARMS = (RAW_ARM, *FIX_ARMS)
ARMS = (*MLP_ARMS, *TREE_ARMS)
PUBLISHED, SELECTION = "published", "selection"  # the stage column's values
SELECTION_COLUMN = "stage"  # selection datasets are listed apart in summary.json
SELECTION_SEED0 = 1_000  # selection datasets are numbered from here

# Verdict thresholds, fixed before any run, not tuned.
MIN_RAW_DROP = 10.0  # points the raw MLP must lose from narrowest to widest spread
MAX_FOREST_MOVE = 1.0  # points the random forest may move over the same sweep
MIN_RECOVERY = 80.0  # % of the raw MLP's gap a fix must win back (tweet 21)
# Chosen here, because it is about one standard error of a single dataset's
# validation accuracy (1000 rows at 85%: 1.1 points): a mean gain below it over the
# last doubling of the budget is within what one validation set cannot resolve.
CONVERGENCE_TOLERANCE = 1.0
# Host syncs in a smoke run (28 counted): per stack (one per input width and
# stage: selection, then published) the models' learning rates, dataset indices and
# BatchNorm indices are copied in once and each scored split (validation; or
# training, validation and test) is read back once. None sits inside the step
# loop: Adam is written out with its step count on the host.
HOST_SYNC_BUDGET = 32

SHORT_LABELS = {
    RAW_ARM: "raw",
    "mlp-standard": "standard scaling",
    "mlp-batchnorm": "BatchNorm",
    "mlp-ple": "PLE",
}
ARM_LABELS = {
    RAW_ARM: "MLP, raw inputs",
    "mlp-standard": "MLP + standard scaling",
    "mlp-batchnorm": "MLP + BatchNorm input layer",
    "mlp-ple": "MLP + piecewise-linear encoding",
    FOREST: "random forest",
    BOOSTING: "gradient boosting",
}


@dataclass(frozen=True)
class Config:
    seeds: int = 10  # published datasets: their scale order, rows and inits
    # Further datasets, used only to choose each MLP variant's learning rate.
    selection_seeds: int = 2
    n_train: int = 3000  # training rows per dataset
    n_val: int = 1000  # validation rows per dataset (every choice is made on these)
    n_test: int = 3000  # held-out test rows per dataset (scored, never chosen on)
    informative: int = 8  # features the label depends on
    noise_features: int = 8  # features independent of the label
    # Decades between the smallest and largest feature scale; the first is the
    # narrowest, the last the widest spread the verdict compares.
    spreads: tuple[float, ...] = (0.0, 4.0, 8.0)
    # The spreads the random forest runs at (both ends included): the spread axis
    # of the robustness map, since the rule reads the forest's move.
    tree_spreads: tuple[float, ...] = (0.0, 4.0, 8.0)
    # The spreads gradient boosting runs at (the widest included): it bins every
    # feature at its training quantiles, so it is blind to scale (a test checks
    # it), and it serves the comparison of the better tree with the better MLP.
    boosting_spreads: tuple[float, ...] = field(
        default=(8.0,), metadata={"range": (0.0, 100.0)}
    )
    hidden: int = 64  # width of both hidden layers of every MLP
    epochs: int = 64  # passes over the training rows, the same for every MLP arm
    # Budgets read (checkpoints of one run): epochs, epochs/2, ... (this many).
    checkpoints: int = 4
    batch_size: int = 128  # minibatch rows
    # Adam learning rates searched for every MLP variant at every spread.
    lr: tuple[float, ...] = (3e-4, 1e-3, 3e-3, 1e-2, 3e-2)
    ple_bins: int = 8  # quantile bins per feature for piecewise-linear encoding
    batchnorm_eps: float = 1e-5  # nn.BatchNorm1d's default epsilon
    forest_trees: int = 100  # scikit-learn's default forest size
    # The forest's depth limits searched (0: no limit, scikit-learn's default) and
    # the node sizes below which a node is not split (2: scikit-learn's default).
    forest_depths: tuple[int, ...] = (4, 8, 12, 16, 0)
    forest_min_split: tuple[int, ...] = (2, 8, 32)
    # Boosting rounds searched (learning rate 0.1, scikit-learn's default).
    boosting_rounds: tuple[int, ...] = (50, 100, 150, 300)


PROFILES = {
    "smoke": {
        "seeds": 2,
        "selection_seeds": 1,
        "n_train": 400,
        "n_val": 200,
        "n_test": 400,
        "spreads": (0.0, 8.0),
        "tree_spreads": (0.0, 8.0),
        "boosting_spreads": (0.0, 8.0),
        "hidden": 16,
        "epochs": 4,
        "checkpoints": 3,
        "lr": (3e-3, 1e-2),
        "ple_bins": 4,
        "forest_trees": 10,
        "forest_depths": (4, 0),
        "forest_min_split": (2, 8),
        "boosting_rounds": (5, 10, 20),
    },
    "full": {
        "seeds": 20,
        "selection_seeds": 5,
        "spreads": (0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 10.0, 12.0),
        "tree_spreads": (0.0, 2.0, 4.0, 6.0, 8.0, 10.0, 12.0),
        "boosting_spreads": (0.0, 4.0, 8.0, 12.0),
        "hidden": 256,
        "epochs": 256,
        "checkpoints": 6,
        "lr": (3e-4, 1e-3, 3e-3, 1e-2, 3e-2),
    },
}


def budgets_of(cfg: Config) -> tuple[int, ...]:
    """The epochs at which every MLP is read: epochs halved checkpoints - 1 times."""
    halvings = cfg.checkpoints - 1
    if cfg.checkpoints < 3 or cfg.epochs % 2**halvings:
        raise ValueError(
            f"epochs={cfg.epochs} must be divisible by 2**{halvings} "
            f"(checkpoints={cfg.checkpoints}, at least 3)"
        )
    return tuple(cfg.epochs // 2**k for k in range(halvings, -1, -1))


def check_spreads(cfg: Config) -> None:
    for name, ends in (
        ("tree_spreads", {cfg.spreads[0], cfg.spreads[-1]}),
        ("boosting_spreads", {cfg.spreads[-1]}),
    ):
        chosen = getattr(cfg, name)
        if not set(chosen) <= set(cfg.spreads) or not ends <= set(chosen):
            raise ValueError(
                f"{name}={chosen} must be spreads from {cfg.spreads} that include "
                + " and ".join(f"{end:g}" for end in sorted(ends))
            )


# ---------------------------------------------------------------- data

SPLITS = ("train", "val", "test")


def make_dataset(cfg: Config, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Latent features, labels and each feature's scale rank for one seed.

    Returns latent [n_train + n_val + n_test, features] uniform in [-1, 1], labels
    [rows] in {0, 1} (balanced: the threshold is the median), and rank [features]:
    feature j gets the rank[j]-th scale of the ladder, so one permutation serves
    every spread.
    """
    rng = np.random.default_rng(seed)
    rows = cfg.n_train + cfg.n_val + cfg.n_test
    features = cfg.informative + cfg.noise_features
    latent = rng.uniform(-1.0, 1.0, size=(rows, features))
    informative = latent[:, : cfg.informative]
    frequency = rng.uniform(0.5, 1.5, size=cfg.informative)
    phase = rng.uniform(0.0, 2 * np.pi, size=cfg.informative)
    # Irregular in Grinsztajn et al.'s sense: smooth waves plus a jump in half the
    # informative features, and products of feature pairs so the target is not a
    # sum of one-feature functions (which would favour per-feature encodings).
    # Every informative feature matters about equally. The jumps sit at random
    # points, not at 0, so no bin edge (a quantile at the median) lands on one.
    stepped = cfg.informative // 2
    jump_at = rng.uniform(-0.5, 0.5, size=stepped)
    target = np.sin(np.pi * frequency * informative + phase).sum(axis=1)
    target += 0.5 * np.sign(informative[:, :stepped] - jump_at).sum(axis=1)
    target += 2.0 * (informative[:, 0::2] * informative[:, 1::2]).sum(axis=1)
    labels = (target > np.median(target)).astype(np.float32)
    rank = rng.permutation(features)
    return latent, labels, rank


def split(cfg: Config, rows: np.ndarray) -> dict[str, np.ndarray]:
    """Rows in order: training, validation, test."""
    ends = np.cumsum([cfg.n_train, cfg.n_val])
    return dict(zip(SPLITS, np.split(rows, ends), strict=True))


def feature_scales(spread: float, rank: np.ndarray) -> np.ndarray:
    """Scales 10**u, u evenly spaced over [-spread/2, spread/2], ordered by rank."""
    ladder = np.linspace(-spread / 2, spread / 2, rank.size)
    return 10.0 ** ladder[rank]


# ---------------------------------------------------------------- input steps
# Each is fitted on the training rows only: fit(train, seed) -> transform.

Transform = Callable[[np.ndarray], np.ndarray]


def identity_step(train: np.ndarray, seed: int) -> Transform:
    return lambda values: values


def standard_step(train: np.ndarray, seed: int) -> Transform:
    return StandardScaler().fit(train).transform


def ple_edges(train: np.ndarray, bins: int) -> np.ndarray:
    """Bin edges [d, bins + 1] at the training quantiles of each feature."""
    return np.quantile(train, np.linspace(0.0, 1.0, bins + 1), axis=0).T


def piecewise_linear_encode(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Gorishniy et al.'s PLE: [n, d] -> [n, d * bins].

    Component t of a feature is 0 below its bin, 1 above it, linear inside; the first
    bin is open to the left and the last to the right, so values outside the
    training range still move the encoding.
    """
    left, width = edges[:, :-1], np.diff(edges, axis=1)  # [d, bins]
    ratio = (values[:, :, None] - left) / np.maximum(width, 1e-300)  # [n, d, bins]
    ratio[:, :, 1:] = np.maximum(ratio[:, :, 1:], 0.0)
    ratio[:, :, :-1] = np.minimum(ratio[:, :, :-1], 1.0)
    return ratio.reshape(len(values), -1)


def ple_step(bins: int) -> Callable[[np.ndarray, int], Transform]:
    def fit(train: np.ndarray, seed: int) -> Transform:
        edges = ple_edges(train, bins)
        return lambda values: piecewise_linear_encode(values, edges)

    return fit


def steps(cfg: Config) -> dict[str, Callable[[np.ndarray, int], Transform]]:
    """Each MLP arm's input step (BatchNorm's is inside the network)."""
    return {
        RAW_ARM: identity_step,
        "mlp-standard": standard_step,
        "mlp-batchnorm": identity_step,
        "mlp-ple": ple_step(cfg.ple_bins),
    }


# ---------------------------------------------------------------- the MLP


@dataclass
class FittedMLPs:
    """A stack of trained MLPs; the models with an input BatchNorm (their indices
    in the stack) use its running statistics."""

    net: core.StackedMLP
    batchnorm: torch.Tensor  # [n] indices of the models with BatchNorm
    running_mean: torch.Tensor  # [n, 1, d]
    running_var: torch.Tensor
    eps: float

    @torch.no_grad()
    def logits(self, inputs: torch.Tensor) -> torch.Tensor:
        """inputs [models, rows, d] -> logits [models, rows]; BatchNorm in eval mode."""
        if len(self.batchnorm):
            inputs = inputs.clone()
            inputs[self.batchnorm] = (
                inputs[self.batchnorm] - self.running_mean
            ) / torch.sqrt(self.running_var + self.eps)
        return self.net(inputs).squeeze(-1)


@dataclass
class TrainedMLPs:
    fitted: FittedMLPs  # the models after the last epoch
    # split -> [budgets, models] accuracy (%) on that split after each budget
    accuracy: dict[str, np.ndarray]


ADAM_BETAS, ADAM_EPS = (0.9, 0.999), 1e-8  # torch.optim.Adam's defaults


def train_mlps(
    data: dict[str, tuple[torch.Tensor, torch.Tensor]],
    input_of: list[int],
    init_seeds: list[int],
    lrs: list[float],
    cfg: Config,
    *,
    batchnorm: bool | list[bool] = False,
    budgets: tuple[int, ...] = (),
    scored: tuple[str, ...] | None = None,
    ctx: RunContext | None = None,
) -> TrainedMLPs:
    """Train one MLP per model at once, each with its own Adam learning rate.

    data: split -> (inputs [U, rows, d], labels [U, rows]) for U distinct datasets;
    data["train"] is trained on; the splits named in `scored` (default: all) are
    scored after each budget (epochs).
    Model m trains on dataset input_of[m] from init seed init_seeds[m] with learning
    rate lrs[m], visiting the rows in the order drawn from its init seed, so models
    that share a seed differ only in their data and learning rate. Adam is
    torch.optim.Adam's update written out with a learning rate per model. In a
    model with batchnorm (one flag for all, or one per model), each minibatch passes
    an input BatchNorm1d (affine=False, momentum 0.1, cfg's eps) first, exactly as
    nn.BatchNorm1d in train mode; tests check both against a loop of nn.Modules.
    """
    ctx = ctx or RunContext(show_progress=False)
    device = ctx.device
    data = {name: (x.to(device), y.to(device)) for name, (x, y) in data.items()}
    train_x, train_y = data["train"]
    rows, features = train_x.shape[1:]
    models = len(input_of)
    which = torch.tensor(input_of, device=device)
    flags = [batchnorm] * models if isinstance(batchnorm, bool) else batchnorm
    normalized_models = [m for m, flag in enumerate(flags) if flag]
    normalize = torch.tensor(normalized_models, dtype=torch.long, device=device)
    net = core.StackedMLP([features, cfg.hidden, cfg.hidden, 1], init_seeds, device)
    rate = torch.tensor(lrs, dtype=torch.float32, device=device).view(models, 1, 1)
    first = [torch.zeros_like(p) for p in net.params]
    second = [torch.zeros_like(p) for p in net.params]
    (beta1, beta2), step = ADAM_BETAS, 0
    running_mean = torch.zeros(len(normalized_models), 1, features, device=device)
    running_var = torch.ones(len(normalized_models), 1, features, device=device)
    # Row orders are drawn on the device, so an epoch never copies them from the
    # host (on the CPU these are the same generators as plain CPU ones).
    order_rngs = {
        seed: torch.Generator(device=device).manual_seed(seed)
        for seed in dict.fromkeys(init_seeds)
    }
    source = which[:, None]
    scored = tuple(data) if scored is None else scored
    scores: dict[str, list[torch.Tensor]] = {name: [] for name in scored}

    def fitted() -> FittedMLPs:
        return FittedMLPs(net, normalize, running_mean, running_var, cfg.batchnorm_eps)

    for epoch in ctx.progress(range(1, cfg.epochs + 1), total=cfg.epochs, desc="mlp"):
        orders = {
            seed: torch.randperm(rows, generator=g, device=device)
            for seed, g in order_rngs.items()
        }
        order = torch.stack([orders[seed] for seed in init_seeds])
        for start in range(0, rows, cfg.batch_size):
            index = order[:, start : start + cfg.batch_size]  # [models, batch]
            batch_x, batch_y = train_x[source, index], train_y[source, index]
            if normalized_models:
                batch = index.shape[1]
                inputs = batch_x[normalize]
                mean = inputs.mean(dim=1, keepdim=True)
                var = inputs.var(dim=1, unbiased=False, keepdim=True)
                batch_x[normalize] = (inputs - mean) / torch.sqrt(
                    var + cfg.batchnorm_eps
                )
                # nn.BatchNorm1d keeps the unbiased variance in its running estimate.
                running_mean = 0.9 * running_mean + 0.1 * mean
                running_var = 0.9 * running_var + 0.1 * var * batch / max(batch - 1, 1)
            logits = net(batch_x).squeeze(-1)
            # Summed over models: each model gets exactly its own mean-loss gradient.
            per_model = F.binary_cross_entropy_with_logits(
                logits, batch_y, reduction="none"
            ).mean(dim=1)
            grads = torch.autograd.grad(per_model.sum(), net.params)
            step += 1
            step_size = rate / (1 - beta1**step)
            correction = (1 - beta2**step) ** 0.5
            with torch.no_grad():
                for param, grad, m, v in zip(
                    net.params, grads, first, second, strict=True
                ):
                    m.lerp_(grad, 1 - beta1)
                    v.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                    denom = (v.sqrt() / correction).add_(ADAM_EPS)
                    param.sub_(step_size * m / denom)
        if epoch in budgets:
            model = fitted()
            for name in scored:
                x, y = data[name]
                predicted = model.logits(x[which]) > 0
                correct = (predicted == (y[which] > 0.5)).float().mean(dim=1)
                scores[name].append(100.0 * correct)
    accuracy = {
        name: torch.stack(values).cpu().numpy() if values else np.zeros((0, models))
        for name, values in scores.items()
    }
    return TrainedMLPs(fitted(), accuracy)


def distinct(keys: list[bytes]) -> tuple[list[int], list[int]]:
    """(first cell of each distinct key, the distinct index of every cell)."""
    seen: dict[bytes, int] = {}
    firsts, index = [], []
    for cell, key in enumerate(keys):
        if key not in seen:
            seen[key] = len(firsts)
            firsts.append(cell)
        index.append(seen[key])
    return firsts, index


def fingerprint(seed: int, arrays: list[np.ndarray]) -> bytes:
    """A cell's identity for training: its seed and its float32 inputs, bit for bit.
    Two cells with the same fingerprint would train to the same bits, so they are
    trained once (standard scaling and PLE give the same bits at every spread)."""
    digest = hashlib.sha256(str(seed).encode())
    for array in arrays:
        digest.update(str(array.shape).encode())
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.digest()


# ---------------------------------------------------------------- the trees


def ancestors(tree) -> tuple[np.ndarray, np.ndarray]:
    """A fitted tree's node depths [nodes] and ancestors [nodes, depth + 1]:
    ancestors[node, d] is the node's ancestor at depth d (itself at its depth)."""
    structure = tree.tree_
    left, right = structure.children_left, structure.children_right
    nodes = structure.node_count
    depth = np.zeros(nodes, dtype=np.int64)
    table = np.zeros((nodes, structure.max_depth + 1), dtype=np.int64)
    inner, level = np.array([0] if left[0] >= 0 else [], dtype=np.int64), 0
    while inner.size:
        children = np.concatenate([left[inner], right[inner]])
        parents = np.concatenate([inner, inner])
        level += 1
        depth[children] = level
        table[children, :level] = table[parents, :level]
        table[children, level] = children
        inner = children[left[children] >= 0]
    return depth, table


@dataclass
class TreeTables:
    """What cutting a fitted tree back needs: each leaf's path and node sizes."""

    share: np.ndarray  # [nodes] P(class 1) among the node's training rows
    leaves: np.ndarray  # [leaves] node ids
    leaf_of: np.ndarray  # [nodes] a leaf's position in `leaves`
    depth: np.ndarray  # [leaves]
    path: np.ndarray  # [leaves, max depth + 1] ancestors by depth
    sizes: np.ndarray  # [leaves, max depth + 1] their training rows (0 past the leaf)


def tree_tables(tree) -> TreeTables:
    structure = tree.tree_
    depth, table = ancestors(tree)
    leaves = np.flatnonzero(structure.children_left < 0)
    on_path = np.arange(table.shape[1]) <= depth[leaves, None]
    leaf_of = np.zeros(structure.node_count, dtype=np.int64)
    leaf_of[leaves] = np.arange(leaves.size)
    value = structure.value[:, 0]
    return TreeTables(
        value[:, 1] / value.sum(axis=1),
        leaves,
        leaf_of,
        depth[leaves],
        table[leaves],
        np.where(on_path, structure.n_node_samples[table[leaves]], 0),
    )


def truncated_probas(
    forest: RandomForestClassifier,
    values: np.ndarray,
    settings: list[tuple[int, int]],
    tables: list[TreeTables] | None = None,
) -> list[np.ndarray]:
    """P(class 1) of the forest at each (max_depth, min_split) setting: every tree
    cut back to max_depth (0: no limit), with nodes of fewer than min_split
    training rows left unsplit.

    This is the tree scikit-learn grows with those settings, except which random
    features each node draws (the cut nodes draw none): along a row's path node
    sizes shrink, so the row stops at the first node that the setting makes a leaf,
    and the path is its leaf's.
    """
    tables = tables or [tree_tables(tree) for tree in forest.estimators_]
    values = values.astype(np.float32)
    totals = [np.zeros(len(values)) for _ in settings]
    for tree, t in zip(forest.estimators_, tables, strict=True):
        row_leaf = t.leaf_of[tree.apply(values)]
        large = {  # nodes on each leaf's path large enough to split: a prefix
            k: np.minimum((t.sizes >= k).sum(axis=1), t.depth)
            for k in dict.fromkeys(k for _, k in settings)
        }
        rows = np.arange(len(t.leaves))
        for total, (max_depth, min_split) in zip(totals, settings, strict=True):
            stop = large[min_split]
            if max_depth:
                stop = np.minimum(stop, max_depth)
            total += t.share[t.path[rows, stop]][row_leaf]
    return [total / len(forest.estimators_) for total in totals]


def truncated_proba(
    forest: RandomForestClassifier, values: np.ndarray, max_depth: int, min_split: int
) -> np.ndarray:
    """truncated_probas at one setting."""
    return truncated_probas(forest, values, [(max_depth, min_split)])[0]


def accuracy(predicted: np.ndarray, labels: np.ndarray) -> float:
    return float(100.0 * np.mean(predicted.astype(np.float32) == labels))


@dataclass
class TreeFit:
    """A tree arm on one dataset: validation accuracy at every setting searched, the
    setting chosen on it, and the accuracies there."""

    grid: list[tuple[dict, float]]  # (setting, validation accuracy)
    chosen: dict
    scores: dict[str, float]  # val, test -> accuracy (%) at the chosen setting


def fit_forest(parts, labels, cfg: Config, seed: int, threads: int) -> TreeFit:
    """The forest grown once; its depth and node-size limits chosen on validation
    (ties: the first in grid order), then scored there on the test rows."""
    forest = RandomForestClassifier(
        n_estimators=cfg.forest_trees, n_jobs=threads, random_state=seed
    ).fit(parts["train"], labels["train"])
    settings = [(d, k) for d in cfg.forest_depths for k in cfg.forest_min_split]
    tables = [tree_tables(tree) for tree in forest.estimators_]
    probas = truncated_probas(forest, parts["val"], settings, tables)
    scores = [accuracy(proba > 0.5, labels["val"]) for proba in probas]
    best = int(np.argmax(scores))
    (test,) = truncated_probas(forest, parts["test"], [settings[best]], tables)
    grid = [
        ({"max_depth": d, "min_samples_split": k}, score)
        for (d, k), score in zip(settings, scores, strict=True)
    ]
    return TreeFit(
        grid,
        grid[best][0],
        {"val": scores[best], "test": accuracy(test > 0.5, labels["test"])},
    )


def fit_boosting(parts, labels, cfg: Config, seed: int) -> TreeFit:
    """Boosting run to the most rounds searched (learning rate 0.1, no early
    stopping); the number of rounds chosen on validation (ties: the fewest), then
    scored after that many rounds."""
    rounds = sorted(cfg.boosting_rounds)
    model = HistGradientBoostingClassifier(
        max_iter=rounds[-1], early_stopping=False, random_state=seed
    ).fit(parts["train"], labels["train"])

    def after(name: str) -> dict[int, float]:
        return {
            done: accuracy(predicted, labels[name])
            for done, predicted in enumerate(model.staged_predict(parts[name]), 1)
            if done in rounds
        }

    val = after("val")
    best = max(rounds, key=lambda r: (val[r], -r))
    grid = [({"rounds": r}, val[r]) for r in rounds]
    scores = {"val": val[best], "test": after("test")[best]}
    return TreeFit(grid, {"rounds": best}, scores)


# ---------------------------------------------------------------- the run


METRIC_OF = {"train": "train_accuracy", "val": "val_accuracy", "test": "accuracy"}


def run(cfg: Config, ctx: RunContext) -> pd.DataFrame:
    """Tidy records, one row per (stage, seed, arm, spread, lr, epochs, metric):
    val_accuracy on every stage; accuracy (test), in %, on the published datasets
    only, and an MLP's train_accuracy there. A tree arm adds its validation accuracy
    at every setting searched (grid_val_accuracy, with the setting's columns) and
    the setting chosen (a metric per choice)."""
    budgets = budgets_of(cfg)
    check_spreads(cfg)
    published_seeds = list(range(cfg.seeds))
    selection_seeds = [SELECTION_SEED0 + i for i in range(cfg.selection_seeds)]
    datasets = {seed: make_dataset(cfg, seed) for seed in published_seeds}
    datasets |= {seed: make_dataset(cfg, seed) for seed in selection_seeds}
    records = core.Records()

    def raw_parts(seed: int, spread: float) -> dict[str, np.ndarray]:
        latent, _labels, rank = datasets[seed]
        return split(cfg, latent * feature_scales(spread, rank))

    def labels_of(seed: int) -> dict[str, np.ndarray]:
        return split(cfg, datasets[seed][1])

    def mlp_stage(arms, stage: str, seeds: list[int], lr_at) -> None:
        """Train the arms (one input width) on every (seed, spread) at the learning
        rates lr_at(arm, spread), as one stack; inputs that are the same bits are
        stored once and a model that would train to the same bits is trained once.
        Selection datasets are scored on validation rows only."""
        scored = ("val",) if stage == SELECTION else SPLITS
        needed = ("train", *(name for name in scored if name != "train"))
        cells = [
            (arm, seed, spread)
            for arm in arms
            for seed in seeds
            for spread in cfg.spreads
        ]
        keys, kept = [], []
        for arm, seed, spread in cells:
            parts = raw_parts(seed, spread)
            transform = steps(cfg)[arm](parts["train"], seed)
            arrays = {
                name: transform(parts[name]).astype(np.float32) for name in needed
            }
            keys.append(fingerprint(seed, list(arrays.values())))
            if keys[-1] not in keys[:-1]:
                kept.append(arrays)  # only the first of each distinct input
        firsts, index = distinct(keys)
        data = {
            name: (
                torch.from_numpy(np.stack([arrays[name] for arrays in kept])),
                torch.from_numpy(
                    np.stack([labels_of(cells[c][1])[name] for c in firsts])
                ),
            )
            for name in needed
        }
        # A model: its distinct input, learning rate and whether it has BatchNorm.
        jobs = list(
            dict.fromkeys(
                (index[c], lr, arm == "mlp-batchnorm")
                for c, (arm, _, spread) in enumerate(cells)
                for lr in lr_at(arm, spread)
            )
        )
        trained = train_mlps(
            data,
            [unique for unique, _, _ in jobs],
            [cells[firsts[unique]][1] for unique, _, _ in jobs],
            [lr for _, lr, _ in jobs],
            cfg,
            batchnorm=[flag for _, _, flag in jobs],
            budgets=budgets,
            scored=scored,
            ctx=ctx,
        )
        job_of = {job: j for j, job in enumerate(jobs)}
        for c, (arm, seed, spread) in enumerate(cells):
            for lr in lr_at(arm, spread):
                j = job_of[index[c], lr, arm == "mlp-batchnorm"]
                for b, epochs in enumerate(budgets):
                    records.add_many(
                        {
                            METRIC_OF[name]: trained.accuracy[name][b, j]
                            for name in scored
                        },
                        stage=stage,
                        seed=seed,
                        arm=arm,
                        spread=spread,
                        lr=lr,
                        epochs=epochs,
                    )

    # One stack per input width and stage: the per-feature encoding is wider.
    groups = [
        tuple(arm for arm in MLP_ARMS if arm != "mlp-ple"),
        ("mlp-ple",),
    ]
    for arms in ctx.progress(groups, desc="mlp arms"):
        mlp_stage(arms, SELECTION, selection_seeds, lambda arm, spread: list(cfg.lr))
    chosen = chosen_lrs(records.frame())
    for arms in ctx.progress(groups, desc="mlp arms"):
        mlp_stage(arms, PUBLISHED, published_seeds, lambda arm, s: [chosen[arm, s]])

    fits = {
        FOREST: (
            cfg.tree_spreads,
            lambda parts, labels, seed: fit_forest(
                parts, labels, cfg, seed, ctx.threads
            ),
        ),
        BOOSTING: (
            cfg.boosting_spreads,
            lambda parts, labels, seed: fit_boosting(parts, labels, cfg, seed),
        ),
    }
    for arm, (spreads, fit) in fits.items():
        cells = [(seed, spread) for seed in published_seeds for spread in spreads]
        for seed, spread in ctx.progress(cells, desc=arm):
            result = fit(raw_parts(seed, spread), labels_of(seed), seed)
            where = {"stage": PUBLISHED, "seed": seed, "arm": arm, "spread": spread}
            for setting, value in result.grid:
                records.add("grid_val_accuracy", value, **where, **setting)
            records.add_many(
                {METRIC_OF[name]: value for name, value in result.scores.items()},
                **where,
            )
            records.add_many(result.chosen, **where)
    return records.frame()


# ---------------------------------------------------------------- reading records


def chosen_lrs(records: pd.DataFrame) -> dict[tuple[str, float], float]:
    """(arm, spread) -> the learning rate with the best validation accuracy on the
    selection datasets, averaged over them and over the last two budgets (half and
    all of the epochs; ties: the smaller rate).

    Two checkpoints rather than the last alone: a single checkpoint of an unstable
    learner (the raw MLP at wide spreads swings by points between checkpoints) is a
    noisy score, and the average prefers a rate whose accuracy has settled over one
    still climbing at the last checkpoint, which the convergence record would flag.
    """
    rows = core.select(records, stage=SELECTION, metric="val_accuracy")
    last = rows["epochs"].max()
    rows = rows[rows["epochs"].isin([last / 2, last])]
    means = rows.groupby(["arm", "spread", "lr"])["value"].mean()
    return {
        (arm, spread): float(group.droplevel([0, 1]).idxmax())
        for (arm, spread), group in means.groupby(level=[0, 1])
    }


def published(records: pd.DataFrame) -> pd.DataFrame:
    return records[records["stage"] == PUBLISHED]


def budgets_in(records: pd.DataFrame) -> list[int]:
    return sorted(int(e) for e in published(records)["epochs"].dropna().unique())


def spreads_in(records: pd.DataFrame, arm: str = RAW_ARM) -> list[float]:
    rows = published(records)
    return sorted(float(s) for s in rows[rows["arm"] == arm]["spread"].unique())


def table(
    records: pd.DataFrame, arm: str, metric: str = "accuracy", epochs=None
) -> pd.DataFrame:
    """Per seed (rows) and spread (columns): an arm's metric; an MLP arm's after
    `epochs` (default: the full budget)."""
    rows = core.select(published(records), arm=arm, metric=metric)
    if arm in MLP_ARMS:
        epochs = budgets_in(records)[-1] if epochs is None else epochs
        rows = rows[rows["epochs"] == epochs]
    return rows.pivot_table(index="seed", columns="spread", values="value")


def drop(records: pd.DataFrame, arm: str, spread: float, epochs=None) -> pd.Series:
    """Per seed: test accuracy at the narrowest spread minus at `spread` (points)."""
    values = table(records, arm, epochs=epochs)
    return values[values.columns.min()] - values[spread]


def recovery(records: pd.DataFrame, fix: str, spread: float, epochs=None) -> pd.Series:
    """Per seed: % of the raw MLP's gap between the narrowest spread and `spread` that
    the fix wins back at `spread`, at most all of it:

    100 * min(1, (fix - raw at spread) / (raw at narrowest - raw at spread)).

    A fix that beats even the raw MLP on unscaled inputs would exceed 100%: the
    excess is the fix being a better model, not undoing the scales, so it is cut at
    100% (the accuracies themselves are estimates of their own). A gap under 1 point
    counts as 1, so the share stays finite; the verdict reads recovery only when the
    gap is at least MIN_RAW_DROP points.
    """
    raw, fixed = (
        table(records, RAW_ARM, epochs=epochs),
        table(records, fix, epochs=epochs),
    )
    narrow = raw.columns.min()
    gap = (raw[narrow] - raw[spread]).clip(lower=1.0)
    return (100.0 * (fixed[spread] - raw[spread]) / gap).clip(upper=100.0)


def capped(share: Estimate) -> Estimate:
    """A share cut at 100% per dataset (or an accuracy) has a mean of at most 100%,
    so its interval is cut there too (it still covers whatever it covered)."""
    if share.high <= 100.0:
        return share
    return dataclasses.replace(share, high=100.0, method=share.method + ", cut at 100%")


def best_by_validation(
    records: pd.DataFrame, arms: tuple[str, ...], spread: float, epochs=None
) -> tuple[pd.Series, pd.Series]:
    """Per seed: the arm (among those run at `spread`) with the best validation
    accuracy there (ties: the first listed), and that arm's test accuracy."""
    arms = tuple(a for a in arms if spread in table(records, a, "val_accuracy").columns)
    val = pd.concat(
        [table(records, a, "val_accuracy", epochs)[spread].rename(a) for a in arms],
        axis=1,
    )
    test = pd.concat(
        [table(records, a, epochs=epochs)[spread].rename(a) for a in arms], axis=1
    )
    best = val.idxmax(axis=1)
    return best, pd.Series(
        [test.loc[seed, arm] for seed, arm in best.items()], index=best.index
    )


def estimate_name(prefix: str, arm: str, suffix: str = "") -> str:
    """'recovery', 'mlp-ple' -> 'recovery_mlp_ple': page markers allow no hyphens."""
    return "_".join(part for part in (prefix, arm.replace("-", "_"), suffix) if part)


def picks_text(best: pd.Series) -> str:
    counts = best.value_counts()
    return ", ".join(f"{arm} in {n} of {len(best)}" for arm, n in counts.items())


def cell_estimates(records: pd.DataFrame, spread: float, epochs: int) -> dict:
    """The estimates the rule reads, comparing the narrowest spread with `spread`,
    every MLP after `epochs`."""
    estimates = {
        KEY: core.bootstrap(drop(records, RAW_ARM, spread, epochs), unit="points"),
        "forest_move": core.bootstrap(drop(records, FOREST, spread), unit="points"),
        "spread_compared": core.exact(
            spread,
            records["seed"].nunique(),
            label="the spread compared with the narrowest (a design choice)",
            unit="decades",
        ),
    }
    for fix in FIX_ARMS:
        estimates[estimate_name("recovery", fix)] = capped(
            core.bootstrap(recovery(records, fix, spread, epochs), unit="%", digits=0)
        )
    # Grinsztajn's question: the better tree minus the better MLP, each picked per
    # dataset on its validation rows and scored on its test rows; asked only where
    # both tree arms ran.
    if spread not in table(records, BOOSTING).columns:
        return estimates
    tree, tree_test = best_by_validation(records, TREE_ARMS, spread)
    mlp, mlp_test = best_by_validation(records, MLP_ARMS, spread, epochs)
    estimates["trees_minus_best_mlp"] = core.bootstrap(
        tree_test - mlp_test,
        unit="points",
        label=(
            f"mean of the better tree ({picks_text(tree)}) minus the better MLP "
            f"({picks_text(mlp)}), each picked per dataset on validation"
        ),
    )
    return estimates


def summarize(records: pd.DataFrame) -> dict[str, Estimate]:
    spreads, last = spreads_in(records), budgets_in(records)[-1]
    narrow, wide = spreads[0], spreads[-1]
    estimates = cell_estimates(records, wide, last)
    if narrow in table(records, BOOSTING).columns:
        estimates["boosting_move"] = core.bootstrap(
            drop(records, BOOSTING, wide), unit="points"
        )
    for arm in ARMS:
        values = table(records, arm)
        for name, spread in (("narrowest", narrow), ("widest", wide)):
            if spread in values.columns:  # boosting may run at the widest alone
                estimates[estimate_name("accuracy", arm, name)] = capped(
                    core.bootstrap(values[spread], unit="%", digits=1)
                )
    gain = boosting_gain(records, wide)
    if gain is not None:
        estimates["boosting_last_doubling_gain"] = core.bootstrap(
            gain, unit="points", label="mean gain from half the most rounds to all"
        )
    train = table(records, RAW_ARM, "train_accuracy")
    for name, spread in (("narrowest", narrow), ("widest", wide)):
        estimates[f"train_accuracy_mlp_raw_{name}"] = capped(
            core.bootstrap(train[spread], unit="%", digits=1)
        )
    return estimates


def boosting_gain(records: pd.DataFrame, spread: float) -> pd.Series | None:
    """Per dataset: boosting's validation accuracy after the most rounds searched
    minus after half as many (None if half is not in the grid)."""
    rows = core.select(
        published(records), arm=BOOSTING, spread=spread, metric="grid_val_accuracy"
    )
    if rows.empty:
        return None
    by_rounds = rows.pivot_table(index="seed", columns="rounds", values="value")
    most = by_rounds.columns.max()
    if most / 2 not in by_rounds.columns:
        return None
    return by_rounds[most] - by_rounds[most / 2]


NAMES = {
    KEY: "raw MLP's test-accuracy drop, narrowest to widest spread",
    "forest_move": "random forest's accuracy change over the same sweep",
    "boosting_move": "gradient boosting's accuracy change over the same sweep",
    **{
        estimate_name("recovery", fix): (
            "share of the raw MLP's gap won back: "
            + ARM_LABELS[fix].removeprefix("MLP + ")
        )
        for fix in FIX_ARMS
    },
    "spread_compared": "the widest spread, compared with the narrowest",
    "trees_minus_best_mlp": "better tree minus better MLP at the widest spread",
    "boosting_last_doubling_gain": (
        "boosting's validation gain over its last doubling of rounds"
    ),
    **{
        estimate_name("accuracy", arm, end): (
            f"test accuracy at the {end} spread: {ARM_LABELS[arm]}"
        )
        for arm in ARMS
        for end in ("narrowest", "widest")
    },
    "train_accuracy_mlp_raw_narrowest": (
        "training accuracy at the narrowest spread: MLP, raw inputs"
    ),
    "train_accuracy_mlp_raw_widest": (
        "training accuracy at the widest spread: MLP, raw inputs"
    ),
}


RULE = (
    f"Tweet 16 holds if the raw MLP's test accuracy drops by at least "
    f"{MIN_RAW_DROP:g} points from the narrowest to the widest scale spread while "
    f"the random forest moves by at most {MAX_FOREST_MOVE:g} point either way (whole "
    f"95% intervals past the thresholds). Tweet 21 turns that into 'mitigated' if a "
    f"normalization fix wins back at least {MIN_RECOVERY:g}% of the raw MLP's gap at "
    f"the widest spread (a share capped at 100%). Refuted if either half of tweet 16 "
    f"fails; inconclusive if an interval straddles a threshold."
)


def verdict(estimates: dict[str, Estimate]) -> Verdict:
    drop_, forest = estimates[KEY], estimates["forest_move"]
    recoveries = {fix: estimates[estimate_name("recovery", fix)] for fix in FIX_ARMS}
    failure = core.all_of(
        drop_.above(MIN_RAW_DROP),
        forest.below(MAX_FOREST_MOVE),
        forest.above(-MAX_FOREST_MOVE),
    )
    fixed = core.any_of(*(rec.above(MIN_RECOVERY) for rec in recoveries.values()))
    recovered = "; ".join(
        f"{ARM_LABELS[fix].removeprefix('MLP + ')} {rec.text()}"
        for fix, rec in recoveries.items()
    )
    compared = estimates.get("spread_compared")
    to = f"{compared.value:g} decades" if compared else "the widest spread"
    reason = (
        f"the raw MLP drops {drop_.text()} from the narrowest spread to {to}; "
        f"the random forest moves {forest.text()}; share of the gap won back: "
        f"{recovered}"
    )
    if "trees_minus_best_mlp" in estimates:
        reason += (
            f"; better tree minus better MLP at {to}: "
            f"{estimates['trees_minus_best_mlp'].text()}"
        )
    status = core.failure_status(failure, fixed)
    thresholds = {
        KEY: MIN_RAW_DROP,
        "forest_move": MAX_FOREST_MOVE,
        **{estimate_name("recovery", fix): MIN_RECOVERY for fix in FIX_ARMS},
    }
    return Verdict(status, reason, RULE, thresholds=thresholds)


# ---------------------------------------------------------------- assessment


def convergence_record(records: pd.DataFrame, arm: str) -> core.Convergence:
    """Validation accuracy at the widest spread after each budget (published
    datasets, the chosen learning rate: checkpoints of one run)."""
    budgets, wide = budgets_in(records), spreads_in(records)[-1]
    curve = np.stack(
        [table(records, arm, "val_accuracy", b)[wide].to_numpy() for b in budgets],
        axis=1,
    )
    return core.convergence(
        arm,
        budgets,
        curve,
        tolerance=CONVERGENCE_TOLERANCE,
        metric="validation accuracy (%) at the widest spread, by epochs",
        unit="points",
    )


def assess(records: pd.DataFrame, estimates: dict[str, Estimate]) -> core.Assessment:
    spreads, budgets = spreads_in(records), budgets_in(records)
    chosen = chosen_lrs(records)
    selection = records[records["stage"] == SELECTION]
    lrs = sorted(float(lr) for lr in selection["lr"].dropna().unique())
    datasets = selection["seed"].nunique()
    tuning = [
        core.Tuning(
            arm,
            {"lr": lrs},
            {"lr": [chosen[arm, s] for s in spreads]},
            f"validation accuracy on {datasets} selection datasets (not the published "
            "ones), averaged over them and over the last two budgets, one choice per "
            "spread "
            f"({', '.join(f'{s:g}' for s in spreads)} decades, in that order)",
        )
        for arm in MLP_ARMS
    ]
    wide = spreads[-1]
    per_dataset = (
        "the validation rows of each published dataset (not the rows scored), one "
        f"choice per dataset and spread (listed: the widest spread, {wide:g} "
        "decades, one per dataset)"
    )
    tuning += [tree_tuning(records, arm, per_dataset) for arm in TREE_ARMS]
    effort = (
        f"Each MLP variant searches {len(lrs)} learning rates per spread, on separate "
        f"selection datasets; each tree arm searches its own grid on every published "
        "dataset's validation rows (free: a grown forest is cut back and boosting "
        "is read after each round). The trees get the finer tuning (a choice per "
        "dataset, not per variant and spread); the MLPs' width, batch size and "
        "epochs and the forest's size are fixed, not searched."
    )
    map_spreads = [s for s in spreads_in(records, FOREST) if s != spreads[0]]
    robustness = core.robustness_map(
        {"epochs": budgets, "spread": map_spreads},
        lambda cell: verdict(cell_estimates(records, cell["spread"], cell["epochs"])),
        {"epochs": budgets[-1], "spread": wide},
    )
    return core.Assessment(
        robustness,
        tuple(convergence_record(records, arm) for arm in MLP_ARMS),
        tuple(tuning),
        "epochs",
        effort,
    )


CHOICES = {
    FOREST: ("max_depth", "min_samples_split"),
    BOOSTING: ("rounds",),
}
CHOICE_NOTES = {
    FOREST: "; the grown forest is cut back to each setting, not refitted",
    BOOSTING: "; one run of the most rounds, read after each number of rounds",
}


def tree_tuning(records: pd.DataFrame, arm: str, selected_on: str) -> core.Tuning:
    """A tree arm's grid (from its grid_val_accuracy rows) and its picks at the
    widest spread, one per dataset."""
    rows = core.select(published(records), arm=arm)
    rows = rows[rows["spread"] == rows["spread"].max()]
    grid_rows = core.select(rows, metric="grid_val_accuracy")
    grid, chosen = {}, {}
    for choice in CHOICES[arm]:
        grid[choice] = sorted(int(v) for v in grid_rows[choice].unique())
        chosen[choice] = [
            int(v)
            for v in core.select(rows, metric=choice).sort_values("seed")["value"]
        ]
    if arm == FOREST:
        grid = {
            f"{k} (0: no limit)" if k == "max_depth" else k: v for k, v in grid.items()
        }
        chosen = {
            f"{k} (0: no limit)" if k == "max_depth" else k: v
            for k, v in chosen.items()
        }
    return core.Tuning(arm, grid, chosen, selected_on + CHOICE_NOTES[arm])


# ---------------------------------------------------------------- charts


def charts(records: pd.DataFrame) -> dict[str, alt.TopLevelMixin]:
    order = [ARM_LABELS[arm] for arm in ARMS]
    last, spreads = budgets_in(records)[-1], spreads_in(records)
    rows = core.select(published(records), metric="accuracy")
    rows = rows[rows["epochs"].isna() | (rows["epochs"] == last)]
    rows = rows.assign(model=rows["arm"].map(ARM_LABELS))
    accuracy_chart = core.ci_curve(
        core.ci_table(rows, ["model", "spread"], core.bootstrap),
        x="spread",
        x_title="scale spread (decades between smallest and largest feature scale)",
        value_title="test accuracy (%)",
        colour="model",
        colour_sort=order,
        seeds=rows[["model", "spread", "seed", "value"]],
        x_values=spreads,
    )

    wide = spreads[-1]
    fixes = [ARM_LABELS[fix] for fix in FIX_ARMS]
    shares = pd.concat(
        [
            recovery(records, fix, wide)
            .rename("value")
            .reset_index()
            .assign(fix=ARM_LABELS[fix])
            for fix in FIX_ARMS
        ]
    )
    recovery_chart = core.ci_dots(
        core.ci_table(shares, ["fix"], lambda v: capped(core.bootstrap(v))),
        category="fix",
        value_title="% of the raw MLP's gap won back at the widest spread (cap 100)",
        sort=fixes,
        seeds=shares,
        thresholds={"verdict threshold (%)": MIN_RECOVERY},
        fmt=".0f",
    )

    drops = pd.concat(
        [
            drop(records, RAW_ARM, spread, epochs)
            .rename("value")
            .reset_index()
            .assign(epochs=epochs, spread=f"{spread:g} decades")
            for epochs in budgets_in(records)
            for spread in spreads[1:]
        ]
    )
    drop_chart = core.ci_curve(
        core.ci_table(drops, ["spread", "epochs"], core.bootstrap),
        x="epochs",
        x_title="training budget (epochs, log scale)",
        value_title="raw MLP's drop from the narrowest spread (points)",
        colour="spread",
        colour_sort=[f"{s:g} decades" for s in spreads[1:]],
        seeds=drops,
        thresholds={"verdict threshold (points)": MIN_RAW_DROP},
        x_fmt="d",
        log_x=True,
        x_values=budgets_in(records),
    )

    # The search at the widest spread for every variant, and for the raw MLP at the
    # narrowest too (the other variants' inputs barely change with the spread): the
    # score chosen on, each selection dataset's validation accuracy averaged over the
    # last two budgets; the line is their mean (no interval over so few datasets).
    search = core.select(records, stage=SELECTION, metric="val_accuracy")
    search = search[search["epochs"].isin([last / 2, last])]
    narrow_raw = (search["arm"] == RAW_ARM) & (search["spread"] == spreads[0])
    search = search[(search["spread"] == wide) | narrow_raw]
    search = (
        search.groupby(["arm", "spread", "lr", "seed"])["value"].mean().reset_index()
    )
    search = search.assign(
        variant=search["arm"].map(SHORT_LABELS)
        + search["spread"].map(lambda s: f", spread {s:g}")
    )
    search_chart = core.ci_curve(
        core.ci_table(
            search,
            ["variant", "lr"],
            lambda v: core.exact(np.mean(v), len(v), label="mean", digits=1),
        ),
        x="lr",
        x_title="Adam learning rate (log scale)",
        value_title="validation accuracy (%), last two budgets",
        colour="variant",
        seeds=search[["variant", "lr", "seed", "value"]],
        fmt=".1f",
        x_fmt="g",
        log_x=True,
        x_values=sorted(search["lr"].unique()),
    )
    for chart in (drop_chart, search_chart):
        for layer in chart.layer:  # the log x axis spans the values run, no more
            if getattr(layer.encoding, "x", alt.Undefined) is not alt.Undefined:
                layer.encoding.x.scale = alt.Scale(type="log", nice=False)
    height = {"height": core.CHART_HEIGHT}
    return {
        "accuracy": core.sized(
            accuracy_chart,
            "Test accuracy vs feature-scale spread (mean, 95% CI over datasets)",
            **height,
        ),
        "gap-recovered": core.sized(
            recovery_chart,
            "How much of the gap each fix wins back (mean, 95% CI over datasets)",
        ),
        "drop-by-budget": core.sized(
            drop_chart,
            "The raw MLP's drop at each training budget and spread (mean, 95% CI)",
            **height,
        ),
        "lr-search": core.sized(
            search_chart,
            "The learning-rate search: the score each rate was chosen on",
            **height,
        ),
    }
