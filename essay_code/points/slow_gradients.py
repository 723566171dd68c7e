"""Tweet 3: gradient-based learning needs many, many steps to pick up a pattern.

Claim: "Gradient based learning is quite slow. Takes many, many gradient descent
steps to pick up patterns. Tough for high dimensional prediction."

What the experiment does: the k-sparse parity task. Inputs x are uniform in {+-1}^n,
the label is the product of k secret coordinates (k = 3), and the secret is drawn per
seed. A width-256 ReLU MLP learns it by online SGD on fresh minibatches (hinge loss),
and stops the first time its held-out accuracy reaches 99%. The classical arm is
Gaussian elimination over GF(2): with bits b = (1 - x) / 2 the label is the sum of the
secret bits mod 2, a linear equation, so n independent samples pin the secret down
exactly. Both arms read the same sample stream per seed; the measured quantity is the
number of samples (and the wall time) each needs, for n from 8 to 64, and the
exponent of a power law fitted to that curve. A side arm flips 5% of the training
labels: elimination then returns a wrong secret most of the time, SGD still gets to
99% held-out accuracy on clean labels, and a noise-tolerant classical method (an
exhaustive search over all k-subsets, which must be told k) is shown for fairness.

What it does not show: one architecture, one optimizer setting (calibrated once,
not tuned per n) and one target function, which is the textbook hard case
for gradient methods and the textbook easy case for algebra. Elimination works
because the data is exactly linear over GF(2); most patterns worth learning are not.
Samples to 99% is not the same as gradient steps for other batch sizes, and the wall
times are for this machine's CPU.

References: Barak, Edelman, Goel, Kakade, Malach, Zhang 2022, "Hidden progress in
deep learning: SGD learns parities near the computational limit" (NeurIPS);
Shalev-Shwartz, Shamir, Shammah 2017, "Failures of gradient-based deep learning"
(ICML); Kearns 1998 (statistical-query lower bounds for parities).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
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
ARMS = (MLP, GF2, SUBSET)
ARM_LABELS = {
    MLP: "MLP + online SGD",
    GF2: "Gaussian elimination over GF(2)",
    SUBSET: "search over all k-subsets (told k)",
}

# Verdict thresholds, fixed before any run, not tuned.
MIN_RATIO = 100.0  # the MLP must need at least this many times elimination's samples
# Host syncs in a smoke run: the held-out evaluations that decide when to stop (on
# a 5% growth schedule, so logarithmic in the samples), the CPU-only classical
# arms reading their chunks, and copying each stream's secret in once.
HOST_SYNC_BUDGET = 322

# Separate random streams per (seed, n, k), so arms and conditions can share them.
STREAM_SAMPLES, STREAM_NOISE, STREAM_TEST, STREAM_SECRET = range(4)


@dataclass(frozen=True)
class Config:
    seeds: int = 5  # independent secrets, sample streams and MLP initialisations
    sizes: tuple[int, ...] = (8, 12, 16, 24, 32, 48, 64)  # input dimensions n
    k: int = 3  # secret coordinates the label multiplies
    width: int = 256  # hidden units of the one-hidden-layer ReLU MLP
    lr: float = 0.1  # plain SGD learning rate (calibrated before the published run)
    batch_size: int = 32  # fresh samples per SGD step
    target_accuracy: float = 0.99  # held-out accuracy that counts as solved
    # Samples come in chunks of eval_every (a multiple of batch_size); the held-out
    # set is evaluated once the count has grown by eval_growth since the last look,
    # so the first passing count is known to within 5% (or one chunk) at every n.
    eval_every: int = 256
    eval_growth: float = 0.05
    test_size: int = 1024  # held-out samples per seed and n, always clean labels
    max_samples: int = 300_000  # the MLP's sample budget; past it a seed is unsolved
    subset_max_samples: int = 4096  # sample cap for both classical arms
    label_noise: float = 0.05  # share of training labels flipped in the noise arm


PROFILES = {
    "smoke": {
        "seeds": 2,
        "sizes": (6, 8),
        "width": 64,
        "test_size": 256,
        "max_samples": 20_000,
        "subset_max_samples": 512,
    },
    "full": {
        "seeds": 10,
        "sizes": (8, 12, 16, 20, 24, 30, 40, 50, 64, 80, 100, 128),
        "max_samples": 2_000_000,
    },
}


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

    def __init__(self, seed: int, n: int, cfg: Config, chunk: int, device="cpu"):
        self.n, self.chunk, self.label_noise = n, chunk, cfg.label_noise
        self.device = device
        self.secret = draw_secret(seed, n, cfg.k)
        self.secret_index = torch.as_tensor(self.secret, device=device)  # copied once
        seeds = (stream_seed(seed, n, cfg.k, s) for s in (STREAM_SAMPLES, STREAM_NOISE))
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


def held_out(seed: int, n: int, cfg: Config) -> tuple[torch.Tensor, torch.Tensor]:
    """The seed's held-out set: x [test_size, n], clean labels [test_size]."""
    generator = torch.Generator().manual_seed(stream_seed(seed, n, cfg.k, STREAM_TEST))
    bits = torch.randint(0, 2, (cfg.test_size, n), generator=generator)
    x = 1.0 - 2.0 * bits.float()
    return x, parity_labels(x, draw_secret(seed, n, cfg.k))


def to_bits(values: torch.Tensor) -> np.ndarray:
    """{+-1} -> {0, 1} with -1 -> 1, so a product of signs is a sum of bits mod 2."""
    return (values.numpy(force=True) < 0).astype(np.uint8)  # from any device


def parity_accuracy(subset: np.ndarray, x: torch.Tensor, y: torch.Tensor) -> float:
    """Held-out accuracy of the hypothesis 'y is the parity of these coordinates'."""
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
    """One n -> width ReLU -> 1 MLP per seed (sizes (n, width, 1), nn.Linear's
    default init from torch.manual_seed(seed)), trained all at once by plain SGD.
    The seeds share no weights, so summing their losses gives each its own step."""

    def sgd_step(self, x: torch.Tensor, y: torch.Tensor, lr: float) -> None:
        """One SGD step on the hinge loss, each seed on its own batch x [S, b, n]."""
        per_seed = torch.relu(1.0 - y * self(x).squeeze(-1)).mean(dim=1)  # [S]
        grads = torch.autograd.grad(per_seed.sum(), self.params)
        with torch.no_grad():
            for param, grad in zip(self.params, grads, strict=True):
                param.sub_(lr * grad)

    @torch.no_grad()
    def accuracy(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Share of correct signs per seed: x [S, m, n], y [S, m] -> [S]."""
        return (self(x).squeeze(-1) * y > 0).float().mean(dim=1)


def train_mlps(n: int, cfg: Config, noisy: bool, ctx: RunContext) -> dict:
    """Train every seed at dimension n at once until each reaches the target.

    Returns per-seed arrays [seeds]: samples seen at the first evaluation at or above
    target_accuracy (else the samples seen when the cap stopped it), solved (1/0),
    the held-out accuracy then, and the training wall time then. The clock covers
    drawing samples and SGD steps, not the evaluations; it is the whole batch's
    clock, so on a CPU it overstates what one seed alone would take.
    """
    if cfg.eval_every % cfg.batch_size:
        raise ValueError("eval_every must be a multiple of batch_size")
    seeds, device = list(range(cfg.seeds)), ctx.device
    model = ParityMLP((n, cfg.width, 1), seeds, device)
    streams = [ParityStream(seed, n, cfg, cfg.eval_every, device) for seed in seeds]
    tests = [held_out(seed, n, cfg) for seed in seeds]
    test_x = torch.stack([x for x, _ in tests]).to(device)  # [S, test_size, n]
    test_y = torch.stack([y for _, y in tests]).to(device)  # [S, test_size]

    samples = np.full(len(seeds), float(cfg.max_samples))
    solved, accuracy, wall = (np.zeros(len(seeds)) for _ in range(3))
    seen, clock, evaluated = 0, 0.0, 0
    while seen < cfg.max_samples and not solved.all():
        started = ctx.clock()
        chunks = [stream.next_chunk() for stream in streams]
        x = torch.stack([chunk[0] for chunk in chunks])  # [S, chunk, n], on device
        y = torch.stack([chunk[2 if noisy else 1] for chunk in chunks])
        for start in range(0, cfg.eval_every, cfg.batch_size):
            end = start + cfg.batch_size
            model.sgd_step(x[:, start:end], y[:, start:end], cfg.lr)
        clock += ctx.clock() - started
        seen += cfg.eval_every
        if seen < evaluated * (1 + cfg.eval_growth) and seen < cfg.max_samples:
            continue
        evaluated = seen
        current = model.accuracy(test_x, test_y).cpu().numpy()
        waiting = solved == 0  # includes those that reach the target now
        accuracy[waiting], wall[waiting] = current[waiting], clock
        newly = (current >= cfg.target_accuracy) & waiting
        samples[newly], solved[newly] = seen, 1.0
    samples[solved == 0] = seen
    return {"samples": samples, "solved": solved, "accuracy": accuracy, "wall": wall}


# ---------------------------------------------------------------- the run


def classical_arms(seed: int, n: int, cfg: Config, noisy: bool, device) -> list[tuple]:
    """(arm, samples, solved, held-out accuracy, wall seconds) per classical arm.
    Both run on the CPU (Python ints and numpy), so perf_counter times them. They
    read their stream from `device`, where the MLP's is drawn, so that every arm
    sees the same samples there too (each chunk is read back to the host: a sync
    only these CPU arms make)."""
    test_x, test_y = held_out(seed, n, cfg)
    cap, results = cfg.subset_max_samples, []
    solvers = {
        GF2: lambda stream: eliminate(stream, noisy, cap),
        SUBSET: lambda stream: search_subsets(stream, cfg.k, noisy, cap),
    }
    for arm, solve in solvers.items():
        started = time.perf_counter()
        subset, used, found = solve(ParityStream(seed, n, cfg, cfg.eval_every, device))
        wall = time.perf_counter() - started
        accuracy = 0.5 if subset is None else parity_accuracy(subset, test_x, test_y)
        results.append((arm, used, found, accuracy, wall))
    return results


def run(cfg: Config, ctx: RunContext) -> pd.DataFrame:
    """Records: one row per (seed, arm, n, label_noise, metric).

    Metrics: samples (to the first held-out accuracy >= target, or the cap), solved
    (1 if the target was reached within the cap), heldout_accuracy (on clean labels,
    at that point) and, where ctx.record_timings, wall_seconds.
    """
    if cfg.label_noise <= 0:
        raise ValueError("label_noise must be > 0: it defines the noise side arm")
    records = core.Records()
    # The order of train_mlps' arrays and of classical_arms' tuples.
    metrics = ("samples", "solved", "heldout_accuracy", "wall_seconds")
    metrics = metrics if ctx.record_timings else metrics[:3]
    conditions = [(n, noise) for n in cfg.sizes for noise in (0.0, cfg.label_noise)]
    for n, noise in ctx.progress(conditions, total=len(conditions), desc="n x noise"):
        mlp = train_mlps(n, cfg, noisy=noise > 0, ctx=ctx)
        for seed, values in enumerate(zip(*mlp.values(), strict=True)):
            classical = classical_arms(seed, n, cfg, noise > 0, ctx.device)
            for arm, *row in [(MLP, *values), *classical]:
                row = dict(zip(metrics, row[: len(metrics)], strict=True))
                records.add_many(row, seed=seed, arm=arm, n=n, label_noise=noise)
    return records.frame()


# ---------------------------------------------------------------- summary


def noise_level(records: pd.DataFrame, noisy: bool) -> float:
    """The label_noise of the noisy side arm, or 0.0 for clean labels."""
    return float(records["label_noise"].max()) if noisy else 0.0


def by_n(records: pd.DataFrame, arm: str, metric: str, noisy=False) -> pd.DataFrame:
    """One metric as a table [seed x n] for one arm and condition."""
    noise = noise_level(records, noisy)
    return core.pivot_seeds(records, metric, "n", arm=arm, label_noise=noise)


def solved_sizes(records: pd.DataFrame) -> list[int]:
    """Sizes at which every seed of both the MLP and elimination solved (clean)."""
    mlp, gf2 = (by_n(records, arm, "solved") > 0 for arm in (MLP, GF2))
    both = (mlp & gf2).all()
    return [int(n) for n in both.index[both.to_numpy()]]


def exponent(records: pd.DataFrame, arm: str, sizes: list[int]) -> Estimate:
    """Fitted power-law exponent of clean samples-to-solve over the given sizes."""
    samples = by_n(records, arm, "samples")[sizes].to_numpy()  # [seeds, sizes]
    x = np.broadcast_to(np.asarray(sizes, float), samples.shape)
    fit = core.bootstrap_slope(x, samples)
    return replace(fit, method=f"{fit.method}; n = {', '.join(map(str, sizes))}")


def solved_share(records, arm: str, noisy=False, what="solved") -> Estimate:
    """Mean over seeds of the share (%) of sizes each seed solved."""
    return bootstrap(
        100 * by_n(records, arm, "solved", noisy).mean(axis=1),
        unit="%",
        digits=0,
        label=f"mean over seeds of the share of sizes {what}",
    )


def summarize(records: pd.DataFrame) -> dict[str, Estimate]:
    seeds = records["seed"].nunique()
    sizes = solved_sizes(records)
    # No size where every seed of both arms solved: fall back to every size, where
    # unsolved MLP seeds count at the cap, so ratio and exponent are lower bounds.
    every_size = sorted(int(n) for n in records["n"].unique())
    fit_sizes = sizes if len(sizes) >= 2 else every_size
    largest, biggest = sizes[-1] if sizes else fit_sizes[-1], every_size[-1]

    def at(arm, metric, n, noisy=False):
        return by_n(records, arm, metric, noisy)[n]

    def noisy_accuracy(arm):
        accuracy = at(arm, "heldout_accuracy", biggest, True)
        return bootstrap(100 * accuracy, unit="%", digits=1)

    def samples_at(arm, n, noisy=False):
        return bootstrap(at(arm, "samples", n, noisy), unit="samples", digits=1)

    mlp, gf2 = at(MLP, "samples", largest), at(GF2, "samples", largest)
    slowdown = at(MLP, "samples", biggest, True) / at(MLP, "samples", biggest)
    estimates: dict[str, Estimate] = {
        KEY: bootstrap(mlp / gf2, unit="x", digits=0, label="mean of per-seed ratios"),
        "largest_n": core.exact(
            largest, seeds, label="largest n where every seed of both arms solved"
        ),
        "mlp_samples": bootstrap(mlp, unit="samples", digits=0),
        "gf2_samples": samples_at(GF2, largest),
        "subset_samples": samples_at(SUBSET, largest),
        "mlp_exponent": exponent(records, MLP, fit_sizes),
        "gf2_exponent": exponent(records, GF2, fit_sizes),
        "subset_exponent": exponent(records, SUBSET, fit_sizes),
        "mlp_solved_share": solved_share(records, MLP),
        "biggest_n": core.exact(biggest, seeds, label="largest n in the sweep"),
        "noisy_gf2_accuracy": noisy_accuracy(GF2),
        "noisy_gf2_exact_share": solved_share(records, GF2, True, "solved exactly"),
        "noisy_mlp_accuracy": noisy_accuracy(MLP),
        "noisy_mlp_solved_share": solved_share(records, MLP, True),
        "noisy_mlp_slowdown": bootstrap(
            slowdown, unit="x", label="mean of per-seed ratios noisy / clean"
        ),
        "noisy_subset_samples": samples_at(SUBSET, biggest, True),
        "noisy_subset_accuracy": noisy_accuracy(SUBSET),
    }
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
    f"slower to scale. Mitigated if the MLP needs >= {MIN_RATIO:g}x but its exponent "
    f"CI lies entirely below the top of elimination's: many more samples, but by a "
    f"factor that does not grow with n. Refuted if the whole CI of the ratio is below "
    f"{MIN_RATIO:g}x. Inconclusive where a CI straddles a threshold."
)


def verdict(estimates: dict[str, Estimate]) -> Verdict:
    ratio = estimates[KEY]
    mlp_exp, gf2_exp = estimates["mlp_exponent"], estimates["gf2_exponent"]
    many_more = ratio.above(MIN_RATIO)
    scales_worse = mlp_exp.above(gf2_exp.high)
    reason = (
        f"at n = {estimates['largest_n'].value:.0f} the MLP needs {ratio.text()} "
        f"the samples of elimination; fitted exponents: MLP {mlp_exp.text()}, "
        f"elimination {gf2_exp.text()}"
    )
    # The "fix" that mitigates: a factor that does not grow with n.
    fixed = None if scales_worse is None else not scales_worse
    status = core.failure_status(many_more, fixed)
    return Verdict(status, reason, RULE, thresholds={KEY: MIN_RATIO})


# ---------------------------------------------------------------- charts


OUTCOMES = ("reached the target", "did not reach it")
AXES = {  # metric -> (y title, number format, log y, factor)
    "samples": ("samples (log scale)", ",.0f", True, 1),
    "wall_seconds": ("seconds (log scale)", ".2g", True, 1),
    "heldout_accuracy": ("held-out accuracy (%)", ".1f", False, 100),
}


def curve_chart(
    records: pd.DataFrame, metric: str, title: str, noisy=False, arms=ARMS
) -> alt.LayerChart:
    """Per-seed points, mean line and 95% CI band per arm, against n on a log axis;
    a cross marks each seed that did not reach the target (counted at the cap)."""
    y_title, y_format, log_y, factor = AXES[metric]
    key, where = ["seed", "arm", "n"], {"label_noise": noise_level(records, noisy)}
    solved = core.select(records, metric="solved", **where).set_index(key)["value"]
    rows = core.select(records, metric=metric, **where)
    rows = rows[rows["arm"].isin(arms)].join(solved.rename("solved"), on=key)
    rows = rows.assign(
        value=rows["value"] * factor,
        method=rows["arm"].map(ARM_LABELS),
        outcome=np.where(rows["solved"] > 0, *OUTCOMES),
    )
    methods = [ARM_LABELS[arm] for arm in ARMS]
    curves = core.ci_curve(
        core.ci_table(rows, ["method", "n"], bootstrap),
        x="n",
        x_title="input dimension n (log scale)",
        value_title=y_title,
        colour="method",
        colour_sort=methods,
        seeds=rows,
        fmt=y_format,
        x_fmt="d",
        log_x=True,
        log_y=log_y,
        x_values=sorted(int(n) for n in rows["n"].unique()),
    )
    # A fixed colour domain keeps each method's colour on every chart; nice=False
    # keeps the log x axis to the sizes run (the layers share scales).
    value_tip = alt.Tooltip("value:Q", title=y_title, format=y_format)
    missed = alt.Chart(rows[rows["outcome"] == OUTCOMES[1]])
    crosses = missed.mark_point(shape="cross", size=40, opacity=0.8).encode(
        x=alt.X("n:Q", scale=alt.Scale(type="log", nice=False)),
        y=alt.Y("value:Q", scale=core.scale(log=log_y)),
        color=alt.Color("method:N", scale=alt.Scale(domain=methods)),
        tooltip=core.tooltips("method:N", "n:Q", "seed:Q", "outcome:N", value_tip),
    )
    return core.sized(alt.layer(curves, crosses), title, height=core.CHART_HEIGHT)


def charts(records: pd.DataFrame) -> dict[str, alt.TopLevelMixin]:
    flipped = f"{noise_level(records, True):.0%} flipped training labels"
    clean = "Samples to reach the target held-out accuracy (clean labels)"
    result = {"samples_to_solve": curve_chart(records, "samples", clean)}
    if "wall_seconds" in set(records["metric"]):
        wall = "Wall time to reach the target (clean labels)"
        result["wall_time"] = curve_chart(records, "wall_seconds", wall)
    accuracy = f"Held-out accuracy on clean labels, trained with {flipped}"
    result["label_noise"] = curve_chart(records, "heldout_accuracy", accuracy, True)
    noisy = f"Samples to reach the target with {flipped}"
    result["noisy_samples"] = curve_chart(
        records, "samples", noisy, True, (MLP, SUBSET)
    )
    return result
