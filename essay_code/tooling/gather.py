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
from essay_code.tooling.judge import judge
from essay_code.tooling.registry import all_points
from essay_code.tooling.results import (
    ASSESSMENT_FIELDS,
    CHART_NAME,
    OPTIONAL_FIELDS,
    RESULTS_ROOT,
    SUMMARY_TYPES,
    ResultsError,
    damage,
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


MAX_FILE_BYTES = 16 * 1024 * 1024  # ten times the largest published file


def check_files(folder: Path, summary: dict) -> None:
    """Only the files a run writes, as plain files under a size limit: no link, no
    hidden or extra file, nothing that could be published or followed."""
    charts = summary["charts"]
    if not all(isinstance(c, str) and CHART_NAME.fullmatch(c) for c in charts):
        raise ResultsError("a chart name is not letters, digits, - and _")
    allowed = {"records.csv", "summary.json", "charts"} | {
        f"charts/{name}{suffix}"
        for name in charts
        for suffix in (".vl.json", ".light.svg", ".dark.svg")
    }
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).as_posix()
        if path.is_symlink():
            raise ResultsError(f"{relative} is a link, which is refused")
        if relative not in allowed:
            raise ResultsError(f"{relative} is not a file a run writes")
        if path.is_file() and path.stat().st_size > MAX_FILE_BYTES:
            raise ResultsError(f"{relative} is over {MAX_FILE_BYTES} bytes")
    for name in charts:
        if not (folder / "charts" / f"{name}.vl.json").is_file():
            raise ResultsError(f"chart {name} is missing")


def check_schema(summary: dict) -> None:
    """Every field a run writes, and nothing else (load_summary already checked the
    types of the fields present)."""
    extra = sorted(set(summary) - set(SUMMARY_TYPES))
    if extra:
        raise ResultsError(f"summary.json has unexpected fields {extra}")
    missing = sorted(set(SUMMARY_TYPES) - OPTIONAL_FIELDS - set(summary))
    if missing:
        raise ResultsError(f"summary.json lacks the fields {missing}")
    if "timestamp" not in summary["provenance"]:
        raise ResultsError("summary.json provenance has no timestamp")
    if "key" not in summary["cache"]:
        raise ResultsError("summary.json cache has no key")


def validate(folder: Path, slug: str) -> dict:
    """A regenerated folder (read where it lies) is sound and honest: only the
    files a run writes; a well-formed default-profile summary; made by this
    checkout's code (its cache key is the current one, so nothing stale lands); and
    its estimates and verdict are what this checkout's summarize() and verdict()
    compute from its records.csv (so neither can be forged)."""
    point = all_points()[slug]
    summary = load_summary(slug, folder=folder)
    if summary is None:
        raise ResultsError("no summary.json")
    check_schema(summary)
    if summary["slug"] != slug or summary["profile"] != "default":
        raise ResultsError(f"expected the default profile of {slug}")
    check_files(folder, summary)
    broken = damage(slug, folder=folder)
    if broken:
        raise ResultsError(broken)
    expected = current_key(point)
    if summary["cache"]["key"] != expected:
        raise ResultsError(
            f"made by other code or settings (cache key {summary['cache']['key']!r}, "
            f"this checkout's is {expected!r})"
        )
    records = load_records(slug, folder=folder)
    recomputed = judge(point, records).summary_fields()
    if recomputed["estimates"] != summary["estimates"]:
        raise ResultsError("its estimates are not what its records.csv gives")
    for name, value in recomputed.items():
        if summary.get(name) != value:
            raise ResultsError(f"its {name} does not follow from its records.csv")
    if set(ASSESSMENT_FIELDS) & set(summary) - set(recomputed):
        raise ResultsError("it carries an assessment this checkout's point lacks")
    return summary


def current_key(point) -> str:
    """This checkout's cache key for the published run of a point (default profile,
    no overrides, the CPU, one thread)."""
    from essay_code.tooling.cache import cache_parts, request_of
    from essay_code.tooling.runner import resolve_config

    request = request_of("default", None, None)
    return cache_parts(point.source_path, request, resolve_config(point, "default"))[
        "key"
    ]


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


def gather(source: Path, root: Path | None = None) -> tuple[str, list[Refusal]]:
    """Returns (Markdown summary, refusals). Valid points land even if others fail;
    raises GatherError only when there is nothing to gather at all."""
    root = root or RESULTS_ROOT
    folders = point_folders(source)
    rows, refusals, landed = [], [], []
    # Artifacts are read where they lie (no copy anywhere); the only writes are the
    # atomic swap of results/<slug> and the history file.
    for folder in folders:
        try:
            slug = slug_of(folder)
            summary = validate(folder, slug)
            old = load_summary(slug, root)
        except ResultsError as error:
            refusals.append(Refusal(folder.name, str(error)))
            continue

        def fill(target: Path, folder: Path = folder) -> None:
            shutil.copytree(folder, target, dirs_exist_ok=True, symlinks=True)

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
