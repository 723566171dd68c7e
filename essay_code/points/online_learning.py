"""Tweets 11 and 12: deep networks cannot be trained online; learn offline instead.

Claim (tweets 11-12): "It's not really possible to train deep networks online (see
above about slow training). So dynamic reactivity is hard." and "In general,
behaviors will have to be learned offline for intelligent actions."

What the experiment does: the permuted-pixels protocol of continual learning, on
scikit-learn's 8x8 digits. One seed draws a train/test split and a sequence of 10
tasks; task 0 is the identity (the original images), task t >= 1 shows the same
images through its own random pixel permutation. Learners see the tasks one after the
other and never return to an earlier one. Arms: an MLP fine-tuned with plain SGD on
each task in turn (naive); the same MLP with elastic weight consolidation (EWC) or
with a small replay buffer of earlier tasks' rows; random-feature ridge regression,
whose sufficient statistics (Phi^T Phi, Phi^T Y) just add up, so learning the tasks one
at a time gives exactly the batch solution; 1-nearest-neighbour, whose memory just
grows; and, as the offline reference, the same MLP trained jointly on all 10 tasks
with the same number of SGD steps. Metrics: R[i, j], the test accuracy on task j after
learning task i; the average accuracy over the tasks seen so far after each task;
backward transfer (BWT, Lopez-Paz & Ranzato 2017); and, in a separate one-pass run in
which every learner sees each training row exactly once, the prequential accuracy
(each minibatch predicted before the learner updates on it).

What it does not show: these are small, clean, balanced tasks with known boundaries
(EWC and the replay buffer are told when a task ends); the MLP is small and trained
with one reasonable setting, not tuned per arm (EWC's penalty strength and the
ridge model's bandwidth and penalty were picked on seeds not used for the published
run; EWC's penalty takes implicit steps, as explicit ones diverged). A
permuted-pixel task is easy for a permutation-blind learner like the random-feature
ridge model or kNN; real non-stationary streams shift more subtly, and modern
online deep learning also meets loss of plasticity (Dohare et al. 2024), which 10
tasks do not probe.

References: McCloskey & Cohen 1989 (catastrophic interference); Goodfellow et al.
2013 (permuted MNIST); Kirkpatrick et al. 2017 (EWC, PNAS); Lopez-Paz & Ranzato 2017
(GEM; the ACC/BWT/FWT metrics); Chaudhry et al. 2019 (tiny episodic memories);
Dohare et al. 2024 (loss of plasticity in deep continual learning, Nature).
"""

from __future__ import annotations

from dataclasses import dataclass

import altair as alt
import numpy as np
import pandas as pd
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn
from torch.nn import functional as F

from essay_code import core
from essay_code.core import Estimate, RunContext, Verdict

TITLE = "Online learning and catastrophic forgetting"
TWEETS = (11, 12)
KEY = "naive_bwt"

NAIVE, EWC, REPLAY = "mlp-naive", "mlp-ewc", "mlp-replay"
RIDGE, KNN, JOINT = "rf-ridge", "knn", "mlp-joint"
MLP_SEQUENTIAL = (NAIVE, EWC, REPLAY)
STREAM_ARMS = (*MLP_SEQUENTIAL, RIDGE, KNN)  # learners that see one task at a time
ARMS = (*STREAM_ARMS, JOINT)
ARM_LABELS = {
    NAIVE: "MLP, naive SGD",
    EWC: "MLP + EWC",
    REPLAY: "MLP + replay buffer",
    RIDGE: "random-feature ridge (online)",
    KNN: "1-nearest neighbour",
    JOINT: "MLP trained jointly (offline)",
}
CLASSES = 10
PIXELS = 64
Tensors = dict[str, torch.Tensor]  # a stack's parameters, or the stacked data

# Verdict thresholds, fixed before any run, not tuned.
MAX_NAIVE_BWT = -0.30  # naive SGD forgets if its BWT is at most this (accuracy units)
MAX_RIDGE_GAP = 5.0  # points the online ridge may trail the jointly trained MLP by
MIN_FIXED_BWT = -0.05  # EWC or replay mitigates if its BWT is at least this
# Host syncs in a smoke run: copying the data and the per-learner constants in
# once, and reading back the per-task test accuracies and the final results.
HOST_SYNC_BUDGET = 34


@dataclass(frozen=True)
class Config:
    seeds: int = 5  # independent splits, permutation sequences and initialisations
    tasks: int = 10  # permuted-pixel tasks in the sequence (task 0 is the identity)
    test_fraction: float = 0.3  # share of the 1797 digits held out (stratified)
    hidden: int = 128  # width of both hidden layers of every MLP
    epochs: int = 5  # passes over each task's rows (the joint MLP: over all rows)
    batch_size: int = 32  # minibatch rows, the same for every MLP arm
    lr: float = 0.1  # plain SGD learning rate, the same for every MLP arm
    # EWC penalty strength lambda in lambda/2 * sum F (theta - theta*)^2; the best
    # final average accuracy among 10, 100, 1000, 10000 on seeds 100-102 (not in
    # the published run).
    ewc_lambda: float = 10.0
    ewc_samples: int = 256  # training rows per task for the diagonal Fisher
    replay_per_task: int = 30  # rows kept from each finished task (about 2.5%)
    replay_batch: int = 32  # buffer rows mixed into every minibatch after task 0
    features: int = 500  # random Fourier features of the ridge model
    # Kernel bandwidth and ridge penalty: the best final average accuracy among
    # bandwidth 2, 3, 4 x penalty 0.1, 1 on seeds 100-102.
    bandwidth: float = 4.0  # Gaussian-kernel bandwidth of those features
    ridge: float = 0.1  # ridge penalty on the readout weights
    stream_batch: int = 16  # one-pass run: rows per minibatch (predict, then learn)


PROFILES = {
    "smoke": {
        "seeds": 2,
        "tasks": 2,
        "hidden": 16,
        "epochs": 1,
        "batch_size": 64,
        "ewc_samples": 16,
        "replay_per_task": 8,
        "replay_batch": 8,
        "features": 50,
        "stream_batch": 128,
    },
    "full": {"seeds": 10, "tasks": 20, "hidden": 256, "epochs": 10, "features": 2000},
}


# ---------------------------------------------------------------- data


@dataclass(frozen=True)
class TaskData:
    """One seed's task sequence: the same split, seen through each permutation."""

    train_x: np.ndarray  # [tasks, n_train, 64] pixels in [0, 1], permuted per task
    train_y: np.ndarray  # [n_train] labels 0-9 (the same for every task)
    test_x: np.ndarray  # [tasks, n_test, 64]
    test_y: np.ndarray  # [n_test]
    permutations: np.ndarray  # [tasks, 64]; row 0 is the identity


def task_permutations(tasks: int, seed: int) -> np.ndarray:
    """[tasks, 64]: the identity for task 0, an independent random one for each later
    task (drawn from the seed, so the same seed gives the same sequence)."""
    rng = np.random.default_rng([seed, 1])
    rows = [np.arange(PIXELS)] + [rng.permutation(PIXELS) for _ in range(tasks - 1)]
    return np.stack(rows)


def make_tasks(cfg: Config, seed: int) -> TaskData:
    digits = load_digits()
    pixels = (digits.data / 16.0).astype(np.float32)  # [1797, 64]
    labels = digits.target
    train, test, train_y, test_y = train_test_split(
        pixels, labels, test_size=cfg.test_fraction, stratify=labels, random_state=seed
    )
    perms = task_permutations(cfg.tasks, seed)
    train_x = np.stack([train[:, perm] for perm in perms])  # [tasks, n_train, 64]
    test_x = np.stack([test[:, perm] for perm in perms])  # [tasks, n_test, 64]
    return TaskData(train_x, train_y, test_x, test_y, perms)


KEYS = ("train_x", "train_y", "test_x", "test_y")  # the stacked tensors, in order


def stacked(tasks: list[TaskData]) -> Tensors:
    """Seeds stacked on a leading axis: train_x [seeds, tasks, n_train, 64] etc."""
    return {
        key: torch.tensor(np.stack([getattr(t, key) for t in tasks])) for key in KEYS
    }


def gather_rows(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """x [models, n, ...], index [models, b] -> [models, b, ...]."""
    return x[torch.arange(x.shape[0], device=x.device)[:, None], index]


# ---------------------------------------------------------------- metrics


def average_accuracy(matrix: np.ndarray) -> np.ndarray:
    """[tasks]: after task i, the mean of R[i, j] over the tasks j <= i seen so far."""
    return np.array([matrix[i, : i + 1].mean() for i in range(len(matrix))])


def backward_transfer(matrix: np.ndarray) -> float:
    """Lopez-Paz & Ranzato's BWT = 1/(T-1) sum_{i<T} (R[T, i] - R[i, i]).

    matrix: R [T, T], R[i, j] the test accuracy on task j after learning task i.
    Negative BWT is forgetting: the final model does worse on a task than it did
    right after learning it.
    """
    final, learned = matrix[-1, :-1], np.diag(matrix)[:-1]
    return float(np.mean(final - learned))


# ---------------------------------------------------------------- the MLPs
# Every MLP learner (arm x seed, plus a one-pass copy of each sequential arm) is one
# model in a single stack, trained in one loop: a few hundred small models per step
# cost about what one does, and all of them see the same minibatch schedule.


def make_mlp(hidden: int) -> nn.Module:
    """64 -> hidden -> hidden -> 10 with ReLU between: layers "0", "2" and "4"."""
    return core.mlp([PIXELS, hidden, hidden, CLASSES])


def mlp_forward(params: Tensors, x: torch.Tensor) -> tuple[torch.Tensor, list, list]:
    """make_mlp's forward for a stack of models, with the inputs of every layer.

    params as from stack_seeded (weight [models, out, in]); x [models, n, 64].
    Returns logits [models, n, 10], the pre-activations [z1, z2, logits] and the
    layer inputs [x, h1, h2] (for the per-row Fisher). batched_call computes the
    same logits (a test checks); this form also exposes the activations.
    (Not core.StackedMLP: its [models, in, out] weights round differently from
    this layout, which would move the records, and it hides the activations.)
    """
    inputs, pre, hidden = [], [], x
    for layer in ("0", "2", "4"):
        inputs.append(hidden)
        weight, bias = params[f"{layer}.weight"], params[f"{layer}.bias"]
        z = torch.baddbmm(bias[:, None], hidden, weight.transpose(1, 2))
        pre.append(z)
        hidden = torch.relu(z)
    return pre[-1], pre, inputs


def diagonal_fisher(params: Tensors, x: torch.Tensor, y: torch.Tensor) -> Tensors:
    """Empirical diagonal Fisher per model: mean over rows of the squared per-row
    gradient of the log-likelihood. x [models, n, 64], y [models, n].

    A row's gradient for a linear layer is the outer product delta a^T of the
    layer's output gradient and its input, so the mean of its square is
    (delta^2)^T (a^2) / n: no per-row gradient is ever stored.
    """
    # Fresh leaves, so the pre-activations are in a graph of their own; the sum
    # over rows keeps each row's output gradient its own.
    leaves = {name: p.detach().requires_grad_(True) for name, p in params.items()}
    with torch.enable_grad():
        logits, pre, inputs = mlp_forward(leaves, x)
        total = F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="sum")
        deltas = torch.autograd.grad(total, pre)
    inputs = [a.detach() for a in inputs]
    fisher, rows = {}, x.shape[1]
    for layer, delta, a in zip(("0", "2", "4"), deltas, inputs, strict=True):
        fisher[f"{layer}.weight"] = torch.einsum("mno,mni->moi", delta**2, a**2) / rows
        fisher[f"{layer}.bias"] = (delta**2).mean(1)
    return fisher


def ewc_step(
    params: Tensors, fisher_sum: Tensors, anchor_sum: Tensors, strength: torch.Tensor
) -> None:
    """The EWC penalty's half of a proximal SGD step, in place.

    EWC adds lambda/2 sum_t F_t (theta - theta_t)^2 = lambda/2 (A theta^2 -
    2 B theta) + const, with A = sum_t F_t and B = sum_t F_t theta_t. An explicit
    gradient step on it diverges once lr * lambda * A > 2 (it did, for lambda >= 30
    at lr 0.1), so the penalty takes the implicit step instead, which is stable for
    any lambda: theta <- (theta + lr lambda B) / (1 + lr lambda A).
    strength [models] = lr * lambda per model (0 leaves a model unchanged).
    """
    with torch.no_grad():
        for name, p in params.items():
            scale = strength.view(-1, *[1] * (p.dim() - 1))
            p.copy_((p + scale * anchor_sum[name]) / (1 + scale * fisher_sum[name]))


def permutations(generators: list[torch.Generator], n: int, count=None):
    """[seeds, count]: the first count entries (all: None) of a fresh random
    permutation of range(n) from each seed's own generator."""
    return torch.stack([torch.randperm(n, generator=g)[:count] for g in generators])


@dataclass(frozen=True)
class Schedule:
    """Every random draw of the sequential MLP loop, made up front on the CPU.

    The draws depend on no training result, so drawing them before the loop, in
    the order the loop used to, gives the same numbers on any device and leaves
    the loop nothing to copy in (one copy of the schedule instead of one a step).
    """

    orders: torch.Tensor  # [tasks, epochs, seeds, rows] each pass's row order
    fisher_rows: torch.Tensor  # [tasks, seeds, ewc_samples] rows for the Fisher
    picks: torch.Tensor  # [tasks, epochs, steps, seeds, replay_batch] buffer slots
    kept: torch.Tensor  # [tasks, seeds, replay_per_task] rows each task leaves


def draw_schedule(seeds: list[int], rows: int, cfg: Config, device) -> Schedule:
    """The draws of seeds' order and replay generators, in their call order.

    Per task: the order generator draws each epoch's permutation, then the
    Fisher rows; the replay generator draws replay_batch slots of the buffer
    (task * replay_per_task rows by then) per step after task 0, then the rows
    kept from the task. Task 0's picks are zeros: its buffer is empty.
    """
    order_rng = [torch.Generator().manual_seed(seed) for seed in seeds]
    replay_rng = [torch.Generator().manual_seed(seed + 1) for seed in seeds]
    steps_per_pass = -(-rows // cfg.batch_size)
    orders, fisher_rows, picks, kept = [], [], [], []
    for task in range(cfg.tasks):
        epochs = [permutations(order_rng, rows) for _ in range(cfg.epochs)]
        orders.append(torch.stack(epochs))
        fisher_rows.append(permutations(order_rng, rows, cfg.ewc_samples))
        slots, size = task * cfg.replay_per_task, (cfg.replay_batch,)
        task_picks = [
            torch.stack([torch.randint(slots, size, generator=g) for g in replay_rng])
            if slots > 0  # an empty buffer (task 0) draws nothing
            else torch.zeros(len(seeds), *size, dtype=torch.long)
            for _ in range(cfg.epochs * steps_per_pass)
        ]
        picks.append(torch.stack(task_picks).unflatten(0, (cfg.epochs, steps_per_pass)))
        kept.append(permutations(replay_rng, rows, cfg.replay_per_task))
    return Schedule(
        *(torch.stack(draws).to(device) for draws in (orders, fisher_rows, picks, kept))
    )


@dataclass(frozen=True)
class Learner:
    arm: str  # NAIVE, EWC, REPLAY or JOINT
    seed: int
    one_pass: bool  # learns only in the first pass over each task


def train_mlps(
    data: Tensors, seeds: list[int], cfg: Config, ctx: RunContext
) -> tuple[list[Learner], np.ndarray, np.ndarray]:
    """Train every MLP learner at once with plain SGD; returns (learners, R, preq).

    R [learners, tasks, tasks] is the test accuracy (0-1) on task j after task i;
    preq [learners] is the prequential accuracy of the first pass over each task
    (each minibatch scored before the step that learns from it).

    Per step every learner gets batch_size rows of its current task (the joint
    learner: of its shuffled union of all tasks) and replay_batch extra rows from
    the seed's replay buffer, weighted 1 for the replay arm and 0 otherwise. A
    one-pass learner gets weight 0 after the first pass: with plain SGD a zero
    gradient leaves its weights exactly where they are.
    """
    device = ctx.device
    learners = [
        Learner(arm, seed, one_pass)
        for one_pass in (False, True)
        for arm in MLP_SEQUENTIAL
        for seed in seeds
    ] + [Learner(JOINT, seed, False) for seed in seeds]
    models = len(learners)
    train_x, train_y, test_x, test_y = (data[key].to(device) for key in KEYS)
    _, tasks, rows, _ = train_x.shape

    def per_learner(value) -> torch.Tensor:
        return torch.tensor([value(ln) for ln in learners], device=device)

    seed_of = per_learner(lambda ln: seeds.index(ln.seed))
    is_joint = per_learner(lambda ln: ln.arm == JOINT)
    is_replay = per_learner(lambda ln: ln.arm == REPLAY)
    one_pass = per_learner(lambda ln: ln.one_pass)
    ewc_lambda = per_learner(lambda ln: cfg.ewc_lambda if ln.arm == EWC else 0.0)
    _, params = core.stack_seeded(
        lambda: make_mlp(cfg.hidden), [ln.seed for ln in learners], device
    )
    optimizer = torch.optim.SGD(params.values(), lr=cfg.lr)
    schedule = draw_schedule(seeds, rows, cfg, device)
    joint_rng = [torch.Generator().manual_seed(seed + 2) for seed in seeds]
    steps_per_pass = -(-rows // cfg.batch_size)
    joint_rows = tasks * cfg.epochs * steps_per_pass * cfg.batch_size
    joint_passes = -(-joint_rows // (tasks * rows))
    # [models, steps, batch]: each joint learner's minibatches of (task * rows + row)
    # ids. (Each seed draws from its own generator, so passes may go seed by seed.)
    joint_order = torch.cat(
        [permutations(joint_rng, tasks * rows) for _ in range(joint_passes)], 1
    ).to(device)[seed_of, :joint_rows]
    joint_batches = joint_order.view(models, -1, cfg.batch_size)
    # EWC's sum over finished tasks of F_t (theta - theta_t)^2, kept as running
    # sums of F_t and F_t theta_t: the same penalty up to a constant.
    fisher_sum = {name: torch.zeros_like(p) for name, p in params.items()}
    anchor_sum = {name: torch.zeros_like(p) for name, p in params.items()}
    buffer = torch.zeros(len(seeds), 0, 2, dtype=torch.long, device=device)
    matrix = np.zeros((models, tasks, tasks))
    correct = torch.zeros(models, device=device)
    step = 0

    def rows_of(task_ids: torch.Tensor, row_ids: torch.Tensor):
        """[models, b] task and row ids -> x [models, b, 64], y [models, b]."""
        seed = seed_of[:, None]
        return train_x[seed, task_ids, row_ids], train_y[seed, row_ids]

    for task in ctx.progress(range(tasks), total=tasks, desc="mlp tasks"):
        for epoch in range(cfg.epochs):
            active = (~one_pass | (epoch == 0)).float()  # [models]
            strength = cfg.lr * active * ewc_lambda  # EWC's implicit step [models]
            order = schedule.orders[task, epoch]  # [seeds, rows], on the device
            for pass_step, start in enumerate(range(0, rows, cfg.batch_size)):
                # Current rows, padded to batch_size with weight-0 repeats.
                index = order[:, start : start + cfg.batch_size]
                real = index.shape[1]
                index = torch.cat([index, order[:, : cfg.batch_size - real]], 1)
                index = index[seed_of]  # [models, batch]
                flat = joint_batches[:, step]
                task_ids = torch.where(is_joint[:, None], flat // rows, task)
                row_ids = torch.where(is_joint[:, None], flat % rows, index)
                padded = torch.arange(cfg.batch_size, device=device) >= real
                weight = (~padded | is_joint[:, None]).float()  # [models, batch]
                if buffer.shape[1] > 0:  # replay_batch buffer rows after the current
                    pick = schedule.picks[task, epoch, pass_step]  # [seeds, b]
                    replayed = gather_rows(buffer, pick)[seed_of]  # [models, b, 2]
                    task_ids = torch.cat([task_ids, replayed[..., 0]], 1)
                    row_ids = torch.cat([row_ids, replayed[..., 1]], 1)
                    extra_w = is_replay[:, None].float().expand(-1, cfg.replay_batch)
                    weight = torch.cat([weight, extra_w], 1)
                batch_x, batch_y = rows_of(task_ids, row_ids)
                logits, _, _ = mlp_forward(params, batch_x)  # [models, b, 10]
                if epoch == 0:
                    hits = logits[:, :real].argmax(-1) == batch_y[:, :real]
                    correct += hits.sum(-1)
                row_loss = F.cross_entropy(
                    logits.flatten(0, 1), batch_y.flatten(), reduction="none"
                ).view(models, -1)
                # Per model: weighted mean cross-entropy; summed over models, each
                # model gets exactly its own gradient.
                loss = (row_loss * weight).sum(1) / weight.sum(1)
                optimizer.zero_grad(set_to_none=True)
                (active * loss).sum().backward()
                optimizer.step()
                if task > 0:
                    ewc_step(params, fisher_sum, anchor_sum, strength)
                step += 1
        with torch.no_grad():
            for seen in range(tasks):
                logits, _, _ = mlp_forward(params, test_x[seed_of, seen])
                hit = (logits.argmax(-1) == test_y[seed_of]).float().mean(-1)
                matrix[:, task, seen] = hit.cpu().numpy()
            sample = schedule.fisher_rows[task][seed_of]  # [models, ewc_samples]
            fisher = diagonal_fisher(
                params, *rows_of(torch.full_like(sample, task), sample)
            )
            for name, p in params.items():
                fisher_sum[name] += fisher[name]
                anchor_sum[name] += fisher[name] * p.detach()
            keep = schedule.kept[task]  # [seeds, replay_per_task]
            kept = torch.stack([torch.full_like(keep, task), keep], -1)
            buffer = torch.cat([buffer, kept], 1)  # [seeds, filled, (task, row)]
    prequential = (correct / (tasks * rows)).cpu().numpy()
    return learners, matrix, prequential


# ---------------------------------------------------------------- classical arms


def fourier_features(
    x: torch.Tensor, weights: torch.Tensor, phases: torch.Tensor
) -> torch.Tensor:
    """Random Fourier features of a Gaussian kernel (Rahimi & Recht 2007), float64.

    x [models, n, 64], weights [models, 64, D], phases [models, 1, D] -> [models, n, D].
    """
    width = weights.shape[-1]
    return (2.0 / width) ** 0.5 * torch.cos(x.double() @ weights + phases)


def draw_features(cfg: Config, seeds: list[int], device) -> tuple[torch.Tensor, ...]:
    """Per seed: weights [64, D] ~ N(0, 1/bandwidth^2), phases [1, D] ~ U(0, 2 pi)."""
    # Each seed's own generator draws its weights, then its phases.
    gens = [torch.Generator().manual_seed(seed + 10_000) for seed in seeds]
    f64, width = torch.float64, cfg.features
    weights = [torch.randn(PIXELS, width, generator=g, dtype=f64) for g in gens]
    phases = [torch.rand(1, width, generator=g, dtype=f64) for g in gens]
    weights = torch.stack(weights) / cfg.bandwidth
    return weights.to(device), (torch.stack(phases) * 2 * np.pi).to(device)


def ridge_stats(phi: torch.Tensor, y: torch.Tensor, gram=0, moment=0) -> tuple:
    """Sufficient statistics of ridge regression; adding rows just adds to them.

    phi [models, n, D], y [models, n] labels; gram, moment: the statistics so far.
    Returns (gram + Phi^T Phi [models, D, D], moment + Phi^T Y [models, D, 10]) with
    Y one-hot.
    """
    target = F.one_hot(y, CLASSES).double()
    return gram + phi.transpose(1, 2) @ phi, moment + phi.transpose(1, 2) @ target


def ridge_solve(gram: torch.Tensor, moment: torch.Tensor, ridge: float):
    """Readout weights [models, D, 10] = (gram + ridge I)^-1 moment."""
    eye = torch.eye(gram.shape[-1], dtype=torch.float64, device=gram.device)
    return torch.linalg.solve(gram + ridge * eye, moment)


def ridge_sequential(
    data: Tensors, seeds: list[int], cfg: Config, ctx: RunContext
) -> tuple[np.ndarray, torch.Tensor, tuple[torch.Tensor, ...]]:
    """Learn the tasks one at a time by adding each task's statistics.

    Returns R [seeds, tasks, tasks], the final readout [seeds, D, 10] and the features.
    """
    device = ctx.device
    train_x, train_y, test_x, test_y = (data[key].to(device) for key in KEYS)
    models, tasks = train_x.shape[:2]
    feats = draw_features(cfg, seeds, device)
    stats = ()  # the first task's statistics add to exact zeros
    test_phi = [fourier_features(test_x[:, t], *feats) for t in range(tasks)]
    matrix = np.zeros((models, tasks, tasks))
    for task in ctx.progress(range(tasks), total=tasks, desc=RIDGE):
        stats = ridge_stats(fourier_features(train_x[:, task], *feats), train_y, *stats)
        readout = ridge_solve(*stats, cfg.ridge)
        for seen in range(tasks):
            hits = (test_phi[seen] @ readout).argmax(-1) == test_y
            matrix[:, task, seen] = hits.double().mean(-1).cpu().numpy()
    return matrix, readout, feats


def ridge_batch(
    data: Tensors, feats: tuple[torch.Tensor, ...], ridge: float
) -> torch.Tensor:
    """The batch answer: one solve on all tasks' rows at once -> [seeds, D, 10]."""
    train_x = data["train_x"].to(feats[0].device)
    phi = fourier_features(train_x.flatten(1, 2), *feats)
    labels = data["train_y"].to(phi.device).repeat(1, train_x.shape[1])
    return ridge_solve(*ridge_stats(phi, labels), ridge)


def ridge_prequential(
    data: Tensors, seeds: list[int], cfg: Config, ctx: RunContext, return_readout=False
):
    """One pass, minibatches of stream_batch rows: predict, then update [seeds].

    Recursive least squares: the Woodbury identity keeps P = (gram + ridge I)^-1 and
    the readout current after every minibatch without a fresh solve, so the pass
    ends at the batch solution (a test checks). With return_readout, also returns
    the final readout [seeds, D, 10].
    """
    device = ctx.device
    train_x, train_y = data["train_x"].to(device), data["train_y"].to(device)
    models, tasks, rows, _ = train_x.shape
    feats = draw_features(cfg, seeds, device)
    f64 = dict(dtype=torch.float64, device=device)
    inverse = (torch.eye(cfg.features, **f64) / cfg.ridge).repeat(models, 1, 1)
    readout = torch.zeros(models, cfg.features, CLASSES, **f64)  # [models, D, 10]
    correct = torch.zeros(models, **f64)
    for task in ctx.progress(range(tasks), total=tasks, desc=f"{RIDGE} one pass"):
        phi_task = fourier_features(train_x[:, task], *feats)  # [models, rows, D]
        for start in range(0, rows, cfg.stream_batch):
            phi = phi_task[:, start : start + cfg.stream_batch]  # [models, b, D]
            y = train_y[:, start : start + cfg.stream_batch]
            scores = phi @ readout
            correct += (scores.argmax(-1) == y).sum(-1)
            p_phi = inverse @ phi.transpose(1, 2)  # [models, D, b]
            inner = torch.eye(phi.shape[1], **f64)
            gain = torch.linalg.solve(inner + phi @ p_phi, p_phi.transpose(1, 2))
            gain = gain.transpose(1, 2)  # [models, D, b]
            readout = readout + gain @ (F.one_hot(y, CLASSES).double() - scores)
            inverse = inverse - gain @ p_phi.transpose(1, 2)
    accuracy = (correct / (tasks * rows)).cpu().numpy()
    return (accuracy, readout) if return_readout else accuracy


def knn_sequential(data: Tensors, ctx: RunContext) -> np.ndarray:
    """1-NN whose memory holds every row seen so far: R [seeds, tasks, tasks]."""
    device = ctx.device
    train_x, train_y, test_x, test_y = (data[key].to(device) for key in KEYS)
    models, tasks = train_x.shape[:2]
    # Nearest training row of each task's block, once: distance and label
    # [models, test tasks, train tasks, n_test]; memory after task i = blocks <= i.
    best = torch.zeros(models, tasks, tasks, test_x.shape[2], device=device)
    label = torch.zeros_like(best, dtype=torch.long)
    for seen in ctx.progress(range(tasks), total=tasks, desc=KNN):
        for block in range(tasks):
            distance = torch.cdist(test_x[:, seen], train_x[:, block])
            best[:, seen, block], nearest = distance.min(-1)
            label[:, seen, block] = gather_rows(train_y, nearest)
    matrix = np.zeros((models, tasks, tasks))
    for task in range(tasks):
        # The first minimum wins ties, as argmin over the whole memory would.
        block = best[:, :, : task + 1].argmin(2, keepdim=True)  # [models, tasks, 1, n]
        predicted = label[:, :, : task + 1].gather(2, block).squeeze(2)
        hits = (predicted == test_y[:, None]).float().mean(-1)  # [models, tasks]
        matrix[:, task] = hits.cpu().numpy()
    return matrix


def knn_prequential(data: Tensors, cfg: Config) -> np.ndarray:
    """One pass: each minibatch of stream_batch rows is labelled by its nearest row
    among those already seen (class 0 before any), then joins the memory [seeds]."""
    train_x, train_y = data["train_x"], data["train_y"]
    models, tasks, rows, _ = train_x.shape
    stream = train_x.flatten(1, 2)  # [models, tasks * rows, 64]
    labels = train_y.repeat(1, tasks)
    total = stream.shape[1]
    correct = torch.zeros(models)
    for start in range(cfg.stream_batch, total, cfg.stream_batch):
        stop = start + cfg.stream_batch
        nearest = torch.cdist(stream[:, start:stop], stream[:, :start]).argmin(-1)
        correct += (gather_rows(labels, nearest) == labels[:, start:stop]).sum(-1)
    correct += (labels[:, : cfg.stream_batch] == 0).sum(-1)
    return (correct / total).numpy()


# ---------------------------------------------------------------- the run


def run(cfg: Config, ctx: RunContext) -> pd.DataFrame:
    """Records: per (seed, arm), R[after, task] as metric 'accuracy' (%) with columns
    after_task and task, plus 'final_average', 'bwt' and 'prequential' per arm."""
    seeds = list(range(cfg.seeds))
    data = stacked([make_tasks(cfg, seed) for seed in seeds])
    learners, mlp_matrix, mlp_prequential = train_mlps(data, seeds, cfg, ctx)

    def mlp_rows(arm: str, one_pass: bool) -> list[int]:
        return [learners.index(Learner(arm, seed, one_pass)) for seed in seeds]

    matrices = {arm: mlp_matrix[mlp_rows(arm, False)] for arm in MLP_SEQUENTIAL}
    prequential = {arm: mlp_prequential[mlp_rows(arm, True)] for arm in MLP_SEQUENTIAL}
    matrices[RIDGE], _, _ = ridge_sequential(data, seeds, cfg, ctx)
    prequential[RIDGE] = ridge_prequential(data, seeds, cfg, ctx)
    matrices[KNN] = knn_sequential(data, ctx)
    prequential[KNN] = knn_prequential(data, cfg)
    matrices[JOINT] = mlp_matrix[mlp_rows(JOINT, False)]

    records = core.Records()
    for arm, arm_matrices in matrices.items():
        # The joint MLP counts only after its training on all tasks together.
        afters = [cfg.tasks - 1] if arm == JOINT else range(cfg.tasks)
        for index, seed in enumerate(seeds):
            matrix, cell = arm_matrices[index], dict(seed=seed, arm=arm)
            for after in afters:
                for task in range(after + 1):
                    hit = 100 * matrix[after, task]
                    records.add("accuracy", hit, **cell, after_task=after, task=task)
                average = 100 * average_accuracy(matrix)[after]
                records.add(
                    "average_accuracy", average, **cell, after_task=after, task=-1
                )
            if arm != JOINT:
                whole = dict(**cell, after_task=-1, task=-1)
                records.add("bwt", backward_transfer(matrix), **whole)
                records.add("prequential", 100 * prequential[arm][index], **whole)
    return records.frame()


# ---------------------------------------------------------------- summary


def final(records: pd.DataFrame, arm: str, metric: str) -> pd.Series:
    """Per seed, one arm's metric (average_accuracy: after the last task)."""
    last = records["after_task"].max()
    where = {"after_task": last} if metric == "average_accuracy" else {}
    return core.per_seed(records, metric, arm=arm, **where)


def estimate_name(arm: str) -> str:
    """'mlp-naive' -> 'naive', 'rf-ridge' -> 'rf_ridge' (markers allow no hyphens)."""
    return arm.replace("mlp-", "").replace("-", "_")


# The gaps to the joint MLP: estimate name, online arm and its label.
GAPS = (("ridge", RIDGE, "online ridge"), ("naive", NAIVE, "naive SGD"))


def summarize(records: pd.DataFrame) -> dict[str, Estimate]:
    estimates: dict[str, Estimate] = {}
    for arm in STREAM_ARMS:
        name = estimate_name(arm)
        estimates[f"{name}_bwt"] = core.bootstrap(final(records, arm, "bwt"))
        estimates[f"{name}_prequential"] = core.bootstrap(
            final(records, arm, "prequential"), unit="%", digits=1
        )
    for arm in ARMS:
        estimates[f"{estimate_name(arm)}_final_accuracy"] = core.bootstrap(
            final(records, arm, "average_accuracy"), unit="%", digits=1
        )
    # Paired by seed: the joint MLP and each online learner share a seed's split.
    joint = final(records, JOINT, "average_accuracy")
    for name, arm, label in GAPS:
        gap = joint - final(records, arm, "average_accuracy")
        label = f"mean of joint MLP minus {label}"
        estimates[f"joint_minus_{name}"] = core.bootstrap(
            gap, unit="points", digits=1, label=label
        )
    return estimates


RULE = (
    f"Holds if the naive SGD MLP's backward transfer is <= {MAX_NAIVE_BWT:.2f} "
    f"(catastrophic forgetting) while the online random-feature ridge model ends "
    f"within {MAX_RIDGE_GAP:g} points of an MLP trained jointly on all tasks (joint "
    f"minus ridge <= {MAX_RIDGE_GAP:g}). Mitigated if, in addition, EWC or the replay "
    f"buffer brings BWT to >= {MIN_FIXED_BWT:.2f}. Refuted if naive BWT is above "
    f"{MAX_NAIVE_BWT:.2f} (forgetting not reproduced) or the ridge model trails by "
    f"more than {MAX_RIDGE_GAP:g} points (no online classical learner matches the "
    f"offline one). Each comparison needs the whole 95% CI past its threshold; "
    f"inconclusive where a CI straddles one."
)
THRESHOLDS = {
    KEY: MAX_NAIVE_BWT,
    "joint_minus_ridge": MAX_RIDGE_GAP,
    "ewc_bwt": MIN_FIXED_BWT,
    "replay_bwt": MIN_FIXED_BWT,
}


def verdict(estimates: dict[str, Estimate]) -> Verdict:
    naive, gap = estimates[KEY], estimates["joint_minus_ridge"]
    ewc, replay = estimates["ewc_bwt"], estimates["replay_bwt"]
    claim = core.all_of(naive.below(MAX_NAIVE_BWT), gap.below(MAX_RIDGE_GAP))
    fixed = core.any_of(ewc.above(MIN_FIXED_BWT), replay.above(MIN_FIXED_BWT))
    reason = (
        f"naive SGD BWT {naive.text()}; joint MLP minus online ridge {gap.text()}; "
        f"BWT with EWC {ewc.text()}, with replay {replay.text()}"
    )
    status = core.failure_status(claim, fixed)
    return Verdict(status, reason, RULE, thresholds=THRESHOLDS)


# ---------------------------------------------------------------- charts


def labelled(records: pd.DataFrame, metric: str) -> pd.DataFrame:
    """One metric's rows with each arm's label as `model`."""
    rows = core.select(records, metric=metric)
    return rows.assign(model=rows["arm"].map(ARM_LABELS))


def charts(records: pd.DataFrame) -> dict[str, alt.TopLevelMixin]:
    order = [ARM_LABELS[arm] for arm in ARMS]
    rows = labelled(records, "average_accuracy").assign(
        tasks_seen=lambda t: t["after_task"] + 1
    )
    curve = core.ci_table(rows, ["model", "tasks_seen"], core.bootstrap)
    value_title = "average test accuracy on tasks seen (%)"
    accuracy = core.ci_curve(
        curve,
        x="tasks_seen",
        x_title="tasks learned so far",
        value_title=value_title,
        colour="model",
        colour_sort=order,
        seeds=rows,
        x_values=sorted(rows["tasks_seen"].unique()),
    )
    # The joint MLP has one point (after all tasks), so no band: a CI bar instead.
    joint = alt.Chart(curve[curve["model"] == ARM_LABELS[JOINT]]).encode(
        x="tasks_seen:Q",
        color=alt.Color("model:N", sort=order, title=None, legend=core.LEGEND),
        tooltip=core.ci_tooltips(value_title, ".1f", "model:N", "tasks_seen:Q"),
    )
    accuracy += joint.mark_errorbar(ticks=True).encode(y="low:Q", y2="high:Q")
    diamond = joint.mark_point(filled=True, size=90, shape="diamond")
    accuracy += diamond.encode(y="mean:Q")

    def interval_chart(metric: str, title: str, axis: str, thresholds=None, fmt=".1f"):
        seeds = labelled(records, metric)
        chart = core.ci_dots(
            core.ci_table(seeds, ["model"], core.bootstrap),
            category="model",
            value_title=axis,
            sort=[ARM_LABELS[arm] for arm in STREAM_ARMS],
            seeds=seeds,
            thresholds=thresholds,
            fmt=fmt,
        )
        return core.sized(chart, title, height=220)

    return {
        "average_accuracy": core.sized(
            accuracy,
            "Average accuracy over the tasks seen so far (mean, 95% CI over seeds)",
        ),
        "backward_transfer": interval_chart(
            "bwt",
            "Backward transfer after all tasks (mean, 95% CI over seeds)",
            "backward transfer (accuracy, negative = forgetting)",
            {"forgetting threshold": MAX_NAIVE_BWT, "fixed threshold": MIN_FIXED_BWT},
            ".2f",
        ),
        "prequential": interval_chart(
            "prequential",
            "One pass over the stream: accuracy on each row before learning it",
            "prequential accuracy (%)",
        ),
    }
