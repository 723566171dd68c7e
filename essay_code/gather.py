"""`python -m essay_code gather DIR`: take regenerated results (one folder per point,
as the regenerate workflow's artifacts arrive), validate each, swap it into results/,
append the history, and write a Markdown summary of what changed for the PR."""

from __future__ import annotations

import shutil
from pathlib import Path

from essay_code import history
from essay_code.core.registry import all_points
from essay_code.core.results import (
    RESULTS_ROOT,
    ResultsError,
    load_records,
    load_summary,
    write_atomically,
)
from essay_code.core.stats import Estimate


def validate(folder: Path, slug: str) -> dict:
    """A regenerated folder is sound: schema, records, charts, and a verdict that
    follows from its own estimates under the current code."""
    point = all_points().get(slug)
    if point is None:
        raise ResultsError(f"{folder}: {slug!r} is not a registered point")
    summary = load_summary(slug, folder.parent) if folder.name == slug else None
    if summary is None:
        raise ResultsError(f"{folder}: no summary.json")
    if summary["slug"] != slug or summary["profile"] != "default":
        raise ResultsError(f"{folder}: expected the default profile of {slug}")
    load_records(slug, folder.parent)
    estimates = {k: Estimate.from_json(v) for k, v in summary["estimates"].items()}
    if point.module.verdict(estimates).to_json() != summary["verdict"]:
        raise ResultsError(f"{folder}: the verdict does not follow from its estimates")
    for chart in summary["charts"]:
        if not (folder / "charts" / f"{chart}.vl.json").exists():
            raise ResultsError(f"{folder}: chart {chart} is missing")
    return summary


def change_row(old: dict | None, new: dict) -> str:
    key = Estimate.from_json(new["estimates"][new["key"]])
    if old is None:
        before, verdict = "-", f"new: {new['verdict']['status']}"
    else:
        old_key = Estimate.from_json(old["estimates"][old["key"]])
        before = old_key.text()
        was, now = old["verdict"]["status"], new["verdict"]["status"]
        verdict = now if was == now else f"**{was} -> {now}**"
    return (
        f"| {new['slug']} | {verdict} | {before} | {key.text()} | "
        f"{new['provenance']['device']} |"
    )


def gather(source: Path, root: Path = RESULTS_ROOT) -> tuple[str, list[str]]:
    """Returns (Markdown summary, problems). Valid points land even if others fail."""
    rows, problems, landed = [], [], []
    for folder in sorted(p for p in source.iterdir() if p.is_dir()):
        slug = folder.name.removeprefix("results-")
        staged = folder if folder.name == slug else folder.parent / "_staged" / slug
        if staged != folder:
            shutil.rmtree(staged, ignore_errors=True)
            shutil.copytree(folder, staged)
        try:
            summary = validate(staged, slug)
            old = load_summary(slug, root)
        except ResultsError as error:
            problems.append(str(error))
            continue

        def fill(target: Path, staged: Path = staged) -> None:
            shutil.copytree(staged, target, dirs_exist_ok=True)

        write_atomically(slug, fill, root)
        rows.append(change_row(old, summary))
        landed.append(summary)
    history.append(landed, root)
    lines = [
        "Regenerated results (default profile).",
        "",
        "| point | verdict | key number before | key number now | device |",
        "|---|---|---|---|---|",
        *rows,
    ]
    if problems:
        lines += ["", "Not landed:", *[f"- {problem}" for problem in problems]]
    return "\n".join(lines) + "\n", problems
