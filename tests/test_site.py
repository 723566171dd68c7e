"""The built site: strict build, every point page present, no request off the host."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urlparse

from conftest import POINTS

from essay_code.site.markers import EVIDENCE
from essay_code.tooling.results import REPO_ROOT


class FetchedUrls(HTMLParser):
    """URLs a browser fetches on load: script/img/iframe/source src, and link hrefs
    that are stylesheets, icons or preloads (not <a href>, not rel=canonical)."""

    FETCHING_RELS = {"stylesheet", "icon", "preload", "modulepreload", "manifest"}

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag in ("script", "img", "iframe", "source", "video", "audio"):
            self.urls += [attributes["src"]] if attributes.get("src") else []
        elif tag == "link":
            rels = set((attributes.get("rel") or "").lower().split())
            if rels & self.FETCHING_RELS and attributes.get("href"):
                self.urls.append(attributes["href"])

    @classmethod
    def of(cls, html_text: str) -> list[str]:
        parser = cls()
        parser.feed(re.sub(r"<noscript>.*?</noscript>", "", html_text, flags=re.S))
        return parser.urls


def test_site_builds_with_every_point_page_and_notebook(built_site):
    assert (built_site / "index.html").exists()
    for point in POINTS:
        page = (built_site / "points" / point.slug / "index.html").read_text()
        assert page.count('class="essay-chart"') >= 1
        assert "{{" not in page, "an unreplaced marker reached the page"
        assert (built_site / "notebooks" / point.slug / "index.html").exists()
        assert (built_site / "notebooks" / f"{point.slug}.ipynb").exists()
        assert (built_site / "results" / point.slug / "records.csv").exists()


def test_companion_notebooks_ran_without_errors(built_site):
    for point in POINTS:
        page = (built_site / "notebooks" / point.slug / "index.html").read_text()
        assert "Traceback" not in page
        assert "<svg" in page, "the notebook did not redraw its chart"
        # Both the published verdict and the live smoke run print "status - reason".
        printed = re.findall(r"(holds|mitigated|refuted|inconclusive) - ", page)
        assert len(printed) >= 2, "the notebook's cells did not all run"


def test_essay_page_has_the_verdict_table_and_evidence(built_site):
    page = (built_site / "index.html").read_text()
    assert 'class="verdict-table"' in page
    for point in POINTS:
        assert f'href="points/{point.slug}/"' in page
    # Every tweet marker names a point: built ones link it, the rest say "coming".
    source = (REPO_ROOT / "docs" / "index.md").read_text(encoding="utf-8")
    named = set(EVIDENCE.findall(source))
    built = {point.slug for point in POINTS}
    planned = {slug for _, slug in named} - built - {"table"}
    assert page.count("Experiment coming") == sum(s in planned for _, s in named)
    # one box per point under its first tweet; a later tweet of a pair links back
    firsts = {p.slug: min(p.tweets) for p in POINTS}
    boxes = [(int(t), s) for t, s in named if s in built]
    assert page.count("Tested: ") == sum(t == firsts[s] for t, s in boxes)
    assert page.count("Tested with tweet ") == sum(t != firsts[s] for t, s in boxes)


def test_no_page_fetches_from_another_host(built_site):
    checked = 0
    for html_file in built_site.rglob("*.html"):
        parser = FetchedUrls()
        parser.feed(html_file.read_text(encoding="utf-8"))
        for url in parser.urls:
            host = urlparse(url).hostname
            assert host in (None, "127.0.0.1"), f"{html_file}: fetches {url}"
            checked += 1
    assert checked > 0, "found no fetched asset at all: the parser is broken"


DEVELOPMENT_TEXT = re.compile(
    r"POINTS\.md|the spec\b|this project's spec|the project's plan|I could not check|"
    r"checked with a search|TqdmWarning|/work/|/tmp/|/root/|/home/|\.venv/",
    re.IGNORECASE,
)


def visible_text(html_text: str) -> str:
    """The page without its scripts and the inlined chart specs."""
    html_text = re.sub(r"<script.*?</script>", "", html_text, flags=re.DOTALL)
    return re.sub(r'data-spec="[^"]*"', "", html_text)


def test_no_development_text_or_local_path_on_any_page(built_site):
    for page in built_site.rglob("*.html"):
        text = visible_text(page.read_text(encoding="utf-8"))
        found = DEVELOPMENT_TEXT.search(text)
        assert found is None, f"{page.relative_to(built_site)}: {found.group(0)!r}"
        assert "{{" not in text, f"{page.relative_to(built_site)}: unrendered marker"


def test_every_point_page_offers_its_notebook_as_ipynb(built_site):
    for point in POINTS:
        page = (built_site / "points" / point.slug / "index.html").read_text()
        assert f'notebooks/{point.slug}.ipynb"' in page


def test_points_are_in_tweet_order_in_the_nav_and_charts_load_vega_lazily(built_site):
    page = (built_site / "index.html").read_text(encoding="utf-8")
    positions = [page.find(f'href="points/{point.slug}/"') for point in POINTS]
    assert -1 not in positions and positions == sorted(positions)
    about = (built_site / "about" / "index.html").read_text(encoding="utf-8")
    assert "vega-bundle.js" not in about, "a page without charts loads Vega"
    first = (built_site / "points" / POINTS[0].slug / "index.html").read_text()
    assert "<noscript><img" in first, "fallback SVGs must load only without JS"


def article(html_text: str) -> str:
    """The page's content column (no header, nav or footer)."""
    start = html_text.find('<article class="md-content__inner')
    end = html_text.find("</article>", start)
    assert start != -1 and end != -1, "no article in the page"
    return html_text[start:end]


def words(html_fragment: str) -> int:
    text = visible_text(html_fragment)
    text = re.sub(r"<noscript>.*?</noscript>", "", text, flags=re.S)
    return len(re.sub(r"<[^>]+>", " ", text).replace("¶", " ").split())


ANSWER_WORDS = 250


def test_every_point_page_leads_with_its_answer(built_site):
    """Badge, robustness, tweet 19's answer and the deciding chart with its caption,
    within the first 250 words and before the first section."""
    for point in POINTS:
        body = article((built_site / "points" / point.slug / "index.html").read_text())
        box, chart = body.find('class="answer-box'), body.find("</figure>")
        section = body.find("<h2")
        assert -1 < box < chart, f"{point.slug}: no answer box before a chart"
        assert section == -1 or chart < section, f"{point.slug}: chart after a section"
        lead = body[: chart + len("</figure>")]
        assert "<figcaption>" in lead, f"{point.slug}: no caption on the first chart"
        assert 'class="verdict-badge' in lead
        # tweet 19's answer where the point carries an assessment; else it says so
        said = "intrinsic or engineering (tweet 19)" in lead
        assert said or "no robustness map yet" in lead, point.slug
        assert words(lead) <= ANSWER_WORDS, f"{point.slug}: {words(lead)} words first"


PAGE_BUDGET = 250 * 1024


def test_every_point_page_weighs_at_most_250_kb_of_its_own(built_site):
    """A point page's own bytes: its HTML (charts and their data are inline; the
    SVG fallbacks load only without JavaScript, inside <noscript>)."""
    for point in POINTS:
        page = built_site / "points" / point.slug / "index.html"
        size = page.stat().st_size
        assert size <= PAGE_BUDGET, f"{point.slug}: {size // 1024} KB"
        for url in FetchedUrls.of(page.read_text(encoding="utf-8")):
            assert "/results/" not in url, f"{point.slug} fetches {url} on load"


def test_tweet_19_and_22_tables_are_generated_from_every_point(built_site):
    page = (built_site / "index.html").read_text(encoding="utf-8")
    start = page.find("Tweet 19, answered by each experiment")
    table = page[start : page.find("</table>", start)]
    for point in POINTS:
        assert f'href="points/{point.slug}/"' in table, point.slug
    assert "deeper, as" in page and "The data agree with the prediction" in page
