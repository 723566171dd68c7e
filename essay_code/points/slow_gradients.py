"""Tweet 3: gradient-based learning needs many, many steps to pick up a pattern.

Claim: "Gradient based learning is quite slow. Takes many, many gradient descent
steps to pick up patterns. Tough for high dimensional prediction."

What the experiment does: the k-sparse parity task (x uniform in {+-1}^n, label
the product of k secret coordinates, a secret per seed). A width-256 ReLU MLP learns
it by online SGD (hinge loss, learning rate chosen per k on selection seeds) until
its validation accuracy reaches 99%; Gaussian elimination over GF(2) solves it from
about n samples, since with bits b = (1 - x) / 2 the label is a linear equation mod
2. Measured: samples to the target against n, the fitted exponent, at k = 2, 3, 4
and at several MLP budgets (checkpoints of one run). At the headline k a side arm
flips 5% of the training labels, where plain elimination breaks; SGD, a search over
all k-subsets (told k) and a noise-tolerant elimination not told k (random subsets
of the equations, checked on held-back samples) run on the same streams.

What it does not show: one architecture, one target function (the textbook hard
case for gradients and easy case for algebra: most patterns are not linear over
GF(2)); samples are not steps at other batch sizes; wall times are this CPU's.

References: Barak, Edelman, Goel, Kakade, Malach, Zhang 2022, "Hidden progress in
deep learning: SGD learns parities near the computational limit" (NeurIPS);
Shalev-Shwartz, Shamir, Shammah 2017, "Failures of gradient-based deep learning"
(ICML); Kearns 1998 (statistical-query lower bounds for parities); Fischler and
Bolles 1981 (RANSAC, random sample consensus).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from itertools import combinations

import altair as alt
import numpy as np
import pandas as pd
import torch

from essay_code import core
from essay_code.core import Estimate, RunContext, Verdict, bootstrap

TITLE = "Gradient descent needs many samples"
TWEETS = (3,)
KEY = "sample_ratio"

MLP = "mlp-sgd"
GF2 = "gf2-elimination"
SUBSET = "subset-search"
RANSAC = "gf2-random-subsets"
ARMS = (MLP, GF2, SUBSET, RANSAC)
ARM_LABELS = {
    MLP: "MLP + online SGD",
    GF2: "elimination over GF(2)",
    SUBSET: "k-subset search (told k)",
    RANSAC: "noise-tolerant elimination",
}
PUBLISHED, SELECTION = "published", "selection"  # the stage column's values

# Readable names of the estimates (the page's estimates table and answer box).
NAMES = {
    KEY: "MLP samples ÷ elimination samples",
    "largest_n": "n of the ratio (largest solved by all)",
    "solved_sizes": "sizes solved by every seed",
    "mlp_samples": "MLP samples to the target",
    "gf2_samples": "elimination samples to the target",
    "mlp_exponent": "MLP exponent (samples ~ n^e)",
    "gf2_exponent": "elimination exponent",
    "mlp_solved_share": "MLP runs that reached the target",
    "subset_samples": "subset search samples",
    "subset_exponent": "subset search exponent",
    "ransac_samples": "noise-tolerant elimination samples",
    "biggest_n": "largest n in the sweep",
    "noisy_gf2_accuracy": "elimination test accuracy, noisy labels",
    "noisy_gf2_exact_share": "elimination exact recoveries, noisy",
    "noisy_mlp_accuracy": "MLP test accuracy, noisy labels",
    "noisy_mlp_solved_share": "MLP runs at the target, noisy",
    "noisy_mlp_slowdown": "MLP samples noisy ÷ clean",
    "noisy_subset_samples": "subset search samples, noisy",
    "noisy_subset_accuracy": "subset search test accuracy, noisy",
    "noisy_ransac_samples": "noise-tolerant elimination samples, noisy",
    "noisy_ransac_accuracy": "noise-tolerant elimination accuracy, noisy",
    "noisy_ransac_exact_share": "noise-tolerant exact recoveries, noisy",
    "noisy_ransac_attempts": "noise-tolerant elimination tries",
    "ransac_check": "check-set size chosen",
    "mlp_wall_seconds": "MLP wall time",
    "gf2_wall_ms": "elimination wall time",
    "subset_wall_ms": "subset search wall time",
} | {
    name: f"{words}, k = {k}"
    for k in range(1, 9)
    for name, words in (
        (f"sample_ratio_k{k}", "MLP ÷ elimination samples"),
        (f"largest_n_k{k}", "n of the ratio"),
        (f"mlp_exponent_k{k}", "MLP exponent"),
        (f"gf2_exponent_k{k}", "elimination exponent"),
        (f"lr_k{k}", "learning rate chosen"),
    )
}
SELECTION_COLUMN = "stage"  # selection seeds are listed apart in summary.json

# Verdict threshold, fixed before any run, not tuned.
MIN_RATIO = 100.0  # the MLP must need at least this many times elimination's samples
# Chosen here, because the MLP stops at 99% validation accuracy and a stopped seed's
# accuracy no longer changes: one seed of ten still climbing from chance (50%) to
# the target during the last doubling of the budget adds about 5 points to the mean,
# so a tolerance of 1 point flags any seed that was still learning then.
CONVERGENCE_TOLERANCE = 0.01
# Chosen here, because it is halfway between the agreement of a wrong parity with
# the labels (50%) and of the right one (100% less the noise rate): a candidate
# secret is accepted without knowing the noise rate, for any rate under 25%.
ACCEPT_AGREEMENT = 0.75
# Selection seeds are numbered from here, apart from the published seeds 0, 1, ...
SELECTION_SEED0 = 1_000
# Host syncs in a smoke run (760 counted): the validation evaluations that decide
# when to stop (after each of the first 20 chunks, then on a 5% growth schedule and
# at each checkpoint budget, so logarithmic in the samples), a test evaluation and a
# re-indexing each time some member stops, the CPU-only classical arms reading
# their chunks, and copying constants in once.
HOST_SYNC_BUDGET = 800

# Separate random streams per (seed, n, k), so arms and conditions can share them.
STREAM_SAMPLES, STREAM_NOISE, STREAM_VAL, STREAM_SECRET, STREAM_TEST, STREAM_ORDER = (
    range(6)
)


@dataclass(frozen=True)
class Config:
    seeds: int = 10  # independent secrets, sample streams and MLP initialisations
    sizes: tuple[int, ...] = (8, 12, 16, 24, 32, 48, 64)  # input dimensions n
    k: int = 3  # the headline k: secret coordinates the label multiplies
    ks: tuple[int, ...] = (2, 3, 4)  # the k of the robustness map (k among them)
    # Largest n per k (aligned with ks): k = 4 stops earlier because at n = 64 it
    # needs about 10^5 samples per seed, more than this CPU budget allows.
    max_n: tuple[int, ...] = (64, 64, 32)
    width: int = 256  # hidden units of the one-hidden-layer ReLU MLP
    lrs: tuple[float, ...] = (0.1, 0.3, 1.0, 3.0)  # SGD learning rates searched per k
    selection_seeds: int = 8  # seeds (apart from the published ones) that pick lr
    batch_size: int = 32  # fresh samples per SGD step
    target_accuracy: float = 0.99  # validation accuracy that counts as solved
    # Samples come in chunks of eval_every (a multiple of batch_size); validation
    # accuracy is checked once the count has grown by eval_growth since the last
    # look (and at every checkpoint budget), so the first passing count is known to
    # within 5% (or one chunk) at every n.
    eval_every: int = 32
    eval_growth: float = 0.05
    val_size: int = 1024  # validation samples per seed and n (stop, lr), clean labels
    test_size: int = 1024  # test samples per seed and n (accuracy reported), clean
    max_samples: int = 262_144  # the MLP's sample cap; past it a seed is unsolved
    # Checkpoint budgets: max_samples halved this many times, and every doubling up
    # to it (the budget axis of the map and the convergence record).
    doublings: int = 4
    classical_max_samples: int = 4096  # sample cap for elimination and subset search
    label_noise: float = 0.05  # share of training labels flipped in the noise arm
    # The noise-tolerant elimination reads pool_factor * n equations and a check
    # set. Chosen here, because with twice as many equations as unknowns a random
    # order reaches rank n on clean equations alone about once in 2^(2 n noise)
    # tries (1 in 80 at n = 64 and 5% noise), so few hundred tries suffice; a bigger
    # pool needs fewer tries but more samples.
    pool_factor: float = 2.0
    checks: tuple[int, ...] = (16, 32, 64, 128)  # check-set sizes searched
    max_attempts: int = 2000  # random subsets tried before keeping the best one


PROFILES = {
    "smoke": {
        "seeds": 2,
        "sizes": (6, 8),
        "ks": (2, 3),
        "max_n": (8, 8),
        "width": 64,
        "lrs": (0.3, 1.0),
        "selection_seeds": 2,
        "val_size": 256,
        "test_size": 256,
        "max_samples": 4096,
        "doublings": 2,
        "classical_max_samples": 512,
        "checks": (16, 32),
    },
    "full": {
        "sizes": (8, 12, 16, 20, 24, 30, 40, 50, 64, 80, 100, 128),
        "max_n": (128, 128, 64),
        "selection_seeds": 16,
        "max_samples": 1_048_576,
        "doublings": 6,
    },
}


def budgets_of(cfg: Config) -> list[int]:
    """The checkpoint budgets, ascending; the last is the cap."""
    return [cfg.max_samples >> j for j in range(cfg.doublings, -1, -1)]


def sizes_at(cfg: Config, k: int) -> list[int]:
    """The sizes swept at this k."""
    limit = dict(zip(cfg.ks, cfg.max_n, strict=True))[k]
    return [n for n in cfg.sizes if n <= limit]


def check_config(cfg: Config) -> None:
    if cfg.k not in cfg.ks or len(cfg.max_n) != len(cfg.ks):
        raise ValueError("k must be one of ks, and max_n must give one n per k")
    if cfg.label_noise <= 0:
        raise ValueError("label_noise must be > 0: it defines the noise side arm")
    if cfg.eval_every % cfg.batch_size or any(
        b % cfg.eval_every for b in budgets_of(cfg)
    ):
        raise ValueError("budgets must be multiples of eval_every, of batch_size")


# ---------------------------------------------------------------- data


def stream_seed(seed: int, n: int, k: int, stream: int) -> int:
    """A 63-bit torch seed for one random stream of one (seed, n, k)."""
    state = np.random.SeedSequence([seed, n, k, stream]).generate_state(2, np.uint32)
    return int(state[0]) << 31 | int(state[1]) >> 1


def draw_secret(seed: int, n: int, k: int) -> np.ndarray:
    """The k secret coordinates (sorted) of this seed's task at dimension n."""
    rng = np.random.default_rng(stream_seed(seed, n, k, STREAM_SECRET))
    return np.sort(rng.choice(n, size=k, replace=False))


def parity_labels(x: torch.Tensor, secret: np.ndarray | torch.Tensor) -> torch.Tensor:
    """y = product of the secret coordinates: x [..., n] in {+-1} -> y [...].
    secret: indices, as an array or (to copy nothing in) a tensor on x's device."""
    index = secret if isinstance(secret, torch.Tensor) else torch.as_tensor(secret)
    return x[..., index].prod(dim=-1)


class ParityStream:
    """Fresh samples of one seed's task, in chunks: the same stream for every arm.

    Noise flips are drawn from their own generator, so the clean and the noisy
    condition see the same inputs, and the noisy labels differ in ~label_noise of them.
    The generators live on `device` and draw there, so a chunk needs no copy to
    it; on a CPU they are the plain generators, giving the same numbers.
    """

    def __init__(self, seed, n, k, label_noise, chunk, device="cpu"):
        self.n, self.chunk, self.label_noise = n, chunk, label_noise
        self.device = device
        self.secret = draw_secret(seed, n, k)
        self.secret_index = torch.as_tensor(self.secret, device=device)  # copied once
        seeds = (stream_seed(seed, n, k, s) for s in (STREAM_SAMPLES, STREAM_NOISE))
        self.inputs, self.noise = (
            torch.Generator(device=device).manual_seed(s) for s in seeds
        )

    def next_chunk(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x [chunk, n] in {+-1}, clean labels [chunk], noisy labels [chunk]."""
        shape, device = (self.chunk, self.n), self.device
        bits = torch.randint(0, 2, shape, generator=self.inputs, device=device)
        x = 1.0 - 2.0 * bits.float()
        clean = parity_labels(x, self.secret_index)
        flips = torch.rand(self.chunk, generator=self.noise, device=device)
        return x, clean, torch.where(flips < self.label_noise, -clean, clean)

    def read_bits(self, count: int, noisy: bool) -> tuple[np.ndarray, np.ndarray]:
        """The next `count` samples as bits [count, n] and label bits [count]."""
        parts = []
        while sum(len(p[0]) for p in parts) < count:
            x, clean, noisy_labels = self.next_chunk()
            parts.append((to_bits(x), to_bits(noisy_labels if noisy else clean)))
        bits, labels = (np.concatenate(p)[:count] for p in zip(*parts, strict=True))
        return bits, labels


def held_out(seed, n, k, size, stream) -> tuple[torch.Tensor, torch.Tensor]:
    """A clean held-out set (stream STREAM_VAL or STREAM_TEST): x [size, n], y."""
    generator = torch.Generator().manual_seed(stream_seed(seed, n, k, stream))
    bits = torch.randint(0, 2, (size, n), generator=generator)
    x = 1.0 - 2.0 * bits.float()
    return x, parity_labels(x, draw_secret(seed, n, k))


def to_bits(values: torch.Tensor) -> np.ndarray:
    """{+-1} -> {0, 1} with -1 -> 1, so a product of signs is a sum of bits mod 2."""
    return (values.numpy(force=True) < 0).astype(np.uint8)  # from any device


def parity_accuracy(subset, x: torch.Tensor, y: torch.Tensor) -> float:
    """Held-out accuracy of the hypothesis 'y is the parity of these coordinates'
    (None, no hypothesis, scores as chance)."""
    if subset is None:
        return 0.5
    predicted = parity_labels(x, subset) if subset.size else torch.ones(len(y))
    return float((predicted == y).float().mean())


# ---------------------------------------------------------------- GF(2) elimination


class GF2System:
    """Incremental Gauss-Jordan elimination over GF(2), exact.

    Each equation is one Python int: bit j (j < n) is the coefficient of secret bit j,
    bit n is the label. Rows are kept fully reduced: every stored row has its pivot bit
    set and every other stored row has that bit clear, so at rank n the label bit of
    the row with pivot j is secret bit j.
    """

    def __init__(self, n: int):
        self.n = n
        self.mask = (1 << n) - 1
        self.rows: dict[int, int] = {}  # pivot column -> reduced row

    @property
    def rank(self) -> int:
        return len(self.rows)

    def add(self, row: int) -> bool:
        """Add one equation; True if it raised the rank."""
        for pivot, stored in self.rows.items():
            if row >> pivot & 1:
                row ^= stored
        coefficients = row & self.mask
        if coefficients == 0:
            return False  # dependent (with noise it may also be inconsistent)
        pivot = (coefficients & -coefficients).bit_length() - 1
        for other, stored in self.rows.items():
            if stored >> pivot & 1:
                self.rows[other] = stored ^ row
        self.rows[pivot] = row
        return True

    def solution(self) -> np.ndarray:
        """The secret bits [n] (call at rank n)."""
        if self.rank < self.n:
            raise ValueError(f"rank {self.rank} < n = {self.n}: not determined yet")
        return np.array([self.rows[j] >> self.n & 1 for j in range(self.n)], np.uint8)


def pack_equations(bits: np.ndarray, label_bits: np.ndarray) -> list[int]:
    """bits [m, n] and label_bits [m] in {0, 1} -> m ints (bit j = bits[:, j])."""
    augmented = np.concatenate([bits, label_bits[:, None]], axis=1)  # [m, n + 1]
    packed = np.packbits(augmented, axis=1, bitorder="little")  # [m, ceil((n+1)/8)]
    return [int.from_bytes(row.tobytes(), "little") for row in packed]


def eliminate(stream: ParityStream, noisy: bool, max_samples: int):
    """Read samples until the system has rank n; return (secret subset, samples,
    solved: the subset is the true secret).

    The subset is None if max_samples pass first (with random inputs this does not
    happen: about n + 1.6 samples suffice on average).
    """
    system, used = GF2System(stream.n), 0
    while system.rank < stream.n and used < max_samples:
        x, clean, noisy_labels = stream.next_chunk()
        labels = noisy_labels if noisy else clean
        for row in pack_equations(to_bits(x), to_bits(labels)):
            used += 1
            if (system.add(row) and system.rank == stream.n) or used >= max_samples:
                break
    if system.rank < stream.n:
        return None, used, False
    subset = np.flatnonzero(system.solution())
    return subset, used, np.array_equal(subset, stream.secret)


def robust_eliminate(stream, noisy, checks, rng, pool_factor, max_attempts) -> dict:
    """Noise-tolerant elimination, not told k nor the noise rate (random sample
    consensus): read pool_factor * n equations and max(checks) check samples; try
    random orders of the pool, each solved by elimination up to rank n, and accept
    the first candidate secret that agrees with at least ACCEPT_AGREEMENT of the
    check labels (after max_attempts, the best-agreeing one).

    Each check size c uses the first c check samples, so one pass serves a grid of
    them. Returns {c: (subset or None, samples = pool + c, attempts)}.
    """
    pool = math.ceil(pool_factor * stream.n)
    bits, labels = stream.read_bits(pool + max(checks), noisy)
    rows = pack_equations(bits[:pool], labels[:pool])
    check_bits, check_labels = bits[pool:].astype(np.int64), labels[pool:]
    pending, best, found, attempt = sorted(checks), {}, {}, 0
    while pending and attempt < max_attempts:
        attempt += 1
        system = GF2System(stream.n)
        for index in rng.permutation(pool):
            if system.add(rows[index]) and system.rank == stream.n:
                break
        if system.rank < stream.n:
            break  # the pool itself is rank-deficient: no order can succeed
        candidate = system.solution()
        agree = np.cumsum((check_bits @ candidate) % 2 == check_labels)
        for check in list(pending):
            rate = agree[check - 1] / check
            if rate > best.get(check, (-1.0, None))[0]:
                best[check] = (rate, candidate)
            if rate >= ACCEPT_AGREEMENT:
                found[check] = (candidate, attempt)
                pending.remove(check)
    result = {}
    for check in checks:
        candidate, tries = found.get(check, (best.get(check, (0, None))[1], attempt))
        subset = None if candidate is None else np.flatnonzero(candidate)
        result[check] = (subset, pool + check, tries)
    return result


# ---------------------------------------------------------------- subset search


def search_subsets(stream: ParityStream, k: int, noisy: bool, max_samples: int):
    """Exhaustive search over all k-subsets (a classical method that knows k).

    Counts each subset's agreements with the labels seen so far and stops at the
    first sample after which the secret is the unique leader, the moment its
    hypothesis has 100% held-out accuracy (a wrong parity has 50%). Tolerates label
    noise, at the price of C(n, k) ~ n^k work per sample. Returns (leading subset,
    samples, solved).
    """
    subsets = np.array(list(combinations(range(stream.n), k)))  # [S, k]
    secret_index = int(np.flatnonzero((subsets == stream.secret).all(axis=1))[0])
    counts = np.zeros(len(subsets), dtype=np.int32)
    used, block = 0, 32
    while used < max_samples:
        x, clean, noisy_labels = stream.next_chunk()
        bits, labels = to_bits(x), to_bits(noisy_labels if noisy else clean)
        for start in range(0, len(bits), block):
            rows = bits[start : start + block]  # [b, n]
            parity = np.bitwise_xor.reduce(rows[:, subsets], axis=2)  # [b, S]
            agree = parity == labels[start : start + block, None]
            running = counts + np.cumsum(agree, axis=0, dtype=np.int32)  # [b, S]
            leaders = running == running.max(axis=1, keepdims=True)
            solved = (leaders.sum(axis=1) == 1) & leaders[:, secret_index]
            if solved.any():
                return stream.secret, used + int(np.argmax(solved)) + 1, True
            counts = running[-1]
            used += len(rows)
            if used >= max_samples:
                break
    return subsets[int(np.argmax(counts))], used, False


# ---------------------------------------------------------------- the MLP


class ParityMLP(core.StackedMLP):
    """One n -> width ReLU -> 1 MLP per member (sizes (n, width, 1), nn.Linear's
    default init from torch.manual_seed(seed)), trained all at once by plain SGD.
    The members share no weights, so summing their losses gives each its own step;
    a member that has stopped is dropped from the stack (keep), which leaves the
    others' arithmetic unchanged."""

    def sgd_step(self, x: torch.Tensor, y: torch.Tensor, lr) -> None:
        """One SGD step on the hinge loss, each member on its own batch x [M, b, n];
        lr: a number or a tensor [M, 1, 1] (one learning rate per member)."""
        per_member = torch.relu(1.0 - y * self(x).squeeze(-1)).mean(dim=1)  # [M]
        grads = torch.autograd.grad(per_member.sum(), self.params)
        with torch.no_grad():
            for param, grad in zip(self.params, grads, strict=True):
                param.sub_(lr * grad)

    @torch.no_grad()
    def accuracy(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Share of correct signs per member: x [M, m, n], y [M, m] -> [M]."""
        return (self(x).squeeze(-1) * y > 0).float().mean(dim=1)

    def keep(self, index: torch.Tensor) -> None:
        """Keep only the members at `index` (a tensor on the weights' device)."""
        self.weights = [w.detach()[index].requires_grad_(True) for w in self.weights]
        self.biases = [b.detach()[index].requires_grad_(True) for b in self.biases]
        self.params = [*self.weights, *self.biases]


def train_mlps(n, k, members, cfg: Config, noisy: bool, ctx: RunContext) -> dict:
    """Train every member (seed, lr) at dimension n at once until each reaches the
    target validation accuracy or the cap.

    Returns per-member arrays: samples seen at the first evaluation at or above
    target_accuracy (else the cap), solved (1/0), test accuracy then, training wall
    time then, and val_at [members, budgets]: validation accuracy at each checkpoint
    budget (a stopped member keeps the accuracy it stopped at). The clock covers
    drawing samples and SGD steps, not the evaluations, and is the whole batch's.
    """
    budgets, device = budgets_of(cfg), ctx.device
    at_budget = {b: j for j, b in enumerate(budgets)}
    seeds = [seed for seed, _ in members]
    model = ParityMLP((n, cfg.width, 1), seeds, device)
    lr = torch.tensor([rate for _, rate in members], device=device).view(-1, 1, 1)
    streams = [
        ParityStream(s, n, k, cfg.label_noise, cfg.eval_every, device) for s in seeds
    ]
    sets = [
        [held_out(s, n, k, size, which) for s in seeds]
        for size, which in ((cfg.val_size, STREAM_VAL), (cfg.test_size, STREAM_TEST))
    ]
    (val_x, val_y), (test_x, test_y) = (
        (torch.stack([x for x, _ in one]).to(device), torch.stack([y for _, y in one]))
        for one in sets
    )
    val_y, test_y = val_y.to(device), test_y.to(device)

    count = len(members)
    samples = np.full(count, float(budgets[-1]))
    solved, test_accuracy, wall, last = (np.zeros(count) for _ in range(4))
    val_at = np.full((count, len(budgets)), np.nan)
    active = np.arange(count)
    seen, clock, evaluated = 0, 0.0, 0
    while seen < budgets[-1] and active.size:
        started = ctx.clock()
        chunks = [streams[i].next_chunk() for i in active]
        x = torch.stack([chunk[0] for chunk in chunks])  # [A, chunk, n], on device
        y = torch.stack([chunk[2 if noisy else 1] for chunk in chunks])
        for start in range(0, cfg.eval_every, cfg.batch_size):
            end = start + cfg.batch_size
            model.sgd_step(x[:, start:end], y[:, start:end], lr)
        clock += ctx.clock() - started
        seen += cfg.eval_every
        due = seen >= evaluated * (1 + cfg.eval_growth) or seen in at_budget
        if not due and seen < budgets[-1]:
            continue
        evaluated = seen
        current = model.accuracy(val_x, val_y).cpu().numpy()
        last[active] = current
        if seen in at_budget:
            val_at[active, at_budget[seen]] = current
        newly = current >= cfg.target_accuracy
        if seen >= budgets[-1] or newly.any():
            tested = model.accuracy(test_x, test_y).cpu().numpy()
            stops = newly | (seen >= budgets[-1])
            done = active[stops]
            test_accuracy[done], wall[done] = tested[stops], clock
            samples[active[newly]], solved[active[newly]] = seen, 1.0
            if not stops.all():
                index = torch.as_tensor(np.flatnonzero(~stops), device=device)
                model.keep(index)
                lr, val_x, val_y = lr[index], val_x[index], val_y[index]
                test_x, test_y = test_x[index], test_y[index]
            active = active[~stops]
    # A stopped member keeps the validation accuracy it stopped at.
    val_at = np.where(np.isnan(val_at), last[:, None], val_at)
    return {
        "samples": samples,
        "solved": solved,
        "test_accuracy": test_accuracy,
        "wall_seconds": wall,
        "val_at": val_at,
    }


# ---------------------------------------------------------------- selection


def chosen_lr(records: pd.DataFrame, k: int) -> float:
    """The learning rate with the fewest mean samples to the validation target over
    the selection seeds at this k (an unsolved seed counts at the cap); ties go to
    the smaller rate."""
    rows = core.select(records, stage=SELECTION, arm=MLP, k=k, metric="samples")
    means = rows.groupby("lr")["value"].mean().sort_index()
    return float(means.idxmin())


def chosen_check(records: pd.DataFrame) -> int:
    """The check-set size of the noise-tolerant elimination: among the sizes at which
    every selection seed recovered the secret (validation accuracy at the target),
    the one needing the fewest samples; if none, the most seeds recovered."""
    rows = core.select(records, stage=SELECTION, arm=RANSAC)
    table = rows.pivot_table(index="check", columns="metric", values="value")
    order = table.assign(score=-table["solved"]).sort_values(["score", "samples"])
    return int(order.index[0])


def robust_run(seed, n, k, cfg: Config, noisy, checks, device) -> dict:
    """The noise-tolerant elimination on this seed's stream, its random orders drawn
    from their own stream: {check: (subset, samples, attempts)}."""
    stream = ParityStream(seed, n, k, cfg.label_noise, cfg.eval_every, device)
    rng = np.random.default_rng(stream_seed(seed, n, k, STREAM_ORDER))
    return robust_eliminate(
        stream, noisy, checks, rng, cfg.pool_factor, cfg.max_attempts
    )


def tune(cfg: Config, ctx: RunContext, records: core.Records) -> tuple[dict, int]:
    """Pick the MLP's lr per k (at the largest n swept at that k) and the check size
    (headline k, its largest n, noisy labels) on the selection seeds; every grid
    cell goes into the records."""
    selection = [SELECTION_SEED0 + i for i in range(cfg.selection_seeds)]
    for k in ctx.progress(cfg.ks, desc="tuning lr per k"):
        n = sizes_at(cfg, k)[-1]
        members = [(seed, lr) for seed in selection for lr in cfg.lrs]
        result = train_mlps(n, k, members, cfg, False, ctx)
        for i, (seed, lr) in enumerate(members):
            row = {m: result[m][i] for m in ("samples", "solved")}
            records.add_many(row, seed=seed, arm=MLP, k=k, n=n, lr=lr, label_noise=0.0)
    k, n = cfg.k, sizes_at(cfg, cfg.k)[-1]
    where = {"arm": RANSAC, "k": k, "n": n, "label_noise": cfg.label_noise}
    for seed in selection:
        val = held_out(seed, n, k, cfg.val_size, STREAM_VAL)
        found = robust_run(seed, n, k, cfg, True, cfg.checks, ctx.device)
        for check, (subset, used, attempts) in found.items():
            accuracy = parity_accuracy(subset, *val)
            solved = float(accuracy >= cfg.target_accuracy)
            row = {"samples": used, "solved": solved, "val_accuracy": accuracy}
            records.add_many(
                row | {"attempts": attempts}, seed=seed, check=check, **where
            )
    frame = records.frame()
    return {k: chosen_lr(frame, k) for k in cfg.ks}, chosen_check(frame)


# ---------------------------------------------------------------- the run


def classical_arms(seed, n, k, cfg: Config, noisy, device, check) -> dict:
    """arm -> metrics for the classical arms at this (seed, n, k): elimination
    always, the subset search and the noise-tolerant elimination at the headline k
    (the side arms). All run on the CPU (Python ints and numpy), so perf_counter
    times them; they read their stream from `device`, where the MLP's is drawn, so
    every arm sees the same samples (each chunk is read back: a sync only these
    CPU arms make)."""
    test_x, test_y = held_out(seed, n, k, cfg.test_size, STREAM_TEST)
    cap = cfg.classical_max_samples

    def stream():
        return ParityStream(seed, n, k, cfg.label_noise, cfg.eval_every, device)

    def robust():
        subset, used, attempts = robust_run(seed, n, k, cfg, noisy, (check,), device)[
            check
        ]
        right = subset is not None and np.array_equal(subset, draw_secret(seed, n, k))
        return subset, used, right, attempts

    solvers = {GF2: lambda: eliminate(stream(), noisy, cap)}
    if k == cfg.k:
        solvers[SUBSET] = lambda: search_subsets(stream(), k, noisy, cap)
        solvers[RANSAC] = robust
    results = {}
    for arm, solve in solvers.items():
        started = time.perf_counter()
        subset, used, found, *attempts = solve()
        results[arm] = {
            "samples": used,
            "solved": float(found),
            "test_accuracy": parity_accuracy(subset, test_x, test_y),
            "wall_seconds": time.perf_counter() - started,
        } | ({"attempts": attempts[0]} if attempts else {})
    return results


def run(cfg: Config, ctx: RunContext) -> pd.DataFrame:
    """Records: one row per (stage, seed, arm, k, n, label_noise, metric), plus the
    grid column of the selection rows (lr, check) and the budget of the MLP's
    validation checkpoints.

    Metrics: samples (to the first validation accuracy >= target, or the cap; for
    the classical arms, to their stopping rule), solved (1 if reached within the
    cap; for the classical arms, the exact secret), test_accuracy (clean labels, at
    that point), val_accuracy (the MLP at each checkpoint budget), attempts (the
    noise-tolerant elimination) and, where ctx.record_timings, wall_seconds.
    """
    check_config(cfg)
    tuning = core.Records(stage=SELECTION)
    lrs, check = tune(cfg, ctx, tuning)
    records = core.Records(stage=PUBLISHED)
    seeds = list(range(cfg.seeds))
    conditions = [
        (k, n, noise)
        for k in cfg.ks
        for noise in ((0.0, cfg.label_noise) if k == cfg.k else (0.0,))
        for n in sizes_at(cfg, k)
    ]
    metrics = ["samples", "solved", "test_accuracy"]
    metrics += ["wall_seconds"] if ctx.record_timings else []
    for k, n, noise in ctx.progress(conditions, desc="k x noise x n"):
        where = {"k": k, "n": n, "label_noise": noise}
        members = [(seed, lrs[k]) for seed in seeds]
        mlp = train_mlps(n, k, members, cfg, noise > 0, ctx)
        for seed in seeds:
            for j, budget in enumerate(budgets_of(cfg)):
                value = mlp["val_at"][seed, j]
                records.add(
                    "val_accuracy", value, seed=seed, arm=MLP, budget=budget, **where
                )
            records.add_many(
                {m: mlp[m][seed] for m in metrics}, seed=seed, arm=MLP, **where
            )
            classical = classical_arms(seed, n, k, cfg, noise > 0, ctx.device, check)
            for arm, row in classical.items():
                row = {m: v for m, v in row.items() if m in metrics or m == "attempts"}
                records.add_many(row, seed=seed, arm=arm, **where)
    return pd.DataFrame(tuning.rows + records.rows)


# ---------------------------------------------------------------- summary


def published(records: pd.DataFrame) -> pd.DataFrame:
    return records[records["stage"] == PUBLISHED]


def headline_k(records: pd.DataFrame) -> int:
    """The headline k: the one the side arms (subset search) ran at."""
    return int(core.select(records, arm=SUBSET)["k"].iloc[0])


def ks_of(records: pd.DataFrame) -> list[int]:
    return sorted(int(k) for k in published(records)["k"].unique())


def budgets_in(records: pd.DataFrame) -> list[int]:
    rows = core.select(records, stage=PUBLISHED, metric="val_accuracy")
    return sorted(int(b) for b in rows["budget"].unique())


def noise_level(records: pd.DataFrame, noisy: bool) -> float:
    """The label_noise of the noisy side arm, or 0.0 for clean labels."""
    return float(records["label_noise"].max()) if noisy else 0.0


def by_n(records, arm: str, metric: str, k: int, noisy=False) -> pd.DataFrame:
    """One published metric as a table [seed x n] for one arm, k and condition."""
    noise = noise_level(records, noisy)
    where = {"arm": arm, "k": k, "label_noise": noise, "stage": PUBLISHED}
    return core.pivot_seeds(records, metric, "n", **where)


def mlp_at_budget(records, k: int, budget: float, noisy=False):
    """The MLP's samples and solved tables [seed x n] had its cap been `budget`
    (checkpoints of the one run: a seed solved later counts as unsolved at it)."""
    samples = by_n(records, MLP, "samples", k, noisy)
    solved = (by_n(records, MLP, "solved", k, noisy) > 0) & (samples <= budget)
    return samples.clip(upper=budget), solved


def exponent(samples: pd.DataFrame, sizes: list[int]) -> Estimate:
    """Fitted power-law exponent of samples-to-solve over the given sizes: each
    seed's least-squares slope of log samples on log n, then their mean with a
    Student t interval. With the same sizes for every seed this mean is exactly the
    slope fitted to the geometric mean curve, and it costs no resampling (the rule
    runs at every cell of the robustness map)."""
    log_n = np.log(np.asarray(sizes, float))
    centred = log_n - log_n.mean()
    log_samples = np.log(samples[sizes].to_numpy())  # [seeds, sizes]
    slopes = log_samples @ centred / (centred @ centred)
    label = (
        f"mean over seeds of the log-log slope over n = {', '.join(map(str, sizes))}"
    )
    return core.mean_interval(slopes, label=label)


def fit_sizes(records: pd.DataFrame, k: int, budget: float) -> tuple[list, int, int]:
    """(sizes the exponents are fitted over, the n the ratio is read at, how many
    sizes every seed of both arms solved) at one k and one MLP budget: the sizes
    where every seed of both the MLP and elimination solved, and the largest of
    them. With fewer than two such sizes every size is used, unsolved MLP seeds
    counting at the budget, so ratio and exponent are lower bounds (and the rule
    says inconclusive)."""
    _samples, solved = mlp_at_budget(records, k, budget)
    both = (solved & (by_n(records, GF2, "solved", k) > 0)).all()
    sizes = [int(n) for n in both.index[both.to_numpy()]]
    fit = sizes if len(sizes) >= 2 else sorted(int(n) for n in solved.columns)
    return fit, sizes[-1] if sizes else fit[-1], len(sizes)


def cell_estimates(records: pd.DataFrame, k: int, budget: float) -> dict:
    """What the rule reads at one k and one MLP budget: the per-seed ratio of the
    MLP's samples to elimination's and both fitted exponents (see fit_sizes)."""
    samples, solved = mlp_at_budget(records, k, budget)
    gf2 = by_n(records, GF2, "samples", k)
    fit, largest, solved_sizes = fit_sizes(records, k, budget)
    ratio = samples[largest] / gf2[largest]
    return {
        KEY: bootstrap(ratio, unit="x", digits=0, label="mean of per-seed ratios"),
        "largest_n": core.exact(
            largest,
            len(samples),
            label="largest n where every seed of both arms solved",
        ),
        "solved_sizes": core.exact(
            solved_sizes, len(samples), label="sizes every seed of both arms solved"
        ),
        "mlp_samples": bootstrap(samples[largest], unit="samples", digits=0),
        "gf2_samples": bootstrap(gf2[largest], unit="samples", digits=1),
        "mlp_exponent": exponent(samples, fit),
        "gf2_exponent": exponent(gf2, fit),
        "mlp_solved_share": bootstrap(
            100 * solved.mean(axis=1),
            unit="%",
            digits=0,
            label="mean over seeds of the share of sizes solved",
        ),
    }


def solved_share(records, arm, k, noisy=False, what="solved") -> Estimate:
    """Mean over seeds of the share (%) of sizes each seed solved."""
    return bootstrap(
        100 * by_n(records, arm, "solved", k, noisy).mean(axis=1),
        unit="%",
        digits=0,
        label=f"mean over seeds of the share of sizes {what}",
    )


def summarize(records: pd.DataFrame) -> dict[str, Estimate]:
    k0, cap = headline_k(records), budgets_in(records)[-1]
    estimates = cell_estimates(records, k0, cap)
    fit, largest, _ = fit_sizes(records, k0, cap)
    biggest = max(int(n) for n in by_n(records, MLP, "samples", k0).columns)
    seeds = len(by_n(records, MLP, "samples", k0))

    def at(arm, metric, n, noisy=False):
        return by_n(records, arm, metric, k0, noisy)[n]

    def noisy_accuracy(arm):
        return bootstrap(100 * at(arm, "test_accuracy", biggest, True), unit="%")

    def samples_at(arm, n, noisy=False):
        return bootstrap(at(arm, "samples", n, noisy), unit="samples", digits=1)

    slowdown = at(MLP, "samples", biggest, True) / at(MLP, "samples", biggest)
    estimates |= {
        "subset_samples": samples_at(SUBSET, largest),
        "subset_exponent": exponent(by_n(records, SUBSET, "samples", k0), fit),
        "ransac_samples": samples_at(RANSAC, largest),
        "biggest_n": core.exact(biggest, seeds, label="largest n in the sweep"),
        "noisy_gf2_accuracy": noisy_accuracy(GF2),
        "noisy_gf2_exact_share": solved_share(records, GF2, k0, True, "solved exactly"),
        "noisy_mlp_accuracy": noisy_accuracy(MLP),
        "noisy_mlp_solved_share": solved_share(records, MLP, k0, True),
        "noisy_mlp_slowdown": bootstrap(
            slowdown, unit="x", label="mean of per-seed ratios noisy / clean"
        ),
        "noisy_subset_samples": samples_at(SUBSET, biggest, True),
        "noisy_subset_accuracy": noisy_accuracy(SUBSET),
        "noisy_ransac_samples": samples_at(RANSAC, biggest, True),
        "noisy_ransac_accuracy": noisy_accuracy(RANSAC),
        "noisy_ransac_exact_share": solved_share(
            records, RANSAC, k0, True, "solved exactly"
        ),
        "noisy_ransac_attempts": bootstrap(
            at(RANSAC, "attempts", biggest, True),
            np.median,
            unit="tries",
            digits=0,
            label="median over seeds",
        ),
        "ransac_check": core.exact(
            chosen_check(records), seeds, label="check-set size chosen on selection"
        ),
    }
    for k in ks_of(records):
        cell = estimates if k == k0 else cell_estimates(records, k, cap)
        estimates[f"sample_ratio_k{k}"] = cell[KEY]
        estimates[f"largest_n_k{k}"] = cell["largest_n"]
        estimates[f"mlp_exponent_k{k}"] = cell["mlp_exponent"]
        estimates[f"gf2_exponent_k{k}"] = cell["gf2_exponent"]
        estimates[f"lr_k{k}"] = core.exact(
            chosen_lr(records, k),
            seeds,
            label="learning rate chosen on selection",
            digits=1,
        )
    if "wall_seconds" in set(records["metric"]):
        wall = {arm: at(arm, "wall_seconds", largest) for arm in ARMS}
        estimates["mlp_wall_seconds"] = bootstrap(wall[MLP], unit="s", digits=2)
        estimates["gf2_wall_ms"] = bootstrap(1000 * wall[GF2], unit="ms", digits=2)
        estimates["subset_wall_ms"] = bootstrap(
            1000 * wall[SUBSET], unit="ms", digits=1
        )
    return estimates


RULE = (
    f"Holds if, at the largest n where every seed of both arms solves, the MLP needs "
    f">= {MIN_RATIO:g}x the samples of GF(2) elimination (the whole 95% CI of the "
    f"per-seed ratio at or above {MIN_RATIO:g}) and the MLP's fitted exponent exceeds "
    f"elimination's (the MLP's CI entirely above elimination's CI): slower, and "
    f"slower to scale. Refuted if the whole CI of the ratio is below {MIN_RATIO:g}x. "
    f"Inconclusive otherwise: a CI straddles a threshold, or the MLP needs "
    f">= {MIN_RATIO:g}x but its exponent is not clearly above elimination's (slow, "
    f"but not shown to get worse with n), and wherever fewer than two sizes were "
    f"solved by every seed of both arms within the budget (no exponent to compare; "
    f"the ratio there is only a lower bound). This point has no fix arm, so the rule "
    f"has no 'mitigated' outcome. The same rule is applied at every k and every "
    f"training budget of the robustness map."
)


def rule(estimates: dict[str, Estimate]) -> Verdict:
    """The one rule, for verdict() and for every cell of the robustness map."""
    ratio = estimates[KEY]
    mlp_exp, gf2_exp = estimates["mlp_exponent"], estimates["gf2_exponent"]
    many_more = ratio.above(MIN_RATIO)
    scales_worse = mlp_exp.above(gf2_exp.high)
    reason = (
        f"at n = {estimates['largest_n'].value:.0f} the MLP needs {ratio.text()} "
        f"the samples of elimination; fitted exponents: MLP {mlp_exp.text()}, "
        f"elimination {gf2_exp.text()}"
    )
    if estimates["solved_sizes"].value < 2:
        status = "inconclusive"
        reason += "; fewer than two sizes solved by every seed within the budget"
    elif many_more is False:
        status = "refuted"
    elif many_more and scales_worse:
        status = "holds"
    else:
        status = "inconclusive"
    return Verdict(status, reason, RULE, thresholds={KEY: MIN_RATIO})


def verdict(estimates: dict[str, Estimate]) -> Verdict:
    return rule(estimates)


# ---------------------------------------------------------------- assessment


def convergence_record(records: pd.DataFrame) -> core.Convergence:
    """The MLP's validation accuracy at each checkpoint budget, at the headline k
    and the largest n (the hardest size), clean labels."""
    k0 = headline_k(records)
    biggest = max(int(n) for n in by_n(records, MLP, "samples", k0).columns)
    rows = core.select(
        records, stage=PUBLISHED, arm=MLP, k=k0, n=biggest, label_noise=0.0
    )
    table = core.pivot_seeds(rows, "val_accuracy", "budget")
    return core.convergence(
        MLP,
        [int(b) for b in table.columns],
        table.to_numpy(),
        tolerance=CONVERGENCE_TOLERANCE,
        metric=f"validation accuracy at k = {k0}, n = {biggest}",
        digits=3,
    )


def assess(records: pd.DataFrame, estimates: dict[str, Estimate]) -> core.Assessment:
    k0, ks, budgets = headline_k(records), ks_of(records), budgets_in(records)
    selection = records[records["stage"] == SELECTION]
    lrs = sorted(float(lr) for lr in selection["lr"].dropna().unique())
    checks = sorted(int(c) for c in selection["check"].dropna().unique())
    seeds = selection["seed"].nunique()
    tuning = [
        core.Tuning(
            f"{MLP} (k = {k})",
            {"lr": lrs},
            {"lr": chosen_lr(records, k)},
            f"{seeds} selection seeds (not the published ones) at the largest n swept "
            f"at k = {k}: fewest mean samples to the validation target (training "
            "length: until the validation target, up to the cap)",
        )
        for k in ks
    ]
    tuning += [
        core.Tuning(
            RANSAC,
            {"check": checks},
            {"check": chosen_check(records)},
            f"{seeds} selection seeds at k = {k0} and the noise arm's label noise: "
            "fewest samples among the sizes at which every selection seed recovered "
            "the secret (validation accuracy at the target)",
        ),
        core.Tuning(GF2, {}, {}, "no free choice: exact elimination stops at rank n"),
        core.Tuning(SUBSET, {}, {}, "no free choice: it stops at a unique leader"),
    ]
    robustness = core.robustness_map(
        {"k": ks, "budget": budgets},
        lambda cell: rule(cell_estimates(records, cell["k"], cell["budget"])),
        {"k": k0, "budget": budgets[-1]},
    )
    effort = (
        f"Equal grid sizes: the MLP's learning rate, {len(lrs)} values at each k, and "
        f"the noise-tolerant elimination's check-set size, {len(checks)} values, each "
        f"on the same {seeds} selection seeds; the MLP's width and batch size and the "
        "elimination's pool size are fixed, and exact elimination and the subset "
        "search have nothing to tune."
    )
    return core.Assessment(
        robustness, (convergence_record(records),), tuple(tuning), "budget", effort
    )


# ---------------------------------------------------------------- charts


OUTCOMES = ("reached the target", "did not reach it")
DRAWN = ["method", "n", "seed", "value", "outcome"]  # the per-seed fields drawn
N_TITLE = "input dimension n (log scale)"
AXES = {  # metric -> (y title, number format, log y, factor)
    "samples": ("samples (log scale)", ",.0f", True, 1),
    "wall_seconds": ("seconds (log scale)", ".2g", True, 1),
    "test_accuracy": ("clean test accuracy (%)", ".1f", False, 100),
}


def lines(rows, x: str, x_title: str, y_title: str, fmt: str, log_y: bool, order):
    """Mean line, 95% CI band and per-seed points per `method`, log x."""
    return core.ci_curve(
        core.ci_table(rows, ["method", x], bootstrap),
        x=x,
        x_title=x_title,
        value_title=y_title,
        colour="method",
        colour_sort=order,
        seeds=rows,
        fmt=fmt,
        x_fmt="d" if x == "n" else "g",
        log_x=True,
        log_y=log_y,
        x_values=sorted(rows[x].unique()),
    )


def median_lines(rows, y_title: str, fmt: str, methods) -> alt.LayerChart:
    """Per-seed points and the median per method and n, without a mean or a band: a
    parity hypothesis is either right (100%) or wrong (about 50%), so the seeds'
    accuracies split into two clusters and a mean line would run between them,
    where no seed lies."""
    x_values = sorted(rows["n"].unique())
    x = alt.X(
        "n:Q",
        title=N_TITLE,
        scale=alt.Scale(type="log", nice=False),
        axis=alt.Axis(values=x_values, format="d"),
    )
    y_axis = f"{y_title}, line: median"
    y = alt.Y("value:Q", title=y_axis, scale=core.scale())
    colour = alt.Color(
        "method:N", scale=alt.Scale(domain=methods), title=None, legend=core.LEGEND
    )
    medians = rows.groupby(["method", "n"], as_index=False).agg(
        median=("value", "median"), seeds=("value", "size")
    )
    value_tip = alt.Tooltip("value:Q", title=y_title, format=fmt)
    points = (
        alt.Chart(rows)
        .mark_point(size=18, opacity=0.5)
        .encode(
            x=x,
            y=y,
            color=colour,
            tooltip=core.tooltips("method:N", "n:Q", "seed:Q", value_tip),
        )
    )
    line = (
        alt.Chart(medians)
        .mark_line(point=True)
        .encode(
            x=x,
            y=alt.Y("median:Q", title=y_axis, scale=core.scale()),
            color=colour,
            tooltip=core.tooltips(
                "method:N",
                "n:Q",
                alt.Tooltip("median:Q", title=f"median {y_title}", format=fmt),
                alt.Tooltip("seeds:Q", title="seeds"),
            ),
        )
    )
    return alt.layer(points, line)


def curve_chart(
    records: pd.DataFrame, metric: str, title: str, noisy=False, arms=ARMS
) -> alt.LayerChart:
    """Per-seed points, mean line and 95% CI band per arm at the headline k, against
    n on a log axis; a cross marks each seed that did not reach the target."""
    y_title, y_format, log_y, factor = AXES[metric]
    key = ["seed", "arm", "n"]
    where = {"label_noise": noise_level(records, noisy), "k": headline_k(records)}
    rows = core.select(published(records), **where)
    solved = core.select(rows, metric="solved").set_index(key)["value"]
    rows = core.select(rows, metric=metric)
    rows = rows[rows["arm"].isin(arms)].join(solved.rename("solved"), on=key)
    rows = rows.assign(
        value=rows["value"] * factor,
        method=rows["arm"].map(ARM_LABELS),
        outcome=np.where(rows["solved"] > 0, *OUTCOMES),
    )
    # The page carries only the fields each layer draws.
    seeds = rows[["method", "n", "seed", "value"]]
    methods = [ARM_LABELS[arm] for arm in ARMS]
    if metric == "test_accuracy":
        curves = median_lines(seeds, y_title, y_format, methods)
    else:
        curves = lines(seeds, "n", N_TITLE, y_title, y_format, log_y, methods)
    # A fixed colour domain keeps each method's colour on every chart; nice=False
    # keeps the log x axis to the sizes run (the layers share scales).
    value_tip = alt.Tooltip("value:Q", title=y_title, format=y_format)
    missed = alt.Chart(rows.loc[rows["outcome"] == OUTCOMES[1], DRAWN])
    crosses = missed.mark_point(shape="cross", size=40, opacity=0.8).encode(
        x=alt.X("n:Q", scale=alt.Scale(type="log", nice=False)),
        y=alt.Y("value:Q", scale=core.scale(log=log_y)),
        color=alt.Color("method:N", scale=alt.Scale(domain=methods)),
        tooltip=core.tooltips("method:N", "n:Q", "seed:Q", "outcome:N", value_tip),
    )
    return core.sized(alt.layer(curves, crosses), title, height=core.CHART_HEIGHT)


def by_k_charts(records: pd.DataFrame) -> dict[str, alt.TopLevelMixin]:
    """Samples against n per k (the MLP; elimination pooled over k), the fitted
    exponents against k, and the learning-rate search on the selection seeds."""
    rows = core.select(published(records), metric="samples", label_noise=0.0)
    rows = rows[rows["arm"].isin([MLP, GF2])]
    k_text = "k = " + rows["k"].astype(int).astype(str)
    rows = rows.assign(
        method=np.where(rows["arm"] == MLP, "MLP, " + k_text, ARM_LABELS[GF2])
    )[["method", "n", "seed", "value"]]
    curves = lines(rows, "n", N_TITLE, "samples (log scale)", ",.0f", True, None)
    table, cap = [], budgets_in(records)[-1]
    for k in ks_of(records):
        cell = cell_estimates(records, k, cap)
        for arm, name in ((MLP, "mlp_exponent"), (GF2, "gf2_exponent")):
            fit = cell[name]
            row = {"k": f"k = {k}", "method": ARM_LABELS[arm], "seeds": fit.n}
            table.append(row | {"mean": fit.value, "low": fit.low, "high": fit.high})
    dots = core.ci_dots(
        pd.DataFrame(table),
        category="k",
        value_title="fitted exponent of samples against n",
        colour="method",
        colour_sort=[ARM_LABELS[MLP], ARM_LABELS[GF2]],
        fmt=".2f",
        zero=True,
    )
    tuning = core.select(records, stage=SELECTION, arm=MLP, metric="samples")
    tuning = tuning.assign(method="k = " + tuning["k"].astype(int).astype(str))
    tuning = tuning[["method", "lr", "seed", "value"]]
    lr_title = "learning rate (log scale)"
    searched = lines(tuning, "lr", lr_title, "samples (log scale)", ",.0f", True, None)
    height = {"height": core.CHART_HEIGHT}
    return {
        "samples_by_k": core.sized(
            curves, "Samples to the target at each k (clean labels)", **height
        ),
        "exponent_by_k": core.sized(dots, "Fitted exponent against k"),
        "lr_tuning": core.sized(
            searched, "The learning rate search (selection seeds, largest n)", **height
        ),
    }


def charts(records: pd.DataFrame) -> dict[str, alt.TopLevelMixin]:
    flipped = f"{noise_level(records, True):.0%} flipped labels"
    k0 = headline_k(records)
    clean = f"Samples to reach the target accuracy (k = {k0}, clean labels)"
    result = {"samples_to_solve": curve_chart(records, "samples", clean)}
    if "wall_seconds" in set(records["metric"]):
        wall = f"Wall time to reach the target (k = {k0}, clean labels)"
        result["wall_time"] = curve_chart(records, "wall_seconds", wall, arms=ARMS[:3])
    result |= by_k_charts(records)
    accuracy = f"Test accuracy, trained with {flipped}"
    result["label_noise"] = curve_chart(records, "test_accuracy", accuracy, True)
    noisy = f"Samples to the target with {flipped}"
    result["noisy_samples"] = curve_chart(
        records, "samples", noisy, True, (MLP, SUBSET, RANSAC)
    )
    return result
