"""Can a critical reader dismiss the verdict in one sentence? What answers them.

- "You didn't train it": a Convergence record per deep-learning arm (its validation
  metric at 3 or more budgets). guard_training() turns a "holds" or "mitigated"
  (both say plain deep learning fails; for an optimistic claim, "refuted" says it)
  into "inconclusive (under-trained)" while any deep-learning arm still improves.
- "You picked that setting": a Robustness map, the point's own rule evaluated at
  every combination of the 1-3 design choices its verdict could hinge on
  (multiverse analysis, Steegen et al. 2016; specification curves, Simonsohn et al.
  2020). Its label says "robust" or which choice the verdict depends on.
- "You tuned one side": a Tuning record per arm, the grid searched on validation
  data (never test data) and the value chosen.
- Tweet 19's question, "intrinsic or engineering?", answered by a rule from the
  headline verdict and the map: intrinsic_or_engineering().
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from essay_code.core.stats import Estimate, mean_interval
from essay_code.core.verdict import Verdict

ANSWERS = (
    "fixed-by-engineering",
    "closes-with-scale",
    "persists",
    "no-failure",
    "undecided",
)
# How far a status is from "deep learning fails": moving up this ladder along a
# budget or data axis is the gap closing with scale.
_TOWARD_REFUTED = {"holds": 0, "inconclusive": 1, "mitigated": 1, "refuted": 2}


@dataclass(frozen=True)
class Convergence:
    """Did a deep-learning arm's validation metric flatten? `curve` is its mean over
    seeds at each budget; `last_doubling_gain` the per-seed gain from half the last
    budget to the last one (signed so that a gain is an improvement)."""

    arm: str
    metric: str
    budgets: tuple[float, ...]
    curve: tuple[float, ...]
    last_doubling_gain: Estimate | None
    tolerance: float
    converged: bool
    note: str = ""

    def to_json(self) -> dict:
        gain = self.last_doubling_gain
        return {
            "arm": self.arm,
            "metric": self.metric,
            "converged": self.converged,
            "budgets": list(self.budgets),
            "curve": list(self.curve),
            "last_doubling_gain": gain.to_json() if gain else None,
            "tolerance": self.tolerance,
            "note": self.note,
        }


def convergence(
    arm: str,
    budgets: Sequence[float],
    values_by_seed,
    *,
    tolerance: float,
    metric: str,
    higher_is_better: bool = True,
    unit: str = "",
    digits: int = 2,
) -> Convergence:
    """values_by_seed: [seeds, budgets], the validation metric at each budget
    (checkpoints of one run are fine). The arm is converged when the mean gain over
    its last doubling of budget is below `tolerance`, a number the point declares."""
    budgets = tuple(float(b) for b in budgets)
    values = np.asarray(values_by_seed, dtype=float)
    if len(budgets) < 3 or list(budgets) != sorted(set(budgets)):
        raise ValueError(f"{arm}: need 3 or more increasing budgets, got {budgets}")
    if values.ndim != 2 or values.shape[1] != len(budgets):
        raise ValueError(f"{arm}: values must be [seeds, {len(budgets)}]")
    half = budgets[-1] / 2
    if half not in budgets:
        raise ValueError(f"{arm}: budgets {budgets} lack half the last ({half:g})")
    sign = 1.0 if higher_is_better else -1.0
    gains = sign * (values[:, -1] - values[:, budgets.index(half)])
    gain = mean_interval(
        gains, unit=unit, digits=digits, label=f"gain from {half:g} to {budgets[-1]:g}"
    )
    return Convergence(
        arm,
        metric,
        budgets,
        tuple(float(v) for v in values.mean(axis=0)),
        gain,
        float(tolerance),
        bool(gain.value < tolerance),
    )


def converged_by_construction(arm: str, metric: str, note: str) -> Convergence:
    """An arm that trains until it reaches a target (or solves exactly)."""
    return Convergence(arm, metric, (), (), None, 0.0, True, note)


# The statuses that say plain deep learning fails ("mitigated": it fails, and the
# fix arm closes the gap): neither may stand on an arm that was still improving.
FAILURE_STATUSES = ("holds", "mitigated")
# A tweet whose claim is good news for deep learning (a point's OPTIMISTIC_CLAIM):
# there "refuted" is the status that says deep learning fails, and "holds" says it
# does not. Reading its statuses through this mirror gives the usual meaning.
MIRROR = {"holds": "refuted", "refuted": "holds"}


def failure_statuses(optimistic: bool = False) -> tuple[str, ...]:
    return ("refuted",) if optimistic else FAILURE_STATUSES


def guard_training(
    verdict: Verdict, records: Sequence[Convergence], *, optimistic: bool = False
) -> Verdict:
    """A verdict that deep learning fails ("holds" or "mitigated"; "refuted" for
    an optimistic claim) needs every deep-learning arm converged; otherwise it is
    "inconclusive: under-trained"."""
    unconverged = [c for c in records if not c.converged]
    if verdict.status not in failure_statuses(optimistic) or not unconverged:
        return verdict
    still = "; ".join(
        f"{c.arm} still gains {c.last_doubling_gain.text()} in {c.metric} over its "
        f"last doubling of budget (tolerance {c.tolerance:g})"
        for c in unconverged
        if c.last_doubling_gain is not None
    )
    return Verdict(
        "inconclusive",
        f"under-trained: {still}. The rule alone would say {verdict.status}: "
        f"{verdict.reason}",
        f"{verdict.rule} A verdict that deep learning fails "
        f"({' or '.join(repr(s) for s in failure_statuses(optimistic))}) also needs "
        "every deep-learning arm converged (its gain over the last doubling of "
        "budget below the declared tolerance).",
        verdict.thresholds,
    )


@dataclass(frozen=True)
class Tuning:
    """An arm's free choices: the grid searched, what was chosen, and on what.
    `chosen` maps each choice to its value, or to the list of per-seed picks."""

    arm: str
    grid: Mapping[str, Sequence]
    chosen: Mapping[str, Any]
    selected_on: str

    def __post_init__(self) -> None:
        if "test" in self.selected_on.lower().split():
            raise ValueError(f"{self.arm}: choices are never selected on test data")
        missing = set(self.chosen) - set(self.grid)
        if missing:
            raise ValueError(f"{self.arm}: {sorted(missing)} are not in the grid")

    def to_json(self) -> dict:
        return {
            "arm": self.arm,
            "grid": {name: list(values) for name, values in self.grid.items()},
            "chosen": {name: _plain(value) for name, value in self.chosen.items()},
            "selected_on": self.selected_on,
        }


def _plain(value):
    if isinstance(value, list | tuple | np.ndarray):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


@dataclass(frozen=True)
class Robustness:
    """The verdict at every cell of the declared design choices."""

    axes: dict[str, list]
    cells: list[dict]
    headline: dict
    label: str

    def status_at(self, setting: Mapping) -> str:
        for cell in self.cells:
            if cell["setting"] == dict(setting):
                return cell["status"]
        raise KeyError(f"no cell at {dict(setting)}")

    def to_json(self) -> dict:
        return {
            "axes": self.axes,
            "headline": self.headline,
            "cells": self.cells,
            "label": self.label,
        }


def robustness_map(
    axes: Mapping[str, Sequence],
    verdict_at: Callable[[dict], Verdict],
    headline: Mapping,
) -> Robustness:
    """Evaluate the point's rule at every cell of `axes` (1 to 3 design choices).

    The label is "robust" when every cell gives the headline's status, otherwise
    "depends on <axis>" naming each axis along which, with the other choices held,
    the status changes."""
    axes = {name: [_plain(v) for v in values] for name, values in axes.items()}
    headline = {name: _plain(value) for name, value in headline.items()}
    if not 1 <= len(axes) <= 3:
        raise ValueError(f"a robustness map has 1 to 3 axes, got {list(axes)}")
    if set(headline) != set(axes) or any(
        headline[name] not in values for name, values in axes.items()
    ):
        raise ValueError(f"headline {headline} is not a cell of {axes}")
    cells = []
    for combination in itertools.product(*axes.values()):
        setting = dict(zip(axes, combination, strict=True))
        verdict = verdict_at(dict(setting))
        cells.append(
            {"setting": setting, "status": verdict.status, "reason": verdict.reason}
        )
    hinges = [name for name in axes if _status_varies_along(cells, name)]
    label = "robust" if not hinges else "depends on " + " and ".join(hinges)
    return Robustness(axes, cells, headline, label)


def _status_varies_along(cells: list[dict], axis: str) -> bool:
    groups: dict[tuple, set] = {}
    for cell in cells:
        setting = cell["setting"]
        rest = tuple(sorted((k, repr(v)) for k, v in setting.items() if k != axis))
        groups.setdefault(rest, set()).add(cell["status"])
    return any(len(statuses) > 1 for statuses in groups.values())


def intrinsic_or_engineering(
    status: str,
    robustness: Robustness,
    scale_axis: str | None,
    *,
    optimistic: bool = False,
) -> str:
    """Tweet 19's question from the data. For an optimistic claim the statuses are
    read through MIRROR first ("refuted" there is the failure), then:

    - fixed-by-engineering: the headline is "mitigated" (the fix arm closes the gap);
    - no-failure: the headline is "refuted" (plain deep learning does not fail);
    - closes-with-scale: the headline is "holds", and along the budget or data axis
      (other choices at the headline) the largest value is nearer "refuted" than
      the smallest;
    - persists: the headline is "holds" at every value of that axis;
    - undecided: anything else (an inconclusive headline, no scale axis, a mixed
      axis that does not close).
    """

    def meaning(value: str) -> str:
        return MIRROR.get(value, value) if optimistic else value

    status = meaning(status)
    if status == "mitigated":
        return "fixed-by-engineering"
    if status == "refuted":
        return "no-failure"
    if status != "holds" or scale_axis is None:
        return "undecided"
    if scale_axis not in robustness.axes:
        raise ValueError(f"scale axis {scale_axis!r} is not an axis of the map")
    along = [
        meaning(robustness.status_at({**robustness.headline, scale_axis: value}))
        for value in robustness.axes[scale_axis]
    ]
    if _TOWARD_REFUTED[along[-1]] > _TOWARD_REFUTED[along[0]]:
        return "closes-with-scale"
    if all(s == "holds" for s in along):
        return "persists"
    return "undecided"


@dataclass(frozen=True)
class Assessment:
    """What a point returns from assess(records, estimates)."""

    robustness: Robustness
    convergence: tuple[Convergence, ...] = ()
    tuning: tuple[Tuning, ...] = ()
    # the axis of the map that is a training budget or a data size, if any
    scale_axis: str | None = None
    # which side got more tuning effort, in words ("the same grid size on both")
    effort: str = ""

    def to_json(self, status: str, *, optimistic: bool = False) -> dict:
        return {
            "convergence": [c.to_json() for c in self.convergence],
            "robustness": self.robustness.to_json(),
            "tuning": [t.to_json() for t in self.tuning],
            "tuning_effort": self.effort,
            "intrinsic_or_engineering": intrinsic_or_engineering(
                status, self.robustness, self.scale_axis, optimistic=optimistic
            ),
        }
