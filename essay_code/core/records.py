"""Tidy records: one row per (seed, arm, condition, metric, value).

`Records` collects rows while a point runs; `per_seed` and `pivot_seeds` read them
back for summaries and charts. Every point builds and reads its records with these,
so the column layout is decided once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd


class Records:
    """A growing list of tidy rows. `fixed` columns go on every row added."""

    def __init__(self, **fixed) -> None:
        self.rows: list[dict] = []
        self.fixed = fixed

    def add(self, metric: str, value: float, **columns) -> None:
        """One row: `metric` = `value`, with its seed, arm and condition columns."""
        self.rows.append(
            {**self.fixed, **columns, "metric": metric, "value": float(value)}
        )

    def add_many(self, metrics: Mapping[str, float], **columns) -> None:
        """Several metrics that share their other columns."""
        for metric, value in metrics.items():
            self.add(metric, value, **columns)

    def add_per_seed(
        self, metric: str, values, seeds: Iterable[int], **columns
    ) -> None:
        """One row per seed from an array aligned with `seeds` (a batched run's
        per-seed results, e.g. a tensor [S])."""
        values = np.asarray(
            values.detach().cpu() if hasattr(values, "detach") else values
        )
        for seed, value in zip(
            seeds, values.reshape(len(values), -1)[:, 0], strict=True
        ):
            self.add(metric, value, seed=int(seed), **columns)

    def extend(self, rows: Iterable[dict]) -> None:
        self.rows.extend(rows)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows)


def select(records: pd.DataFrame, **where) -> pd.DataFrame:
    """Rows where every named column equals its value (`metric="accuracy"`)."""
    mask = np.ones(len(records), dtype=bool)
    for column, value in where.items():
        mask &= (records[column] == value).to_numpy()
    return records[mask]


def per_seed(records: pd.DataFrame, metric: str, **where) -> pd.Series:
    """One metric as a Series indexed by seed (sorted), for a single condition."""
    rows = select(records, metric=metric, **where)
    return rows.set_index("seed")["value"].sort_index()


def pivot_seeds(
    records: pd.DataFrame, metric: str, columns: str | list[str], **where
) -> pd.DataFrame:
    """One metric as a seed x `columns` table (e.g. seed x arm), sorted both ways."""
    rows = select(records, metric=metric, **where)
    return rows.pivot_table(
        index="seed", columns=columns, values="value", aggfunc="first"
    ).sort_index()
