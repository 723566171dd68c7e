"""`gather`: regenerated results arrive as actions/download-artifact leaves them (one
folder per artifact, or flat when a single artifact matched); valid ones land in
results/ and extend the history, refused ones are named in the PR body and never land,
and a missing or empty download is a one-line error."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import POINTS

from essay_code.cli import main
from essay_code.tooling import history
from essay_code.tooling.gather import gather
from essay_code.tooling.results import RESULTS_ROOT, load_summary


@pytest.fixture
def root(tmp_path):
    """A private copy of the committed results to land into."""
    copy = tmp_path / "results"
    shutil.copytree(RESULTS_ROOT, copy)
    return copy


def tamper_verdict(folder):
    summary = json.loads((folder / "summary.json").read_text())
    status = summary["verdict"]["status"]
    summary["verdict"]["status"] = "refuted" if status != "refuted" else "holds"
    (folder / "summary.json").write_text(json.dumps(summary))


def test_one_valid_and_one_refused_artifact_land_the_valid_one(root, tmp_path):
    first, second = POINTS[0], POINTS[1]
    artifacts = tmp_path / "artifacts"
    shutil.copytree(RESULTS_ROOT / first.slug, artifacts / f"results-{first.slug}")
    tampered = artifacts / f"results-{second.slug}"
    shutil.copytree(RESULTS_ROOT / second.slug, tampered)
    tamper_verdict(tampered)
    rows_before = len(history.read(root))

    body, refusals = gather(artifacts, root)

    assert f"| {first.slug} |" in body
    assert [r.name for r in refusals] == [f"results-{second.slug}"]
    assert "verdict does not follow" in refusals[0].reason
    landed, refused = body.split("Refused (1), not landed:")
    assert second.slug not in landed
    assert second.slug in refused and "does not follow" in refused
    assert load_summary(second.slug, root) == load_summary(second.slug, RESULTS_ROOT)
    rows = history.read(root)
    assert len(rows) == rows_before + 1 and rows[-1]["slug"] == first.slug


def test_gather_writes_only_into_results(root, tmp_path, monkeypatch):
    """Artifacts are read where they lie: every copy gather makes goes to a staging
    folder of results/<slug>'s atomic swap, nothing to a temporary folder."""
    point = POINTS[0]
    artifacts = tmp_path / "artifacts"
    shutil.copytree(RESULTS_ROOT / point.slug, artifacts / f"results-{point.slug}")
    targets = []
    real = shutil.copytree

    def spy(source, target, *args, **kwargs):
        targets.append(target)
        return real(source, target, *args, **kwargs)

    monkeypatch.setattr(shutil, "copytree", spy)
    _, refusals = gather(artifacts, root)
    assert not refusals
    assert targets and all(root in Path(t).parents for t in targets), targets


def test_a_single_flat_artifact_lands(root, tmp_path):
    """download-artifact with a pattern that matches one artifact unpacks it flat:
    summary.json, records.csv and charts/ directly in the download folder."""
    point = POINTS[-1]
    flat = tmp_path / "regenerated"
    shutil.copytree(RESULTS_ROOT / point.slug, flat)
    shutil.rmtree(root / point.slug)

    body, refusals = gather(flat, root)

    assert refusals == []
    assert f"| {point.slug} |" in body
    assert load_summary(point.slug, root) == load_summary(point.slug, RESULTS_ROOT)
    assert history.read(root)[-1]["slug"] == point.slug


def test_cli_lands_the_valid_half_writes_the_pr_body_and_exits_1(
    root, tmp_path, monkeypatch, capsys
):
    import essay_code.tooling.gather as gather_module

    monkeypatch.setattr(gather_module, "RESULTS_ROOT", root)
    first, second = POINTS[2], POINTS[3]
    artifacts = tmp_path / "artifacts"
    shutil.copytree(RESULTS_ROOT / first.slug, artifacts / f"results-{first.slug}")
    shutil.copytree(RESULTS_ROOT / second.slug, artifacts / f"results-{second.slug}")
    (artifacts / f"results-{second.slug}" / "records.csv").unlink()
    body_path = tmp_path / "pr-body.md"

    code = main(["gather", str(artifacts), "--pr-body", str(body_path)])

    assert code == 1
    body = body_path.read_text()
    assert f"| {first.slug} |" in body
    assert f"results-{second.slug}: " in body and "records.csv is missing" in body
    assert f"refused results-{second.slug}" in capsys.readouterr().err


@pytest.mark.parametrize("layout", ["missing", "empty"])
def test_gather_on_a_missing_or_empty_folder_is_a_one_line_error(
    tmp_path, layout, capsys
):
    folder = tmp_path / "regenerated"
    if layout == "empty":
        folder.mkdir()
    code = main(["gather", str(folder)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1
    assert "Traceback" not in err


def test_pr_body_keeps_mentions_and_markdown_inert(root, tmp_path):
    point = POINTS[0]
    artifacts = tmp_path / "artifacts"
    folder = artifacts / "results-@someone [x](http://evil)"
    shutil.copytree(RESULTS_ROOT / point.slug, folder)
    tamper_verdict(folder)
    body, refusals = gather(artifacts, root)
    assert len(refusals) == 1
    assert "@someone" not in body and "](http" not in body


def edit_records(folder):
    path = folder / "records.csv"
    lines = path.read_text().splitlines()
    head, *rows = lines
    cells = rows[0].split(",")
    value = head.split(",").index("value")  # not always the last column
    cells[value] = str(float(cells[value]) + 1.0)
    path.write_text("\n".join([head, ",".join(cells), *rows[1:]]) + "\n")


def forge_estimates(folder):
    """Forged numbers with a verdict recomputed to match them."""
    from essay_code.core import Estimate
    from essay_code.tooling.registry import all_points

    summary = json.loads((folder / "summary.json").read_text())
    key = summary["estimates"][summary["key"]]
    for field in ("value", "low", "high"):
        key[field] = key[field] * 3 + 100
    estimates = {k: Estimate.from_json(v) for k, v in summary["estimates"].items()}
    point = all_points()[summary["slug"]]
    summary["verdict"] = point.module.verdict(estimates).to_json()
    (folder / "summary.json").write_text(json.dumps(summary))


def edit_summary(change):
    def apply(folder):
        summary = json.loads((folder / "summary.json").read_text())
        change(summary)
        (folder / "summary.json").write_text(json.dumps(summary))

    return apply


def big_file(folder):
    with (folder / "records.csv").open("ab") as handle:
        handle.truncate(17 * 1024 * 1024)


TAMPERINGS = {
    "edited records": (edit_records, "records.csv differs from what the run wrote"),
    "forged estimates": (forge_estimates, "not what its records.csv gives"),
    "other code": (
        edit_summary(lambda s: s["cache"].update(key="0" * 16)),
        "made by other code",
    ),
    "extra html": (
        lambda f: (f / "note.html").write_text("<script></script>"),
        "note.html is not a file a run writes",
    ),
    "hidden file": (lambda f: (f / ".env").write_text("x"), ".env is not a file"),
    "symlink": (
        lambda f: (f / "charts" / "leak.svg").symlink_to("/etc/hostname"),
        "is a link",
    ),
    "big file": (big_file, "is over"),
    "no profile": (edit_summary(lambda s: s.pop("profile")), "profile"),
    "extra key": (edit_summary(lambda s: s.update(extra=1)), "unexpected fields"),
    "wrong type": (
        edit_summary(lambda s: s.update(charts="x")),
        "'charts' must be a list",
    ),
    "no timestamp": (
        edit_summary(lambda s: s["provenance"].pop("timestamp")),
        "no timestamp",
    ),
}


@pytest.mark.parametrize("case", sorted(TAMPERINGS))
def test_a_tampered_artifact_never_changes_results(root, tmp_path, case):
    tamper, reason = TAMPERINGS[case]
    point = POINTS[0]
    artifact = tmp_path / "artifacts" / f"results-{point.slug}"
    shutil.copytree(RESULTS_ROOT / point.slug, artifact)
    tamper(artifact)
    before = {p: p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}

    body, refusals = gather(artifact.parent, root)

    assert len(refusals) == 1 and reason in refusals[0].reason, refusals
    after = {p: p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
    assert after == before, "a refused artifact changed results/"
    assert "Traceback" not in body
