"""Estimates with uncertainty: bootstrap CIs (rliable style) and log-log slopes.

Every number a page prints is an `Estimate`: a point value, a 95% interval and the
method that made it, so a verdict can ask whether a whole interval clears a threshold.
The bootstrap uses a fixed seed: the same records always give the same interval.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

BOOTSTRAP_SEED = 0
BOOTSTRAP_RESAMPLES = 10_000
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Estimate:
    """A statistic with its confidence interval, ready to print or to compare."""

    value: float
    low: float
    high: float
    method: str
    n: int
    unit: str = ""
    digits: int = 2

    def above(self, threshold: float) -> bool | None:
        """True if the whole CI is >= threshold, False if all below, None if between."""
        if self.low >= threshold:
            return True
        if self.high < threshold:
            return False
        return None

    def below(self, threshold: float) -> bool | None:
        """True if the whole CI is <= threshold, False if all above, None if between."""
        if self.high <= threshold:
            return True
        if self.low > threshold:
            return False
        return None

    def fmt(self, value: float) -> str:
        return f"{value:,.{self.digits}f}"

    def text(self) -> str:
        """'12.3 points (95% CI 10.1 to 14.2)'"""
        unit = f" {self.unit}" if self.unit else ""
        return (
            f"{self.fmt(self.value)}{unit} (95% CI {self.fmt(self.low)} "
            f"to {self.fmt(self.high)})"
        )

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> Estimate:
        return cls(**data)


def iqm(values: np.ndarray, axis: int = -1) -> np.ndarray:
    """Interquartile mean: the mean of the middle 50% (25% trimmed each side)."""
    return stats.trim_mean(values, 0.25, axis=axis)


def bootstrap(
    values,
    statistic: Callable = np.mean,
    *,
    unit: str = "",
    digits: int = 2,
    label: str = "mean",
) -> Estimate:
    """Percentile bootstrap CI of `statistic` over independent values (e.g. seeds).

    Percentile rather than BCa: with 5 seeds BCa's acceleration estimate is unstable
    and can fail outright on ties; rliable also reports percentile intervals.
    """
    data = np.asarray(values, dtype=float).ravel()
    if data.size == 0:
        raise ValueError("bootstrap needs at least one value")
    if not np.all(np.isfinite(data)):
        raise ValueError(f"bootstrap got non-finite values: {data}")
    point = float(statistic(data))
    if data.size == 1 or np.all(data == data[0]):
        low = high = point
    else:
        result = stats.bootstrap(
            (data,),
            lambda sample, axis: statistic(sample, axis=axis),
            n_resamples=BOOTSTRAP_RESAMPLES,
            confidence_level=CONFIDENCE,
            method="percentile",
            vectorized=True,
            rng=np.random.default_rng(BOOTSTRAP_SEED),
        )
        low = float(result.confidence_interval.low)
        high = float(result.confidence_interval.high)
    method = (
        f"{label} over {data.size} values, 95% percentile bootstrap "
        f"({BOOTSTRAP_RESAMPLES} resamples, seed {BOOTSTRAP_SEED})"
    )
    return Estimate(point, low, high, method, int(data.size), unit, digits)


def loglog_slope(x, y) -> float:
    """Least-squares slope of log(y) on log(x): the exponent b of y = a * x**b."""
    log_x = np.log(np.asarray(x, dtype=float))
    log_y = np.log(np.asarray(y, dtype=float))
    slope, _intercept = np.polyfit(log_x, log_y, 1)
    return float(slope)


def bootstrap_slope(
    x_by_seed: np.ndarray, y_by_seed: np.ndarray, *, digits: int = 2
) -> Estimate:
    """Exponent of a power law fitted to per-seed curves, CI by resampling seeds.

    x_by_seed, y_by_seed: [seeds, points]. The point estimate fits the per-point
    geometric mean over seeds; each bootstrap replicate resamples whole seeds.
    """
    x = np.asarray(x_by_seed, dtype=float)
    y = np.asarray(y_by_seed, dtype=float)
    if x.shape != y.shape or x.ndim != 2:
        raise ValueError(
            f"expected two [seeds, points] arrays, got {x.shape}, {y.shape}"
        )

    def fit(seed_rows: np.ndarray) -> float:
        return loglog_slope(x[0], np.exp(np.log(y[seed_rows]).mean(axis=0)))

    seeds = np.arange(x.shape[0])
    point = fit(seeds)
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    replicates = np.array(
        [fit(rng.choice(seeds, size=seeds.size)) for _ in range(BOOTSTRAP_RESAMPLES)]
    )
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(replicates, [tail, 100 - tail])
    method = (
        f"log-log least-squares slope over {x.shape[1]} sizes, seeds resampled "
        f"({seeds.size} seeds, {BOOTSTRAP_RESAMPLES} resamples, seed {BOOTSTRAP_SEED})"
    )
    return Estimate(point, float(low), float(high), method, int(seeds.size), "", digits)


def exact(
    value: float, n: int, *, label: str, unit: str = "", digits: int = 0
) -> Estimate:
    """A number known without sampling error (a design constant, a count fixed by the
    grid, a chosen hyperparameter), as an Estimate a page can print: low = high."""
    value = float(value)
    return Estimate(value, value, value, label, int(n), unit, digits)


def paired_bootstrap(
    first,
    second,
    statistic: Callable,
    *,
    label: str,
    unit: str = "",
    digits: int = 2,
) -> Estimate:
    """Percentile bootstrap of statistic(first, second, axis) over paired values
    (the same seed in both arms), resampling pairs together. The interval is widened
    to include the point value, which a percentile interval can miss."""
    a = np.asarray(first, dtype=float).ravel()
    b = np.asarray(second, dtype=float).ravel()
    if a.shape != b.shape or a.size == 0:
        raise ValueError(f"paired_bootstrap needs equal, non-empty arrays: {a}, {b}")
    point = float(statistic(a, b, axis=-1))
    result = stats.bootstrap(
        (a, b),
        statistic,
        paired=True,
        vectorized=True,
        n_resamples=BOOTSTRAP_RESAMPLES,
        method="percentile",
        confidence_level=CONFIDENCE,
        rng=np.random.default_rng(BOOTSTRAP_SEED),
    )
    low, high = result.confidence_interval
    low, high = float(np.nan_to_num(low)), float(np.nan_to_num(high))
    method = (
        f"{label} over {a.size} paired seeds, 95% percentile bootstrap "
        f"({BOOTSTRAP_RESAMPLES} resamples, seed {BOOTSTRAP_SEED})"
    )
    return Estimate(
        point, min(low, point), max(high, point), method, a.size, unit, digits
    )
