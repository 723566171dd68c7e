"""What the site knows about the points: the list of slugs (file names, no import)
and each point's summary.json. The site never imports a point module or torch: a
point's title, tweets and thresholds come from its published results."""

from __future__ import annotations

from essay_code.tooling.registry import source_paths
from essay_code.tooling.results import RESULTS_ROOT, ResultsError, load_summary


def slugs() -> list[str]:
    """Every registered point, by file name."""
    return sorted(source_paths())


def summaries() -> dict[str, dict]:
    """slug -> summary for every point with results, in tweet order. Read once per
    build (every page and the nav ask): the hooks call refresh() as a build starts."""
    if _CACHE.get("root") != RESULTS_ROOT:
        _CACHE.update(root=RESULTS_ROOT, summaries=read_summaries())
    return _CACHE["summaries"]


_CACHE: dict = {}


def refresh() -> None:
    """Forget what was read, so the next build (mkdocs serve rebuilds) reads again."""
    _CACHE.clear()


def read_summaries() -> dict[str, dict]:
    found = {}
    for slug in slugs():
        summary = load_summary(slug)
        if summary is not None:
            found[slug] = summary
    return dict(sorted(found.items(), key=lambda item: (item[1]["tweets"][0], item[0])))


def key_threshold(summary: dict) -> float | None:
    """The threshold the verdict compares the key number with, if it declares one."""
    return summary["verdict"].get("thresholds", {}).get(summary["key"])


def check_results_folders() -> None:
    """Refuse to publish a results folder whose slug the registry does not know."""
    known = set(slugs())
    for folder in sorted(RESULTS_ROOT.iterdir()):
        if (
            folder.is_dir()
            and not folder.name.startswith(".")
            and folder.name not in known
        ):
            raise ResultsError(
                f"results/{folder.name} belongs to no registered point; remove it "
                f"or add essay_code/points/{folder.name.replace('-', '_')}.py"
            )
