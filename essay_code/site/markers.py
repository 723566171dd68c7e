"""Replace results markers in page Markdown with numbers, badges, tables and charts.

    {{ slug.name }}            an estimate: "12.3 points (95% CI 10.1 to 14.2)"
    {{ slug.name.value }}      .low / .high: just that number
    {{ slug.verdict }}         badge;  {{ slug.reason }}, {{ slug.rule }}
    {{ slug.config.field }}    a config value;  {{ slug.seeds }}: how many seeds
    {{ slug.answer }}          the answer box: badge, what it means, the deciding
                               number, robustness and tweet 19's answer
    {{ slug.estimates }}       table of estimates (collapsed, readable names)
    {{ slug.provenance }}      provenance table; {{ slug.downloads }}: CSV, JSON links
    {{ slug.provenance.device }}  (.torch_threads, .cpu_seconds, ...): one field
    {{ slug.robustness }}      .convergence, .tuning, .intrinsic_or_engineering:
                               the assessment (essay_code/site/assessment.py)
    ```chart                   a live vega-embed chart with static SVG fallbacks
    slug/name
    caption: what to look for  (optional: the figure's caption)
    ```
    <!-- verdict-table -->     the generated verdict table (essay page)
    <!-- tweet-19-table -->    per point: intrinsic or engineering (tweet 19)
    <!-- tweet-22-table: item=slug,slug; item=slug -->  the author's "deeper"
                               items against what the data say (tweet 22)
    <!-- evidence: N slug -->  the tweet's badge and link, or "experiment coming"

Anything unknown raises MarkerError, so `mkdocs build --strict` cannot ship a page
with a missing number.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

from altair.utils.schemapi import validate_jsonschema

from essay_code.core.stats import Estimate
from essay_code.core.verdict import STATUSES
from essay_code.site import assessment, published
from essay_code.site.assessment import ASSESSMENT_MARKERS
from essay_code.site.compact import compact_spec
from essay_code.tooling.results import (
    CHART_NAME,
    RESULTS_ROOT,
    ResultsError,
    load_summary,
)

VALUE_MARKER = re.compile(r"\{\{\s*([a-z0-9-]+)\.([A-Za-z0-9_.]+)\s*\}\}")
CHART_FENCE = re.compile(
    r"^```chart[ \t]*\n([a-z0-9-]+)/([A-Za-z0-9_-]+)[ \t]*\n"
    r"(?:caption:[ \t]*([^\n]+)\n)?```[ \t]*$",
    re.MULTILINE,
)
VERDICT_TABLE = "<!-- verdict-table -->"
DASHBOARD = "<!-- verdict-dashboard -->"
GENERATED_DIR = "generated/charts"
EVIDENCE = re.compile(r"<!--\s*evidence:\s*(\d+)\s+([a-z0-9-]+)\s*-->")
TWEET_19_TABLE = "<!-- tweet-19-table -->"
TWEET_22_TABLE = re.compile(r"<!--\s*tweet-22-table:\s*([^>]*?)\s*-->")


PROVENANCE_FIELDS = ("device", "torch_threads", "torch", "wall_seconds", "cpu_seconds")


class MarkerError(ValueError):
    """A marker names a point, estimate, field or chart that the results lack."""


# Characters that mean something to Markdown (or to this page's {{ }} markers and
# attribute lists), written as HTML entities: they then render as themselves.
ENTITIES = {c: f"&#{ord(c)};" for c in "\\`*_{}[]()#!|~<>&\"'"}


def safe(value) -> str:
    """A value from results/ as inert text: HTML-escaped and Markdown-escaped, so no
    string in a results file can become markup, a link or a marker on a page."""
    return attribute(" ".join(str(value).split()))


def attribute(text: str) -> str:
    """Text as an HTML attribute value (or element text) that neither HTML, nor
    Markdown, nor this page's {{ }} markers can read anything into."""
    return "".join(ENTITIES.get(c, c) for c in text)


def code(value) -> str:
    """A value shown as code: an HTML <code> element around the escaped text (a
    Markdown code span cannot hold an escaped backtick)."""
    return f"<code>{safe(value)}</code>"


def status_of(summary: dict, where: str) -> str:
    status = summary["verdict"]["status"]
    if status not in STATUSES:
        raise MarkerError(
            f"{where}: verdict status {safe(status)} is not one of {STATUSES}"
        )
    return status


def summary_for(slug: str, where: str) -> dict:
    try:
        summary = load_summary(slug)
    except ResultsError as error:
        raise MarkerError(f"{where}: {error}") from error
    if summary is None:
        raise MarkerError(
            f"{where}: no results for {slug!r}; run: python -m essay_code run {slug}"
        )
    return summary


def badge(status: str) -> str:
    if status not in STATUSES:
        raise MarkerError(f"verdict status {safe(status)} is not one of {STATUSES}")
    return (
        f'<span class="verdict-badge verdict-{status}" '
        f'title="{attribute(STATUS_MEANING[status])}">{status}</span>'
    )


def page_link(slug: str, doc_root: str) -> str:
    """A Markdown link target to a point page; MkDocs checks it and rewrites it."""
    return f"{doc_root}points/{slug}.md"


# The interval kinds core.stats prints, shortened for the estimates table; the
# legend under it says each once.
INTERVAL_KINDS = (
    ("Student t", "t"),
    ("BCa", "BCa"),
    ("percentile", "percentile"),
)
INTERVAL_LEGEND = (
    "95% intervals (over seeds, or whatever the method names): *t* is the Student "
    "t interval of a mean; *BCa* the "
    "bias-corrected and accelerated bootstrap of any other statistic; *percentile* "
    "the percentile bootstrap where BCa is undefined (ties); *cut*: the interval "
    "was cut to the range the quantity cannot leave (an accuracy's 0 to 100%), "
    "which can only raise its coverage. A dash: a count, a "
    "choice or a fixed quantity, with no interval. Hover a cell for the full "
    "method; `summary.json` has it too."
)


def interval_kind(est: Estimate) -> str:
    if est.low == est.high:
        return "–"
    tail = est.method.split("95% ")[-1]
    cut = ", cut" if "cut to the range" in tail else ""
    for needle, short in INTERVAL_KINDS:
        if needle in tail:
            return short + cut
    return "other" + cut


def readable(summary: dict, name: str) -> str:
    """The point's readable name of an estimate (NAMES), else its identifier."""
    words = summary.get("names", {}).get(name)
    return safe(words) if words else code(name)


def estimate_table(summary: dict) -> str:
    """All estimates, folded away: readable names, one interval legend."""
    rows = ["| quantity | value | 95% CI | interval |", "|---|---|---|---|"]
    for name, data in summary["estimates"].items():
        est = Estimate.from_json(data)
        unit = f" {safe(est.unit)}" if est.unit else ""
        interval = (
            "–" if est.low == est.high else f"{est.fmt(est.low)} to {est.fmt(est.high)}"
        )
        kind = f'<abbr title="{attribute(est.method)}">{interval_kind(est)}</abbr>'
        rows.append(
            f"| {readable(summary, name)} | {est.fmt(est.value)}{unit} | {interval} "
            f"| {kind} |"
        )
    body = "\n".join("    " + row for row in rows + ["", INTERVAL_LEGEND])
    count = len(summary["estimates"])
    return f'??? info "All {count} estimates, with their intervals"\n\n{body}'


def provenance_table(summary: dict) -> str:
    prov = summary["provenance"]
    commit = prov.get("git_commit") or "unknown"
    dirty = " (with uncommitted changes)" if prov.get("git_dirty") else ""
    numerics = prov.get("numerics") or {}
    precision = ", ".join(f"{key} {value}" for key, value in numerics.items())
    rows = [
        ("profile", safe(summary["profile"])),
        ("seeds", safe(", ".join(map(str, summary["seeds"])))),
        (
            "selection seeds",
            safe(", ".join(map(str, summary.get("selection_seeds", []))) or "none"),
        ),
        ("device", safe(prov["device"])),
        ("threads", safe(prov.get("torch_threads", "?"))),
        ("precision", safe(precision or "not recorded")),
        ("under rounding noise", rounding_text(summary.get("rounding_noise"))),
        ("torch", safe(prov["torch"])),
        ("python", safe(prov["python"])),
        ("commit", f"{code(str(commit)[:12])}{dirty}"),
        ("command", code(prov["command"])),
        ("wall time", f"{float(prov['wall_seconds']):.1f} s"),
        ("CPU time", f"{float(prov.get('cpu_seconds', 'nan')):.1f} s (all threads)"),
        ("date", safe(prov["timestamp"])),
        ("cache key", code(summary["cache"]["key"])),
    ]
    return "\n".join(["| | |", "|---|---|"] + [f"| {k} | {v} |" for k, v in rows])


def rounding_text(noise: dict | None) -> str:
    """Whether the smoke verdict survived a GPU-sized rounding perturbation."""
    if noise is None:
        return "not checked"
    before, after = noise["verdict"], noise["verdict_with_noise"]
    outcome = (
        f"the verdict held ({badge(before)})"
        if before == after
        else f"**the verdict flipped**, {badge(before)} to {badge(after)}"
    )
    return (
        f"{outcome}; {int(noise['records_changed'])} of {int(noise['records'])} "
        f"records changed. The check: {safe(noise['check'])}"
    )


def downloads(slug: str, doc_root: str) -> str:
    base = f"{doc_root}results/{slug}"
    notebook = f"{doc_root}notebooks/{slug}.ipynb"
    return (
        f"[records.csv]({base}/records.csv){{ download }} "
        "(every seed, arm and metric), "
        f"[summary.json]({base}/summary.json){{ download }} (estimates, verdict, "
        f"config, provenance) and the companion notebook as "
        f"[{slug}.ipynb]({notebook}){{ download }}"
    )


def generated_chart(name: str, url_root: str, where: str) -> str:
    spec = GENERATED_SPECS.get(name)
    if spec is None:
        return "*No regeneration has been recorded yet.*"
    return figure_html(name, spec, f"{url_root}{GENERATED_DIR}/{name}")


# Specs the hooks build from all results at build time (name -> Vega-Lite spec).
GENERATED_SPECS: dict[str, dict] = {}


def value_of(slug: str, path: str, doc_root: str, url_root: str, where: str) -> str:
    summary = summary_for(slug, where)
    head, _, rest = path.partition(".")
    if head == "verdict" and not rest:
        return badge(summary["verdict"]["status"])
    if head in ("reason", "rule") and not rest:
        return safe(summary["verdict"][head])
    if head == "seeds" and not rest:
        return str(len(summary["seeds"]))
    if head == "estimates" and not rest:
        return "\n\n" + estimate_table(summary) + "\n\n"
    if head == "answer" and not rest:
        return "\n\n" + answer_box(summary, where) + "\n\n"
    if head == "provenance" and not rest:
        return "\n\n" + provenance_table(summary) + "\n\n"
    if head in ASSESSMENT_MARKERS and not rest:
        if head not in summary:
            raise MarkerError(
                f"{where}: the results of {slug} have no {head}; run: "
                f"python -m essay_code run {slug}"
            )
        return assessment.render(summary, head, safe, badge)
    if head == "downloads" and not rest:
        return downloads(slug, doc_root)
    if head == "history" and not rest:
        if f"history-{slug}" not in GENERATED_SPECS:
            prov = summary["provenance"]
            return (
                f"*First run on {safe(str(prov['timestamp'])[:10])} "
                f"({safe(prov['device'])}); the chart of the key number across "
                "regenerations appears after the second run.*"
            )
        return generated_chart(f"history-{slug}", url_root, where)
    if head == "provenance" and rest in PROVENANCE_FIELDS:
        return safe(summary["provenance"].get(rest, "?"))
    if head == "config":
        if rest not in summary["config"]:
            raise MarkerError(f"{where}: {slug} has no config field {rest!r}")
        value = summary["config"][rest]
        return safe(", ".join(map(str, value)) if isinstance(value, list) else value)
    if head in summary["estimates"]:
        est = Estimate.from_json(summary["estimates"][head])
        if not rest:
            return safe(est.text())
        if rest in ("value", "low", "high"):
            return est.fmt(getattr(est, rest))
    raise MarkerError(
        f"{where}: unknown marker {{{{ {slug}.{path} }}}}; estimates of {slug}: "
        f"{', '.join(summary['estimates'])}"
    )


def chart_html(
    slug: str, name: str, root: str, where: str, caption: str | None = None
) -> str:
    """A chart from results/<slug>/charts/: the spec and its static SVGs; `caption`
    (the page's own words) says what to look for."""
    spec_path = RESULTS_ROOT / slug / "charts" / f"{name}.vl.json"
    if not spec_path.exists():
        raise MarkerError(f"{where}: no chart {slug}/{name} ({spec_path} is missing)")
    try:
        spec = json.loads(spec_path.read_text(encoding="utf-8"))
    except ValueError as error:
        raise MarkerError(f"{where}: {spec_path} is not JSON ({error})") from error
    check_spec(spec, f"{where}: {slug}/{name}")
    return figure_html(
        f"{slug}/{name}", spec, f"{root}results/{slug}/charts/{name}", caption
    )


@functools.cache
def vega_lite_schema() -> dict:
    from altair.vegalite import load_schema

    return load_schema()


def check_spec(spec, where: str) -> None:
    """A chart spec from results/ may only draw inline data: no data loaded from a
    URL, no links (href), no images, no Vega expressions calling out. Anything
    else could make a reader's browser fetch or open something."""
    if not isinstance(spec, dict) or "vega-lite" not in str(spec.get("$schema")):
        raise MarkerError(f"{where}: not a Vega-Lite spec")
    fingerprint = json.dumps(spec, sort_keys=True)
    if fingerprint in VALIDATED:  # each spec is checked once per build process
        return
    try:
        validate_jsonschema(spec, vega_lite_schema())
    except Exception as error:  # jsonschema's ValidationError and its relatives
        first = str(error).splitlines()[0][:200]
        raise MarkerError(f"{where}: not valid Vega-Lite ({safe(first)})") from error
    stack = [spec]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("url", "href", "usermeta") or (
                    key == "mark"
                    and (
                        value == "image"
                        or (isinstance(value, dict) and value.get("type") == "image")
                    )
                ):
                    raise MarkerError(
                        f"{where}: the spec has {key!r}, which is refused"
                    )
                stack.append(value)
        elif isinstance(node, list):
            stack.extend(node)
    VALIDATED.add(fingerprint)


VALIDATED: set[str] = set()


def figure_html(
    chart_id: str, spec: dict, fallback_base: str, caption: str | None = None
) -> str:
    """A figure that charts.js renders live; <base>.light/.dark.svg are the static
    fallbacks a browser without JavaScript shows (and only then downloads)."""
    caption = (caption or "").strip()
    title = spec.get("title", chart_id)
    title = title.get("text", chart_id) if isinstance(title, dict) else title
    alt_text = safe(title)
    # Inline the spec: the chart renders without a fetch, even from file://. It sits
    # in an attribute, not a <script type="application/json">: Material's instant
    # navigation re-creates inline scripts without their type and would run it.
    # Its data travel as CSV (site/compact.py): a page stays light.
    spec_attr = attribute(json.dumps(compact_spec(spec), separators=(",", ":")))
    return (
        f'<figure class="essay-chart" data-chart="{attribute(chart_id)}" '
        f'data-spec="{spec_attr}">\n'
        f'<div class="vega-target" role="img" aria-label="{alt_text}"></div>\n'
        # Inside <noscript>: the static SVGs are fetched only without JavaScript.
        f"<noscript>"
        f'<img class="chart-fallback chart-fallback-light" '
        f'src="{fallback_base}.light.svg" alt="{alt_text}">'
        f'<img class="chart-fallback chart-fallback-dark" '
        f'src="{fallback_base}.dark.svg" alt="{alt_text}">'
        f"</noscript>\n"
        + (f"<figcaption>{attribute(caption)}</figcaption>\n" * bool(caption))
        + "</figure>"
    )


def threshold_text(summary: dict, key: Estimate) -> str:
    """The threshold the verdict compares the key number with (from its verdict)."""
    threshold = published.key_threshold(summary)
    unit = f" {safe(key.unit)}" if key.unit else ""
    return "-" if threshold is None else f"{key.fmt(threshold)}{unit}"


def assessed_text(summary: dict) -> str:
    """The robustness label and tweet 19's answer, or a dash for a point without
    an assessment (explained under the table)."""
    robustness = summary.get("robustness")
    answer = summary.get("intrinsic_or_engineering")
    if not robustness or not answer:
        return "–"
    return f"{assessment.label_text(robustness, safe)}; {safe(answer)}"


def verdict_table(doc_root: str, where: str) -> str:
    rows = [
        "| tweets | claim | verdict | key number | robustness; tweet 19 |",
        "|---|---|---|---|---|",
    ]
    for slug in published.slugs():
        summary_for(slug, where)  # a point without results is an error, by name
    unassessed = 0
    for slug, summary in published.summaries().items():
        key = Estimate.from_json(summary["estimates"][summary["key"]])
        tweets = ", ".join(f"[{int(t)}](#tweet-{int(t)})" for t in summary["tweets"])
        threshold = threshold_text(summary, key)
        against = "" if threshold == "-" else f"; threshold {threshold}"
        unassessed += "robustness" not in summary
        rows.append(
            f"| {tweets} | [{safe(summary['title'])}]({page_link(slug, doc_root)}) | "
            f"{badge(status_of(summary, where))} | "
            f"{readable(summary, summary['key'])}: {safe(key.text())}{against} | "
            f"{assessed_text(summary)} |"
        )
    rows += [
        "",
        "A badge says whether the tweet's claim held in its experiment, the same way "
        "for every point, not whether deep learning did well: where a tweet makes an "
        "optimistic claim (its page says so), *holds* is good news for deep learning.",
    ]
    if unassessed:
        rows += [
            "",
            f"A dash: {unassessed} points do not yet carry a robustness map and an "
            f"answer to tweet 19 (see [how to read this site]({doc_root}about.md)).",
        ]
    return '<div class="verdict-table" markdown>\n\n' + "\n".join(rows) + "\n\n</div>"


# What each status says, in a sentence a reader can take in at a glance.
STATUS_MEANING = {
    "holds": "The tweet's claim holds in this experiment",
    "mitigated": "The failure is real, and the fix arm closes the gap",
    "refuted": "The tweet's claim does not hold in this experiment",
    "inconclusive": "The data do not settle the claim yet",
}


def evidence(tweet: int, slug: str, doc_root: str, where: str) -> str:
    if slug == "table":
        return (
            '!!! abstract "Where the experiments stand"\n'
            "    The tables in this section are generated from every experiment's "
            "results; the [verdict table](#verdicts) at the top has the key numbers."
        )
    if slug not in published.slugs():
        return (
            '!!! note "Experiment coming"\n'
            f"    The experiment `{slug}` for this tweet is specified, not built yet."
        )
    summary = summary_for(slug, where)
    status = status_of(summary, where)
    first = min(int(t) for t in summary["tweets"])
    link = page_link(slug, doc_root)
    if tweet != first:
        return (
            f'!!! verdict-{status} "Tested with tweet {first}"\n'
            f"    {badge(status)} [The box under tweet {first}](#tweet-{first}) and "
            f"[the experiment]({link}) cover this tweet too."
        )
    key = Estimate.from_json(summary["estimates"][summary["key"]])
    robustness = summary.get("robustness")
    robust = (
        f" Checked across its design choices, "
        f"{assessment.robustness_sentence(robustness, safe)}."
        if robustness
        else ""
    )
    return (
        f'!!! verdict-{status} "Tested: {safe(summary["title"])}"\n'
        f"    {badge(status)} {STATUS_MEANING[status]}. Key number: "
        f"{safe(key.text())}.{robust} [The experiment, its charts and its rule]"
        f"({link})"
    )


def answer_box(summary: dict, where: str) -> str:
    """The top of a point page: the verdict, what it means, the number that
    decided it, and whether it survives (robustness, tweet 19)."""
    status = status_of(summary, where)
    key = Estimate.from_json(summary["estimates"][summary["key"]])
    threshold = threshold_text(summary, key)
    against = "" if threshold == "-" else f" against a threshold of {threshold}"
    under = (
        " The deep-learning arm was still improving at the largest budget "
        "(under-trained), so the rule's verdict is withheld."
        if summary["verdict"]["reason"].startswith("under-trained")
        else ""
    )
    lines = [
        f"{badge(status)} **{STATUS_MEANING[status]}.**{under}",
        f"Deciding number: {readable(summary, summary['key'])}, "
        f"{safe(key.text())}{against}.",
    ]
    robustness = summary.get("robustness")
    answer = summary.get("intrinsic_or_engineering")
    if robustness and answer in assessment.ANSWER_SHORT:
        lines.append(
            f"Checked across its design choices, "
            f"{assessment.robustness_sentence(robustness, safe)}"
            f"; intrinsic or engineering (tweet 19): "
            f"**{assessment.ANSWER_SHORT[answer]}**."
        )
    else:
        lines.append("This point has no robustness map yet.")
    body = "\n".join(lines)
    return f'<div class="answer-box verdict-{status}" markdown>\n\n{body}\n\n</div>'


def tweet_19_table(doc_root: str) -> str:
    """One row per point with results: tweet 19's answer and the number behind it.
    A new point appears here as soon as it has results."""
    rows = [
        "| claim | verdict | robustness | intrinsic or engineering? | key number |",
        "|---|---|---|---|---|",
    ]
    for slug, summary in published.summaries().items():
        key = Estimate.from_json(summary["estimates"][summary["key"]])
        answer = summary.get("intrinsic_or_engineering")
        robustness = summary.get("robustness")
        rows.append(
            f"| [{safe(summary['title'])}]({page_link(slug, doc_root)}) | "
            f"{badge(status_of(summary, slug))} | "
            f"{assessment.label_text(robustness, safe) if robustness else '–'} | "
            f"{assessment.ANSWER_SHORT.get(answer, '–')} | "
            f"{readable(summary, summary['key'])}: {safe(key.text())} |"
        )
    counts: dict[str, int] = {}
    for summary in published.summaries().values():
        answer = summary.get("intrinsic_or_engineering", "unassessed")
        counts[answer] = counts.get(answer, 0) + 1
    tally = "; ".join(
        f"{assessment.ANSWER_SHORT.get(a, 'no answer yet')}: {n}"
        for a, n in sorted(counts.items(), key=lambda item: -item[1])
    )
    return "\n".join(rows) + f"\n\nIn all: {tally}. " + assessment.ANSWER_RULE


def tweet_22_table(spec: str, doc_root: str, where: str) -> str:
    """The author's 'deeper' items (spec: "item=slug,slug; item=slug"), each
    against what its points' results say."""
    rows = [
        "| the author's item | tested by | verdict | tweet 19's answer | deeper, as "
        "predicted? |",
        "|---|---|---|---|---|",
    ]
    agree = total = 0
    for entry in filter(None, (part.strip() for part in spec.split(";"))):
        item, _, slugs = entry.partition("=")
        if not slugs.strip():
            raise MarkerError(f"{where}: tweet-22 item {safe(item)!s} names no point")
        for slug in (s.strip() for s in slugs.split(",")):
            summary = summary_for(slug, where)
            answer = summary.get("intrinsic_or_engineering")
            said = assessment.DEEPER_AGREES.get(answer, "no answer yet")
            total += 1
            agree += said.startswith("yes")
            rows.append(
                f"| {safe(item.strip())} | "
                f"[{safe(summary['title'])}]({page_link(slug, doc_root)}) | "
                f"{badge(status_of(summary, where))} | "
                f"{assessment.ANSWER_SHORT.get(answer, '–')} | {said} |"
            )
    return "\n".join(rows) + (
        f"\n\nThe data agree with the prediction for {agree} of the {total} "
        "experiments: a failure counts as deeper when it persists at every budget "
        "tried and no fix closes it."
    )


def render(markdown: str, page_url_path: str, src: str) -> str:
    """All markers of one page.

    Raw HTML (charts) needs URLs relative to the page's URL (page_url_path, '' for
    the home page); Markdown links are relative to the source file (src), so MkDocs
    can check them in strict mode and rewrite them.
    """
    url_root = "../" * page_url_path.count("/")
    doc_root = "../" * src.count("/")
    markdown = CHART_FENCE.sub(
        lambda m: chart_html(m.group(1), m.group(2), url_root, src, m.group(3)),
        markdown,
    )
    if VERDICT_TABLE in markdown:
        table = verdict_table(doc_root, src)
        markdown = markdown.replace(
            VERDICT_TABLE, '<span id="verdicts"></span>\n\n' + table
        )
    markdown = EVIDENCE.sub(
        lambda m: evidence(int(m.group(1)), m.group(2), doc_root, src), markdown
    )
    if TWEET_19_TABLE in markdown:
        markdown = markdown.replace(TWEET_19_TABLE, tweet_19_table(doc_root))
    markdown = TWEET_22_TABLE.sub(
        lambda m: tweet_22_table(m.group(1), doc_root, src), markdown
    )
    if DASHBOARD in markdown:
        markdown = markdown.replace(
            DASHBOARD, generated_chart("dashboard", url_root, src)
        )
    return VALUE_MARKER.sub(
        lambda m: value_of(m.group(1), m.group(2), doc_root, url_root, src), markdown
    )


def results_files() -> list[Path]:
    """The results files the site publishes: each point's records.csv and
    summary.json, and the chart specs its summary lists. Nothing else in results/
    (a stray note.html, a link, a hidden file) is copied to the site; the SVG
    fallbacks are drawn at build time from the validated specs (chart_svgs)."""
    published.check_results_folders()
    files = []
    for slug, summary in published.summaries().items():
        folder = RESULTS_ROOT / slug
        names = ["records.csv", "summary.json"] + [
            f"charts/{name}.vl.json"
            for name in summary.get("charts", [])
            if isinstance(name, str) and CHART_NAME.fullmatch(name)
        ]
        for name in names:
            path = folder / name
            if path.is_file() and not path.is_symlink():
                files.append(path)
    return sorted(files)


def chart_specs() -> dict[str, dict]:
    """'slug/name' -> validated spec for every chart the summaries list."""
    specs = {}
    for slug, summary in published.summaries().items():
        for name in summary.get("charts", []):
            if not isinstance(name, str) or not CHART_NAME.fullmatch(name):
                raise MarkerError(f"results/{slug}: bad chart name {safe(name)}")
            path = RESULTS_ROOT / slug / "charts" / f"{name}.vl.json"
            if not path.is_file() or path.is_symlink():
                raise MarkerError(f"results/{slug}: chart {safe(name)} is missing")
            spec = json.loads(path.read_text(encoding="utf-8"))
            check_spec(spec, f"results/{slug}/charts/{name}.vl.json")
            specs[f"{slug}/{name}"] = spec
    return specs
