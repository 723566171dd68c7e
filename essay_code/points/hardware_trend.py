"""Tweet 24: a version of Moore's law still holds for GPU performance.

Claim: "Plus, a version of Moore's law still holds for GPU performance (for how long
though? can TPUs and custom hardware save us?)"

What the experiment does: it fits an exponential trend to the vendor peak throughput
of NVIDIA datacenter GPUs, from the Tesla K40 (2013) to the B200 (2024), stored with a
source for every figure in essay_code/data/gpu_peaks.csv. Two series: plain FP32
(vector units) and low precision (dense FP16/BF16 on tensor cores where the GPU has
them, plain FP16 or FP32 where it has not). The slope of log2(peak) against the
announcement year gives a doubling time; its 95% CI is a BCa bootstrap over GPUs.

Conventions, fixed here and stated on the page: one GPU is one device as CUDA
presents it (the K80 board carries two, so its board figure is halved; a B200 is two
dies but one device); the headline fits every GPU in the table, flagships and the
lower-power parts alike. "Holds" is the optimistic reading of the tweet: the FP32
doubling time is Moore-like or faster (its whole CI at or below 3 years); "refuted"
means growth has slowed beyond that. The robustness map evaluates the same rule per
board against per GPU, FP32 against low precision, and all parts against flagships.

Alongside, a live measurement: the sustained throughput of a square matmul on the
machine that ran the experiment (FP32 on a CPU; FP32 and BF16 on a GPU that runs
BF16 natively), with its device name, and the price of low precision: how many bits
of a matmul's result each precision gets right.

What it does not show: peaks are datasheet numbers, not what training reaches; one
vendor's datacenter parts are not the market (no price, no power, no TPUs, no AMD);
the low-precision series mixes formats (FP16, BF16) and hardware (tensor cores
arrived in 2017), which is exactly why it grows faster. Announcement dates, not
shipping dates. The live CPU point is a different kind of machine and sits far below
the GPU line.

References: Hobbhahn & Besiroglu 2022, "Trends in GPU price-performance" (Epoch):
FLOP/s per dollar doubles about every 2.5 years; NVIDIA datasheets and whitepapers
(per row in the CSV); Efron 1987 for the BCa interval.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import altair as alt
import numpy as np
import pandas as pd
import torch
from scipy import stats

from essay_code import core
from essay_code.core import Estimate, RunContext, Verdict

TITLE = "GPU throughput keeps doubling"
TWEETS = (24,)
KEY = "fp32_doubling_years"
# The tweet's claim is good news for deep learning: "holds" says it succeeds, and
# "refuted" is the failure the training guard and tweet 19's answer look for.
OPTIMISTIC_CLAIM = True

TABLE_PATH = Path(__file__).parents[1] / "data" / "gpu_peaks.csv"
# The table is data outside this file, so the run cache (which hashes the point's
# source) would not see an edit to it. Pinning its hash here ties the two together:
# editing the table fails loudly until this line changes, which re-runs the point.
TABLE_SHA256 = "c4e9c3134f643888ebf54876d262a79092f028562f86f40ee7b89c33efa58104"

# The verdict threshold, fixed before any run, not tuned: a doubling time at or
# below this is "Moore-like or faster". It brackets Moore's 2 years and Epoch's 2.5
# years for price-performance with room for a slower "version" of the law.
MOORE_MAX_YEARS = 3.0

# Host syncs in a smoke run: reading back each seed's and precision's
# correct-bits product and score; the timed loop reads only the clock.
HOST_SYNC_BUDGET = 8

DATASHEET, LIVE = "datasheet", "live"
FP32, LOWP, BF16 = "fp32", "lowp", "bf16"
FLAGSHIP = "flagship"
SERIES_LABELS = {
    FP32: "FP32 peak per GPU (datasheet)",
    LOWP: "FP16/BF16 peak per GPU, dense (datasheet)",
}
# A mid-tone red, distinct from both series and readable on light and dark pages.
LIVE_COLOUR = "#e45756"
LIVE_LABELS = {FP32: "this machine, FP32 matmul", BF16: "this machine, BF16 matmul"}

# The robustness map: three conventions the doubling time depends on. The first
# value of each is the headline's, fixed here: a GPU is one CUDA device (the claim
# is about a GPU, and a K80 board is two; a B200's two dies are one device); the
# headline fits every GPU in the table.
PER_GPU, PER_BOARD, PER_DIE = "per GPU", "per board", "per die"
# The column of the table that divides a board's figure, per unit.
DIVISOR = {PER_GPU: "gpus_per_board", PER_BOARD: None, PER_DIE: "dies"}
PRECISION_AXIS = {FP32: "FP32", LOWP: "low precision"}
ALL_PARTS, FLAGSHIPS = "all datacenter", "flagships"
AXES = {
    "unit": [PER_GPU, PER_BOARD, PER_DIE],
    "precision": list(PRECISION_AXIS.values()),
    "parts": [ALL_PARTS, FLAGSHIPS],
}
HEADLINE = {name: values[0] for name, values in AXES.items()}


@dataclass(frozen=True)
class Config:
    seeds: int = 5  # timing repeats of the live matmul, each with its own inputs
    matmul_size: int = 1024  # n of the n x n live matmul on a CPU (2 n^3 FLOP each)
    # On a GPU a small matmul measures launch overhead, not throughput.
    gpu_matmul_size: int = 4096
    min_seconds: float = 1.0  # each repeat runs matmuls for at least this long
    error_size: int = 256  # n of the matmul whose error is checked per precision


# The live throughput is a timing: recorded only where ctx.record_timings (not in
# the smoke profile, whose records are compared run to run).
PROFILES = {
    "smoke": {"seeds": 2, "error_size": 64},
    "full": {"seeds": 10, "matmul_size": 2048, "min_seconds": 2.0},
}


# ---------------------------------------------------------------- the table


def decimal_year(date: str) -> float:
    """'2020-05-14' -> 2020.37 (day of year / days in year)."""
    day = dt.date.fromisoformat(date)
    days = (dt.date(day.year + 1, 1, 1) - dt.date(day.year, 1, 1)).days
    return day.year + (day.timetuple().tm_yday - 1) / days


def load_table(path: Path = TABLE_PATH, check_hash: bool = True) -> pd.DataFrame:
    """The GPU table, oldest first, with a decimal `year` column."""
    if check_hash:
        digest = hashlib.sha256(path.read_bytes().replace(b"\r\n", b"\n")).hexdigest()
        if digest != TABLE_SHA256:
            raise ValueError(
                f"{path} changed (sha256 {digest}); update TABLE_SHA256 in "
                f"{Path(__file__).name} so the cache re-runs this point"
            )
    table = pd.read_csv(path)
    table["year"] = table["announced"].map(decimal_year)
    return table.sort_values("year").reset_index(drop=True)


def table_records(table: pd.DataFrame) -> pd.DataFrame:
    """One record per (GPU, series): the datasheet peak per board in TFLOP/s, as the
    vendor quotes it, with the board's GPU and die counts and tier; seed 0.

    The figures do not depend on a seed; seed 0 marks them as the one observation.
    """
    records = core.Records(seed=0, arm=DATASHEET)
    for row in table.itertuples():
        for series in (FP32, LOWP):
            records.add(
                "peak_tflops",
                getattr(row, f"{series}_tflops"),
                precision=series,
                gpu=row.gpu,
                year=row.year,
                announced=row.announced,
                kind="FP32" if series == FP32 else row.lowp_kind,
                gpus_per_board=float(row.gpus_per_board),
                dies=float(row.dies),
                tier=row.tier,
                source=row.source,
            )
    return records.frame()


DATASHEET_COLUMNS = ("announced", "kind", "tier", "source")


# ---------------------------------------------------------------- the trend fit


def log2_fit(years: np.ndarray, tflops: np.ndarray) -> tuple[float, float]:
    """Least-squares fit log2(tflops) = slope * year + intercept."""
    slope, intercept = np.polyfit(years, np.log2(tflops), 1)
    return float(slope), float(intercept)


def doubling_years(years: np.ndarray, tflops: np.ndarray) -> float:
    """Years per doubling of the fitted exponential: 1 / slope of log2."""
    return 1.0 / log2_fit(years, tflops)[0]


def series(
    records: pd.DataFrame,
    precision: str,
    unit: str = PER_GPU,
    parts: str = ALL_PARTS,
) -> tuple[np.ndarray, np.ndarray]:
    """Years [G] and peak TFLOP/s [G] of one datasheet series under a convention
    (per GPU, per board or per die; every GPU or the flagships), oldest first."""
    rows = core.select(records, arm=DATASHEET, precision=precision)
    if parts == FLAGSHIPS:
        rows = rows[rows["tier"] == FLAGSHIP]
    rows = rows.sort_values("year")
    values = rows["value"].to_numpy(float)
    if DIVISOR[unit]:
        values = values / rows[DIVISOR[unit]].to_numpy(float)
    return rows["year"].to_numpy(float), values


def resampled_rows(count: int, resamples: int = core.BOOTSTRAP_RESAMPLES):
    """Bootstrap row indices [R', count]: GPUs drawn with replacement, with the
    core's fixed bootstrap seed, so the same table gives the same interval. Only
    resamples with two or more distinct GPUs are kept (one GPU has no slope), so
    R' <= R."""
    rng = np.random.default_rng(core.BOOTSTRAP_SEED)
    rows = rng.integers(0, count, size=(resamples, count))
    return rows[~(rows == rows[:, :1]).all(axis=1)]


def slopes_of(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares slope and intercept along the last axis: x, y [..., n]."""
    x_mean, y_mean = x.mean(axis=-1, keepdims=True), y.mean(axis=-1, keepdims=True)
    slope = ((x - x_mean) * (y - y_mean)).sum(axis=-1) / ((x - x_mean) ** 2).sum(
        axis=-1
    )
    return slope, y_mean[..., 0] - slope * x_mean[..., 0]


def resampled_fits(
    years: np.ndarray, tflops: np.ndarray, rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Slope and intercept of the log2 fit for every resample: rows [R, count] ->
    slopes [R], intercepts [R]. Rows with a single year give no slope (NaN)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return slopes_of(years[rows], np.log2(tflops)[rows])


def jackknife_rows(count: int) -> np.ndarray:
    """Leave-one-GPU-out row indices [count, count - 1]."""
    return np.array([[j for j in range(count) if j != i] for i in range(count)])


def bca_interval(
    point: float, replicates: np.ndarray, jackknife: np.ndarray
) -> tuple[float, float, str]:
    """Efron's bias-corrected and accelerated bootstrap interval (95%).

    replicates: the statistic on each bootstrap resample; jackknife: on each
    leave-one-out sample (for the acceleration). Where BCa is undefined (no spread,
    or every replicate on one side of the point) the percentile interval stands in,
    and the returned kind says which was used."""
    tail = (1 - core.CONFIDENCE) / 2
    if np.allclose(replicates, point, rtol=1e-12, atol=0):
        return point, point, "BCa (no spread: every resample gives the same fit)"
    below = np.mean(replicates < point) + 0.5 * np.mean(replicates == point)
    deviations = jackknife.mean() - jackknife
    spread = (deviations**2).sum()
    if not 0 < below < 1 or spread == 0:
        low, high = np.quantile(replicates, [tail, 1 - tail])
        return float(low), float(high), "percentile (BCa undefined here)"
    z0 = stats.norm.ppf(below)
    accel = (deviations**3).sum() / (6 * spread**1.5)
    z = stats.norm.ppf([tail, 1 - tail])
    levels = stats.norm.cdf(z0 + (z0 + z) / (1 - accel * (z0 + z)))
    low, high = np.quantile(replicates, levels)
    return float(low), float(high), "BCa"


def trend_estimates(
    records: pd.DataFrame, unit: str = PER_GPU, parts: str = ALL_PARTS
) -> dict[str, Estimate]:
    """Doubling times of both series under one convention, and their ratio. One set
    of resamples serves both series (each resample draws whole GPUs, both of their
    figures), so the ratio is paired. The interval of a doubling time is the BCa
    interval of its slope, inverted (1 / slope is monotone where the slope is
    positive)."""
    years, fp32 = series(records, FP32, unit, parts)
    _years, lowp = series(records, LOWP, unit, parts)
    count = len(years)
    rows, jack = resampled_rows(count), jackknife_rows(count)
    slope = {}
    for name, tflops in ((FP32, fp32), (LOWP, lowp)):
        point = log2_fit(years, tflops)[0]
        replicates = resampled_fits(years, tflops, rows)[0]
        jackknife = slopes_of(years[jack], np.log2(tflops)[jack])[0]
        slope[name] = (point, replicates, jackknife)
    method = (
        f"least-squares fit of log2(peak {unit}) on announcement year over {count} "
        f"GPUs ({parts}), doubling time = 1/slope; 95% "
    )
    resampling = (
        f" over GPUs ({len(rows)} resamples of whole GPUs with two or more distinct "
        f"GPUs, seed {core.BOOTSTRAP_SEED})"
    )
    estimates = {}
    for name, label in ((FP32, "FP32 peak"), (LOWP, "low-precision peak")):
        point, replicates, jackknife = slope[name]
        low, high, kind = bca_interval(point, replicates, jackknife)
        if low <= 0:
            raise ValueError(
                f"{label} {unit} ({parts}): the slope's interval reaches zero, so the "
                "doubling time has no upper bound"
            )
        estimates[name] = Estimate(
            1 / point,
            min(1 / high, 1 / point),
            max(1 / low, 1 / point),
            f"{label}: {method}{kind} interval of the slope, inverted,{resampling}",
            count,
            "years",
            2,
        )
    fp32_point, fp32_reps, fp32_jack = slope[FP32]
    lowp_point, lowp_reps, lowp_jack = slope[LOWP]
    ratio = lowp_point / fp32_point
    low, high, kind = bca_interval(ratio, lowp_reps / fp32_reps, lowp_jack / fp32_jack)
    estimates["ratio"] = Estimate(
        ratio,
        min(low, ratio),
        max(high, ratio),
        f"FP32 doubling time / low-precision doubling time, paired: {method}{kind}"
        f"{resampling}",
        count,
        "x",
        2,
    )
    return estimates


def estimate_name(precision: str, unit: str = PER_GPU, parts: str = ALL_PARTS) -> str:
    """The estimate of one robustness cell: e.g. 'lowp_doubling_years_per_board'."""
    suffix = ("" if unit == PER_GPU else "_" + unit.replace(" ", "_")) + (
        "_flagships" if parts == FLAGSHIPS else ""
    )
    return f"{precision}_doubling_years{suffix}"


def doubling_estimates(records: pd.DataFrame) -> dict[str, Estimate]:
    """Every cell's doubling time, the headline's ratio, and the table's extent."""
    estimates = {}
    for unit, parts in itertools.product(AXES["unit"], AXES["parts"]):
        cell = trend_estimates(records, unit, parts)
        for precision in (FP32, LOWP):
            estimates[estimate_name(precision, unit, parts)] = cell[precision]
        if (unit, parts) == (PER_GPU, ALL_PARTS):
            estimates["doubling_ratio"] = cell["ratio"]
    rows = core.select(records, arm=DATASHEET, precision=FP32)
    flagships = int((rows["tier"] == FLAGSHIP).sum())
    estimates["gpus"] = core.exact(len(rows), len(rows), label="GPUs in the table")
    estimates["flagship_gpus"] = core.exact(
        flagships, len(rows), label="flagship GPUs in the table"
    )
    estimates["years_spanned"] = core.exact(
        rows["year"].max() - rows["year"].min(),
        len(rows),
        label="years from the first announcement in the table to the last",
        unit="years",
        digits=1,
    )
    return estimates


# ---------------------------------------------------------------- live measurement


def seeded_pair(seed: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Two float64 matrices [size, size], N(0, 1), drawn on the CPU from the seed."""
    generator = torch.Generator().manual_seed(seed)
    shape = (size, size)
    return (
        torch.randn(shape, generator=generator, dtype=torch.float64),
        torch.randn(shape, generator=generator, dtype=torch.float64),
    )


def matmul_gflops(
    seed: int, size: int, dtype: torch.dtype, ctx: RunContext, min_seconds: float
) -> float:
    """Sustained GFLOP/s of size x size matmuls (2 size^3 FLOP each) in `dtype` on
    ctx.device, timed over at least min_seconds after one warm-up product."""
    a, b = (m.to(device=ctx.device, dtype=dtype) for m in seeded_pair(seed, size))
    out = torch.empty_like(a)
    torch.matmul(a, b, out=out)  # warm-up: allocations, kernel choice, clocks
    count, start = 0, ctx.clock()
    while True:
        torch.matmul(a, b, out=out)
        count += 1
        if count % 4 == 0:  # read the clock (a GPU sync) rarely, so kernels overlap
            elapsed = ctx.clock() - start
            if elapsed >= min_seconds:
                return 2.0 * size**3 * count / elapsed / 1e9


def correct_bits(seed: int, size: int, dtype: torch.dtype, device: torch.device):
    """-log2 of the relative Frobenius error of a matmul in `dtype` against float64:
    about how many leading bits of the result are right."""
    a, b = seeded_pair(seed, size)
    exact = a @ b  # [size, size], float64 on the CPU
    # to the host before float64 (exact either way): no float64 on the device
    product = (a.to(device, dtype) @ b.to(device, dtype)).cpu().double()
    error = torch.linalg.norm(product - exact) / torch.linalg.norm(exact)
    return float(-torch.log2(error))


def live_precisions(device: torch.device) -> tuple[str, ...]:
    """FP32 everywhere; BF16 throughput only on a GPU that runs BF16 natively. An
    older GPU emulates it, so its time would measure the emulation; a CPU keeps to
    FP32 as it always has (its records stay the same)."""
    if device.type != "cuda":
        return (FP32,)
    with torch.cuda.device(device):
        native = torch.cuda.is_bf16_supported(including_emulation=False)
    return (FP32, BF16) if native else (FP32,)


DTYPES = {FP32: torch.float32, BF16: torch.bfloat16}


def run(cfg: Config, ctx: RunContext) -> pd.DataFrame:
    """The datasheet rows, then per seed the correct bits of each precision and,
    where ctx.record_timings, the live matmul throughput (GFLOP/s)."""
    device = ctx.device
    size = cfg.gpu_matmul_size if device.type == "cuda" else cfg.matmul_size
    year = decimal_year(dt.datetime.now(dt.UTC).date().isoformat())
    live = core.Records()
    for seed in ctx.progress(range(cfg.seeds), total=cfg.seeds, desc="live matmul"):
        columns = dict(seed=seed, arm=LIVE, gpu=ctx.device_name())
        for precision in (FP32, BF16):
            bits = correct_bits(seed, cfg.error_size, DTYPES[precision], device)
            live.add("correct_bits", bits, **columns, precision=precision, year=np.nan)
        if not ctx.record_timings:
            continue
        for precision in live_precisions(device):
            gflops = matmul_gflops(seed, size, DTYPES[precision], ctx, cfg.min_seconds)
            live.add("live_gflops", gflops, **columns, precision=precision, year=year)
    datasheet = table_records(load_table())
    live_rows = live.frame().assign(
        **dict.fromkeys(DATASHEET_COLUMNS, ""), gpus_per_board=np.nan, dies=np.nan
    )[datasheet.columns]
    return pd.concat([datasheet, live_rows], ignore_index=True)


# ---------------------------------------------------------------- summary, verdict


def live_values(records: pd.DataFrame, metric: str, precision: str) -> np.ndarray:
    """Per-seed values of one live metric and precision, by seed."""
    return core.per_seed(records, metric, arm=LIVE, precision=precision).to_numpy()


def summarize(records: pd.DataFrame) -> dict[str, Estimate]:
    estimates = doubling_estimates(records)
    for precision in (FP32, BF16):
        estimates[f"{precision}_correct_bits"] = core.bootstrap(
            live_values(records, "correct_bits", precision),
            unit="bits",
            digits=1,
            label=f"mean over seeds of -log2(relative error) of a {precision} matmul",
        )
        gflops = live_values(records, "live_gflops", precision)
        if gflops.size:
            estimates[f"live_{precision}_gflops"] = core.bootstrap(
                gflops,
                unit="GFLOP/s",
                digits=1,
                label=f"mean over timing repeats of {precision} matmul GFLOP/s",
            )
    return estimates


def cell_label(precision: str, unit: str, parts: str) -> str:
    return f"{PRECISION_AXIS[precision]} peak {unit}, {parts}"


NAMES = {
    **{
        estimate_name(p, u, c): f"doubling time, {cell_label(p, u, c)}"
        for p in (FP32, LOWP)
        for u in AXES["unit"]
        for c in AXES["parts"]
    },
    KEY: "FP32 doubling time per GPU, all datacenter GPUs (headline)",
    "doubling_ratio": "FP32 doubling time / low-precision doubling time",
    "gpus": "GPUs in the table",
    "flagship_gpus": "flagship GPUs in the table",
    "years_spanned": "years from the first GPU in the table to the last",
    "fp32_correct_bits": "correct bits of an FP32 matmul",
    "bf16_correct_bits": "correct bits of a BF16 matmul",
    "live_fp32_gflops": "this machine's FP32 matmul throughput",
    "live_bf16_gflops": "this machine's BF16 matmul throughput",
}


RULE = (
    f"'Holds' is the optimistic claim: GPU throughput keeps doubling at a Moore-like "
    f"pace or faster. It holds if the whole 95% CI of the FP32 doubling time (per "
    f"GPU, every datacenter GPU in the table) lies at or below {MOORE_MAX_YEARS:g} "
    f"years; refuted (growth has slowed beyond a Moore-like pace) if the whole CI "
    f"lies above {MOORE_MAX_YEARS:g} years; inconclusive if the CI straddles "
    f"{MOORE_MAX_YEARS:g} years. A doubling faster than Moore's two years counts for "
    f"the claim, not against it. The low-precision doubling time is reported beside "
    f"it, and the robustness map applies the same rule to it, but it does not decide "
    f"the headline: it mixes a change of number format with the progress of the "
    f"hardware."
)


def rule(doubling: Estimate, label: str) -> tuple[str, str]:
    """The verdict rule on one doubling time: (status, reason)."""
    at_most = doubling.below(MOORE_MAX_YEARS)
    if at_most is True:
        status, why = "holds", f"its whole CI is at or below {MOORE_MAX_YEARS:g} years"
    elif at_most is False:
        status, why = "refuted", f"its whole CI is above {MOORE_MAX_YEARS:g} years"
    else:
        status, why = "inconclusive", f"its CI straddles {MOORE_MAX_YEARS:g} years"
    return (
        status,
        f"{label} doubles every {doubling.text()} over {doubling.n} GPUs: {why}",
    )


def verdict(estimates: dict[str, Estimate]) -> Verdict:
    status, reason = rule(estimates[KEY], "FP32 peak per GPU")
    lowp = estimates["lowp_doubling_years"]
    reason += f"; the low-precision tensor peak doubles every {lowp.text()}"
    # One threshold per estimate name: the key's, the rule's only one.
    return Verdict(status, reason, RULE, thresholds={KEY: MOORE_MAX_YEARS})


def assess(records: pd.DataFrame, estimates: dict[str, Estimate]) -> core.Assessment:
    """No trained arm: no convergence record. The fit's one free choice is the
    convention, so the map runs the rule at every convention (the headline first)."""
    precision_of = {label: key for key, label in PRECISION_AXIS.items()}

    def verdict_at(cell: dict) -> Verdict:
        precision = precision_of[cell["precision"]]
        doubling = estimates[estimate_name(precision, cell["unit"], cell["parts"])]
        status, reason = rule(
            doubling, cell_label(precision, cell["unit"], cell["parts"])
        )
        return Verdict(status, reason, RULE, thresholds={KEY: MOORE_MAX_YEARS})

    robustness = core.robustness_map(AXES, verdict_at, HEADLINE)
    tuning = core.Tuning(
        "least-squares trend",
        AXES,
        HEADLINE,
        "not selected on any data: the fit's only free choices are its conventions, "
        "fixed here from the claim (a GPU is one device; FP32 is the rate every GPU "
        "runs in full; every GPU in the table), and every alternative is a cell of "
        "the robustness map",
    )
    effort = (
        "Nothing is tuned: the fit has no free parameter beyond its conventions, "
        "each fixed from the claim's wording, and the map reports the verdict under "
        "every one of them."
    )
    return core.Assessment(robustness, (), (tuning,), None, effort)


# ---------------------------------------------------------------- charts


def headline_peaks(records: pd.DataFrame) -> pd.DataFrame:
    """The datasheet rows under the headline convention: one value per GPU."""
    peaks = core.select(records, arm=DATASHEET).copy()
    peaks["board_value"] = peaks["value"]
    peaks["value"] = peaks["value"] / peaks["gpus_per_board"]
    peaks["series"] = peaks["precision"].map(SERIES_LABELS)
    return peaks


def trend_table(records: pd.DataFrame, pad_years: float = 1.0) -> pd.DataFrame:
    """Fitted line (headline convention) and its pointwise 95% percentile bootstrap
    band per series, on a year grid."""
    frames = []
    for precision, label in SERIES_LABELS.items():
        years, tflops = series(records, precision)
        grid = np.linspace(years.min(), years.max() + pad_years, 60)  # [Y]
        slope, intercept = log2_fit(years, tflops)
        slopes, intercepts = resampled_fits(years, tflops, resampled_rows(len(years)))
        curves = slopes[:, None] * grid[None, :] + intercepts[:, None]  # [R, Y]
        tail = (1 - core.CONFIDENCE) / 2 * 100
        low, high = np.percentile(curves, [tail, 100 - tail], axis=0)  # [Y] each
        frames.append(
            pd.DataFrame(
                {
                    "series": label,
                    "year": grid,
                    "fit": 2 ** (slope * grid + intercept),
                    "low": 2**low,
                    "high": 2**high,
                    "doubling_years": 1 / slope,
                }
            )
        )
    table = pd.concat(frames, ignore_index=True)
    # What a chart can show (a lighter page): years to a day or so, the rest to
    # four significant digits.
    table["year"] = table["year"].round(3)
    for column in ("fit", "low", "high", "doubling_years"):
        table[column] = table[column].map(lambda v: float(f"{v:.4g}"))
    return table


def year_axis() -> alt.X:
    return alt.X(
        "year:Q",
        title="announcement year",
        scale=alt.Scale(zero=False, nice=False),
        axis=alt.Axis(format="d", tickMinStep=1),
    )


def throughput_chart(records: pd.DataFrame) -> alt.LayerChart:
    """Datasheet peaks per GPU, fitted trends with bootstrap bands, and the live
    point(s).

    A special chart (points of one GPU each, a fitted exponential, the live mean on
    the same axes), so it is drawn by hand."""
    x = year_axis()
    y_scale = alt.Scale(type="log")
    y_title = "peak or measured throughput per GPU (TFLOP/s, log scale)"
    palette = alt.Scale(domain=list(SERIES_LABELS.values()))
    colour = alt.Color(
        "series:N",
        scale=palette,
        title=None,
        legend=alt.Legend(orient="bottom", columns=1, symbolOpacity=1, labelLimit=0),
    )
    trend = alt.Chart(trend_table(records)).encode(
        x=x,
        color=colour,
        tooltip=core.tooltips(
            "series:N",
            alt.Tooltip("year:Q", format=".1f"),
            alt.Tooltip("fit:Q", title="fitted TFLOP/s", format=",.1f"),
            alt.Tooltip("low:Q", title="95% band low", format=",.1f"),
            alt.Tooltip("high:Q", title="95% band high", format=",.1f"),
            alt.Tooltip("doubling_years:Q", title="doubling (years)", format=".2f"),
        ),
    )
    band = trend.mark_area(opacity=0.15).encode(
        y=alt.Y("low:Q", scale=y_scale), y2="high:Q"
    )
    line = trend.mark_line(strokeDash=[6, 3]).encode(
        y=alt.Y("fit:Q", scale=y_scale, title=y_title)
    )
    points = (
        alt.Chart(
            headline_peaks(records)[
                ["gpu", "series", "announced", "year", "value", "board_value"]
                + ["gpus_per_board", "tier", "source"]
            ]
        )
        .mark_point(filled=True, size=70)
        .encode(
            x=x,
            y=alt.Y("value:Q", scale=y_scale),
            color=colour,
            tooltip=core.tooltips(
                "gpu:N",
                "series:N",
                alt.Tooltip("announced:N", title="announced"),
                alt.Tooltip("value:Q", title="peak TFLOP/s per GPU", format=",.2f"),
                alt.Tooltip("board_value:Q", title="per board", format=",.2f"),
                alt.Tooltip("gpus_per_board:Q", title="GPUs per board"),
                "tier:N",
                "source:N",
            ),
        )
    )
    layers = [band, line, points]
    live = core.select(records, arm=LIVE, metric="live_gflops")
    if len(live):
        table = core.ci_table(live, ["gpu", "precision", "year"], core.bootstrap)
        for column in ("mean", "low", "high"):
            table[column] /= 1000  # GFLOP/s -> TFLOP/s
        table["measurement"] = table["precision"].map(LIVE_LABELS)
        live_kinds = set(table["precision"])
        shape = alt.Shape(
            "measurement:N",
            title=None,
            scale=alt.Scale(
                domain=[LIVE_LABELS[p] for p in LIVE_LABELS if p in live_kinds],
                range=["diamond", "square"][: len(live_kinds)],
            ),
            legend=alt.Legend(orient="bottom"),
        )
        base = alt.Chart(table).encode(
            x=x,
            tooltip=core.tooltips(
                alt.Tooltip("gpu:N", title="device"),
                "measurement:N",
                alt.Tooltip("mean:Q", title="mean TFLOP/s", format=",.3f"),
                alt.Tooltip("low:Q", title="95% CI low", format=",.3f"),
                alt.Tooltip("high:Q", title="95% CI high", format=",.3f"),
                alt.Tooltip("seeds:Q", title="timing repeats"),
            ),
        )
        layers += [
            base.mark_rule(color=LIVE_COLOUR, strokeWidth=2).encode(
                y=alt.Y("low:Q", scale=y_scale), y2="high:Q"
            ),
            base.mark_point(size=110, filled=True, color=LIVE_COLOUR).encode(
                y=alt.Y("mean:Q", scale=y_scale), shape=shape
            ),
        ]
    return core.sized(
        alt.layer(*layers),
        "NVIDIA datacenter GPU peaks by year, and the machine that ran this",
        height=320,
    )


def convention_table(records: pd.DataFrame) -> pd.DataFrame:
    """One row per robustness cell: its doubling time, 95% CI and verdict."""
    estimates = doubling_estimates(records)
    rows = []
    for unit, precision, parts in itertools.product(
        AXES["unit"], (FP32, LOWP), AXES["parts"]
    ):
        est = estimates[estimate_name(precision, unit, parts)]
        headline = (unit, parts) == (PER_GPU, ALL_PARTS)
        rows.append(
            {
                "convention": f"{unit}, {parts}" + (" (headline)" * headline),
                "precision": PRECISION_AXIS[precision],
                "mean": est.value,
                "low": est.low,
                "high": est.high,
                "gpus": est.n,
                "verdict": rule(est, "")[0],
            }
        )
    return pd.DataFrame(rows)


def convention_chart(records: pd.DataFrame) -> alt.LayerChart:
    """The doubling time with its 95% CI under every convention of the map, against
    the rule's line: the verdict of each cell at a glance."""
    table = convention_table(records)
    order = list(dict.fromkeys(table["convention"]))
    precisions = list(PRECISION_AXIS.values())
    y = alt.Y("convention:N", title=None, sort=order, axis=alt.Axis(labelLimit=0))
    low = min(table["low"].min(), 1.0)
    high = max(table["high"].max(), MOORE_MAX_YEARS)
    x_scale = alt.Scale(type="log", domain=[0.8 * low, 1.25 * high], nice=False)
    colour = alt.Color("precision:N", sort=precisions, title=None, legend=core.LEGEND)
    offset = alt.YOffset("precision:N", sort=precisions)
    tips = core.tooltips(
        "convention:N",
        "precision:N",
        alt.Tooltip("mean:Q", title="doubling time (years)", format=".2f"),
        alt.Tooltip("low:Q", title="95% CI low", format=".2f"),
        alt.Tooltip("high:Q", title="95% CI high", format=".2f"),
        alt.Tooltip("gpus:Q", title="GPUs fitted"),
        alt.Tooltip("verdict:N", title="rule says"),
    )
    base = alt.Chart(table).encode(y=y, yOffset=offset, color=colour, tooltip=tips)
    bars = base.mark_errorbar(ticks=True).encode(
        x=alt.X(
            "low:Q",
            title="years per doubling of peak throughput (log scale)",
            scale=x_scale,
        ),
        x2="high:Q",
    )
    dots = base.mark_point(filled=True, size=70, opacity=1).encode(
        x=alt.X("mean:Q", scale=x_scale)
    )
    line = core.threshold_rules(
        {f"holds at or below {MOORE_MAX_YEARS:g} years": MOORE_MAX_YEARS}, fmt=".1f"
    )
    return core.sized(
        alt.layer(bars, dots, line),
        "Doubling time under each convention, against the 3-year line",
        height=300,
    )


def source_label(sources: str) -> str:
    """'https://www.example.org/a ; http://b.net/c' -> 'example.org, b.net'."""
    hosts = [urlparse(url.strip()).netloc for url in sources.split(";")]
    return ", ".join(host.removeprefix("www.") for host in hosts if host)


def board_note(gpus: float, dies: float) -> str:
    """' (2 GPUs)' for a multi-GPU board, ' (2 dies)' for a multi-die GPU."""
    if gpus > 1:
        return f" ({gpus:g} GPUs)"
    return f" ({dies:g} dies)" if dies > 1 else ""


def gpu_table_chart(records: pd.DataFrame) -> alt.LayerChart:
    """The sourced table itself, one row per GPU (newest at the bottom): its two
    datasheet peaks per board as dots on a log axis, the numbers beside them, its
    sources and their hosts in the tooltip (the site refuses links in a chart)."""
    rows = core.select(records, arm=DATASHEET).copy()
    rows["row"] = [
        f"{gpu}{board_note(per, dies)}, {date[:7]}"
        for gpu, date, per, dies in zip(
            rows["gpu"],
            rows["announced"],
            rows["gpus_per_board"],
            rows["dies"],
            strict=True,
        )
    ]
    rows["series"] = rows["precision"].map(
        {FP32: "FP32 peak per board", LOWP: "FP16/BF16 peak per board, dense"}
    )
    rows["hosts"] = rows["source"].map(source_label)
    rows["label"] = rows["value"].map(lambda v: f"{v:,.4g}")
    rows["tier_text"] = rows["tier"].map(
        {FLAGSHIP: "flagship", "other": "other datacenter part"}
    )
    order = list(dict.fromkeys(rows.sort_values("year")["row"]))
    rows = rows[
        ["row", "gpu", "announced", "precision", "series", "value", "label", "kind"]
        + ["gpus_per_board", "dies", "tier_text", "hosts", "source"]
    ]
    y = alt.Y("row:N", title=None, sort=order, axis=alt.Axis(labelLimit=0))
    x = alt.X(
        "value:Q",
        title="datasheet peak per board (TFLOP/s, log scale)",
        scale=alt.Scale(type="log", domain=[2, 8000]),
    )
    colour = alt.Color(
        "series:N",
        title=None,
        sort=["FP32 peak per board", "FP16/BF16 peak per board, dense"],
        legend=alt.Legend(orient="bottom", columns=1, symbolOpacity=1, labelLimit=0),
    )
    shape = alt.Shape(
        "tier_text:N",
        title=None,
        sort=["flagship", "other datacenter part"],
        scale=alt.Scale(range=["circle", "triangle-up"]),
        legend=alt.Legend(orient="bottom"),
    )
    tips = core.tooltips(
        "gpu:N",
        alt.Tooltip("announced:N", title="announced"),
        "series:N",
        alt.Tooltip("value:Q", title="TFLOP/s per board", format=",.2f"),
        alt.Tooltip("kind:N", title="format"),
        alt.Tooltip("gpus_per_board:Q", title="GPUs per board"),
        alt.Tooltip("dies:Q", title="dies per board"),
        alt.Tooltip("tier_text:N", title="tier"),
        alt.Tooltip("hosts:N", title="source sites"),
        alt.Tooltip("source:N", title="sources"),
    )
    base = alt.Chart(rows).encode(y=y, x=x, tooltip=tips)
    dots = base.mark_point(filled=True, size=60, opacity=1).encode(
        color=colour, shape=shape
    )
    # The number labels carry only what they print (their dots carry the sources).
    labels = rows[["row", "precision", "series", "value", "label"]]
    label_tips = core.tooltips(
        "row:N", "series:N", alt.Tooltip("label:N", title="TFLOP/s")
    )
    left = (
        alt.Chart(labels[labels["precision"] == FP32])
        .mark_text(align="right", dx=-8, fontSize=11)
        .encode(y=y, x=x, text="label:N", tooltip=label_tips)
    )
    right = (
        alt.Chart(labels[labels["precision"] != FP32])
        .mark_text(align="left", dx=8, fontSize=11)
        .encode(y=y, x=x, text="label:N", tooltip=label_tips)
    )
    return core.sized(
        alt.layer(dots, left, right),
        "The table: datasheet peaks per board, FP32 (left) and low precision (right)",
        height=22 * len(order),
    )


def precision_chart(records: pd.DataFrame) -> alt.LayerChart:
    """Correct bits of a matmul per precision: per-seed points, mean and 95% CI."""
    rows = core.select(records, metric="correct_bits").copy()
    rows["precision"] = rows["precision"].str.upper()
    table = core.ci_table(rows, ["precision", "gpu"], core.bootstrap)
    chart = core.ci_dots(
        table,
        category="precision",
        value_title="correct bits of the result, -log2(relative error)",
        sort=["FP32", "BF16"],
        seeds=rows,
        fmt=".2f",
        extra_tooltips=[alt.Tooltip("gpu:N", title="device")],
    )
    return core.sized(
        chart,
        "The price of low precision: bits a matmul gets right (vs float64)",
        height=160,
    )


def charts(records: pd.DataFrame) -> dict[str, alt.TopLevelMixin]:
    return {
        "doubling_by_convention": convention_chart(records),
        "throughput_vs_year": throughput_chart(records),
        "gpu_table": gpu_table_chart(records),
        "precision_cost": precision_chart(records),
    }
