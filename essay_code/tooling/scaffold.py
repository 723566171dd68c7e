"""`python -m essay_code new SLUG --tweets N --title "..."`: a new point, wired.

Writes the point module, its page and its companion notebook. The module imports and
registers at once, but its functions raise NotImplementedError with what to write,
and the page holds TODO lines: the test suite names each missing piece until the
point is complete (tests/test_sync.py, tests/test_points.py).
"""

from __future__ import annotations

import re
from pathlib import Path

from essay_code.site.notebook import notebook_source
from essay_code.tooling.registry import RegistryError, source_paths
from essay_code.tooling.results import REPO_ROOT

SLUG = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
TWEETS_FILE = REPO_ROOT / "essay_code" / "data" / "what-cant-deep-learning-do.md"

MODULE = '''"""Tweet(s) {tweets}: {title}.

TODO: the claim in one sentence; what the experiment shows and does not show;
references (see POINTS.md for the spec and its anchors).
"""

from __future__ import annotations

from dataclasses import dataclass

import altair as alt
import pandas as pd

from essay_code.core import Estimate, RunContext, Verdict

TITLE = "{title}"
TWEETS = ({tweet_tuple})
KEY = "TODO_key_estimate"  # the headline estimate's name in summarize()


@dataclass(frozen=True)
class Config:
    seeds: int = 5  # independent seeds (>= 5 at the default profile)


PROFILES = {{
    "smoke": {{"seeds": 2}},  # seconds: runs in the test suite
    "full": {{"seeds": 20}},  # bigger, for a GPU
}}


def run(cfg: Config, ctx: RunContext) -> pd.DataFrame:
    """Tidy records: one row per (seed, arm, condition..., metric, value)."""
    raise NotImplementedError("TODO: write run(): the fair fight, every arm, seeded")


def summarize(records: pd.DataFrame) -> dict[str, Estimate]:
    """Named estimates with 95% bootstrap CIs (essay_code.core.bootstrap)."""
    raise NotImplementedError("TODO: write summarize(): the numbers the verdict needs")


def charts(records: pd.DataFrame) -> dict[str, alt.Chart]:
    """Altair charts with uncertainty (CI bands or per-seed points) and tooltips."""
    raise NotImplementedError("TODO: write charts()")


def verdict(summary: dict[str, Estimate]) -> Verdict:
    """The rule from POINTS.md, three-valued with Estimate.above/below."""
    raise NotImplementedError("TODO: write verdict(): holds/mitigated/refuted/...")
'''

PAGE = """# {title}

{quotes}

TODO: the claim in a sentence.

## What the literature says since 2017

TODO: anchors with links; state figures only where you checked them.

## The experiment

TODO: data, arms (deep learning, the classical method, the fix), metrics, and why
it is a fair fight. Config values come from markers, e.g. {{{{ {slug}.seeds }}}} seeds.

## Results

```chart
{slug}/TODO_chart_name
```

{{{{ {slug}.estimates }}}}

## Verdict

{{{{ {slug}.verdict }}}} {{{{ {slug}.reason }}}}

**Rule.** {{{{ {slug}.rule }}}}

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
    """Write the three files; refuse a bad slug, a taken slug or a bad tweet number."""
    if not SLUG.match(slug):
        raise RegistryError(f"slug {slug!r} must be lowercase words joined by '-'")
    if slug in source_paths():
        raise RegistryError(f"point {slug!r} already exists")
    if not tweets or not all(1 <= t <= 29 for t in tweets):
        raise RegistryError(f"--tweets must be tweet numbers 1-29, got {tweets}")
    if '"' in title or not title.strip():
        raise RegistryError("--title must be non-empty and without double quotes")
    files = {
        root / "essay_code" / "points" / f"{slug.replace('-', '_')}.py": MODULE.format(
            tweets=", ".join(map(str, tweets)),
            title=title,
            tweet_tuple=", ".join(map(str, tweets)) + ("," if len(tweets) == 1 else ""),
        ),
        root / "docs" / "points" / f"{slug}.md": PAGE.format(
            title=title, slug=slug, quotes=quote_block(tweets)
        ),
        root / "docs" / "notebooks" / f"{slug}.py": notebook_source(
            slug, title, tuple(tweets)
        ),
    }
    existing = [path for path in files if path.exists()]
    if existing:
        raise RegistryError(f"refusing to overwrite {', '.join(map(str, existing))}")
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return list(files)
