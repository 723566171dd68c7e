"""Discover the points: every module in essay_code.points is one claim.

A point module must define TITLE, TWEETS, KEY, Config (a frozen dataclass with a
`seeds` field), PROFILES, run, summarize, charts and verdict. A module that lacks one
fails loudly here, naming what is missing, instead of half-working later.
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
