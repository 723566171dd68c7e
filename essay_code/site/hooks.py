"""MkDocs hooks (mkdocs.yml `hooks:`): results into pages, assets into the site.

- on_config: key mkdocs-jupyter's cache on the published results too, so a companion
  notebook re-executes when the results it loads change, and only then.
- on_files: serve the vega-embed bundle, every results file (for downloads and the
  SVG fallbacks) and each companion notebook as a downloadable .ipynb.
- on_page_markdown: the markers of essay_code.site.markers.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import jupytext
import vl_convert
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files
from mkdocs.structure.nav import _add_previous_and_next_links, _get_by_type
from mkdocs.structure.pages import Page

from essay_code.core.plots import SPEC_CONFIG
from essay_code.site import markers, notebook, overview, published
from essay_code.tooling.results import REPO_ROOT, RESULTS_ROOT, SVG_CONFIG, THEMES

log = logging.getLogger("mkdocs.hooks.essay")
BUNDLE_URI = "assets/javascripts/vega-bundle.js"
SOCIAL_CARD_URI = "assets/images/social-card.png"
CACHE_DIR = REPO_ROOT / ".cache"


def results_digest() -> str:
    digest = hashlib.sha256()
    for path in markers.results_files():
        digest.update(str(path.relative_to(RESULTS_ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def on_config(config):
    published.refresh()
    notebook.write_notebooks(
        Path(config["docs_dir"]) / "notebooks",
        published.summaries(),
        config.get("repo_url"),
    )
    jupyter = config.plugins.get("mkdocs-jupyter")
    if jupyter is not None:
        base = Path(jupyter.config["cache_dir"]).name or "mkdocs-jupyter"
        jupyter.config["cache_dir"] = str(CACHE_DIR / base / results_digest())
    return config


def vega_bundle() -> str:
    """vega + vega-lite + vega-embed in one local script (built once, then cached)."""
    path = CACHE_DIR / f"vega-bundle-{vl_convert.__version__}.js"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(vl_convert.javascript_bundle(), encoding="utf-8")
    return path.read_text(encoding="utf-8")


def fallback_svgs(spec: dict) -> dict[str, str]:
    """The light and dark SVG fallbacks of a validated spec, drawn here rather than
    copied from results/ (an SVG could carry script); cached by the spec's hash."""
    digest = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()
    folder = CACHE_DIR / "svg" / f"{vl_convert.__version__}-{digest[:20]}"
    svgs = {}
    for scheme, theme in THEMES.items():
        path = folder / f"{scheme}.svg"
        if not path.exists():
            folder.mkdir(parents=True, exist_ok=True)
            svg = vl_convert.vegalite_to_svg(spec, theme=theme, config=SVG_CONFIG)
            path.write_text(svg, encoding="utf-8")
        svgs[scheme] = path.read_text(encoding="utf-8")
    return svgs


def generated_charts(config) -> list[File]:
    """The dashboard and history charts: specs for the pages, SVGs as files."""
    charts = {"dashboard": overview.dashboard_chart()}
    for slug in published.slugs():
        charts[f"history-{slug}"] = overview.history_chart(slug)
    markers.GENERATED_SPECS.clear()
    files = []
    for name, chart in charts.items():
        if chart is None:
            continue
        spec = chart.to_dict()
        spec["config"] = {**SPEC_CONFIG, **spec.get("config", {})}
        markers.GENERATED_SPECS[name] = spec
        if name == "dashboard":  # the social preview card (og:image)
            png = vl_convert.vegalite_to_png(
                spec, scale=2, config={"background": "white"}
            )
            files.append(File.generated(config, SOCIAL_CARD_URI, content=png))
        for scheme, theme in THEMES.items():
            svg = vl_convert.vegalite_to_svg(spec, theme=theme, config=SVG_CONFIG)
            uri = f"{markers.GENERATED_DIR}/{name}.{scheme}.svg"
            files.append(File.generated(config, uri, content=svg))
    return files


def on_files(files: Files, config) -> Files:
    files.append(File.generated(config, BUNDLE_URI, content=vega_bundle()))
    for file in generated_charts(config):
        files.append(file)
    for path in markers.results_files():
        uri = "results/" + path.relative_to(RESULTS_ROOT).as_posix()
        files.append(File.generated(config, uri, abs_src_path=str(path)))
    for chart_id, spec in markers.chart_specs().items():
        for scheme, svg in fallback_svgs(spec).items():
            uri = f"results/{chart_id.replace('/', '/charts/')}.{scheme}.svg"
            files.append(File.generated(config, uri, content=svg))
    for script in sorted(Path(config["docs_dir"], "notebooks").glob("*.py")):
        notebook = jupytext.writes(jupytext.read(script), fmt="ipynb")
        uri = f"notebooks/{script.stem}.ipynb"
        files.append(File.generated(config, uri, content=notebook))
    return files


# Sections in reading order; MkDocs' own nav is alphabetical (Notebooks < Points).
SECTION_ORDER = {"Points": 0, "Notebooks": 2}


def on_nav(nav, config, files):
    """The essay first, then the points, then the about pages, then the notebooks."""

    def rank(item) -> tuple[int, int]:
        if item.is_page and item.file.src_uri == "index.md":
            return (-1, 0)
        return (SECTION_ORDER.get(item.title, 1) if item.is_section else 1, 0)

    nav.items.sort(key=rank)
    # Inside the sections, points (and their notebooks) in tweet order, each under
    # its one title from results/.
    order = {slug: index for index, slug in enumerate(published.summaries())}
    titles = {slug: s["title"] for slug, s in published.summaries().items()}
    for section in (item for item in nav.items if item.is_section):
        pages = [child for child in section.children if child.is_page]
        if len(pages) != len(section.children):
            continue

        def tweet_rank(child) -> tuple[int, str]:
            slug = Path(child.file.src_uri).stem
            return (order.get(slug, len(order)), slug)

        section.children.sort(key=tweet_rank)
        if section.title == "Points":
            for child in section.children:
                slug = Path(child.file.src_uri).stem
                # MkDocs writes nav titles into the HTML unescaped.
                child.title = notebook.plain_title(titles.get(slug, child.title))
    # MkDocs linked previous/next pages (the footer) before this hook ran: relink in
    # the new order. These helpers are private to MkDocs but stable since 1.0.
    nav.pages = _get_by_type(nav.items, Page)
    _add_previous_and_next_links(nav.pages)
    return nav


def point_heading(markdown: str, src_uri: str) -> str:
    """A point page's heading is its one title, the module's TITLE from results/."""
    path = Path(src_uri)
    in_points = path.parts[0] == "points"
    summary = published.summaries().get(path.stem) if in_points else None
    if summary is None or not markdown.startswith("# "):
        return markdown
    _heading, _, rest = markdown.partition("\n")
    return f"# {notebook.plain_title(summary['title'])}\n{rest}"


def on_page_markdown(markdown: str, page, config, files) -> str:
    markdown = point_heading(markdown, page.file.src_uri)
    try:
        return markers.render(markdown, page.url, page.file.src_uri)
    except markers.MarkerError as error:
        raise PluginError(str(error)) from error
