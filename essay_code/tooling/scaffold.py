"""`python -m essay_code new SLUG --tweets N --title "..."`: a new point, wired.

Writes the point module, its page and its test (the build generates the companion
notebook). The module imports and
registers at once, but its functions raise NotImplementedError with what to write,
and the page holds TODO lines: the test suite names each missing piece until the
point is complete (tests/test_sync.py, tests/test_points.py).
"""

from __future__ import annotations

import re
from pathlib import Path

from essay_code.tooling.registry import RegistryError, source_paths
from essay_code.tooling.results import REPO_ROOT

SLUG = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
TWEETS_FILE = REPO_ROOT / "essay_code" / "data" / "what-cant-deep-learning-do.md"

MODULE = '''"""Tweet(s) {tweets}: {title_text}.

TODO: the claim in one sentence; what the experiment shows and does not show;
references. The point contract: the docstring of essay_code/tooling/registry.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import altair as alt
import pandas as pd

from essay_code import core

TITLE = {title_literal}
TWEETS = ({tweet_tuple})
KEY = "TODO_key_estimate"  # the headline estimate's name in summarize()
# A readable name for every estimate, shown on the page instead of the identifier.
NAMES = {{"TODO_key_estimate": "TODO: the key number in a few words"}}


@dataclass(frozen=True)
class Config:
    seeds: int = 10  # independent seeds (>= 10 at the default profile)


PROFILES = {{
    "smoke": {{"seeds": 2}},  # seconds: runs in the test suite
    "full": {{"seeds": 20}},  # bigger, for a GPU
}}


def run(cfg: Config, ctx: core.RunContext) -> pd.DataFrame:
    """Tidy records (core.Records): one row per (seed, arm, condition..., metric,
    value). The runner has set the seeds, determinism and the thread count."""
    raise NotImplementedError("TODO: write run(): the fair fight, every arm, seeded")


def summarize(records: pd.DataFrame) -> dict[str, core.Estimate]:
    """Named estimates with 95% intervals (core.bootstrap, core.paired_bootstrap)."""
    raise NotImplementedError("TODO: write summarize(): the numbers the verdict needs")


def charts(records: pd.DataFrame) -> dict[str, alt.TopLevelMixin]:
    """Charts from the vocabulary: core.ci_dots / core.ci_curve, with seeds=..."""
    raise NotImplementedError("TODO: write charts()")


def verdict(estimates: dict[str, core.Estimate]) -> core.Verdict:
    """The agreed rule, three-valued with Estimate.above/below; the Verdict names
    its thresholds (at least KEY's)."""
    raise NotImplementedError("TODO: write verdict(): holds/mitigated/refuted/...")


def assess(records: pd.DataFrame, estimates: dict) -> core.Assessment:
    """Does the verdict survive? core.convergence per deep-learning arm (validation
    metric at 3+ budgets), core.Tuning per arm (grid and choice, on validation data),
    core.robustness_map of verdict()'s rule over the 1-3 choices it could hinge on
    (the training budget always one), all read from the records alone."""
    raise NotImplementedError("TODO: write assess()")
'''

TEST = '''"""{title_text}: the point's own tests, its arms on small hand-made inputs."""


def test_todo_the_arms_do_what_the_page_says():
    raise NotImplementedError("TODO: test each arm on a small case with a known answer")
'''

PAGE = """# {title}

{quotes}

{{{{ {slug}.answer }}}}

TODO: one plain sentence, numbers only from markers, saying what was compared and
what happened (it must read right whatever the data say).

```chart
{slug}/TODO_deciding_chart
caption: TODO: what to look for in this chart
```

## What the literature says since 2017

TODO: anchors with links; state figures only where you checked them.

## The experiment

TODO: data, arms (deep learning, the classical method, the fix), metrics, and why
it is a fair fight. Config values come from markers, e.g. {{{{ {slug}.seeds }}}} seeds.

## Results

TODO: the other charts and what they show.

{{{{ {slug}.estimates }}}}

## Verdict

{{{{ {slug}.verdict }}}} {{{{ {slug}.reason }}}}

**Rule.** {{{{ {slug}.rule }}}}

## Does the verdict survive?

{{{{ {slug}.intrinsic_or_engineering }}}}

{{{{ {slug}.robustness }}}}

{{{{ {slug}.convergence }}}}

{{{{ {slug}.tuning }}}}

## What this does not show

TODO

## Reproduce

```bash
python -m essay_code run {slug}
python -m essay_code run {slug} --profile smoke
```

The [companion notebook](../notebooks/{slug}.py) loads these results and runs the
smoke profile live. Download the data: {{{{ {slug}.downloads }}}}.

## Provenance

{{{{ {slug}.provenance }}}}

### The key number across regenerations

{{{{ {slug}.history }}}}
"""


def tweet_texts() -> dict[int, str]:
    text = TWEETS_FILE.read_text(encoding="utf-8")
    return {
        int(m.group(1)): m.group(0).strip()
        for m in re.finditer(r"^(\d+)/.*$", text, re.MULTILINE)
    }


def quote_block(tweets: list[int]) -> str:
    texts = tweet_texts()
    lines = []
    for number in tweets:
        lines += [f"> {texts[number]}", ">"]
    return "\n".join(lines + ["> — Bharath Ramsundar, 2017"])


def scaffold(
    slug: str, tweets: list[int], title: str, root: Path = REPO_ROOT
) -> list[Path]:
    """Write the module, its page and its test; refuse a bad slug, a taken slug, a
    bad tweet number or an empty title. Any title is safe: the module gets it as a
    Python literal (repr), and its docstring a copy without backslashes or quote
    runs, so the generated module always parses."""
    if not SLUG.match(slug):
        raise RegistryError(f"slug {slug!r} must be lowercase words joined by '-'")
    if slug in source_paths():
        raise RegistryError(f"point {slug!r} already exists")
    if not tweets or not all(1 <= t <= 29 for t in tweets):
        raise RegistryError(f"--tweets must be tweet numbers 1-29, got {tweets}")
    title = " ".join(title.split())
    if not title:
        raise RegistryError("--title must not be empty")
    title_text = re.sub(r'["\\]', "'", title)
    name = slug.replace("-", "_")
    files = {
        root / "essay_code" / "points" / f"{name}.py": MODULE.format(
            tweets=", ".join(map(str, tweets)),
            title_text=title_text,
            title_literal=repr(title),
            tweet_tuple=", ".join(map(str, tweets)) + ("," if len(tweets) == 1 else ""),
        ),
        root / "docs" / "points" / f"{slug}.md": PAGE.format(
            title=title, slug=slug, quotes=quote_block(tweets)
        ),
        root / "tests" / f"test_point_{name}.py": TEST.format(title_text=title_text),
    }
    existing = [path for path in files if path.exists()]
    if existing:
        raise RegistryError(f"refusing to overwrite {', '.join(map(str, existing))}")
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return list(files)
