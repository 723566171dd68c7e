"""results/<slug>/: the only hand-off from experiments to pages.

    records.csv            tidy per-seed records
    summary.json           estimates, verdict, config, cache key, provenance
    charts/<name>.vl.json  Vega-Lite spec;  charts/<name>.{light,dark}.svg  fallbacks

Writes are atomic: a run writes a sibling temporary folder and swaps it in only when
everything is written, so a failed run leaves the last good results untouched.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

SCHEMA_VERSION = 1
REPO_ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = REPO_ROOT / "essay_code" / "data"
# Tests point this at a temporary copy; everything else uses the committed results/.
RESULTS_ROOT = Path(os.environ.get("ESSAY_RESULTS_ROOT", REPO_ROOT / "results"))
REQUIRED_COLUMNS = ("seed", "arm", "metric", "value")
# A chart's name, as a run writes it and as results/ may name it (no path parts).
CHART_NAME = re.compile(r"[A-Za-z0-9_-]+")
SUMMARY_KEYS = ("schema", "slug", "estimates", "verdict", "cache", "provenance")
# The JSON type of every field a summary may have ("outputs": hashes of the files
# written beside it, so that a damaged results folder is noticed).
SUMMARY_TYPES = {
    "schema": int,
    "slug": str,
    "title": str,
    "tweets": list,
    "profile": str,
    "config": dict,
    "seeds": list,
    "key": str,
    "estimates": dict,
    "verdict": dict,
    "charts": list,
    "cache": dict,
    "provenance": dict,
    "outputs": dict,
}
# Written by a point with assess() (core.assessment): optional, each checked below.
ASSESSMENT_FIELDS = {
    "convergence": list,
    "robustness": dict,
    "tuning": list,
    "tuning_effort": str,
    "intrinsic_or_engineering": str,
}
SUMMARY_TYPES |= ASSESSMENT_FIELDS
# Written by a default-profile run (tooling/rounding.py); optional.
SUMMARY_TYPES["rounding_noise"] = dict
# Seeds a point chose its settings on (SELECTION_COLUMN); optional.
SUMMARY_TYPES["selection_seeds"] = list
# Estimate name -> readable name, from the point's NAMES; optional.
SUMMARY_TYPES["names"] = dict
# The fields a summary may lack: a point without assess(), NAMES or selection seeds.
OPTIONAL_FIELDS = frozenset(ASSESSMENT_FIELDS) | {
    "rounding_noise",
    "selection_seeds",
    "names",
}
FIELD_TYPES = {
    ("verdict", "status"): str,
    ("verdict", "reason"): str,
    ("verdict", "rule"): str,
    ("cache", "key"): str,
    ("provenance", "device"): str,
    ("provenance", "timestamp"): str,
}


class ResultsError(RuntimeError):
    """Missing or corrupt results; the message says which file and how to fix it."""


def point_dir(slug: str, root: Path = RESULTS_ROOT) -> Path:
    return root / slug


def fix_hint(slug: str) -> str:
    return f"regenerate with: python -m essay_code run {slug} --force"


def load_summary(
    slug: str, root: Path = RESULTS_ROOT, folder: Path | None = None
) -> dict | None:
    """The point's summary, None if it has no results yet; corrupt -> ResultsError.
    `folder`: read this folder (an artifact) instead of <root>/<slug>."""
    path = (folder or point_dir(slug, root)) / "summary.json"
    if not path.exists():
        return None
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ResultsError(f"{path} is corrupt ({error}); {fix_hint(slug)}") from error
    missing = (
        [key for key in SUMMARY_KEYS if key not in summary]
        if isinstance(summary, dict)
        else list(SUMMARY_KEYS)
    )
    if missing:
        raise ResultsError(f"{path} lacks {', '.join(missing)}; {fix_hint(slug)}")
    if summary["schema"] != SCHEMA_VERSION:
        raise ResultsError(
            f"{path} has schema {summary['schema']!r}, expected {SCHEMA_VERSION}; "
            f"{fix_hint(slug)}"
        )
    problem = schema_problem(summary)
    if problem:
        raise ResultsError(f"{path}: {problem}; {fix_hint(slug)}")
    return summary


def schema_problem(summary: dict) -> str | None:
    """What is wrong with a summary's shape, or None: every present field has its
    type, and so do the nested fields the site and the CLI read."""
    for field, kind in SUMMARY_TYPES.items():
        if field in summary and not isinstance(summary[field], kind):
            return f"field {field!r} must be a {kind.__name__}"
    for (outer, inner), kind in FIELD_TYPES.items():
        if inner in summary[outer] and not isinstance(summary[outer][inner], kind):
            return f"field {outer}.{inner} must be a {kind.__name__}"
    for name, estimate in summary["estimates"].items():
        if estimate_problem(estimate):
            return f"estimate {name!r} must hold numbers value, low and high"
    for name, readable in summary.get("names", {}).items():
        if name not in summary["estimates"] or not isinstance(readable, str):
            return f"names must map estimates to strings ({name!r} does not)"
    return assessment_problem(summary)


def estimate_problem(estimate) -> str | None:
    if not isinstance(estimate, dict) or not all(
        isinstance(estimate.get(k), int | float) and not isinstance(estimate[k], bool)
        for k in ("value", "low", "high")
    ):
        return "an estimate must hold numbers value, low and high"
    return None


def assessment_problem(summary: dict) -> str | None:
    """The nested shapes the page reads from an assessment (strings stay untrusted:
    the site escapes them)."""
    from essay_code.core.assessment import ANSWERS
    from essay_code.core.verdict import STATUSES

    noise = summary.get("rounding_noise")
    if noise is not None and not (
        noise.get("verdict") in STATUSES
        and noise.get("verdict_with_noise") in STATUSES
        and all(
            isinstance(noise.get(k), int) and not isinstance(noise.get(k), bool)
            for k in ("records", "records_changed")
        )
        and isinstance(noise.get("check"), str)
    ):
        return "rounding_noise needs two verdicts, record counts and the check"
    answer = summary.get("intrinsic_or_engineering")
    if answer is not None and answer not in ANSWERS:
        return f"intrinsic_or_engineering must be one of {ANSWERS}"
    robustness = summary.get("robustness")
    if robustness is not None:
        axes, cells = robustness.get("axes"), robustness.get("cells")
        if not isinstance(axes, dict) or not all(
            isinstance(v, list) for v in axes.values()
        ):
            return "robustness.axes must map names to lists"
        if not isinstance(robustness.get("label"), str) or not isinstance(
            robustness.get("headline"), dict
        ):
            return "robustness needs a label and a headline"
        if not isinstance(cells, list) or not all(
            isinstance(c, dict)
            and isinstance(c.get("setting"), dict)
            and c.get("status") in STATUSES
            and isinstance(c.get("reason"), str)
            for c in cells
        ):
            return "robustness.cells must each have a setting, a status and a reason"
    for item in summary.get("convergence", []):
        if not (
            isinstance(item, dict)
            and isinstance(item.get("arm"), str)
            and isinstance(item.get("converged"), bool)
            and isinstance(item.get("budgets"), list)
            and isinstance(item.get("curve"), list)
            and len(item["curve"]) == len(item["budgets"])
            and (
                item.get("last_doubling_gain") is None
                or estimate_problem(item["last_doubling_gain"]) is None
            )
        ):
            return (
                "each convergence record needs an arm, converged, budgets and a "
                "curve of the same length, and a gain that is an estimate or null"
            )
    for item in summary.get("tuning", []):
        if not (
            isinstance(item, dict)
            and isinstance(item.get("arm"), str)
            and isinstance(item.get("grid"), dict)
            and isinstance(item.get("chosen"), dict)
        ):
            return "each tuning record needs an arm, a grid and the chosen values"
    return None


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def output_hashes(folder: Path) -> dict[str, str]:
    """Content hashes of every file a run wrote beside summary.json."""
    return {
        path.relative_to(folder).as_posix(): file_digest(path)
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != "summary.json"
    }


def damage(
    slug: str, root: Path = RESULTS_ROOT, folder: Path | None = None
) -> str | None:
    """Why a results folder no longer holds what its run wrote (a file missing,
    truncated or edited), or None. Summaries from before the hashes: None."""
    summary = load_summary(slug, root, folder)
    if summary is None or "outputs" not in summary:
        return None
    folder = folder or point_dir(slug, root)
    for name, digest in summary["outputs"].items():
        path = folder / name
        if not path.is_file():
            return f"{name} is missing"
        if file_digest(path) != digest:
            return f"{name} differs from what the run wrote"
    return None


def output_root(profile: str, customised: bool, device: str = "cpu") -> Path:
    """results/ holds only the published run: the default profile, unmodified, on
    the CPU (so any reader can reproduce it).

    Any other profile, --seeds/--set/--threads, or another device goes to
    build/results/<profile>[-custom][-<device>], so an experiment can never
    overwrite the committed results by accident.
    """
    if profile == "default" and not customised and device == "cpu":
        return RESULTS_ROOT
    suffix = ("-custom" if customised else "") + (
        "" if device == "cpu" else f"-{device}"
    )
    return REPO_ROOT / "build" / "results" / f"{profile}{suffix}"


def load_records(slug: str, root: Path = RESULTS_ROOT, folder: Path | None = None):
    """records.csv as a DataFrame (pandas is imported here, not at start-up)."""
    import pandas as pd

    path = (folder or point_dir(slug, root)) / "records.csv"
    if not path.exists():
        raise ResultsError(f"{path} is missing; {fix_hint(slug)}")
    try:
        records = pd.read_csv(path)
    except (OSError, ValueError) as error:
        raise ResultsError(f"{path} is corrupt ({error}); {fix_hint(slug)}") from error
    check_records(records, str(path))
    return records


def check_records(records, where: str) -> None:
    """Tidy records: the required columns, at least one row, finite values."""
    import numpy as np
    import pandas as pd

    if not isinstance(records, pd.DataFrame):
        raise ResultsError(
            f"{where}: run() must return a DataFrame, got {type(records)}"
        )
    missing = [column for column in REQUIRED_COLUMNS if column not in records.columns]
    if missing:
        raise ResultsError(f"{where}: records lack columns {', '.join(missing)}")
    if records.empty:
        raise ResultsError(f"{where}: records are empty")
    values = pd.to_numeric(records["value"], errors="coerce")
    if not np.isfinite(values.to_numpy(dtype=float)).all():
        raise ResultsError(f"{where}: records have non-numeric or infinite values")


def write_atomically(
    slug: str, fill: Callable[[Path], None], root: Path = RESULTS_ROOT
) -> Path:
    """Call fill(tmp_dir) to write every file, then swap tmp_dir in for results/<slug>.

    If fill raises, the temporary folder is deleted and the old results stay. The
    point is locked while it is written, so two runs of one point cannot interleave,
    and a swap that a kill interrupted is repaired first (see recover).
    """
    root.mkdir(parents=True, exist_ok=True)
    final = point_dir(slug, root)
    with point_lock(slug, root):
        recover(slug, root)
        staging = Path(tempfile.mkdtemp(prefix=f".{slug}.new-", dir=root))
        try:
            fill(staging)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        backup = root / f".{slug}.old"
        shutil.rmtree(backup, ignore_errors=True)
        if final.exists():
            os.replace(final, backup)
        os.replace(staging, final)
        shutil.rmtree(backup, ignore_errors=True)
    return final


@contextlib.contextmanager
def point_lock(slug: str, root: Path = RESULTS_ROOT):
    """An exclusive lock on one point's results (a lock file beside them)."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f".{slug}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def recover(slug: str, root: Path = RESULTS_ROOT) -> None:
    """Undo what a killed swap left behind (call with the point's lock held): the
    old results back in place if the new ones never arrived, and no staging or
    backup folder left over."""
    final, backup = point_dir(slug, root), root / f".{slug}.old"
    if backup.exists() and not final.exists():
        os.replace(backup, final)
    shutil.rmtree(backup, ignore_errors=True)
    for staging in root.glob(f".{slug}.new-*"):
        shutil.rmtree(staging, ignore_errors=True)


def recover_all(root: Path = RESULTS_ROOT) -> None:
    """Repair every point's interrupted swap (each under its own lock)."""
    if not root.is_dir():
        return
    slugs = {p.name.split(".")[1] for p in root.glob(".*.old")}
    slugs |= {p.name.split(".")[1] for p in root.glob(".*.new-*")}
    for slug in sorted(slugs):
        with point_lock(slug, root):
            recover(slug, root)


def write_json(path: Path, data: dict) -> None:
    path.write_text(
        json.dumps(data, indent=2, sort_keys=False) + "\n", encoding="utf-8"
    )


# Transparent so the chart sits on the page colour in both Material schemes.
SVG_CONFIG = {"background": None}
THEMES = {"light": None, "dark": "dark"}


def save_charts(charts: dict, folder: Path) -> list[str]:
    """Write <name>.vl.json, <name>.light.svg and <name>.dark.svg for every chart."""
    import vl_convert

    from essay_code.core.plots import SPEC_CONFIG

    folder.mkdir(parents=True, exist_ok=True)
    for name, chart in charts.items():
        if not CHART_NAME.fullmatch(name):
            raise ValueError(f"chart name {name!r} must be letters, digits, - and _")
        spec = chart.to_dict()
        spec["config"] = {**SPEC_CONFIG, **spec.get("config", {})}
        (folder / f"{name}.vl.json").write_text(
            json.dumps(spec, indent=1, sort_keys=True) + "\n", encoding="utf-8"
        )
        for scheme, theme in THEMES.items():
            svg = vl_convert.vegalite_to_svg(spec, theme=theme, config=SVG_CONFIG)
            (folder / f"{name}.{scheme}.svg").write_text(svg, encoding="utf-8")
    return sorted(charts)
