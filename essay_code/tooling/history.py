"""results/history.csv: one row per point per regeneration, so a verdict that flips
with a new torch or new hardware stays visible (each point page charts it)."""

from __future__ import annotations

import csv
from pathlib import Path

from essay_code.tooling.results import RESULTS_ROOT

COLUMNS = (
    "timestamp",
    "slug",
    "commit",
    "device",
    "torch",
    "profile",
    "verdict",
    "key",
    "value",
    "low",
    "high",
)


def history_path(root: Path = RESULTS_ROOT) -> Path:
    return root / "history.csv"


def row_of(summary: dict) -> dict:
    prov = summary["provenance"]
    key = summary["estimates"][summary["key"]]
    return {
        "timestamp": prov["timestamp"],
        "slug": summary["slug"],
        "commit": (prov.get("git_commit") or "")[:12],
        "device": prov["device"],
        "torch": prov["torch"],
        "profile": summary["profile"],
        "verdict": summary["verdict"]["status"],
        "key": summary["key"],
        "value": key["value"],
        "low": key["low"],
        "high": key["high"],
    }


def append(summaries: list[dict], root: Path = RESULTS_ROOT) -> None:
    path = history_path(root)
    new_file = not path.exists()
    with path.open("a", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        if new_file:
            writer.writeheader()
        for summary in summaries:
            writer.writerow(row_of(summary))


def read(root: Path = RESULTS_ROOT) -> list[dict]:
    path = history_path(root)
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))
