"""`python -m essay_code gather DIR`: take regenerated results, validate each point,
swap the valid ones into results/, append the history, and write a Markdown summary
of what changed (and what was refused) for the pull request.

DIR comes from actions/download-artifact, in either of its layouts:
- one folder per artifact (`results-<slug>/` or `<slug>/`), when several match;
- flat, when a single artifact matches: DIR itself holds summary.json.
A folder is recognised by its summary.json, never by its name alone.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from essay_code.core.stats import Estimate
from essay_code.tooling import history
from essay_code.tooling.registry import all_points
from essay_code.tooling.results import (
    RESULTS_ROOT,
    ResultsError,
    load_records,
    load_summary,
    write_atomically,
)


class GatherError(RuntimeError):
    """Nothing can be gathered at all (no folder, or no results in it)."""


@dataclass(frozen=True)
class Refusal:
    name: str  # the artifact folder (or slug) as it arrived
    reason: str


def point_folders(source: Path) -> list[Path]:
    """The folders of DIR that hold one point's results each, in either layout."""
    if not source.is_dir():
        raise GatherError(f"{source} is not a folder (nothing was downloaded?)")
    if (source / "summary.json").is_file():
        return [source]
    folders = sorted(p for p in source.iterdir() if p.is_dir() and not p.is_symlink())
    if not folders:
        raise GatherError(f"{source} holds no results (an empty download?)")
    return folders


def slug_of(folder: Path) -> str:
    """The point a folder claims to be: its summary's slug, which must agree with a
    `results-<slug>` or `<slug>` folder name when there is one."""
    import json

    path = folder / "summary.json"
    if not path.is_file():
        raise ResultsError("no summary.json")
    try:
        claimed = json.loads(path.read_text(encoding="utf-8")).get("slug")
    except (OSError, ValueError, AttributeError) as error:
        raise ResultsError(f"summary.json is unreadable ({error})") from error
    if not isinstance(claimed, str) or claimed not in all_points():
        raise ResultsError(f"{claimed!r} is not a registered point")
    named = folder.name.removeprefix("results-")
    if named in all_points() and named != claimed:
        raise ResultsError(f"the folder is named {named} but holds {claimed}")
    return claimed


def validate(folder: Path, slug: str) -> dict:
    """A regenerated folder (named after its slug) is sound: schema, records, charts,
    and a verdict that follows from its own estimates under the current code."""
    point = all_points()[slug]
    summary = load_summary(slug, folder.parent)
    if summary is None:
        raise ResultsError("no summary.json")
    if summary["slug"] != slug or summary["profile"] != "default":
        raise ResultsError(f"expected the default profile of {slug}")
    load_records(slug, folder.parent)
    estimates = {k: Estimate.from_json(v) for k, v in summary["estimates"].items()}
    if point.module.verdict(estimates).to_json() != summary["verdict"]:
        raise ResultsError("the verdict does not follow from its estimates")
    for chart in summary["charts"]:
        if not (folder / "charts" / f"{chart}.vl.json").exists():
            raise ResultsError(f"chart {chart} is missing")
    return summary


def markdown_text(text: str) -> str:
    """A string that stays plain text in a PR body: no Markdown, links or @mentions."""
    text = " ".join(str(text).split())
    text = re.sub(r"([\\`*_{}\[\]<>()#+!|~])", r"\\\1", text)
    return text.replace("@", "@\u200b")


def change_row(old: dict | None, new: dict) -> str:
    text = markdown_text
    key = Estimate.from_json(new["estimates"][new["key"]])
    now = text(new["verdict"]["status"])
    if old is None:
        before, verdict = "-", f"new: {now}"
    else:
        before = text(Estimate.from_json(old["estimates"][old["key"]]).text())
        was = text(old["verdict"]["status"])
        verdict = now if was == now else f"**{was} -> {now}**"
    device = text(new["provenance"]["device"])
    cells = [text(new["slug"]), verdict, before, text(key.text()), device]
    return "| " + " | ".join(cells) + " |"


def stage(folder: Path, slug: str, scratch: Path) -> Path:
    """Copy a folder under its slug's name (validate and land read `<root>/<slug>`);
    links are copied as links, never followed."""
    if folder.name == slug:
        return folder
    staged = scratch / slug
    shutil.rmtree(staged, ignore_errors=True)
    shutil.copytree(folder, staged, symlinks=True)
    return staged


def gather(source: Path, root: Path | None = None) -> tuple[str, list[Refusal]]:
    """Returns (Markdown summary, refusals). Valid points land even if others fail;
    raises GatherError only when there is nothing to gather at all."""
    import tempfile

    root = root or RESULTS_ROOT
    folders = point_folders(source)
    rows, refusals, landed = [], [], []
    with tempfile.TemporaryDirectory(prefix="gather-") as scratch:
        for folder in folders:
            try:
                slug = slug_of(folder)
                staged = stage(folder, slug, Path(scratch))
                summary = validate(staged, slug)
                old = load_summary(slug, root)
            except ResultsError as error:
                refusals.append(Refusal(folder.name, str(error)))
                continue

            def fill(target: Path, staged: Path = staged) -> None:
                shutil.copytree(staged, target, dirs_exist_ok=True, symlinks=True)

            write_atomically(slug, fill, root)
            rows.append(change_row(old, summary))
            landed.append(summary)
    history.append(landed, root)
    lines = ["Regenerated results (default profile)."]
    if rows:
        lines += [
            "",
            "| point | verdict | key number before | key number now | device |",
            "|---|---|---|---|---|",
            *rows,
        ]
    else:
        lines += ["", "No point landed."]
    if refusals:
        lines += ["", f"Refused ({len(refusals)}), not landed:"]
        lines += [
            f"- {markdown_text(r.name)}: {markdown_text(r.reason)}" for r in refusals
        ]
    return "\n".join(lines) + "\n", refusals
