"""Tweet 24: a version of Moore's law still holds for GPU performance.

Claim: "Plus, a version of Moore's law still holds for GPU performance (for how long
though? can TPUs and custom hardware save us?)"

What the experiment does: it fits an exponential trend to the vendor peak throughput
of six NVIDIA datacenter GPUs, from the Tesla K80 (2014) to the B200 (2024), stored
with a source for every figure in essay_code/data/gpu_peaks.csv. Two series: plain
FP32 (vector units) and low precision (dense FP16/BF16 on tensor cores where the GPU
has them, plain FP16 or FP32 where it has not). The slope of log2(peak) against the
announcement year gives a doubling time; its 95% CI resamples the GPUs. "Moore-like"
means an FP32 doubling time between 1.5 and 3 years. Alongside, a live measurement:
the sustained throughput of a square matmul on the machine that ran the experiment
(FP32 on a CPU; FP32 and BF16 on a GPU that runs BF16 natively), with its device
name, and the price of low precision: how many bits of a matmul's result each
precision gets right.

What it does not show: peaks are datasheet numbers, not what training reaches; six
flagship parts from one vendor are not the market (no price, no power, no TPUs); the
low-precision series mixes formats (FP16, BF16) and hardware (tensor cores arrived in
2017), which is exactly why it grows faster. Announcement dates, not shipping dates.
The live CPU point is a different kind of machine and sits far below the GPU line.

References: Hobbhahn & Besiroglu 2022, "Trends in GPU price-performance" (Epoch):
FLOP/s per dollar doubles about every 2.5 years; NVIDIA datasheets and whitepapers
(per row in the CSV).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path

import altair as alt
import numpy as np
import pandas as pd
import torch

from essay_code import core
from essay_code.core import Estimate, RunContext, Verdict

TITLE = "GPU throughput keeps doubling"
TWEETS = (24,)
KEY = "fp32_doubling_years"

TABLE_PATH = Path(__file__).parents[1] / "data" / "gpu_peaks.csv"
# The table is data outside this file, so the run cache (which hashes the point's
# source) would not see an edit to it. Pinning its hash here ties the two together:
# editing the table fails loudly until this line changes, which re-runs the point.
TABLE_SHA256 = "bc19e8fc289f32a4169de744068a6f01a980d61b994b943af7501b1aa1563222"

# Verdict thresholds, fixed before any run, not tuned.
MOORE_MIN_YEARS = 1.5  # a doubling time this short or longer ...
MOORE_MAX_YEARS = 3.0  # ... and this long or shorter is "Moore-like"

# Host syncs in a smoke run: reading back each seed's and precision's
# correct-bits product and score; the timed loop reads only the clock.
HOST_SYNC_BUDGET = 8

DATASHEET, LIVE = "datasheet", "live"
FP32, LOWP, BF16 = "fp32", "lowp", "bf16"
SERIES_LABELS = {
    FP32: "FP32 peak (datasheet)",
    LOWP: "FP16/BF16 peak, dense (datasheet)",
}
# A mid-tone red, distinct from both series and readable on light and dark pages.
LIVE_COLOUR = "#e45756"
LIVE_LABELS = {FP32: "this machine, FP32 matmul", BF16: "this machine, BF16 matmul"}


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
    """One record per (GPU, series): the datasheet peak in TFLOP/s, seed 0.

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
                source=row.source,
            )
    return records.frame()


# ---------------------------------------------------------------- the trend fit


def log2_fit(years: np.ndarray, tflops: np.ndarray) -> tuple[float, float]:
    """Least-squares fit log2(tflops) = slope * year + intercept."""
    slope, intercept = np.polyfit(years, np.log2(tflops), 1)
    return float(slope), float(intercept)


def doubling_years(years: np.ndarray, tflops: np.ndarray) -> float:
    """Years per doubling of the fitted exponential: 1 / slope of log2."""
    return 1.0 / log2_fit(years, tflops)[0]


def resampled_rows(count: int, resamples: int = core.BOOTSTRAP_RESAMPLES):
    """Bootstrap row indices [resamples, count]: GPUs drawn with replacement, with
    the core's fixed bootstrap seed, so the same table gives the same interval."""
    rng = np.random.default_rng(core.BOOTSTRAP_SEED)
    return rng.integers(0, count, size=(resamples, count))


def resampled_fits(
    years: np.ndarray, tflops: np.ndarray, rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Slope and intercept of the log2 fit for every resample: rows [R, count] ->
    slopes [R'], intercepts [R'] (R' <= R: single-year resamples dropped)."""
    x, y = years[rows], np.log2(tflops)[rows]  # [R, count]
    x_mean, y_mean = x.mean(axis=1, keepdims=True), y.mean(axis=1, keepdims=True)
    spread = ((x - x_mean) ** 2).sum(axis=1)  # [R]
    keep = spread > 0
    slopes = ((x - x_mean) * (y - y_mean)).sum(axis=1)[keep] / spread[keep]
    intercepts = y_mean[keep, 0] - slopes * x_mean[keep, 0]
    return slopes, intercepts


def percentile_ci(replicates: np.ndarray) -> tuple[float, float]:
    tail = (1 - core.CONFIDENCE) / 2 * 100
    low, high = np.percentile(replicates, [tail, 100 - tail])
    return float(low), float(high)


def series(records: pd.DataFrame, precision: str) -> tuple[np.ndarray, np.ndarray]:
    """Years [G] and peak TFLOP/s [G] of one datasheet series, oldest first."""
    rows = core.select(records, arm=DATASHEET, precision=precision).sort_values("year")
    return rows["year"].to_numpy(float), rows["value"].to_numpy(float)


def doubling_estimates(records: pd.DataFrame) -> dict[str, Estimate]:
    """Doubling times of both series and their ratio, one shared set of resamples
    (each resample draws whole GPUs, both of their figures), so the ratio is paired."""
    years, fp32 = series(records, FP32)
    _years, lowp = series(records, LOWP)
    rows = resampled_rows(len(years))
    x = years[rows]
    single_year = (x == x[:, :1]).all(axis=1)
    rows = rows[~single_year]
    fp32_slopes, _ = resampled_fits(years, fp32, rows)
    lowp_slopes, _ = resampled_fits(years, lowp, rows)
    if (fp32_slopes <= 0).any() or (lowp_slopes <= 0).any():
        raise ValueError("a resampled trend does not grow: no doubling time")
    method = (
        f"least-squares fit of log2(peak) on year over {len(years)} GPUs, doubling "
        f"time = 1/slope; 95% percentile bootstrap over GPUs ({len(rows)} resamples "
        f"with two or more years, seed {core.BOOTSTRAP_SEED})"
    )
    point_fp32 = doubling_years(years, fp32)
    point_lowp = doubling_years(years, lowp)

    def estimate(value: float, replicates: np.ndarray, unit: str, label: str):
        low, high = percentile_ci(replicates)
        return Estimate(value, low, high, f"{label}: {method}", len(years), unit, 2)

    return {
        "fp32_doubling_years": estimate(
            point_fp32, 1 / fp32_slopes, "years", "FP32 peak"
        ),
        "lowp_doubling_years": estimate(
            point_lowp, 1 / lowp_slopes, "years", "low-precision peak"
        ),
        "doubling_ratio": estimate(
            point_fp32 / point_lowp,
            lowp_slopes / fp32_slopes,
            "x",
            "FP32 doubling time / low-precision doubling time, paired",
        ),
    }


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
    live_rows = live.frame().assign(source="")[datasheet.columns]
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


RULE = (
    f"Holds if the whole 95% CI of the FP32 doubling time lies within "
    f"{MOORE_MIN_YEARS:g} to {MOORE_MAX_YEARS:g} years (Moore-like). Refuted if the "
    f"whole CI lies outside that range (entirely below {MOORE_MIN_YEARS:g} or "
    f"entirely above {MOORE_MAX_YEARS:g} years). Inconclusive if the CI straddles "
    f"either end. The low-precision doubling time is reported beside it but does not "
    f"decide: it mixes a change of number format with the progress of the hardware."
)


def verdict(estimates: dict[str, Estimate]) -> Verdict:
    fp32, lowp = estimates[KEY], estimates["lowp_doubling_years"]
    inside = core.all_of(fp32.above(MOORE_MIN_YEARS), fp32.below(MOORE_MAX_YEARS))
    outside = core.any_of(fp32.below(MOORE_MIN_YEARS), fp32.above(MOORE_MAX_YEARS))
    reason = (
        f"FP32 peak doubles every {fp32.text()}; low-precision tensor peak every "
        f"{lowp.text()}"
    )
    if inside is True:
        status = "holds"
    elif outside is True:
        status = "refuted"
    else:
        status = "inconclusive"
    # One threshold per estimate name: the upper end, which the key's CI sits
    # nearest (the lower end, MOORE_MIN_YEARS, is in the rule's text).
    return Verdict(status, reason, RULE, thresholds={KEY: MOORE_MAX_YEARS})


# ---------------------------------------------------------------- charts


def trend_table(records: pd.DataFrame, pad_years: float = 1.0) -> pd.DataFrame:
    """Fitted line and its pointwise 95% bootstrap band per series, on a year grid."""
    frames = []
    for precision, label in SERIES_LABELS.items():
        years, tflops = series(records, precision)
        grid = np.linspace(years.min(), years.max() + pad_years, 60)  # [Y]
        slope, intercept = log2_fit(years, tflops)
        rows = resampled_rows(len(years))
        slopes, intercepts = resampled_fits(years, tflops, rows)
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
    return pd.concat(frames, ignore_index=True)


def throughput_chart(records: pd.DataFrame) -> alt.LayerChart:
    """Datasheet peaks, fitted trends with bootstrap bands, and the live point(s).

    A special chart (points of one GPU each, a fitted exponential, the live mean on
    the same axes), so it is drawn by hand."""
    x = alt.X(
        "year:Q",
        title="announcement year",
        scale=alt.Scale(zero=False, nice=False),
        axis=alt.Axis(format="d", tickMinStep=1),
    )
    y_scale = alt.Scale(type="log")
    y_title = "peak or measured throughput (TFLOP/s, log scale)"
    palette = alt.Scale(domain=list(SERIES_LABELS.values()))
    colour = alt.Color(
        "series:N",
        scale=palette,
        title=None,
        legend=alt.Legend(orient="bottom", columns=1, symbolOpacity=1, labelLimit=0),
    )
    peaks = core.select(records, arm=DATASHEET).copy()
    peaks["series"] = peaks["precision"].map(SERIES_LABELS)
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
        alt.Chart(peaks)
        .mark_point(filled=True, size=70)
        .encode(
            x=x,
            y=alt.Y("value:Q", scale=y_scale),
            color=colour,
            tooltip=core.tooltips(
                "gpu:N",
                "series:N",
                alt.Tooltip("year:Q", format=".2f"),
                alt.Tooltip("value:Q", title="peak TFLOP/s", format=",.1f"),
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
        "throughput_vs_year": throughput_chart(records),
        "precision_cost": precision_chart(records),
    }
