"""Nothing in a results file can run in a reader's browser: every string from
summary.json is escaped where it enters a page, stray files are not published, and a
chart spec that loads data or links elsewhere is refused."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from essay_code.tooling.results import REPO_ROOT, RESULTS_ROOT

PAYLOAD = "<img src=x onerror=alert(1)>[link](javascript:alert(2)){{ x.y }}*"
pytestmark = pytest.mark.slow


def poison(value):
    """Every string in a JSON tree, with the payload appended."""
    if isinstance(value, str):
        return value + PAYLOAD
    if isinstance(value, list):
        return [poison(v) for v in value]
    if isinstance(value, dict):
        return {k: poison(v) for k, v in value.items()}
    return value


def build(results, tmp_path):
    """mkdocs build of the real docs on the given results, notebooks not executed."""
    shutil.copytree(
        REPO_ROOT / "docs", tmp_path / "docs", ignore=shutil.ignore_patterns("*.py")
    )
    config = (REPO_ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    config = config.replace("execute: true", "execute: false")
    config = config.replace(
        "  - essay_code/site/hooks.py", f"  - {REPO_ROOT / 'essay_code/site/hooks.py'}"
    )
    config_path = tmp_path / "mkdocs.yml"
    config_path.write_text(config, encoding="utf-8")
    site = tmp_path / "site"
    env = {**os.environ, "ESSAY_RESULTS_ROOT": str(results), "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "-f",
            str(config_path),
            "-d",
            str(site),
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    return done, site


def poison_assessment(summary: dict) -> None:
    """Every free string of the assessment and the rounding check (statuses stay
    valid: an unknown one is refused outright, tested below)."""
    robustness = summary.get("robustness")
    if robustness:
        robustness["label"] = poison(robustness["label"])
        robustness["headline"] = poison(robustness["headline"])
        for cell in robustness["cells"]:
            cell["reason"] = poison(cell["reason"])
            cell["setting"] = poison(cell["setting"])
    for item in summary.get("convergence", []):
        for key in ("arm", "metric", "note"):
            item[key] = poison(item.get(key, ""))
    for item in summary.get("tuning", []):
        for key in ("arm", "selected_on", "grid", "chosen"):
            item[key] = poison(item[key])
    if "tuning_effort" in summary:
        summary["tuning_effort"] = poison(summary["tuning_effort"])
    if "rounding_noise" in summary:
        summary["rounding_noise"]["check"] = poison(summary["rounding_noise"]["check"])


@pytest.fixture(scope="module")
def poisoned_site(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("poisoned")
    results = tmp_path / "results"
    shutil.copytree(RESULTS_ROOT, results)
    assessed = 0
    for summary_path in results.glob("*/summary.json"):
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
        for field in ("verdict", "provenance", "config"):
            keep = {"status", "thresholds", "wall_seconds", "cpu_seconds"}
            summary[field] = {
                k: v if k in keep else poison(v) for k, v in summary[field].items()
            }
        summary["title"] = poison(summary["title"])
        for estimate in summary["estimates"].values():
            estimate["unit"] = poison(estimate["unit"])
            estimate["method"] = poison(estimate["method"])
        # readable names: the ones a point declares, and one for every key
        names = summary.get("names", {}) | {summary["key"]: "key"}
        summary["names"] = {name: poison(text) for name, text in names.items()}
        poison_assessment(summary)
        assessed += "robustness" in summary and "rounding_noise" in summary
        summary_path.write_text(json.dumps(summary), encoding="utf-8")
    assert assessed, "no summary carries an assessment to poison"
    stray = next(results.glob("*/"))
    (stray / "note.html").write_text("<script>alert(3)</script>", encoding="utf-8")
    (stray / "charts" / "extra.svg").write_text("<svg onload=alert(4)/>", "utf-8")
    done, site = build(results, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    return site, stray.name


def test_no_string_from_results_becomes_markup(poisoned_site):
    site, _ = poisoned_site
    pages = list(site.rglob("*.html"))
    assert pages
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert "<img src=x onerror" not in text, page
        assert 'href="javascript:' not in text, page
    essay = (site / "index.html").read_text(encoding="utf-8")
    assert "&lt;img src=x onerror" in essay or "&#60;img src=x onerror" in essay


def test_stray_files_are_not_published(poisoned_site):
    site, slug = poisoned_site
    assert not (site / "results" / slug / "note.html").exists()
    assert not (site / "results" / slug / "charts" / "extra.svg").exists()
    assert (site / "results" / slug / "summary.json").exists()


@pytest.mark.parametrize(
    "tamper",
    [
        lambda spec: spec.update(data={"url": "https://example.com/data.csv"}),
        lambda spec: spec.update(mark="image"),
        lambda spec: spec.setdefault("encoding", {}).update(
            href={"value": "https://example.com"}
        ),
        lambda spec: spec.update(mark_bogus=1),
    ],
    ids=["url-data", "image-mark", "href", "not-vega-lite"],
)
def test_a_tampered_chart_spec_is_refused(tamper):
    from essay_code.site.markers import MarkerError, check_spec

    path = next(RESULTS_ROOT.glob("*/charts/*.vl.json"))
    spec = json.loads(path.read_text(encoding="utf-8"))
    check_spec(spec, "committed")
    tamper(spec)
    with pytest.raises(MarkerError):
        check_spec(spec, "tampered")


def test_an_unknown_verdict_status_is_refused():
    from essay_code.site.markers import MarkerError, badge

    with pytest.raises(MarkerError):
        badge('holds"><script>alert(5)</script>')


def test_a_results_folder_of_no_registered_point_is_refused(tmp_path, monkeypatch):
    from essay_code.site import published
    from essay_code.tooling.results import ResultsError

    shutil.copytree(RESULTS_ROOT, tmp_path / "results")
    monkeypatch.setattr(published, "RESULTS_ROOT", tmp_path / "results")
    published.check_results_folders()  # the real results pass
    (tmp_path / "results" / "not-a-point").mkdir()
    with pytest.raises(ResultsError, match="not-a-point belongs to no registered"):
        published.check_results_folders()
