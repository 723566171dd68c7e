"""Tweet 15: deep nets against a SAT solver on random 3-SAT.

Claim (tweet 15): "DNNs can't easily solve logical problems. 3SAT solvers have
powerful capabilities hard to put into deep nets."

What the experiment does: random 3-SAT instances (n variables, clauses of 3 distinct
variables with random signs) labelled by a real CDCL solver (PicoSAT via pycosat).
The deep-learning arm is a NeuroSAT-lite message-passing net over the literal-clause
graph (GRU updates, mean literal vote), trained on SR(n)-style pairs with n in a
small range: a stream of random clauses is cut at the first prefix that is
unsatisfiable, which gives a satisfiable and an unsatisfiable instance that differ by
one clause, so the clause/variable ratio cannot tell them apart. It is tested on
fresh pairs at larger n, and on fixed-ratio instances across the threshold. A
shortcut arm (an MLP on simple statistics: ratio, literal-occurrence statistics)
is trained across a ratio range and tested on the same sets. The classical arm is
the solver itself: exact by construction; we check every model it returns and
report its work (PicoSAT propagations) and its wall-clock time against n. For the
net's "satisfiable" predictions we try to decode an assignment from its literal
embeddings (NeuroSAT's two-cluster decode) and check it against the clauses.

What it does not show: a small net trained for about a minute on a CPU is far from
NeuroSAT's budget (a larger net, trained far longer), so a failure here bounds what a
cheap net learns, not what the architecture can learn. Random 3-SAT at n <= 50 is
easy for a solver; industrial instances and hybrid learned solvers are not tested.

References: Selsam et al. 2019 (NeuroSAT, ICLR); Zhang et al. 2022 ("On the paradox
of learning to reason from data", arXiv 2205.11502); Mitchell, Selman, Levesque 1992 and
Crawford & Auton 1996 (the 4.26 threshold of random 3-SAT).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import altair as alt
import numpy as np
import pandas as pd
import pycosat
import torch
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import nn
from torch.nn import functional as F

from essay_code import core
from essay_code.core import Estimate, RunContext, Verdict, all_of, bootstrap

TITLE = "Logic: 3-SAT solvers vs deep nets"
TWEETS = (15,)
KEY = "dl_accuracy_largest_n"

DL_ARM = "neurosat-lite"
SHORTCUT_ARM = "stats-mlp"
SOLVER_ARM = "picosat"

# Verdict thresholds, fixed before any run, not tuned.
MAX_HOLDS_ACCURACY = 75.0  # % the net may reach at the largest n for "holds"
REFUTE_ACCURACY = 85.0  # % at n = REFUTE_N that refutes the claim (NeuroSAT's SR(40))
REFUTE_N = 40  # the size NeuroSAT reported its 85% on
MIN_DROP = 0.0  # points the net's accuracy must fall by from the smallest to largest n
MAX_SOLVER_MS = 10.0  # "small" median solver time at the largest n, milliseconds
SOLVER_EXACT = 100.0  # % of the solver's models that must satisfy every clause
CHANCE = 50.0  # % accuracy of a coin flip on balanced sat/unsat sets
THRESHOLD_RATIO = 4.26  # clauses per variable where random 3-SAT turns unsatisfiable
# Host syncs in a smoke run: the evaluation's read-backs, four per test set.
HOST_SYNC_BUDGET = 50


@dataclass(frozen=True)
class Config:
    seeds: int = 5  # independent data sets, inits and minibatch orders
    train_n_min: int = 10  # smallest n (variables) of the training pairs
    train_n_max: int = 20  # largest n of the training pairs
    train_pairs: int = 800  # SR-style (sat, unsat) training pairs per seed
    test_ns: tuple[int, ...] = (10, 20, 30, 40, 50)  # test sizes; the last is largest
    test_pairs: int = 100  # test pairs per size (2 instances each, balanced)
    sweep_n: int = 40  # n of the fixed-ratio sweep
    # Clause/variable ratios of the sweep (4.26: the asymptotic threshold).
    sweep_ratios: tuple[float, ...] = (3.0, 3.5, 4.0, 4.26, 4.6, 5.0, 5.5)
    sweep_instances: int = 60  # instances per sweep ratio
    shortcut_instances: int = 1500  # shortcut training instances, ratio range below
    shortcut_ratio_min: float = 3.0  # the shortcut sees ratios from here ...
    shortcut_ratio_max: float = 5.5  # ... to here, n in the training range
    shortcut_hidden: int = 32  # hidden units of the statistics MLP
    shortcut_alpha: float = 1.0  # its L2 penalty: unpenalized, it overfits the rows
    hidden: int = 32  # width of literal embeddings and of every message MLP
    rounds: int = 8  # message-passing rounds in training and for the prediction
    decode_rounds: int = 12  # rounds unrolled at test time while trying to decode
    train_steps: int = 400  # Adam steps on minibatches of pairs
    batch_pairs: int = 16  # pairs per minibatch
    lr: float = 2e-3  # Adam learning rate
    clip: float = 0.65  # gradient-norm clip (NeuroSAT's value)


PROFILES = {
    "smoke": {
        "seeds": 2,
        "train_pairs": 40,
        "test_ns": (10, 40),
        "test_pairs": 10,
        "sweep_ratios": (3.5, 4.26, 5.5),
        "sweep_instances": 10,
        "shortcut_instances": 200,
        "hidden": 8,
        "rounds": 4,
        "decode_rounds": 6,
        "train_steps": 10,
        "batch_pairs": 8,
    },
    "full": {
        "seeds": 10,
        "train_pairs": 20000,
        "test_ns": (10, 20, 30, 40, 50, 60, 80),
        "test_pairs": 200,
        "sweep_instances": 200,
        "shortcut_instances": 10000,
        "hidden": 64,
        "rounds": 16,
        "decode_rounds": 32,
        "train_steps": 10000,
        "batch_pairs": 64,
        "lr": 1e-3,
    },
}


# ---------------------------------------------------------------- data
# An instance is (n, clauses): clauses an int array [m, 3] of DIMACS literals, +v or
# -v for variable v in 1..n, three distinct variables per clause.
Instances = list[tuple[int, np.ndarray]]


def literal_index(n: int, clauses: np.ndarray) -> np.ndarray:
    """Literal k in 0..2n-1 of each DIMACS literal: +v is v - 1, -v is n + v - 1."""
    return np.where(clauses > 0, clauses - 1, n + np.abs(clauses) - 1)


def random_clauses(rng: np.random.Generator, n: int, m: int) -> np.ndarray:
    """m uniform random 3-clauses over n variables: [m, 3] DIMACS literals."""
    variables = np.argsort(rng.random((m, n)), axis=1)[:, :3] + 1  # distinct per row
    signs = rng.integers(0, 2, size=(m, 3)) * 2 - 1
    return variables * signs


def solve(clauses: np.ndarray, n: int, **limits) -> list[int] | str:
    """pycosat on an [m, 3] array: a model (list of +-v) or 'UNSAT' / 'UNKNOWN'."""
    return pycosat.solve(clauses.tolist(), vars=n, **limits)


def is_sat(clauses: np.ndarray, n: int) -> bool:
    return solve(clauses, n) != "UNSAT"


def satisfies(clauses: np.ndarray, assignment: np.ndarray) -> bool:
    """assignment [n] bool (variable v is assignment[v - 1]); every clause true?"""
    values = assignment[np.abs(clauses) - 1] == (clauses > 0)  # [m, 3] literal values
    return bool(values.any(axis=1).all())


def model_to_assignment(model: list[int], n: int) -> np.ndarray:
    assignment = np.zeros(n, dtype=bool)
    assignment[np.abs(model) - 1] = np.array(model) > 0
    return assignment


def sr_pair(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """An SR(n)-style pair for 3-SAT: (satisfiable, unsatisfiable) [m-1, 3], [m, 3].

    Clauses are drawn one by one; the pair is the longest satisfiable prefix and the
    first unsatisfiable one, so they differ by one clause (Selsam et al. differ by one
    literal of a last clause of random width). Satisfiability only falls as clauses
    are added, so the first unsatisfiable prefix is found by bisection.
    """
    stream = random_clauses(rng, n, 8 * n)
    while is_sat(stream, n):  # rare at ratio 8: extend the stream
        stream = np.concatenate([stream, random_clauses(rng, n, 4 * n)])
    # The empty prefix is satisfiable, the whole stream is not.
    unsat_len = bisect(lambda m: not is_sat(stream[:m], n), 0, len(stream))
    return stream[: unsat_len - 1], stream[:unsat_len]


def bisect(passes, low: int, high: int) -> int:
    """The smallest k in (low, high] with passes(k): it fails at low, holds at high."""
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if passes(middle) else (middle, high)
    return high


def make_pairs(
    rng: np.random.Generator, ns: np.ndarray
) -> tuple[Instances, np.ndarray]:
    """Pairs for each n in ns, flattened: [(n, clauses)] and labels [2 * len(ns)]."""
    instances = [(int(n), clauses) for n in ns for clauses in sr_pair(rng, int(n))]
    return instances, np.tile(np.float32([1.0, 0.0]), len(ns))


def make_fixed_ratio(
    rng: np.random.Generator, ns: np.ndarray, ratios: np.ndarray
) -> tuple[Instances, np.ndarray]:
    """One instance per (n, ratio) with m = round(ratio * n); labels by the solver."""
    instances = [
        (int(n), random_clauses(rng, int(n), round(ratio * n)))
        for n, ratio in zip(ns, ratios, strict=True)
    ]
    labels = np.array([is_sat(c, n) for n, c in instances], dtype=np.float32)
    return instances, labels


# ---------------------------------------------------------------- the solver arm
def propagations_needed(clauses: np.ndarray, n: int) -> int:
    """The smallest PicoSAT propagation limit under which it finishes (exact): a
    machine-independent measure of the solver's work, unlike wall-clock time."""

    def finishes(limit: int) -> bool:
        return solve(clauses, n, prop_limit=limit) != "UNKNOWN"

    high = 1
    while not finishes(high):
        high *= 2
    return bisect(finishes, high // 2, high)  # fails at high // 2 (or it is 0)


def solver_run(
    instances: Instances, labels: np.ndarray, timed: bool, propagations: bool = True
) -> dict[str, float]:
    """Solve every instance again: model check, median propagations and time.

    model_check: % of satisfiable answers whose model satisfies every clause (the
    label is the solver's answer, so accuracy is 100% by construction; this checks
    the certificates). accuracy: % of answers equal to the stored label.
    """
    checked, agreed, seconds = [], [], []
    for (n, clauses), label in zip(instances, labels, strict=True):
        started = time.perf_counter()
        answer = solve(clauses, n)
        seconds.append(time.perf_counter() - started)
        agreed.append((answer != "UNSAT") == bool(label))
        if answer != "UNSAT":
            checked.append(satisfies(clauses, model_to_assignment(answer, n)))
    stats = {
        # With no satisfiable answer there is no model to fail the check.
        "model_check": 100.0 * float(np.mean(checked)) if checked else 100.0,
        "accuracy": 100.0 * float(np.mean(agreed)),
    }
    if propagations:
        stats["median_propagations"] = float(
            np.median([propagations_needed(c, n) for n, c in instances])
        )
    if timed:
        stats["median_ms"] = 1e3 * float(np.median(seconds))
    return stats


# ---------------------------------------------------------------- the shortcut arm
def statistics(n: int, clauses: np.ndarray) -> np.ndarray:
    """Cheap size-free features a ratio shortcut can use: [7] floats.

    Occurrence statistics are divided by their mean, so that a model fitted at small
    n reads the same scale at large n (no n itself: the shortcut, like the net, must
    carry over from small to large n).
    """
    index = literal_index(n, clauses).ravel()
    counts = np.bincount(index, minlength=2 * n).astype(float)  # [2n] occurrences
    positive, negative = counts[:n], counts[n:]
    per_variable = positive + negative  # [n]
    mean = max(counts.mean(), 1e-9)
    return np.array(
        [
            len(clauses) / n,  # the clause/variable ratio
            counts.std() / mean,
            counts.max() / mean,
            np.abs(positive - negative).mean() / mean,  # sign imbalance
            np.mean((positive == 0) ^ (negative == 0)),  # pure literals
            np.mean(per_variable == 0),  # unused variables
            per_variable.std() / mean,
        ]
    )


def features(instances: Instances) -> np.ndarray:
    return np.stack([statistics(n, c) for n, c in instances])


def fit_shortcut(instances: Instances, labels: np.ndarray, cfg: Config, seed: int):
    model = make_pipeline(
        StandardScaler(),
        MLPClassifier(
            hidden_layer_sizes=(cfg.shortcut_hidden,),
            solver="lbfgs",  # full-batch: fast and deterministic on a few 1000 rows
            alpha=cfg.shortcut_alpha,
            max_iter=3000,
            random_state=seed,
        ),
    )
    return model.fit(features(instances), labels.astype(int))


# ---------------------------------------------------------------- the graph
@dataclass(frozen=True)
class Graph:
    """A batch of instances as one disjoint literal-clause graph.

    Literal k of an instance with n variables and offset o is global index o + k:
    k < n is variable k + 1, k >= n its negation (so flip(k) = k +- n).
    """

    edge_literal: torch.Tensor  # [3M] literal index of each (clause, slot) edge
    edge_clause: torch.Tensor  # [3M] clause index of each edge
    flip: torch.Tensor  # [N] index of each literal's negation
    literal_graph: torch.Tensor  # [N] which instance each literal belongs to
    clause_graph: torch.Tensor  # [M] which instance each clause belongs to
    sizes: torch.Tensor  # [B] n of each instance
    literals: int  # N
    clauses: int  # M
    graphs: int  # B


def exclusive_cumsum(counts: torch.Tensor) -> torch.Tensor:
    """[B] counts -> [B] start of each block when the blocks are laid end to end."""
    return torch.cumsum(counts, 0) - counts


class GraphBank:
    """Every instance's graph, on the device once, so that a minibatch's graph is
    assembled there instead of being rebuilt in numpy and copied in at every step."""

    def __init__(self, instances: Instances, device: torch.device | str):
        self.device = device
        # Host copies of the sizes: a batch's node and edge counts are Python ints
        # (they size the segment sums), known without reading the device.
        self.n = np.array([n for n, _ in instances])
        self.m = np.array([len(clauses) for _, clauses in instances])

        def tensor(parts: list[np.ndarray]) -> torch.Tensor:
            return torch.from_numpy(np.concatenate(parts).astype(np.int64)).to(device)

        # Per edge and per literal: indices within its own instance.
        self.local_literal = tensor([literal_index(n, c).ravel() for n, c in instances])
        self.local_clause = tensor([np.arange(len(c)).repeat(3) for _, c in instances])
        self.local_flip = tensor([np.r_[n : 2 * n, :n] for n, _ in instances])
        self.sizes, self.clause_counts = tensor([self.n]), tensor([self.m])
        self.edge_start = exclusive_cumsum(3 * self.clause_counts)  # [instances]
        self.literal_start = exclusive_cumsum(2 * self.sizes)

    def batch(self, members: np.ndarray, chosen: torch.Tensor) -> Graph:
        """The graph of instances[members], in that order; chosen: members on the
        device. Each block's local indices are shifted by the block's offset."""
        literals, clauses = int(2 * self.n[members].sum()), int(self.m[members].sum())
        graph_ids = torch.arange(len(members), device=self.device)
        sizes, clause_counts = self.sizes[chosen], self.clause_counts[chosen]
        literal_offset = exclusive_cumsum(2 * sizes)  # [B] in the batch
        clause_offset = exclusive_cumsum(clause_counts)

        def blocks(counts: torch.Tensor, total: int, start: torch.Tensor):
            """For each of total slots: its block, and its index in the bank."""
            block = torch.repeat_interleave(graph_ids, counts, output_size=total)
            shift = start[chosen] - exclusive_cumsum(counts)  # [B] bank minus batch
            return block, torch.arange(total, device=self.device) + shift[block]

        edge_graph, edge = blocks(3 * clause_counts, 3 * clauses, self.edge_start)
        literal_graph, literal = blocks(2 * sizes, literals, self.literal_start)
        clause_graph = torch.repeat_interleave(
            graph_ids, clause_counts, output_size=clauses
        )
        return Graph(
            self.local_literal[edge] + literal_offset[edge_graph],
            self.local_clause[edge] + clause_offset[edge_graph],
            self.local_flip[literal] + literal_offset[literal_graph],
            literal_graph,
            clause_graph,
            sizes,
            literals,
            clauses,
            len(members),
        )


def make_graph(instances: Instances, device: torch.device | str = "cpu") -> Graph:
    """All the instances, in order, as one graph."""
    everything = torch.arange(len(instances), device=device)
    return GraphBank(instances, device).batch(np.arange(len(instances)), everything)


def segment_sum(values: torch.Tensor, index: torch.Tensor, size: int) -> torch.Tensor:
    """Sum rows of values [E, ...] into size buckets by index [E] -> [size, ...]."""
    return values.new_zeros((size, *values.shape[1:])).index_add(0, index, values)


# ---------------------------------------------------------------- NeuroSAT-lite
class NeuroSATLite(nn.Module):
    """Selsam et al.'s NeuroSAT, smaller and cheaper.

    Differences: literals update with a GRU cell instead of a layer-norm LSTM, and
    clauses keep no state between rounds (a clause's message is an MLP of the sum of
    its literals' messages), which halves the cost on the larger node set.
    Every literal starts from one learned vector and messages are summed over edges,
    so the output does not depend on how variables, clauses or literals within a
    clause are numbered, nor on which sign a variable is written with.
    """

    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.literal_init = nn.Parameter(torch.randn(hidden) / hidden**0.5)
        self.literal_message = core.mlp([hidden, hidden, hidden])
        self.clause_message = core.mlp([hidden, hidden, hidden])
        self.literal_update = nn.GRUCell(2 * hidden, hidden)  # clauses + own negation
        self.vote = core.mlp([hidden, hidden, 1])

    def embeddings(self, graph: Graph, rounds: int) -> list[torch.Tensor]:
        """Literal embeddings [N, d] after each round 1..rounds."""
        literals = self.literal_init.expand(graph.literals, -1)  # [N, d]
        history = []
        for _ in range(rounds):
            sent = self.literal_message(literals)[graph.edge_literal]  # [3M, d]
            clauses = segment_sum(sent, graph.edge_clause, graph.clauses)  # [M, d]
            received = self.clause_message(clauses)[graph.edge_clause]  # [3M, d]
            incoming = segment_sum(received, graph.edge_literal, graph.literals)
            literals = self.literal_update(
                torch.cat([incoming, literals[graph.flip]], dim=1), literals
            )
            history.append(literals)
        return history

    def logits(self, graph: Graph, literals: torch.Tensor) -> torch.Tensor:
        """Mean literal vote per instance: [B] logits of 'satisfiable'."""
        votes = self.vote(literals).squeeze(-1)  # [N]
        return segment_sum(votes, graph.literal_graph, graph.graphs) / (2 * graph.sizes)

    def forward(self, graph: Graph, rounds: int) -> torch.Tensor:
        return self.logits(graph, self.embeddings(graph, rounds)[-1])


def training_members(pairs: int, cfg: Config, seed: int) -> np.ndarray:
    """[train_steps, 2 * batch]: the instances of every step's minibatch of pairs
    (a pair's two members side by side), drawn up front: reshuffled passes over
    the pairs, cut into batch_pairs at a time."""
    order_rng = np.random.default_rng([seed, 1])
    order = np.array([], dtype=int)
    steps = []
    for _step in range(cfg.train_steps):
        if len(order) < cfg.batch_pairs:
            order = np.concatenate([order, order_rng.permutation(pairs)])
        chosen, order = order[: cfg.batch_pairs], order[cfg.batch_pairs :]
        steps.append(np.stack([2 * chosen, 2 * chosen + 1], axis=1).ravel())
    return np.stack(steps)


def train_net(
    instances: Instances, labels: np.ndarray, cfg: Config, seed: int, ctx: RunContext
) -> NeuroSATLite:
    """Adam on minibatches of whole pairs (a pair's two members share a batch)."""
    torch.manual_seed(seed)
    net = NeuroSATLite(cfg.hidden).to(ctx.device)
    optimizer = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    # The graphs, labels and minibatch schedule go to the device once; each step
    # assembles its graph there instead of copying one in.
    schedule = training_members(len(instances) // 2, cfg, seed)
    on_device = torch.from_numpy(schedule).to(ctx.device)
    bank = GraphBank(instances, ctx.device)
    targets = torch.from_numpy(labels).to(ctx.device)
    for step in ctx.progress(range(cfg.train_steps), desc=f"seed {seed} training"):
        graph = bank.batch(schedule[step], on_device[step])
        target = targets[on_device[step]]
        loss = F.binary_cross_entropy_with_logits(net(graph, cfg.rounds), target)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(net.parameters(), cfg.clip)
        optimizer.step()
    return net


# ---------------------------------------------------------------- decoding
def two_clusters(graph: Graph, literals: torch.Tensor) -> torch.Tensor:
    """Split each instance's literal embeddings [N, d] into two clusters: [N] bool.

    Start from the sign along the instance's principal direction (power iteration),
    then three Lloyd (k-means) steps: NeuroSAT's 2-clustering, batched.
    """
    ones = torch.ones_like(literals[:, 0])  # [N]
    counts = segment_sum(ones, graph.literal_graph, graph.graphs)
    mean = segment_sum(literals, graph.literal_graph, graph.graphs) / counts[:, None]
    centred = literals - mean[graph.literal_graph]  # [N, d]
    direction = torch.ones_like(mean)  # [B, d]
    for _ in range(5):
        projection = (centred * direction[graph.literal_graph]).sum(-1, keepdim=True)
        direction = segment_sum(projection * centred, graph.literal_graph, graph.graphs)
        direction = direction / direction.norm(dim=1, keepdim=True).clamp_min(1e-12)
    side = (centred * direction[graph.literal_graph]).sum(-1) > 0  # [N]
    for _ in range(3):
        bucket = 2 * graph.literal_graph + side.long()
        sums = segment_sum(literals, bucket, 2 * graph.graphs)
        sizes = segment_sum(ones, bucket, 2 * graph.graphs)
        centres = (sums / sizes.clamp_min(1.0)[:, None]).view(graph.graphs, 2, -1)
        distance = (literals[:, None, :] - centres[graph.literal_graph]).norm(dim=-1)
        side = distance[:, 1] < distance[:, 0]
    return side


def satisfied(graph: Graph, literal_true: torch.Tensor) -> torch.Tensor:
    """Does a literal assignment [N] bool satisfy every clause? [B] bool."""
    edge_true = literal_true[graph.edge_literal].float()  # [3M]
    clause_true = segment_sum(edge_true, graph.edge_clause, graph.clauses) > 0  # [M]
    unsatisfied = segment_sum((~clause_true).float(), graph.clause_graph, graph.graphs)
    return unsatisfied == 0


def decoded(graph: Graph, history: list[torch.Tensor]) -> torch.Tensor:
    """[B] bool: some round's two-cluster split gives a satisfying assignment.

    A variable is true iff its positive literal is in cluster A (then once more with
    cluster B); its negative literal takes the opposite value whatever its cluster.
    """
    is_positive = torch.arange(graph.literals, device=graph.flip.device) < graph.flip
    found = torch.zeros(graph.graphs, dtype=torch.bool, device=graph.flip.device)
    for literals in history:
        side = two_clusters(graph, literals)
        positive_side = torch.where(is_positive, side, side[graph.flip])  # [N]
        for cluster_a_true in (True, False):
            variable_true = positive_side == cluster_a_true
            literal_true = torch.where(is_positive, variable_true, ~variable_true)
            found |= satisfied(graph, literal_true)
    return found


def evaluate_net(
    net: NeuroSATLite, instances: Instances, cfg: Config, ctx: RunContext, decode: bool
) -> tuple[np.ndarray, np.ndarray]:
    """(predicted satisfiable [B] bool, decoded [B] bool), in chunks of 256; without
    decode, the second is the first again. The prediction is read after cfg.rounds
    rounds, as in training; decoding then goes on to cfg.decode_rounds (NeuroSAT
    also ran longer at test time)."""
    predictions, decodes = [], []
    rounds = max(cfg.rounds, cfg.decode_rounds) if decode else cfg.rounds
    with torch.no_grad():
        for start in range(0, len(instances), 256):
            graph = make_graph(instances[start : start + 256], ctx.device)
            history = net.embeddings(graph, rounds)
            predictions.append(net.logits(graph, history[cfg.rounds - 1]) > 0)
            decodes.append(decoded(graph, history) if decode else predictions[-1])
    return torch.cat(predictions).cpu().numpy(), torch.cat(decodes).cpu().numpy()


# ---------------------------------------------------------------- the run
def seed_data(cfg: Config, seed: int) -> dict:
    """Every data set of one seed, generated once from its own RNG streams."""
    rng = np.random.default_rng([seed, 0])
    train_range = (cfg.train_n_min, cfg.train_n_max + 1)
    train_ns = rng.integers(*train_range, cfg.train_pairs)
    tests = {n: make_pairs(rng, np.full(cfg.test_pairs, n)) for n in cfg.test_ns}
    sweep_ns = np.full(cfg.sweep_instances, cfg.sweep_n)
    sweep = {
        ratio: make_fixed_ratio(rng, sweep_ns, np.full(len(sweep_ns), ratio))
        for ratio in cfg.sweep_ratios
    }
    shortcut_ns = rng.integers(*train_range, cfg.shortcut_instances)
    shortcut_ratios = rng.uniform(
        cfg.shortcut_ratio_min, cfg.shortcut_ratio_max, cfg.shortcut_instances
    )
    return {
        "train": make_pairs(rng, train_ns),
        "tests": tests,
        "sweep": sweep,
        "shortcut": make_fixed_ratio(rng, shortcut_ns, shortcut_ratios),
    }


def accuracy(predicted: np.ndarray, labels: np.ndarray) -> float:
    return 100.0 * float(np.mean(predicted == labels.astype(bool)))


def run(cfg: Config, ctx: RunContext) -> pd.DataFrame:
    """Records: (seed, arm, test_set in {pairs, ratio}, n, ratio, metric, value)."""
    records = core.Records()
    for seed in ctx.progress(range(cfg.seeds), desc="seeds"):
        data = seed_data(cfg, seed)
        net = train_net(*data["train"], cfg, seed, ctx)
        shortcut = fit_shortcut(*data["shortcut"], cfg, seed)
        sets = [("pairs", n, np.nan, *data["tests"][n]) for n in cfg.test_ns] + [
            ("ratio", cfg.sweep_n, ratio, *data["sweep"][ratio])
            for ratio in cfg.sweep_ratios
        ]
        for test_set, n, ratio, instances, labels in sets:
            where = {"test_set": test_set, "n": n, "ratio": ratio}
            pairs = test_set == "pairs"
            predicted, decodes = evaluate_net(net, instances, cfg, ctx, decode=pairs)
            dl = {"accuracy": accuracy(predicted, labels)}
            sat_predicted = predicted & labels.astype(bool)
            # Decoding is tried on the pairs only, and is undefined when the net
            # calls no satisfiable instance satisfiable.
            if pairs and sat_predicted.any():
                dl["decoded"] = 100.0 * decodes[sat_predicted].mean()
            dl["sat_fraction"] = 100.0 * labels.mean()
            shortcut_predicted = shortcut.predict(features(instances))  # 0 or 1
            arms = {
                DL_ARM: dl,
                SHORTCUT_ARM: {"accuracy": accuracy(shortcut_predicted, labels)},
                # Wall-clock times only where the runner asks for them (not smoke).
                SOLVER_ARM: solver_run(instances, labels, ctx.record_timings, pairs),
            }
            for arm, metrics in arms.items():
                records.add_many(metrics, seed=seed, arm=arm, **where)
    return records.frame()


# ---------------------------------------------------------------- summary
def by_size(records: pd.DataFrame, arm: str, metric: str, test_set: str = "pairs"):
    """Table [seed] x n (pairs) or [seed] x ratio (ratio sweep) of one metric."""
    column = "n" if test_set == "pairs" else "ratio"
    return core.pivot_seeds(records, metric, column, arm=arm, test_set=test_set)


def summarize(records: pd.DataFrame) -> dict[str, Estimate]:
    dl, shortcut, sweep_dl, sweep_shortcut = (
        by_size(records, arm, "accuracy", test_set)
        for test_set in ("pairs", "ratio")
        for arm in (DL_ARM, SHORTCUT_ARM)
    )
    timed = by_size(records, SOLVER_ARM, "median_ms")
    decodes = by_size(records, DL_ARM, "decoded")
    ns = sorted(dl.columns)
    smallest, largest = ns[0], ns[-1]
    near_40 = min(ns, key=lambda n: (abs(n - REFUTE_N), n))
    threshold = min(sweep_dl.columns, key=lambda r: abs(r - THRESHOLD_RATIO))
    ends = [min(sweep_shortcut.columns), max(sweep_shortcut.columns)]

    def percent(values, **label) -> Estimate:
        return bootstrap(values, unit="%", digits=1, **label)

    estimates = {
        KEY: percent(dl[largest]),
        "dl_accuracy_smallest_n": percent(dl[smallest]),
        "dl_accuracy_n40": percent(dl[near_40], label=f"mean at n = {near_40}"),
        "dl_accuracy_drop": bootstrap(
            dl[smallest] - dl[largest],
            unit="points",
            digits=1,
            label=f"mean of accuracy at n = {smallest} minus n = {largest}",
        ),
        "shortcut_accuracy_largest_n": percent(shortcut[largest]),
        "solver_model_check": percent(
            by_size(records, SOLVER_ARM, "model_check").stack()
        ),
        "solver_median_propagations_largest_n": bootstrap(
            by_size(records, SOLVER_ARM, "median_propagations")[largest], digits=0
        ),
    }
    if not timed.empty:
        estimates["solver_median_ms_largest_n"] = bootstrap(
            timed[largest], unit="ms", digits=3
        )
    if not decodes.empty:
        estimates["dl_decoded_of_sat_predictions"] = percent(
            decodes.mean(axis=1), label="mean over sizes, then seeds"
        )
    return estimates | {
        "dl_accuracy_at_threshold": percent(sweep_dl[threshold]),
        "shortcut_accuracy_at_threshold": percent(sweep_shortcut[threshold]),
        "shortcut_accuracy_sweep_ends": percent(
            sweep_shortcut[ends].mean(axis=1),
            label="mean of the lowest and highest sweep ratio",
        ),
    }


RULE = (
    f"Holds if the message-passing net's accuracy on balanced SR-style pairs at the "
    f"largest tested n is <= {MAX_HOLDS_ACCURACY:g}% and falls from the smallest to "
    f"the largest n (drop > {MIN_DROP:g}), while the solver's models all check "
    f"({SOLVER_EXACT:g}%) and its median time at the largest n is <= "
    f"{MAX_SOLVER_MS:g} ms (whole 95% CIs past the thresholds). Refuted if the net "
    f"reaches >= {REFUTE_ACCURACY:g}% at n = {REFUTE_N}. Inconclusive otherwise, "
    f"or where a CI straddles a threshold."
)


def verdict(estimates: dict[str, Estimate]) -> Verdict:
    largest, at_40 = estimates[KEY], estimates["dl_accuracy_n40"]
    drop, checked = estimates["dl_accuracy_drop"], estimates["solver_model_check"]
    timed = estimates.get("solver_median_ms_largest_n")
    refuted = at_40.above(REFUTE_ACCURACY)
    holds = all_of(
        largest.below(MAX_HOLDS_ACCURACY),
        drop.above(MIN_DROP),
        checked.above(SOLVER_EXACT),
        timed.below(MAX_SOLVER_MS) if timed is not None else None,
    )
    solver_time = timed.text() if timed is not None else "not timed"
    reason = (
        f"net accuracy {largest.text()} at the largest n, {at_40.text()} at "
        f"n = {REFUTE_N}, drop from smallest to largest n {drop.text()}; solver "
        f"models checked {checked.value:.0f}%, median time {solver_time}"
    )
    if refuted is True:
        status = "refuted"
    elif refuted is None or holds is not True:
        status = "inconclusive"
    else:
        status = "holds"
    thresholds = {
        KEY: MAX_HOLDS_ACCURACY,
        "dl_accuracy_n40": REFUTE_ACCURACY,
        "dl_accuracy_drop": MIN_DROP,
        "solver_model_check": SOLVER_EXACT,
        "solver_median_ms_largest_n": MAX_SOLVER_MS,
    }
    return Verdict(status, reason, RULE, thresholds)


# ---------------------------------------------------------------- charts
ARM_LABELS = {
    DL_ARM: "NeuroSAT-lite (message passing)",
    SHORTCUT_ARM: "MLP on ratio statistics",
    SOLVER_ARM: "PicoSAT solver",
}


def charts(records: pd.DataFrame) -> dict[str, alt.TopLevelMixin]:
    def curve(where: dict, title, *, extra=(), **options):
        """Mean per model against n (pairs) or ratio (the sweep) of the records
        matching `where`, its 95% CI band and the seeds, `extra` layers on top."""
        x = "n" if where["test_set"] == "pairs" else "ratio"
        rows = core.select(records, **where).copy()
        rows["model"] = rows["arm"].map(ARM_LABELS)
        table = core.ci_table(rows, ["model", x], bootstrap)
        colours = list(ARM_LABELS.values())
        chart = core.ci_curve(
            table, x=x, colour="model", colour_sort=colours, seeds=rows, **options
        )
        return core.sized(alt.layer(chart, *extra), title)

    # The solver's share of satisfiable formulas: a grey dotted reference line.
    sat = core.select(records, metric="sat_fraction", test_set="ratio")
    sat_tip = alt.Tooltip("mean:Q", title="% satisfiable", format=".1f")
    sat_line = (
        alt.Chart(core.ci_table(sat, ["ratio"], bootstrap))
        .mark_line(strokeDash=[2, 2], point=True, color="gray")
        .encode(x="ratio:Q", y="mean:Q", tooltip=core.tooltips("ratio:Q", sat_tip))
    )
    timed = (core.select(records, arm=SOLVER_ARM)["metric"] == "median_ms").any()
    effort = "median_ms" if timed else "median_propagations"
    result = {
        "accuracy_vs_n": curve(
            {"test_set": "pairs", "metric": "accuracy"},
            "Accuracy vs problem size (mean, 95% CI over seeds; dashed: chance)",
            x_title="variables n (test pairs; trained on n = 10 to 20)",
            value_title="accuracy on balanced sat/unsat pairs (%)",
            thresholds={"chance": CHANCE},
        ),
        "accuracy_vs_ratio": curve(
            {"test_set": "ratio", "metric": "accuracy"},
            alt.TitleParams(
                "Accuracy vs clause/variable ratio at fixed n (mean, 95% CI)",
                subtitle="grey dotted: % of instances satisfiable (solver); "
                "dashed: 50%",
            ),
            x_title="clauses per variable",
            value_title="accuracy on fixed-ratio instances (%)",
            thresholds={"chance": CHANCE},
            extra=(sat_line,),
        ),
        "solver_time_vs_n": curve(
            {"test_set": "pairs", "metric": effort, "arm": SOLVER_ARM},
            "Solver effort vs problem size (median per seed; mean, 95% CI over seeds)",
            x_title="variables n (sat/unsat pairs at the threshold)",
            value_title="median solve time (ms)" if timed else "median propagations",
            fmt=".3g",
            log_y=True,  # grows by decades with n
        ),
    }
    if not core.select(records, metric="decoded").empty:
        result["decoded_vs_n"] = curve(
            {"test_set": "pairs", "metric": "decoded"},
            "Decoding an assignment from the net (mean, 95% CI over seeds)",
            x_title="variables n",
            value_title="satisfiable predictions with a decoded model (%)",
        )
    return result
