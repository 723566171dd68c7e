"""Estimates with uncertainty: Student t intervals for means, BCa bootstrap
intervals for other statistics, and log-log slopes.

Every number a page prints is an `Estimate`: a point value, a 95% interval and the
method that made it, so a verdict can ask whether a whole interval clears a threshold.
The bootstrap uses a fixed seed: the same records always give the same interval.
"""

from __future__ import annotations

import warnings
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


Bounds = tuple[float, float] | None


def mean_interval(
    values,
    *,
    unit: str = "",
    digits: int = 2,
    label: str = "mean",
    bounds: Bounds = None,
) -> Estimate:
    """Mean with its 95% Student t interval: exact coverage for normal data at any
    sample size, and the honest small-sample choice for a mean over a few seeds
    (a percentile bootstrap over 10 seeds covers only about 92%).

    bounds: the range the quantity cannot leave (an accuracy's 0 to 100%); the
    interval is cut to it, which can only raise its coverage, since the true mean
    lies inside too. The method says so where the cut changed the interval."""
    data = _finite(values, "mean_interval", bounds)
    point = float(data.mean())
    if data.size == 1 or np.all(data == data[0]):
        low = high = point
    else:
        half = stats.t.ppf((1 + CONFIDENCE) / 2, data.size - 1) * stats.sem(data)
        low, high = point - float(half), point + float(half)
    method = f"{label} over {data.size} values, 95% Student t interval"
    low, high, method = _within(low, high, method, bounds)
    return Estimate(point, low, high, method, int(data.size), unit, digits)


def bootstrap(
    values,
    statistic: Callable = np.mean,
    *,
    unit: str = "",
    digits: int = 2,
    label: str = "mean",
    bounds: Bounds = None,
) -> Estimate:
    """`statistic` over independent values (e.g. seeds) with a 95% interval.

    A mean gets the Student t interval (mean_interval). Any other statistic gets a
    BCa bootstrap, which corrects the percentile interval's small-sample bias and
    skew; where BCa is undefined (ties make its acceleration 0/0) the percentile
    interval stands in, and the method printed says which was used. bounds: as in
    mean_interval.
    """
    if statistic is np.mean:
        return mean_interval(
            values, unit=unit, digits=digits, label=label, bounds=bounds
        )
    data = _finite(values, "bootstrap", bounds)
    point = float(statistic(data))
    if data.size == 1 or np.all(data == data[0]):
        low, high, kind = point, point, "no spread"
    else:
        low, high, kind = _bootstrap_interval(
            (data,), lambda sample, axis: statistic(sample, axis=axis)
        )
    method = f"{label} over {data.size} values, 95% {kind}"
    low, high = min(low, point), max(high, point)
    low, high, method = _within(low, high, method, bounds)
    return Estimate(point, low, high, method, int(data.size), unit, digits)


def _finite(values, name: str, bounds: Bounds = None) -> np.ndarray:
    data = np.asarray(values, dtype=float).ravel()
    if data.size == 0:
        raise ValueError(f"{name} needs at least one value")
    if not np.all(np.isfinite(data)):
        raise ValueError(f"{name} got non-finite values: {data}")
    if bounds is not None and not np.all((data >= bounds[0]) & (data <= bounds[1])):
        raise ValueError(f"{name}: values outside the declared bounds {bounds}")
    return data


def _within(low: float, high: float, method: str, bounds: Bounds):
    """The interval cut to bounds, and the method saying so where it was cut."""
    if bounds is None or (low >= bounds[0] and high <= bounds[1]):
        return low, high, method
    lowest, highest = bounds
    return (
        max(low, lowest),
        min(high, highest),
        f"{method}, cut to the range {lowest:g} to {highest:g}",
    )


def _bootstrap_interval(
    data: tuple, statistic: Callable, *, paired: bool = False, vectorized=True
) -> tuple[float, float, str]:
    """BCa interval, or the percentile one where BCa is undefined."""
    for method in ("BCa", "percentile"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a degenerate BCa is detected below
            result = stats.bootstrap(
                data,
                statistic,
                paired=paired,
                vectorized=vectorized,
                n_resamples=BOOTSTRAP_RESAMPLES,
                confidence_level=CONFIDENCE,
                method=method,
                rng=np.random.default_rng(BOOTSTRAP_SEED),
            )
        low, high = result.confidence_interval
        if np.isfinite(low) and np.isfinite(high):
            kind = "BCa" if method == "BCa" else "percentile (BCa undefined here)"
            return (
                float(low),
                float(high),
                (
                    f"{kind} bootstrap ({BOOTSTRAP_RESAMPLES} resamples, "
                    f"seed {BOOTSTRAP_SEED})"
                ),
            )
    raise ValueError("no finite bootstrap interval for these values")


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
    if x.shape[0] == 1 or np.allclose(y / y[:1], 1.0):
        low, high, kind = point, point, "no spread over seeds"
    else:
        low, high, kind = _bootstrap_interval(
            (seeds,), lambda rows: fit(rows.astype(int)), vectorized=False
        )
    method = (
        f"log-log least-squares slope over {x.shape[1]} sizes, seeds resampled "
        f"({seeds.size} seeds), 95% {kind}"
    )
    low, high = min(low, point), max(high, point)
    return Estimate(point, low, high, method, int(seeds.size), "", digits)


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
    """BCa bootstrap of statistic(first, second, axis) over paired values (the same
    seed in both arms), resampling pairs together. The interval is widened to
    include the point value, which a bootstrap interval can miss."""
    a = np.asarray(first, dtype=float).ravel()
    b = np.asarray(second, dtype=float).ravel()
    if a.shape != b.shape or a.size == 0:
        raise ValueError(f"paired_bootstrap needs equal, non-empty arrays: {a}, {b}")
    point = float(statistic(a, b, axis=-1))
    if np.all(a == a[0]) and np.all(b == b[0]):
        low, high, kind = point, point, "no spread"
    else:
        low, high, kind = _bootstrap_interval((a, b), statistic, paired=True)
    method = f"{label} over {a.size} paired seeds, 95% {kind}"
    return Estimate(
        point, min(low, point), max(high, point), method, a.size, unit, digits
    )
