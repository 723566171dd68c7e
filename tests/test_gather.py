"""`gather`: regenerated results (one folder per point, as the regenerate workflow's
artifacts arrive) are validated, land in results/, extend the history, and the PR
body says what changed; a folder that fails validation does not land."""

from __future__ import annotations

import json
import shutil

from conftest import POINTS

from essay_code import history
from essay_code.core.results import RESULTS_ROOT, load_summary
from essay_code.gather import gather


def test_gather_lands_valid_results_and_reports_changes(tmp_path):
    root = tmp_path / "results"
    shutil.copytree(RESULTS_ROOT, root)
    first, second = POINTS[0], POINTS[1]
    artifacts = tmp_path / "artifacts"
    shutil.copytree(RESULTS_ROOT / first.slug, artifacts / f"results-{first.slug}")
    # A tampered artifact: its verdict no longer follows from its estimates.
    tampered = artifacts / f"results-{second.slug}"
    shutil.copytree(RESULTS_ROOT / second.slug, tampered)
    summary = json.loads((tampered / "summary.json").read_text())
    summary["verdict"]["status"] = (
        "refuted" if summary["verdict"]["status"] != "refuted" else "holds"
    )
    (tampered / "summary.json").write_text(json.dumps(summary))
    rows_before = len(history.read(root))

    body, problems = gather(artifacts, root)

    assert f"| {first.slug} |" in body
    assert len(problems) == 1 and "does not follow from its estimates" in problems[0]
    assert second.slug not in body.split("Not landed:")[0]
    assert load_summary(second.slug, root) == load_summary(second.slug, RESULTS_ROOT)
    rows = history.read(root)
    assert len(rows) == rows_before + 1 and rows[-1]["slug"] == first.slug
