"""The companion notebook of a point, as a jupytext percent script.

Every point gets docs/notebooks/<slug>.py from this one template: the build writes it
when it is missing or stale (`write_notebooks`, from the site hooks), and git ignores
the generated files. A point may commit its own notebook instead: a file without the
`essay_generated` metadata line is never overwritten. mkdocs-jupyter executes the
notebooks at build time (cached) and the hooks also publish each as .ipynb. A
notebook only reads results and runs the smoke profile: it never touches results/.
"""

from __future__ import annotations

import re
from pathlib import Path

GENERATED_MARK = "#   essay_generated: true"

TEMPLATE = """# ---
# jupyter:
#   essay_generated: true
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Companion notebook: {heading}
#
# The notebook of the point [`{slug}`](../../points/{slug}/) (tweets {tweets}).
# It loads the published results, redraws a chart offline, and runs the smoke
# profile live, so you can change the code and see what moves. Download it as
# `.ipynb` from the point's page, or run the script from a clone.

# %%
# Outside a clone, the first cell installs the project (torch, the points, the data).
import importlib.util
import subprocess
import sys

if importlib.util.find_spec("essay_code") is None:
{install}

# %%
import warnings

import altair as alt
import pandas as pd

# Some libraries a point uses import tqdm.auto, which warns in a kernel without
# ipywidgets (and prints a local path); progress bars are off here anyway.
warnings.filterwarnings("ignore", message="IProgress not found")

from essay_code.tooling.registry import get_points
from essay_code.tooling.results import load_records, load_summary
from essay_code.tooling.runner import RunContext, execute, resolve_config

alt.renderers.enable("svg")  # rendered by vl-convert: no network, no browser
(point,) = get_points(["{slug}"])

# %% [markdown]
# ## The published results
# The verdict and every estimate, as the default profile produced them.

# %%
summary = load_summary(point.slug)
print(summary["verdict"]["status"], "-", summary["verdict"]["reason"])
pd.DataFrame(summary["estimates"]).T[["value", "low", "high", "unit"]]

# %%
records = load_records(point.slug)
records.head()

# %% [markdown]
# ## A chart, redrawn from the records

# %%
charts = point.module.charts(records)
charts[sorted(charts)[0]]

# %% [markdown]
# ## The smoke profile, live
# The same code at a tiny size (seconds). Its numbers are noisy by design; the
# published verdict comes from the default profile.

# %%
config = resolve_config(point, "smoke")
smoke_records, judgement, _ = execute(
    point, config, RunContext(show_progress=False, record_timings=False)
)
print(judgement.verdict.status, "-", judgement.verdict.reason)
pd.DataFrame({{name: vars(est) for name, est in judgement.estimates.items()}}).T[
    ["value", "low", "high"]
]
"""


def plain_title(title) -> str:
    """A title from results/ with only characters that cannot be markup: headings
    become page titles, which MkDocs and the theme write unescaped into <title>,
    meta attributes and the search index."""
    return re.sub(r"[^\w .,:;?/+-]", "", " ".join(str(title).split()))


def install_code(repo_url: str | None) -> str:
    """The body of the install cell: pip from the repository where the site knows
    it (the Pages build sets REPO_URL), else a clear message."""
    if repo_url and re.fullmatch(r"https://[\w.-]+/[\w.-]+/[\w.-]+", repo_url):
        target = f"essay-code @ git+{repo_url}"
        return (
            "    subprocess.check_call(\n"
            f"        [sys.executable, '-m', 'pip', 'install', {target!r}]\n"
            "    )"
        )
    return (
        "    raise ModuleNotFoundError(\n"
        "        'clone the repository and run: bash scripts/setup.sh test'\n"
        "    )"
    )


def notebook_source(
    slug: str, title: str, tweets: tuple[int, ...], repo_url: str | None = None
) -> str:
    """The notebook text. The title comes from results/, so it is escaped (it lands
    in a Markdown cell); the slug is a registered module name; tweets are ints."""

    numbers = ", ".join(str(int(t)) for t in tweets)
    # The heading becomes the page title, which MkDocs writes unescaped into the
    # <title> and the search index: keep only characters that cannot be markup.
    heading = plain_title(title)
    return TEMPLATE.format(
        slug=slug, heading=heading, tweets=numbers, install=install_code(repo_url)
    )


def is_generated(path: Path) -> bool:
    """Written from the template (so ours to rewrite), not a point's own notebook."""
    head = path.read_text(encoding="utf-8").splitlines()[:4]
    return GENERATED_MARK in head


def write_notebooks(
    folder: Path, summaries: dict[str, dict], repo_url: str | None = None
) -> list[Path]:
    """Write each point's notebook where it is missing or stale; leave a point's own
    notebook alone. Returns the files written (unchanged files are not rewritten,
    so `mkdocs serve` does not rebuild in a loop)."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for slug, summary in summaries.items():
        path = folder / f"{slug}.py"
        source = notebook_source(
            slug, summary["title"], tuple(summary["tweets"]), repo_url
        )
        if path.exists() and (
            not is_generated(path) or path.read_text(encoding="utf-8") == source
        ):
            continue
        path.write_text(source, encoding="utf-8")
        written.append(path)
    return written
