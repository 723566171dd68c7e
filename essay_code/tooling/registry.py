"""Discover the points: every module in essay_code.points is one claim.

THE POINT CONTRACT (its one definition; README, CONTRIBUTING and the scaffold point
here). A point module `essay_code/points/<slug_with_underscores>.py` defines:

- TITLE: str, the claim in a few words (the one title on every page);
- TWEETS: tuple of tweet numbers 1-29 that the point tests;
- KEY: the name of the headline estimate in summarize()'s result;
- Config: a frozen dataclass, one comment per field; its defaults are the published
  (default) profile, and it has a `seeds` field;
- PROFILES: {"smoke": {...}, "full": {...}} overrides of Config (seconds for tests;
  bigger for a GPU);
- run(cfg, ctx: core.RunContext) -> DataFrame of tidy records (seed, arm, condition
  columns, metric, value). The runner sets seeds, determinism, the CPU thread count
  and whether timings are recorded (ctx.record_timings); a point never does;
- summarize(records) -> {name: core.Estimate}, including KEY;
- charts(records) -> {name: Altair chart}, built with the core's chart vocabulary;
- verdict(estimates) -> core.Verdict(status, reason, rule, thresholds), where
  thresholds names at least KEY's threshold.

Expected of every point with a trained deep-learning arm (optional in the code, so
a new point can start without it): assess(records, estimates) -> core.Assessment,
built with core.convergence (each deep-learning arm's validation metric at 3 or more
budgets), core.Tuning (each arm's grid, searched on validation data, and the values
chosen) and core.robustness_map (verdict() evaluated at every cell of the 1-3
design choices the verdict could hinge on, the training budget always one of them;
its headline cell must agree with verdict()). The runner then applies
core.guard_training (a "holds" or "mitigated", both saying plain deep learning
fails, with an unconverged deep-learning arm becomes "inconclusive:
under-trained") and stores convergence, robustness, tuning and
intrinsic_or_engineering (tweet 19's question) in summary.json.

Optional: OPTIMISTIC_CLAIM = True (the tweet's claim is good news for deep learning,
so "holds" says it succeeds and "refuted" that it fails: the training guard and
tweet 19's answer read the statuses that way), NAMES = {"<estimate>": "<readable
name>"} (the estimates table on the page shows these words instead of the
identifiers; stored in summary.json),
SELECTION_COLUMN = "<column>" (rows whose value there is "selection"
come from seeds used only to choose settings; summary.json lists them apart from
the published seeds), NEEDS_FLOAT64 = True (the point computes in float64, so
`--device auto` skips Apple's MPS, which has none) and ALLOW_TF32 = True (the
point measures TF32 itself; every other point runs with TF32 off, and the
provenance records it).

A point imports only the standard library, third-party packages and `essay_code.core`
(never a core submodule, the tooling or another point; tests/test_imports.py). A
module that lacks a name fails loudly here, naming what is missing. Its page is
docs/points/<slug>.md and its test tests/test_point_<name>.py; the companion notebook
is generated (essay_code/site/notebook.py).
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType

import essay_code.points

REQUIRED_NAMES = (
    "TITLE",
    "TWEETS",
    "KEY",
    "Config",
    "PROFILES",
    "run",
    "summarize",
    "charts",
    "verdict",
)


class RegistryError(RuntimeError):
    """A point module is malformed, or a slug is unknown."""


@dataclass(frozen=True)
class Point:
    slug: str
    module: ModuleType

    @property
    def title(self) -> str:
        return self.module.TITLE

    @property
    def tweets(self) -> tuple[int, ...]:
        return tuple(self.module.TWEETS)

    @property
    def source_path(self) -> Path:
        return Path(self.module.__file__)


def slug_of(module_name: str) -> str:
    return module_name.rsplit(".", 1)[-1].replace("_", "-")


def _check(module: ModuleType) -> None:
    missing = [name for name in REQUIRED_NAMES if not hasattr(module, name)]
    if missing:
        raise RegistryError(
            f"point module {module.__name__} lacks {', '.join(missing)}"
        )
    config_cls = module.Config
    if not dataclasses.is_dataclass(config_cls):
        raise RegistryError(f"{module.__name__}.Config must be a dataclass")
    if "seeds" not in {field.name for field in dataclasses.fields(config_cls)}:
        raise RegistryError(f"{module.__name__}.Config needs a 'seeds' field")
    tweets = module.TWEETS
    if not tweets or not all(isinstance(t, int) and 1 <= t <= 29 for t in tweets):
        raise RegistryError(f"{module.__name__}.TWEETS must be tweet numbers 1-29")


def source_paths() -> dict[str, Path]:
    """slug -> module file, without importing any point (fast: no torch)."""
    folder = Path(essay_code.points.__file__).parent
    return {
        slug_of(info.name): folder / f"{info.name}.py"
        for info in pkgutil.iter_modules(essay_code.points.__path__)
        if not info.name.startswith("_")
    }


def check_slugs(slugs: list[str]) -> None:
    """An unknown slug is an error that lists the valid ones."""
    valid = source_paths()
    unknown = [slug for slug in slugs if slug not in valid]
    if unknown:
        raise RegistryError(
            f"unknown point {', '.join(map(repr, unknown))}; "
            f"valid points: {', '.join(sorted(valid))}"
        )


@cache
def load_point(slug: str) -> Point:
    """Import and check one point module (only that one: a broken neighbour does not
    stop `run` of this point)."""
    module = importlib.import_module(f"essay_code.points.{slug.replace('-', '_')}")
    _check(module)
    return Point(slug, module)


@cache
def all_points() -> dict[str, Point]:
    """slug -> Point for every module in essay_code.points, sorted by first tweet."""
    found = [load_point(slug) for slug in source_paths()]
    found.sort(key=lambda point: (point.tweets[0], point.slug))
    return {point.slug: point for point in found}


def get_points(slugs: list[str] | None = None) -> list[Point]:
    """The named points (all when none named); an unknown slug lists the valid ones."""
    if not slugs:
        return list(all_points().values())
    check_slugs(slugs)
    return [load_point(slug) for slug in slugs]
