"""Tweets 11 and 12: deep networks cannot be trained online; learn offline instead.

Claim (tweets 11-12): "It's not really possible to train deep networks online (see
above about slow training). So dynamic reactivity is hard." and "In general,
behaviors will have to be learned offline for intelligent actions."

What the experiment does: continual learning on scikit-learn's 8x8 digits (shipped
with the package), a balanced train/validation/test split and 3 tasks per seed,
under two drifts. *Permuted*: task 0 is the original images, each later task its
own pixel permutation of them (Goodfellow et al. 2013). *Class-incremental*: each
task brings two new digits and one 10-way output must keep all classes seen apart
(van de Ven & Tolias 2019), where pixel-order blindness gives the classical learners
no free advantage. Arms: an MLP fine-tuned by plain SGD (naive); the same with EWC
(Kirkpatrick et al. 2017) in its favourable regime (few tasks, hidden layers twice
the input's width, each task trained to its plateau, the strength chosen per seed
on validation data); the same with a small replay buffer; random-feature ridge
regression, whose statistics add up, so learning task by task gives exactly the
batch solution (bandwidth and penalty chosen on validation data); 1-nearest
neighbour; and the offline reference, the MLP trained on the union of the tasks
with the same number of steps. The MLP arms run at 1, 16 and 32 epochs per task (1:
the one-pass stream, scored prequentially); metrics: R[i, j], the accuracy on task
j after task i, its average over the tasks seen, and backward transfer (BWT,
Lopez-Paz & Ranzato 2017), also over the first 2 tasks alone.

What it does not show: small, clean tasks with known boundaries; one untuned
learning rate for every MLP; choices made on validation data of all tasks seen,
which a real stream would not hand over; long sequences and their loss of
plasticity (Dohare et al. 2024).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import altair as alt
import numpy as np
import pandas as pd
import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.nn import functional as F

from essay_code import core
from essay_code.core import Estimate, RunContext, Verdict

TITLE = "Online learning and catastrophic forgetting"
TWEETS = (11, 12)
KEY = "naive_bwt"

NAIVE, EWC, REPLAY = "mlp-naive", "mlp-ewc", "mlp-replay"
RIDGE, KNN, JOINT = "rf-ridge", "knn", "mlp-joint"
DEEP_ARMS = (NAIVE, EWC, REPLAY, JOINT)
STREAM_ARMS = (NAIVE, EWC, REPLAY, RIDGE, KNN)  # learners that see one task at a time
ARMS = (*STREAM_ARMS, JOINT)
ARM_LABELS = {
    NAIVE: "MLP, naive SGD",
    EWC: "MLP + EWC",
    REPLAY: "MLP + replay buffer",
    RIDGE: "random-feature ridge (online)",
    KNN: "1-nearest neighbour",
    JOINT: "MLP trained jointly (offline)",
}
PERMUTED, CLASS_INCREMENTAL = "permuted", "class-incremental"
DRIFTS = (PERMUTED, CLASS_INCREMENTAL)
HEADLINE_DRIFT = PERMUTED  # the classic protocol; class-incremental is a map axis
CLASSES, PIXELS, LAYERS = 10, 64, 3
KEYS = ("train_x", "train_y", "val_x", "val_y", "test_x", "test_y")
Params = list[torch.Tensor]  # a stack's weights [models, in, out], then its biases
Tensors = dict[str, torch.Tensor]

# Verdict thresholds, fixed before any run, not tuned.
MAX_NAIVE_BWT = -0.30  # naive SGD forgets if its BWT is at most this (accuracy units)
MAX_RIDGE_GAP = 5.0  # points the online ridge may trail the jointly trained MLP by
MIN_FIXED_BWT = -0.05  # EWC or replay mitigates if its BWT is at least this
# A deep arm is converged when doubling its epochs per task adds less than this to
# its validation accuracy (points): chosen here, because it is about one standard
# error of one seed's validation accuracy (900 permuted images at 90%) and a fifth of
# the rule's tightest threshold (the ridge gap's 5 points).
CONVERGENCE_TOLERANCE = 1.0
# Host syncs in a smoke run (none per step): per drift, the data copied in (6),
# and per trainer run a constant copied in and its results read back once (a
# read-back counts twice, .cpu() and .numpy()); it grows with the budgets run.
HOST_SYNC_BUDGET = 90
# The ridge model computes in float64 on ctx.device: its statistics add up
# thousands of rows and its online answer must equal the batch one (a test checks
# to 1e-9), which float32 cannot hold. Apple's MPS has no float64.
NEEDS_FLOAT64 = True


@dataclass(frozen=True)
class Config:
    seeds: int = 10  # independent splits, task sequences and initialisations
    tasks: int = 3  # tasks per sequence (class-incremental: at most 5 digit pairs)
    # Sequence lengths the verdict is also read at (the map's "tasks" axis): the
    # first k tasks of the run, with their own joint MLP and validation choices.
    prefixes: tuple[int, ...] = (2, 3)
    train_per_class: int = 48  # training images per digit (a balanced split)
    val_per_class: int = 30  # validation images per digit (for every choice)
    test_per_class: int = 60  # test images per digit (the rarest digit has 174)
    hidden: int = 128  # width of both hidden layers of every MLP (input: 64)
    # Epochs per task, one run each (the joint MLP: as many steps); the first must
    # be 1 (the one-pass stream). The map's training-budget axis.
    budgets: tuple[int, ...] = (1, 16, 32)
    batch_size: int = 32  # minibatch rows, the same for every MLP arm
    lr: float = 0.3  # plain SGD learning rate, the same for every MLP arm
    # EWC strengths lambda in lambda/2 sum_t F_t (theta - theta_t)^2, chosen per
    # seed and cell on validation accuracy over the tasks seen. When tasks bring
    # new classes a stiffer penalty keeps more of the old ones: a wider grid.
    ewc_lambdas: tuple[float, ...] = (10.0, 30.0, 100.0, 300.0, 1e3, 3e3)
    ewc_lambdas_classes: tuple[float, ...] = (30.0, 1e2, 3e2, 1e3, 3e3, 1e4, 3e4, 1e5)
    ewc_samples: int = 64  # rows of a finished task for its Fisher (x 10 classes)
    replay_per_task: int = 30  # rows kept from each finished task
    replay_batch: int = 32  # buffer rows added to every minibatch after task 0
    features: int = 500  # random Fourier features of the ridge model
    bandwidths: tuple[float, ...] = (2.0, 4.0, 8.0)  # Gaussian kernel
    penalties: tuple[float, ...] = (1e-4, 1e-3, 1e-2, 0.1, 1.0)  # ridge penalties
    stream_batch: int = 16  # classical one-pass run: rows per minibatch


PROFILES = {
    "smoke": {
        "seeds": 2,
        "tasks": 2,
        "prefixes": (2,),
        "train_per_class": 16,
        "val_per_class": 8,
        "test_per_class": 8,
        "hidden": 16,
        "budgets": (1, 2, 4),
        "ewc_lambdas": (1.0, 10.0, 100.0),
        "ewc_lambdas_classes": (10.0, 1e3),
        "ewc_samples": 8,
        "replay_per_task": 8,
        "replay_batch": 8,
        "features": 50,
        "bandwidths": (4.0,),
        "penalties": (0.1, 1.0),
        "stream_batch": 32,
    },
    "full": {"seeds": 20, "tasks": 5, "prefixes": (2, 3, 5), "hidden": 256},
}


# ---------------------------------------------------------------- data


def split_digits(cfg: Config, seed: int) -> list[np.ndarray]:
    """[train, val, test], each [10 classes, per class, 64] in [0, 1]: as many
    images of every digit, so every task of either drift has the same size."""
    digits = load_digits()
    pixels = (digits.data / 16.0).astype(np.float32)  # [1797, 64]
    bounds = np.cumsum((0, cfg.train_per_class, cfg.val_per_class, cfg.test_per_class))
    rng = np.random.default_rng([seed, 0])
    parts: list[list[np.ndarray]] = [[], [], []]
    for label in range(CLASSES):
        rows = rng.permutation(np.flatnonzero(digits.target == label))
        if len(rows) < bounds[-1]:
            raise ValueError(f"digit {label} has {len(rows)} < {bounds[-1]} images")
        for part, low, high in zip(parts, bounds[:-1], bounds[1:], strict=True):
            part.append(pixels[rows[low:high]])
    return [np.stack(part) for part in parts]


def task_permutations(tasks: int, seed: int) -> np.ndarray:
    """[tasks, 64]: the identity for task 0, an independent random one for each later
    task (drawn from the seed, so the same seed gives the same sequence)."""
    rng = np.random.default_rng([seed, 1])
    rows = [np.arange(PIXELS)] + [rng.permutation(PIXELS) for _ in range(tasks - 1)]
    return np.stack(rows)


def class_pairs(tasks: int, seed: int) -> np.ndarray:
    """[tasks, 2]: disjoint pairs of digits from a per-seed random class order."""
    if tasks > CLASSES // 2:
        raise ValueError(f"class-incremental digits have at most 5 tasks, not {tasks}")
    order = np.random.default_rng([seed, 2]).permutation(CLASSES)
    return order[: 2 * tasks].reshape(tasks, 2)


def make_tasks(cfg: Config, seed: int, drift: str) -> dict[str, np.ndarray]:
    """One seed's sequence: KEYS -> x [tasks, rows, 64] and y [tasks, rows]."""
    arrays = []
    for part in split_digits(cfg, seed):  # [10, n, 64]
        n = part.shape[1]
        if drift == PERMUTED:
            flat, labels = part.reshape(-1, PIXELS), np.repeat(np.arange(CLASSES), n)
            perms = task_permutations(cfg.tasks, seed)
            arrays.append(np.stack([flat[:, perm] for perm in perms]))
            arrays.append(np.tile(labels, (cfg.tasks, 1)))
        else:
            pairs = class_pairs(cfg.tasks, seed)
            arrays.append(np.stack([part[pair].reshape(-1, PIXELS) for pair in pairs]))
            arrays.append(np.stack([np.repeat(pair, n) for pair in pairs]))
    return dict(zip(KEYS, arrays, strict=True))


def stacked(tasks: list[dict[str, np.ndarray]]) -> Tensors:
    """Seeds stacked on a leading axis: train_x [seeds, tasks, rows, 64] etc."""
    return {key: torch.tensor(np.stack([t[key] for t in tasks])) for key in KEYS}


def gather_rows(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """x [models, n, ...], index [models, b] -> [models, b, ...]."""
    return x[torch.arange(x.shape[0], device=x.device)[:, None], index]


def average_accuracy(matrix: np.ndarray) -> np.ndarray:
    """[tasks]: after task i, the mean of R[i, j] over the tasks j <= i seen so far."""
    return np.array([matrix[i, : i + 1].mean() for i in range(len(matrix))])


def backward_transfer(matrix: np.ndarray) -> float:
    """Lopez-Paz & Ranzato's BWT = 1/(T-1) sum_{i<T} (R[T, i] - R[i, i]) of R [T, T],
    R[i, j] the accuracy on task j after learning task i. Negative BWT is
    forgetting: the final model does worse on a task than right after learning it."""
    final, learned = matrix[-1, :-1], np.diag(matrix)[:-1]
    return float(np.mean(final - learned))


# ---------------------------------------------------------------- the MLPs
# A stack holds one MLP per (arm setting, seed); each seed's learners share its
# initial weights and minibatch order, so the arms differ only in how they learn.


def make_mlp(hidden: int) -> nn.Module:
    """64 -> hidden -> hidden -> 10 with ReLU between."""
    return core.mlp([PIXELS, hidden, hidden, CLASSES])


def init_stack(hidden: int, seeds: list[int], device) -> Params:
    """One make_mlp per entry of `seeds` (nn.Linear's init from that seed), laid out
    as core.StackedMLP's weights [models, in, out] and biases [models, 1, out]."""
    return core.StackedMLP([PIXELS, hidden, hidden, CLASSES], seeds, device).params


def mlp_forward(params: Params, x: torch.Tensor) -> tuple[torch.Tensor, list, list]:
    """x [models, n, 64] -> logits [models, n, 10], with each layer's pre-activation
    and input (for the Fisher). core.StackedMLP computes the same logits."""
    inputs, pre, hidden = [], [], x
    for weight, bias in zip(params[:LAYERS], params[LAYERS:], strict=True):
        inputs.append(hidden)
        pre.append(torch.baddbmm(bias, hidden, weight))
        hidden = pre[-1].relu()
    return pre[-1], pre, inputs


def accuracy_on(params: Params, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """x [models, tasks, n, 64], y [models, tasks, n] -> accuracy [models, tasks]."""
    logits, _, _ = mlp_forward(params, x.flatten(1, 2))
    return (logits.argmax(-1) == y.flatten(1, 2)).float().view(y.shape).mean(-1)


def batch_loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Each model's mean cross-entropy, summed: each gets exactly its own gradient."""
    rows = F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="none")
    return rows.view(len(y), -1).mean(1).sum()


def diagonal_fisher(params: Params, x: torch.Tensor) -> Params:
    """Diagonal Fisher information per model, as EWC defines it: the mean over rows
    of E_{y ~ p(y|x)} (d log p(y|x) / d theta)^2, the expectation over the 10
    classes taken exactly (the "empirical" Fisher at the true labels vanishes on
    rows the model already fits; Kunstner et al. 2019).

    x [models, n, 64]. Each row goes in once per class; a linear layer's per-row
    gradient is the outer product of its input a and output gradient delta, so the
    mean of its square is (a^2)^T (p delta^2) / n: no per-row gradient is stored.
    """
    models, rows, _ = x.shape
    copies = x.repeat_interleave(CLASSES, 1)  # [models, rows * 10, 64]
    labels = torch.arange(CLASSES, device=x.device).repeat(rows).expand(models, -1)
    leaves = [p.detach().requires_grad_(True) for p in params]
    with torch.enable_grad():
        logits, pre, inputs = mlp_forward(leaves, copies)
        total = F.cross_entropy(logits.flatten(0, 1), labels.flatten(), reduction="sum")
        deltas = torch.autograd.grad(total, pre)
    prob = logits.detach().softmax(-1).gather(-1, labels[..., None])  # p(y | x)
    weighted = [prob * delta**2 for delta in deltas]
    weights = [
        torch.einsum("mni,mno->mio", a.detach() ** 2, w) / rows
        for a, w in zip(inputs, weighted, strict=True)
    ]
    return weights + [w.sum(1, keepdim=True) / rows for w in weighted]


def ewc_coefficients(fisher: Params, anchor: Params, strength: torch.Tensor):
    """The EWC penalty's half of a proximal SGD step, as theta <- theta * c + d.

    EWC adds lambda/2 sum_t F_t (theta - theta_t)^2 = lambda/2 (A theta^2 - 2 B theta)
    + const, with A = sum_t F_t (`fisher`) and B = sum_t F_t theta_t (`anchor`). An
    explicit gradient step on it diverges once lr * lambda * A > 2, so the penalty
    takes the implicit step, stable for any lambda: theta <- (theta + s B) /
    (1 + s A), s = lr * lambda per model (s = 0 leaves a model exactly unchanged).
    """
    scale, shift = [], []
    for area, total in zip(fisher, anchor, strict=True):
        s = strength.view(-1, *[1] * (area.dim() - 1))
        scale.append(1 / (1 + s * area))
        shift.append(s * total * scale[-1])
    return scale, shift


def permutations(generators: list[torch.Generator], n: int, count=None):
    """[seeds, count]: the first count entries (all: None) of a fresh random
    permutation of range(n) from each seed's own generator."""
    return torch.stack([torch.randperm(n, generator=g)[:count] for g in generators])


@dataclass(frozen=True)
class Schedule:
    """Every random draw of a sequential run, made up front on the CPU: they depend
    on no training result, so the loop copies nothing in per step and gives the same
    numbers on any device."""

    orders: torch.Tensor  # [tasks, epochs, seeds, rows] each pass's row order
    fisher_rows: torch.Tensor  # [tasks, seeds, samples] rows for the Fisher
    picks: torch.Tensor  # [tasks, epochs, steps, seeds, replay_batch] buffer slots
    kept: torch.Tensor  # [tasks, seeds, replay_per_task] rows each task leaves


def draw_schedule(seeds: list[int], shape, epochs: int, cfg: Config, device):
    """Per task, each seed's order generator draws each epoch's permutation, then
    the Fisher rows; its replay generator draws the buffer slots of every step after
    task 0 (task 0's stay zeros: its buffer is empty), then the rows kept."""
    tasks, rows = shape
    order_rng = [torch.Generator().manual_seed(seed) for seed in seeds]
    replay_rng = [torch.Generator().manual_seed(seed + 1) for seed in seeds]
    steps, size = rows // cfg.batch_size, (cfg.replay_batch,)
    orders, fisher_rows, picks, kept = [], [], [], []
    for task in range(tasks):
        orders.append(
            torch.stack([permutations(order_rng, rows) for _ in range(epochs)])
        )
        fisher_rows.append(permutations(order_rng, rows, min(cfg.ewc_samples, rows)))
        slots = task * cfg.replay_per_task
        draws = [
            torch.stack([torch.randint(slots, size, generator=g) for g in replay_rng])
            if slots
            else torch.zeros(len(seeds), *size, dtype=torch.long)
            for _ in range(epochs * steps)
        ]
        picks.append(torch.stack(draws).unflatten(0, (epochs, steps)))
        kept.append(permutations(replay_rng, rows, cfg.replay_per_task))
    draws = (orders, fisher_rows, picks, kept)
    return Schedule(*(torch.stack(d).to(device) for d in draws))


def ewc_grid(cfg: Config, drift: str) -> tuple[float, ...]:
    return cfg.ewc_lambdas if drift == PERMUTED else cfg.ewc_lambdas_classes


def sequential_learners(seeds: list[int], grid) -> list[tuple[str, float, int]]:
    """(arm, lambda, seed) of a sequential run over an EWC grid, in the order of
    train_sequential's results (naive SGD is lambda = 0)."""
    ewc = [(EWC, lam, seed) for lam in grid for seed in seeds]
    return ewc + [(arm, 0.0, seed) for arm in (NAIVE, REPLAY) for seed in seeds]


def train_sequential(data, seeds, cfg: Config, epochs: int, ctx, lambdas, replay=True):
    """One run at `epochs` per task of sequential learners, plain SGD.

    The first stack holds one model per (EWC strength, seed), lambdas [groups,
    seeds] (strength 0 is naive SGD: its EWC step is the identity); `replay` adds a
    stack of replay learners, whose minibatch after task 0 is the task's batch_size
    rows plus replay_batch rows of the seed's buffer (one mean over both). Returns
    test R and validation R [learners, tasks, tasks] (0-1; [i, j] for j <= i,
    validation at the prefix ends only), group-major then replay, and each
    learner's prequential accuracy on its tasks' first passes (each minibatch
    scored before its step).
    """
    device, n_seeds, groups = ctx.device, len(seeds), len(lambdas)
    train_x, train_y, val_x, val_y, test_x, test_y = (data[k].to(device) for k in KEYS)
    tasks, rows = train_x.shape[1:3]
    stack = init_stack(cfg.hidden, seeds * groups, device)
    buffered = init_stack(cfg.hidden, seeds, device) if replay else []
    optimizer = torch.optim.SGD([*stack, *buffered], lr=cfg.lr)
    strength = cfg.lr * torch.tensor(lambdas, device=device).flatten()
    schedule = draw_schedule(seeds, (tasks, rows), epochs, cfg, device)
    fisher = [torch.zeros_like(p) for p in stack]
    anchor = [torch.zeros_like(p) for p in stack]
    scale: Params = []
    shift: Params = []
    buffer = torch.zeros(n_seeds, 0, 2, dtype=torch.long, device=device)
    learners = (groups + replay) * n_seeds
    test_r = torch.zeros(learners, tasks, tasks, device=device)
    val_r = torch.zeros_like(test_r)
    correct = torch.zeros(learners, device=device)
    own, batch = torch.arange(n_seeds, device=device)[:, None], cfg.batch_size
    for task in ctx.progress(range(tasks), total=tasks, desc=f"mlp x{epochs}"):
        for epoch, step in itertools.product(range(epochs), range(rows // batch)):
            index = schedule.orders[task, epoch][:, step * batch : (step + 1) * batch]
            x, y = train_x[own, task, index], train_y[own, task, index]
            logits = mlp_forward(stack, x.repeat(groups, 1, 1))[0]
            loss = batch_loss(logits, y.repeat(groups, 1))
            hits = [logits.argmax(-1) == y.repeat(groups, 1)]
            if replay:
                if task:
                    slots = gather_rows(buffer, schedule.picks[task, epoch, step])
                    old = (own, slots[..., 0], slots[..., 1])
                    x, y = (
                        torch.cat([x, train_x[old]], 1),
                        torch.cat([y, train_y[old]], 1),
                    )
                replayed = mlp_forward(buffered, x)[0]
                loss = loss + batch_loss(replayed, y)
                hits.append(replayed[:, :batch].argmax(-1) == y[:, :batch])
            if epoch == 0:
                correct += torch.cat(hits).sum(-1)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if task:
                with torch.no_grad():
                    for p, c, d in zip(stack, scale, shift, strict=True):
                        p.mul_(c).add_(d)
        with torch.no_grad():
            seen = task + 1
            for xs, ys, target in ((test_x, test_y, test_r), (val_x, val_y, val_r)):
                if target is val_r and seen not in cfg.prefixes:
                    continue
                xs, ys = xs[:, :seen], ys[:, :seen]
                scores = [
                    accuracy_on(
                        stack, xs.repeat(groups, 1, 1, 1), ys.repeat(groups, 1, 1)
                    )
                ]
                if replay:
                    scores.append(accuracy_on(buffered, xs, ys))
                target[:, task, :seen] = torch.cat(scores)
            if seen == tasks:
                break
            sample = schedule.fisher_rows[task]  # [seeds, samples]
            new = diagonal_fisher(
                stack, train_x[own, task, sample].repeat(groups, 1, 1)
            )
            for area, total, f, p in zip(fisher, anchor, new, stack, strict=True):
                area += f
                total += f * p
            scale, shift = ewc_coefficients(fisher, anchor, strength)
            keep = schedule.kept[task]  # [seeds, replay_per_task]
            kept = torch.stack([torch.full_like(keep, task), keep], -1)
            buffer = torch.cat([buffer, kept], 1)  # [seeds, filled, (task, row)]
    return test_r, val_r, correct / (tasks * rows)


def train_joint(data: Tensors, seeds: list[int], cfg: Config, ctx: RunContext):
    """The offline reference: per prefix k and seed, the MLP trained with plain SGD
    on the shuffled union of the first k tasks, checkpointed at each budget's step
    count (budget x steps per pass x k, a sequential learner's), and over the whole
    sequence once more at twice the largest budget (its convergence check).
    Constant-rate SGD on one row order passes through the shorter runs, so the
    checkpoints are those runs. Returns test and validation accuracy over the k
    tasks [prefixes, seeds, budgets + 1] (the last column: the whole sequence's).
    """
    device, n_seeds = ctx.device, len(seeds)
    prefixes = sorted(cfg.prefixes, reverse=True)  # the longest-running block first
    train_x, train_y, val_x, val_y, test_x, test_y = (data[k].to(device) for k in KEYS)
    rows = train_x.shape[2]
    per_task = rows // cfg.batch_size
    budgets = (*cfg.budgets, 2 * max(cfg.budgets))
    passes = [budgets[-1 if k == cfg.tasks else -2] for k in prefixes]
    last = [count * per_task * k for count, k in zip(passes, prefixes, strict=True)]
    params = init_stack(cfg.hidden, seeds * len(prefixes), device)
    optimizer = torch.optim.SGD(params, lr=cfg.lr)
    ids = []  # row ids (task * rows + row) of each learner's passes, [steps, batch]
    for k, count, steps in zip(prefixes, passes, last, strict=True):
        gens = [torch.Generator().manual_seed(seed + 2) for seed in seeds]
        order = torch.cat([permutations(gens, k * rows) for _ in range(count)], 1)
        ids.append(F.pad(order.view(n_seeds, steps, -1), (0, 0, 0, last[0] - steps)))
    ids = torch.cat(ids).to(device)  # a shorter block's padded tail is never read
    seed_of = torch.arange(n_seeds, device=device).repeat(len(prefixes))[:, None]
    test_acc = torch.zeros(len(prefixes), n_seeds, len(budgets), device=device)
    val_acc = torch.zeros_like(test_acc)
    checkpoints = [
        (budget * per_task * k, block, k, column)
        for block, (k, count) in enumerate(zip(prefixes, passes, strict=True))
        for column, budget in enumerate(budgets)
        if budget <= count
    ]
    for step in ctx.progress(range(last[0]), desc=JOINT):
        active = n_seeds * sum(steps > step for steps in last)  # a leading slice
        where = (
            seed_of[:active],
            ids[:active, step] // rows,
            ids[:active, step] % rows,
        )
        logits, _, _ = mlp_forward([p[:active] for p in params], train_x[where])
        optimizer.zero_grad(set_to_none=True)
        batch_loss(logits, train_y[where]).backward()
        optimizer.step()
        for _, block, k, column in (c for c in checkpoints if c[0] == step + 1):
            own = [p[block * n_seeds : (block + 1) * n_seeds] for p in params]
            with torch.no_grad():
                for x, y, target in (
                    (test_x, test_y, test_acc),
                    (val_x, val_y, val_acc),
                ):
                    target[block, :, column] = accuracy_on(
                        own, x[:, :k], y[:, :k]
                    ).mean(-1)
    order = [prefixes.index(k) for k in cfg.prefixes]
    return tuple(torch.stack([t[i] for i in order]) for t in (test_acc, val_acc))


# ---------------------------------------------------------------- classical arms


def fourier_features(x: torch.Tensor, weights: torch.Tensor, phases: torch.Tensor):
    """Random Fourier features of a Gaussian kernel (Rahimi & Recht 2007), float64:
    x [models, n, 64], weights [models, 64, D], phases [models, 1, D] -> [.., n, D]."""
    width = weights.shape[-1]
    return (2.0 / width) ** 0.5 * torch.cos(x.double() @ weights + phases)


def draw_features(cfg: Config, seeds: list[int], device) -> tuple[torch.Tensor, ...]:
    """Per seed: directions [64, D] ~ N(0, 1), divided by a bandwidth before use,
    and phases [1, D] ~ U(0, 2 pi); every bandwidth shares a seed's draws."""
    gens = [torch.Generator().manual_seed(seed + 10_000) for seed in seeds]
    f64, width = torch.float64, cfg.features
    directions = [torch.randn(PIXELS, width, generator=g, dtype=f64) for g in gens]
    phases = [torch.rand(1, width, generator=g, dtype=f64) * 2 * np.pi for g in gens]
    return torch.stack(directions).to(device), torch.stack(phases).to(device)


def one_hot(y: torch.Tensor) -> torch.Tensor:
    """[..., n] labels -> [..., n, 10] float64 indicators, on y's device."""
    return torch.eye(CLASSES, dtype=torch.float64, device=y.device)[y]


def ridge_stats(phi: torch.Tensor, y: torch.Tensor, gram=0, moment=0) -> tuple:
    """Sufficient statistics of ridge regression; adding rows just adds to them:
    phi [models, n, D], y [models, n] -> (gram + Phi^T Phi, moment + Phi^T Y)."""
    return gram + phi.transpose(1, 2) @ phi, moment + phi.transpose(1, 2) @ one_hot(y)


def ridge_solve(gram: torch.Tensor, moment: torch.Tensor, ridge) -> torch.Tensor:
    """Readout weights [models, D, 10] = (gram + ridge I)^-1 moment (Cholesky)."""
    eye = torch.eye(gram.shape[-1], dtype=torch.float64, device=gram.device)
    return torch.cholesky_solve(moment, torch.linalg.cholesky(gram + ridge * eye))


def ridge_sequential(data: Tensors, seeds: list[int], cfg: Config, ctx: RunContext):
    """Learn the tasks one at a time by adding each task's statistics, at every
    (bandwidth, penalty). Returns test R and validation R [seeds, bandwidths,
    penalties, tasks, tasks] (as train_sequential's) and the final readouts
    [bandwidths, penalties, seeds, D, 10]."""
    train_x, train_y, val_x, val_y, test_x, test_y = (
        data[k].to(ctx.device) for k in KEYS
    )
    n_seeds, tasks = train_x.shape[:2]
    directions, phases = draw_features(cfg, seeds, ctx.device)
    grid = (len(cfg.bandwidths), len(cfg.penalties))
    shape = (n_seeds, *grid, tasks, tasks)
    test_r = torch.zeros(shape, dtype=torch.float64, device=ctx.device)
    val_r, readouts = torch.zeros_like(test_r), []
    for b, bandwidth in enumerate(ctx.progress(cfg.bandwidths, desc=RIDGE)):
        feats = (directions / bandwidth, phases)
        splits = [(test_x, test_y, test_r), (val_x, val_y, val_r)]
        phis = [
            [fourier_features(x[:, t], *feats) for t in range(tasks)]
            for x, *_ in splits
        ]
        stats = ()  # the first task's statistics add to exact zeros
        for task in range(tasks):
            phi = fourier_features(train_x[:, task], *feats)
            stats = ridge_stats(phi, train_y[:, task], *stats)
            for p, penalty in enumerate(cfg.penalties):
                readout = ridge_solve(*stats, penalty)
                for split_phi, (_, y, target) in zip(phis, splits, strict=True):
                    if target is val_r and task + 1 not in cfg.prefixes:
                        continue
                    for seen in range(task + 1):
                        hits = (split_phi[seen] @ readout).argmax(-1) == y[:, seen]
                        target[:, b, p, task, seen] = hits.double().mean(-1)
                if task == tasks - 1:
                    readouts.append(readout)
    return test_r, val_r, torch.stack(readouts).unflatten(0, grid)


def ridge_batch(data: Tensors, feats: tuple[torch.Tensor, ...], ridge: float):
    """The batch answer: one solve on all tasks' rows at once -> [seeds, D, 10]."""
    train_x = data["train_x"].to(feats[0].device)
    phi = fourier_features(train_x.flatten(1, 2), *feats)
    labels = data["train_y"].to(phi.device).flatten(1, 2)
    return ridge_solve(*ridge_stats(phi, labels), ridge)


def ridge_prequential(data: Tensors, seeds, cfg: Config, ctx: RunContext, chosen=None):
    """One pass in minibatches of stream_batch rows: predict, then update, at each
    seed's (bandwidth, penalty) in `chosen` (default: the grid's first of each).

    Recursive least squares: the Woodbury identity keeps P = (gram + ridge I)^-1 and
    the readout current after every minibatch without a fresh solve, so the pass
    ends at the batch solution (a test checks). Returns the prequential accuracy
    [seeds] and the final readout [seeds, D, 10].
    """
    device = ctx.device
    train_x, train_y = data["train_x"].to(device), data["train_y"].to(device)
    models, tasks, rows, _ = train_x.shape
    chosen = chosen or [(cfg.bandwidths[0], cfg.penalties[0])] * models
    bandwidth, penalty = torch.tensor(chosen, dtype=torch.float64).T.to(device)
    directions, phases = draw_features(cfg, seeds, device)
    feats = (directions / bandwidth[:, None, None], phases)
    f64 = dict(dtype=torch.float64, device=device)
    inverse = torch.eye(cfg.features, **f64) / penalty[:, None, None]
    readout = torch.zeros(models, cfg.features, CLASSES, **f64)  # [models, D, 10]
    correct = torch.zeros(models, **f64)
    inner = torch.eye(cfg.stream_batch, **f64)
    for task in ctx.progress(range(tasks), total=tasks, desc=f"{RIDGE} one pass"):
        phi_task = fourier_features(train_x[:, task], *feats)  # [models, rows, D]
        for start in range(0, rows, cfg.stream_batch):
            phi = phi_task[:, start : start + cfg.stream_batch]  # [models, b, D]
            y = train_y[:, task, start : start + cfg.stream_batch]
            scores = phi @ readout
            correct += (scores.argmax(-1) == y).sum(-1)
            p_phi = inverse @ phi.transpose(1, 2)  # [models, D, b]
            size = phi.shape[1]
            solved = torch.linalg.solve(
                inner[:size, :size] + phi @ p_phi, p_phi.transpose(1, 2)
            )
            gain = solved.transpose(1, 2)  # [models, D, b]
            readout = readout + gain @ (one_hot(y) - scores)
            inverse = inverse - gain @ p_phi.transpose(1, 2)
    return correct / (tasks * rows), readout


def knn_sequential(data: Tensors, ctx: RunContext) -> torch.Tensor:
    """1-NN whose memory holds every row seen so far: test R [seeds, tasks, tasks]."""
    train_x, train_y, _, _, test_x, test_y = (data[k].to(ctx.device) for k in KEYS)
    models, tasks = train_x.shape[:2]
    # Nearest training row of each task's block, once: distance and label
    # [models, test tasks, train tasks, n_test]; memory after task i = blocks <= i.
    best = torch.zeros(models, tasks, tasks, test_x.shape[2], device=ctx.device)
    label = torch.zeros_like(best, dtype=torch.long)
    for seen, block in itertools.product(range(tasks), range(tasks)):
        best[:, seen, block], nearest = torch.cdist(
            test_x[:, seen], train_x[:, block]
        ).min(-1)
        label[:, seen, block] = gather_rows(train_y[:, block], nearest)
    matrix = torch.zeros(models, tasks, tasks, device=ctx.device)
    for task in range(tasks):
        # The first minimum wins ties, as argmin over the whole memory would.
        block = best[:, :, : task + 1].argmin(2, keepdim=True)  # [models, tasks, 1, n]
        predicted = label[:, :, : task + 1].gather(2, block).squeeze(2)
        matrix[:, task] = (predicted == test_y).float().mean(-1)  # [models, tasks]
    return matrix


def knn_prequential(data: Tensors, cfg: Config, ctx: RunContext) -> torch.Tensor:
    """One pass: each minibatch of stream_batch rows is labelled by its nearest row
    among those already seen (class 0 before any), then joins the memory [seeds]."""
    stream = data["train_x"].to(ctx.device).flatten(1, 2)  # [models, tasks * rows, 64]
    labels = data["train_y"].to(ctx.device).flatten(1, 2)
    correct = (labels[:, : cfg.stream_batch] == 0).sum(-1)
    for start in range(cfg.stream_batch, stream.shape[1], cfg.stream_batch):
        stop = start + cfg.stream_batch
        nearest = torch.cdist(stream[:, start:stop], stream[:, :start]).argmin(-1)
        correct += (gather_rows(labels, nearest) == labels[:, start:stop]).sum(-1)
    return correct / stream.shape[1]


# ---------------------------------------------------------------- the run


def add_learner(records: core.Records, test_r, val_r, prefixes, preq=None, **cell):
    """One learner's rows from its R matrices (0-1): the test average accuracy after
    every task; at each prefix end (after_task = prefix - 1) the validation average
    and the BWT of that prefix alone; the prequential accuracy if given."""
    for after, value in enumerate(average_accuracy(test_r)):
        records.add("average_accuracy", 100 * value, **cell, after_task=after)
    for k in prefixes:
        if val_r is not None:
            value = 100 * val_r[k - 1, :k].mean()
            records.add("val_average", value, **cell, after_task=k - 1)
        records.add("bwt", backward_transfer(test_r[:k, :k]), **cell, after_task=k - 1)
    if preq is not None:
        records.add("prequential", 100 * preq, **cell, after_task=-1)


def run(cfg: Config, ctx: RunContext) -> pd.DataFrame:
    """Records (columns drift, epochs, lam, bandwidth, penalty, after_task; 0 where
    one does not apply): per learner and seed, 'average_accuracy' (test, %) after
    each task, 'val_average' (%) and 'bwt' at each prefix end, 'prequential' (%);
    the joint MLP's test and validation averages per budget and prefix; EWC's and
    the joint MLP's validation accuracy at twice the largest budget."""
    if cfg.budgets[0] != 1 or cfg.tasks not in cfg.prefixes:
        raise ValueError("budgets must start at 1 and prefixes must include tasks")
    if (2 * cfg.train_per_class) % cfg.batch_size:
        raise ValueError("batch_size must divide a task's rows (2 x train_per_class)")
    seeds, last, longer = list(range(cfg.seeds)), cfg.tasks - 1, 2 * max(cfg.budgets)
    records = core.Records(epochs=0, lam=0.0, bandwidth=0.0, penalty=0.0)
    for drift in DRIFTS:
        data = stacked([make_tasks(cfg, seed, drift) for seed in seeds])
        grid = ewc_grid(cfg, drift)
        lambdas = [[lam] * len(seeds) for lam in (*grid, 0.0)]
        for epochs in cfg.budgets:
            results = train_sequential(data, seeds, cfg, epochs, ctx, lambdas)
            test_r, val_r, preq = (r.cpu().numpy() for r in results)
            for m, (arm, lam, seed) in enumerate(sequential_learners(seeds, grid)):
                cell = dict(seed=seed, arm=arm, drift=drift, epochs=epochs, lam=lam)
                add_learner(records, test_r[m], val_r[m], cfg.prefixes, preq[m], **cell)
        joint = [r.cpu().numpy() for r in train_joint(data, seeds, cfg, ctx)]
        for (p, k), (s, seed), (e, epochs) in itertools.product(
            enumerate(cfg.prefixes), enumerate(seeds), enumerate((*cfg.budgets, longer))
        ):
            if epochs < longer or k == cfg.tasks:
                cell = dict(seed=seed, arm=JOINT, drift=drift, epochs=epochs)
                records.add(
                    "average_accuracy",
                    100 * joint[0][p, s, e],
                    **cell,
                    after_task=k - 1,
                )
                records.add(
                    "val_average", 100 * joint[1][p, s, e], **cell, after_task=k - 1
                )
        if drift == HEADLINE_DRIFT:
            # EWC at each seed's headline strength, trained twice as long: the
            # convergence check (validation rows only: it is no cell of the map).
            picks = ewc_choice(records.frame(), drift, max(cfg.budgets), last)
            results = train_sequential(
                data, seeds, cfg, longer, ctx, [list(picks)], False
            )
            val_r = results[1].cpu().numpy()
            for s, (seed, lam) in enumerate(picks.items()):
                cell = dict(seed=seed, arm=EWC, drift=drift, epochs=longer, lam=lam)
                records.add(
                    "val_average", 100 * val_r[s, -1].mean(), **cell, after_task=last
                )
        results = ridge_sequential(data, seeds, cfg, ctx)[:2]
        test_r, val_r = (r.cpu().numpy() for r in results)
        for (b, bandwidth), (p, penalty), (s, seed) in itertools.product(
            enumerate(cfg.bandwidths), enumerate(cfg.penalties), enumerate(seeds)
        ):
            cell = dict(arm=RIDGE, bandwidth=bandwidth, penalty=penalty, seed=seed)
            add_learner(
                records,
                test_r[s, b, p],
                val_r[s, b, p],
                cfg.prefixes,
                drift=drift,
                **cell,
            )
        # The one-pass ridge model runs at each seed's choice for the whole sequence.
        chosen = ridge_choice(records.frame(), drift, last)
        stream = ridge_prequential(data, seeds, cfg, ctx, list(chosen))[0].cpu().numpy()
        knn = knn_sequential(data, ctx).cpu().numpy()
        knn_stream = knn_prequential(data, cfg, ctx).cpu().numpy()
        for s, seed in enumerate(seeds):
            bandwidth, penalty = chosen[seed]
            cell = dict(seed=seed, drift=drift, bandwidth=bandwidth, penalty=penalty)
            records.add(
                "prequential", 100 * stream[s], arm=RIDGE, **cell, after_task=-1
            )
            cell = dict(seed=seed, arm=KNN, drift=drift)
            add_learner(records, knn[s], None, cfg.prefixes, knn_stream[s], **cell)
    return records.frame()


# ---------------------------------------------------------------- reading records


def ewc_choice(records: pd.DataFrame, drift: str, epochs: int, after: int) -> pd.Series:
    """Per seed, the EWC strength with the best validation accuracy over the tasks
    seen after task `after` (the smaller on a tie)."""
    where = dict(arm=EWC, drift=drift, epochs=epochs, after_task=after)
    return core.pivot_seeds(records, "val_average", "lam", **where).idxmax(axis=1)


def ridge_choice(records: pd.DataFrame, drift: str, after: int) -> pd.Series:
    """Per seed, the (bandwidth, penalty) with the best validation accuracy over the
    tasks seen after task `after` (the first in grid order on a tie)."""
    where = dict(arm=RIDGE, drift=drift, after_task=after)
    columns = ["bandwidth", "penalty"]
    return core.pivot_seeds(records, "val_average", columns, **where).idxmax(axis=1)


def values(records: pd.DataFrame, arm: str, metric: str, cell, choose_after=None):
    """Per seed, an arm's metric in one cell (drift, epochs per task, after_task):
    the classical arms have no budget; EWC and the ridge model are read at each
    seed's validation choice after task `choose_after` (default: the cell's)."""
    drift, epochs, after = cell
    choose_after = after if choose_after is None else choose_after
    where = dict(arm=arm, drift=drift, after_task=after)
    if arm in DEEP_ARMS:
        where["epochs"] = epochs
    if arm == EWC:
        chosen, columns = ewc_choice(records, drift, epochs, choose_after), "lam"
    elif arm == RIDGE:
        chosen, columns = (
            ridge_choice(records, drift, choose_after),
            ["bandwidth", "penalty"],
        )
    else:
        return core.per_seed(records, metric, **where)
    table = core.pivot_seeds(records, metric, columns, **where)
    return pd.Series([table.loc[s, c] for s, c in chosen.items()], index=chosen.index)


def budgets_of(records: pd.DataFrame) -> list[int]:
    """The map's budgets: those of the sequential runs (each records a BWT; the
    longer convergence checks record validation accuracy only)."""
    runs = records[(records["metric"] == "bwt") & (records["epochs"] > 0)]
    return sorted(int(e) for e in runs["epochs"].unique())


def ewc_grid_of(records: pd.DataFrame, drift: str) -> list[float]:
    """The EWC strengths a drift's sequential runs searched."""
    rows = core.select(records, arm=EWC, drift=drift, metric="bwt")
    return sorted(float(v) for v in rows["lam"].unique())


def headline(records: pd.DataFrame) -> tuple[int, int]:
    """(epochs per task, tasks) of the headline (on HEADLINE_DRIFT): the largest
    budget over the whole sequence."""
    return budgets_of(records)[-1], int(records["after_task"].max()) + 1


# ---------------------------------------------------------------- summary


def estimate_name(arm: str) -> str:
    """'mlp-naive' -> 'naive', 'rf-ridge' -> 'rf_ridge' (markers allow no hyphens)."""
    return arm.replace("mlp-", "").replace("-", "_")


def rule_estimates(records: pd.DataFrame, drift: str, epochs: int, tasks: int) -> dict:
    """The four estimates the rule reads, in one cell (drift, budget, first tasks)."""
    cell = (drift, epochs, tasks - 1)
    joint, ridge = (
        values(records, arm, "average_accuracy", cell) for arm in (JOINT, RIDGE)
    )
    label = "mean of joint MLP minus online ridge"
    return {
        KEY: core.bootstrap(values(records, NAIVE, "bwt", cell)),
        "ewc_bwt": core.bootstrap(values(records, EWC, "bwt", cell)),
        "replay_bwt": core.bootstrap(values(records, REPLAY, "bwt", cell)),
        "joint_minus_ridge": core.bootstrap(
            joint - ridge, unit="points", digits=1, label=label
        ),
    }


def drift_estimates(records: pd.DataFrame, drift: str) -> dict[str, Estimate]:
    """Everything the page prints for one drift at the headline budget and length."""
    epochs, tasks = headline(records)
    cell = (drift, epochs, tasks - 1)
    estimates = rule_estimates(records, drift, epochs, tasks)
    final = {arm: values(records, arm, "average_accuracy", cell) for arm in ARMS}
    for arm in ARMS:
        estimates[f"{estimate_name(arm)}_final_accuracy"] = core.bootstrap(
            final[arm], unit="%", digits=1
        )
    for arm in (RIDGE, KNN):
        estimates[f"{estimate_name(arm)}_bwt"] = core.bootstrap(
            values(records, arm, "bwt", cell)
        )
    for arm in STREAM_ARMS:  # the one-pass run: 1 epoch per task
        stream = values(records, arm, "prequential", (drift, 1, -1), tasks - 1)
        estimates[f"{estimate_name(arm)}_prequential"] = core.bootstrap(
            stream, unit="%", digits=1
        )
    # Paired by seed: every learner of a seed shares its split and task sequence.
    for first in (JOINT, EWC, REPLAY):
        label = f"mean of {ARM_LABELS[first]} minus {ARM_LABELS[NAIVE]}"
        estimates[f"{estimate_name(first)}_minus_naive"] = core.bootstrap(
            final[first] - final[NAIVE], unit="points", digits=1, label=label
        )
    picks, grid = (
        ewc_choice(records, drift, epochs, tasks - 1),
        ewc_grid_of(records, drift),
    )
    where = dict(arm=EWC, drift=drift, epochs=epochs, after_task=tasks - 1)
    mean = core.pivot_seeds(records, "val_average", "lam", **where).mean()
    for name, value, label in (
        ("ewc_lambda", np.median(picks), "median EWC strength chosen"),
        ("ewc_lambda_best_mean", mean.idxmax(), "EWC strength best on mean validation"),
        (
            "ewc_lambda_at_edge",
            picks.isin([grid[0], grid[-1]]).sum(),
            "seeds at a grid end",
        ),
    ):
        estimates[name] = core.exact(float(value), len(picks), label=label)
    return estimates


def summarize(records: pd.DataFrame) -> dict[str, Estimate]:
    estimates = drift_estimates(records, PERMUTED)
    for name, estimate in drift_estimates(records, CLASS_INCREMENTAL).items():
        estimates[f"ci_{name}"] = estimate
    seeds = records["seed"].nunique()
    label = "convergence tolerance (points of validation accuracy), a design constant"
    estimates["convergence_tolerance"] = core.exact(
        CONVERGENCE_TOLERANCE, seeds, label=label
    )
    return estimates


# Readable names of the estimates (the page's estimates table and answer box).
ARM_WORDS = {
    "naive": "naive SGD",
    "ewc": "EWC",
    "replay": "replay",
    "rf_ridge": "online ridge",
    "knn": "1-nearest neighbour",
    "joint": "joint MLP",
}
DRIFT_WORDS = {"": "", "ci_": " (class-incr.)"}
NAMES = {
    **{
        f"{drift}{arm}_{metric}": f"{who} {words}{tail}"
        for drift, tail in DRIFT_WORDS.items()
        for arm, who in ARM_WORDS.items()
        for metric, words in (
            ("bwt", "backward transfer"),
            ("final_accuracy", "final average accuracy"),
            ("prequential", "prequential accuracy"),
            ("minus_naive", "minus naive SGD"),
        )
    },
    **{
        f"{drift}{name}": f"{words}{tail}"
        for drift, tail in DRIFT_WORDS.items()
        for name, words in (
            ("joint_minus_ridge", "joint MLP minus online ridge"),
            ("ewc_lambda", "EWC strength chosen (median)"),
            ("ewc_lambda_best_mean", "EWC strength best on mean"),
            ("ewc_lambda_at_edge", "seeds choosing a grid end"),
        )
    },
    KEY: "naive SGD backward transfer",
    "convergence_tolerance": "convergence tolerance",
}


RULE = (
    f"Holds if the naive SGD MLP's backward transfer is <= {MAX_NAIVE_BWT:.2f} "
    f"(catastrophic forgetting) while the online random-feature ridge model ends "
    f"within {MAX_RIDGE_GAP:g} points of an MLP trained jointly on all tasks (joint "
    f"minus ridge <= {MAX_RIDGE_GAP:g}). Mitigated if, in addition, EWC or the replay "
    f"buffer brings BWT to >= {MIN_FIXED_BWT:.2f}. Refuted if naive BWT is above "
    f"{MAX_NAIVE_BWT:.2f} (forgetting not reproduced) or the ridge model trails by "
    f"more than {MAX_RIDGE_GAP:g} points (no online classical learner matches the "
    f"offline one). Each comparison needs the whole 95% CI past its threshold; "
    f"inconclusive where a CI straddles one. The headline reads the permuted tasks "
    f"at the largest budget over the whole sequence; every cell of the map applies "
    f"the same rule to its own estimates."
)
THRESHOLDS = {
    KEY: MAX_NAIVE_BWT,
    "joint_minus_ridge": MAX_RIDGE_GAP,
    "ewc_bwt": MIN_FIXED_BWT,
    "replay_bwt": MIN_FIXED_BWT,
}


def verdict(estimates: dict[str, Estimate]) -> Verdict:
    """The rule on the four estimates; assess() applies it to every map cell."""
    naive, gap = estimates[KEY], estimates["joint_minus_ridge"]
    ewc, replay = estimates["ewc_bwt"], estimates["replay_bwt"]
    claim = core.all_of(naive.below(MAX_NAIVE_BWT), gap.below(MAX_RIDGE_GAP))
    fixed = core.any_of(ewc.above(MIN_FIXED_BWT), replay.above(MIN_FIXED_BWT))
    reason = (
        f"naive SGD BWT {naive.text()}; joint MLP minus online ridge {gap.text()}; "
        f"BWT with EWC {ewc.text()}, with replay {replay.text()}"
    )
    return Verdict(core.failure_status(claim, fixed), reason, RULE, THRESHOLDS)


# ---------------------------------------------------------------- assessment


def convergence_curve(records: pd.DataFrame, arm: str, drift: str) -> pd.DataFrame:
    """seed x epochs per task: an arm's validation accuracy over the whole sequence
    at every budget it ran. EWC is read at each seed's headline strength, not
    re-chosen per budget: the question is whether that learner would gain from more
    training. EWC and the joint MLP also ran at twice the largest budget."""
    epochs, tasks = headline(records)
    rows = core.select(
        records, arm=arm, drift=drift, after_task=tasks - 1, metric="val_average"
    )
    if arm == EWC:
        picks = ewc_choice(records, drift, epochs, tasks - 1)
        rows = rows[rows["lam"].to_numpy() == picks.loc[rows["seed"]].to_numpy()]
    return rows.pivot_table(index="seed", columns="epochs", values="value").sort_index()


def assess(records: pd.DataFrame, estimates: dict[str, Estimate]) -> core.Assessment:
    """Convergence of the headline's deep arms, every arm's choices, and the rule at
    every (budget, drift, sequence length)."""
    epochs, tasks = headline(records)
    budgets = budgets_of(records)
    prefixes = sorted(
        int(a) + 1 for a in core.select(records, metric="bwt")["after_task"].unique()
    )
    # The guard reads the arms behind the headline (permuted); the class-incremental
    # curves are on the page's budget chart.
    metric = dict(metric="validation accuracy over all tasks (%)", unit="points")
    convergence = []
    for arm in DEEP_ARMS:
        table = convergence_curve(records, arm, HEADLINE_DRIFT)
        convergence.append(
            core.convergence(
                arm,
                list(table.columns),
                table.to_numpy(),
                tolerance=CONVERGENCE_TOLERANCE,
                digits=1,
                **metric,
            )
        )
    seen = "per seed, the best validation accuracy over the tasks seen so far"
    ridge = core.select(records, arm=RIDGE, metric="val_average")
    tuning = []
    for drift in DRIFTS:
        picks = list(ewc_choice(records, drift, epochs, tasks - 1))
        grid = {"lambda": ewc_grid_of(records, drift)}
        again = f"{seen} (every cell of the map chooses again)"
        tuning.append(core.Tuning(f"{EWC} ({drift})", grid, {"lambda": picks}, again))
        picks = ridge_choice(records, drift, tasks - 1)
        grid = {name: sorted(ridge[name].unique()) for name in ("bandwidth", "penalty")}
        chosen = {"bandwidth": [b for b, _ in picks], "penalty": [p for _, p in picks]}
        again = f"{seen} (every sequence length chooses again)"
        tuning.append(core.Tuning(f"{RIDGE} ({drift})", grid, chosen, again))
    not_searched = (
        "not searched: the largest budget of the map (see its convergence record); "
        "one untuned learning rate for every MLP"
    )
    for arm in (NAIVE, REPLAY, JOINT):
        grid = {"epochs_per_task": budgets}
        tuning.append(core.Tuning(arm, grid, {"epochs_per_task": epochs}, not_searched))
    tuning.append(core.Tuning(KNN, {"k": [1]}, {"k": 1}, "not searched (1-NN)"))

    def verdict_at(setting: dict) -> Verdict:
        cell = (setting["drift"], setting["epochs_per_task"], setting["tasks"])
        return verdict(rule_estimates(records, *cell))

    robustness = core.robustness_map(
        {"epochs_per_task": budgets, "drift": list(DRIFTS), "tasks": prefixes},
        verdict_at,
        {"epochs_per_task": epochs, "drift": HEADLINE_DRIFT, "tasks": tasks},
    )
    effort = (
        "Unequal, in favour of the classical arm and EWC: the ridge model searched "
        "its bandwidth and penalty and EWC its strength on validation data, per seed "
        "and cell, while naive SGD, replay and the joint MLP share one untuned "
        "learning rate, with only the training budget swept in the map."
    )
    return core.Assessment(
        robustness, tuple(convergence), tuple(tuning), "epochs_per_task", effort
    )


# ---------------------------------------------------------------- charts


def seed_rows(series: pd.Series, **columns) -> pd.DataFrame:
    return pd.DataFrame({"seed": series.index, "value": series.to_numpy(), **columns})


def curve(rows: pd.DataFrame, x: str, title: str, value_title: str, **options):
    """Mean and 95% CI over seeds against x, one line per `model`."""
    table = core.ci_table(rows, ["model", x], core.bootstrap)
    x_values = sorted(rows[x].unique())
    chart = core.ci_curve(
        table,
        x=x,
        value_title=value_title,
        colour="model",
        seeds=rows[["model", x, "seed", "value"]],  # only the fields drawn
        x_values=x_values,
        x_fmt="d" if all(float(v).is_integer() for v in x_values) else "g",
        **options,
    )
    if options.get("log_x"):  # the log axis ends at the values run
        for layer in chart.layer:
            if layer.encoding.x is not alt.Undefined:
                layer.encoding.x.scale = alt.Scale(type="log", nice=False, padding=16)
    return core.sized(chart, title)


def dots(rows: pd.DataFrame, title: str, axis: str, thresholds=None, fmt=".1f"):
    """Per arm and drift: the mean with its 95% CI and the seeds."""
    chart = core.ci_dots(
        core.ci_table(rows, ["model", "drift"], core.bootstrap),
        category="model",
        value_title=axis,
        sort=[ARM_LABELS[a] for a in STREAM_ARMS],
        colour="drift",
        colour_sort=list(DRIFTS),
        seeds=rows[["model", "drift", "seed", "value"]],  # only the fields drawn
        thresholds=thresholds,
        fmt=fmt,
    )
    return core.sized(chart, title, height=260)


def charts(records: pd.DataFrame) -> dict[str, alt.TopLevelMixin]:
    epochs, tasks = headline(records)

    def arm_rows(arm, metric, cell, choose_after=None, **columns):
        series = values(records, arm, metric, cell, choose_after)
        return seed_rows(series, model=ARM_LABELS[arm], **columns)

    def per_arm(metric, cell_of, choose_after=None):
        return pd.concat(
            [
                arm_rows(arm, metric, cell_of(drift), choose_after, drift=drift)
                for drift in DRIFTS
                for arm in STREAM_ARMS
            ]
        )

    def accuracy_curve(drift: str):
        """After each task, the average test accuracy over the tasks seen (EWC and
        ridge at each seed's choice for the whole sequence); the joint MLP at each
        sequence length it was trained on."""
        accuracy = "average_accuracy"
        frames = [
            arm_rows(
                arm, accuracy, (drift, epochs, after), tasks - 1, tasks_seen=after + 1
            )
            for arm in STREAM_ARMS
            for after in range(tasks)
        ]
        lengths = sorted(set(core.select(records, arm=JOINT)["after_task"] + 1))
        frames += [
            arm_rows(JOINT, accuracy, (drift, epochs, k - 1), tasks_seen=k)
            for k in lengths
        ]
        return curve(
            pd.concat(frames),
            "tasks_seen",
            f"{drift.capitalize()} tasks: average accuracy ({epochs} epochs per task)",
            "average test accuracy on tasks seen (%)",
            x_title="tasks learned so far",
            colour_sort=[ARM_LABELS[arm] for arm in ARMS],
        )

    where = dict(arm=EWC, epochs=epochs, after_task=tasks - 1, metric="val_average")
    strengths = core.select(records, **where).assign(model=lambda t: t["drift"])

    def budget_panel(drift: str):
        """One drift's deep arms against the budget (one panel per drift: eight
        lines in one panel would not read)."""
        rows = pd.concat(
            [
                seed_rows(series, model=ARM_LABELS[arm], epochs_per_task=b)
                for arm in DEEP_ARMS
                for b, series in convergence_curve(records, arm, drift).items()
            ]
        )
        return curve(
            rows,
            "epochs_per_task",
            f"{drift.capitalize()} tasks",
            val_title,
            x_title="epochs per task (log scale)",
            log_x=True,
            colour_sort=[ARM_LABELS[arm] for arm in DEEP_ARMS],
        )

    val_title = "validation accuracy over all tasks (%)"
    return {
        "average_accuracy": accuracy_curve(PERMUTED),
        "average_accuracy_class_incremental": accuracy_curve(CLASS_INCREMENTAL),
        "backward_transfer": dots(
            per_arm("bwt", lambda d: (d, epochs, tasks - 1)),
            f"Backward transfer after all tasks ({epochs} epochs per task)",
            "backward transfer (accuracy, negative = forgetting)",
            {"forgetting threshold": MAX_NAIVE_BWT, "fixed threshold": MIN_FIXED_BWT},
            ".2f",
        ),
        "prequential": dots(
            per_arm("prequential", lambda d: (d, 1, -1), tasks - 1),
            "One pass: accuracy on each row before learning it",
            "prequential accuracy (%)",
        ),
        "ewc_strength": curve(
            strengths,
            "lam",
            f"EWC's strength ({epochs} epochs per task)",
            val_title,
            x_title="EWC strength lambda (log scale)",
            log_x=True,
        ),
        "budget": alt.vconcat(*(budget_panel(d) for d in DRIFTS)).properties(
            title="Validation accuracy against the training budget"
        ),
    }
