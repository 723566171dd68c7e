"""The runner's command line: listing, clear errors, atomic writes, caching."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import POINTS

from essay_code.tooling import runner
from essay_code.tooling.results import REPO_ROOT, RESULTS_ROOT, output_root

FIRST = POINTS[0]


def cli(*args: str, results: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    if results is not None:
        env["ESSAY_RESULTS_ROOT"] = str(results)
    return subprocess.run(
        [sys.executable, "-m", "essay_code", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def results_copy(tmp_path) -> Path:
    """A private copy of the committed results that a test may damage."""
    copy = tmp_path / "results"
    shutil.copytree(RESULTS_ROOT, copy)
    return copy


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in folder.rglob("*")
        if p.is_file()
    }


def test_list_json_names_every_point():
    done = cli("list", "--json")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert [row["slug"] for row in rows] == [point.slug for point in POINTS]
    assert all(row["state"] == "fresh" and row["verdict"] for row in rows)


def test_unknown_slug_lists_the_valid_ones():
    done = cli("run", "no-such-point")
    assert done.returncode == 2
    assert "unknown point 'no-such-point'" in done.stderr
    assert all(point.slug in done.stderr for point in POINTS)


def test_bad_set_names_the_field_and_type(results_copy):
    before = snapshot(results_copy)
    done = cli("run", FIRST.slug, "--set", "seeds=many", results=results_copy)
    assert done.returncode == 2
    assert "field 'seeds' expects int" in done.stderr
    done = cli("run", FIRST.slug, "--set", "no_such_field=1", results=results_copy)
    assert done.returncode == 2 and "unknown field 'no_such_field'" in done.stderr
    assert snapshot(results_copy) == before


def test_corrupt_summary_is_a_clear_error_and_overwrites_nothing(results_copy):
    summary = results_copy / FIRST.slug / "summary.json"
    summary.write_text("{ not json", encoding="utf-8")
    before = snapshot(results_copy)
    for args in (("status",), ("run", FIRST.slug)):
        done = cli(*args, results=results_copy)
        assert done.returncode != 0
        assert f"{summary} is corrupt" in done.stdout + done.stderr
        assert (
            f"python -m essay_code run {FIRST.slug} --force"
            in done.stdout + done.stderr
        )
    assert snapshot(results_copy) == before


def test_second_run_with_nothing_changed_is_a_no_op(results_copy):
    before = snapshot(results_copy)
    done = cli("run", FIRST.slug, results=results_copy)
    assert done.returncode == 0, done.stderr
    assert "skipped: fresh" in done.stdout
    assert snapshot(results_copy) == before


def test_a_failing_point_keeps_its_last_good_results(results_copy, monkeypatch):
    before = snapshot(results_copy)

    def explode(config, ctx):
        raise RuntimeError("simulated failure")

    monkeypatch.setattr(FIRST.module, "run", explode)
    outcomes = runner.run_many(
        [FIRST], profile="default", force=True, root=results_copy, show_progress=False
    )
    assert outcomes[0].state == "failed"
    assert "simulated failure" in outcomes[0].message
    assert snapshot(results_copy) == before
    # Only the per-point lock files (kept on purpose, git-ignored) may remain.
    leftovers = [p for p in results_copy.glob(".*") if p.suffix != ".lock"]
    assert not leftovers, "no temporary folder left behind"


def test_failure_is_named_and_other_points_still_run(tmp_path, monkeypatch):
    if len(POINTS) < 2:
        pytest.skip("needs two points")
    first, second = POINTS[:2]
    monkeypatch.setattr(first.module, "run", lambda config, ctx: 1 / 0)
    outcomes = runner.run_many(
        [first, second], profile="smoke", root=tmp_path, show_progress=False
    )
    assert [o.state for o in outcomes] == ["failed", "ran"]
    assert "ZeroDivisionError" in outcomes[0].message
    assert (tmp_path / second.slug / "summary.json").exists()
    assert not (tmp_path / first.slug).exists()


def test_status_reports_which_input_changed(results_copy):
    summary_path = results_copy / FIRST.slug / "summary.json"
    summary = json.loads(summary_path.read_text())
    summary["cache"]["point"] = "0" * 16
    summary["cache"]["request"] = "1" * 16
    summary_path.write_text(json.dumps(summary))
    done = cli("status", "--json", results=results_copy)
    assert done.returncode == 1
    row = next(r for r in json.loads(done.stdout) if r["slug"] == FIRST.slug)
    assert row["state"] == "stale"
    assert "the point's source changed" in row["reason"]
    assert "the profile, --seeds, --set or --threads changed" in row["reason"]


def test_smoke_profile_never_writes_committed_results():
    root = output_root("smoke", customised=False)
    assert root != RESULTS_ROOT and "build" in root.parts
    assert output_root("default", customised=True) != RESULTS_ROOT


BAD_REQUESTS = [
    ["--set", "seeds=0"],
    ["--set", "n_train=0"],
    ["--set", "lr=inf"],
    ["--set", "lr=1e400"],
    ["--set", "epochs=-1"],
    ["--set", "lr=nan"],
    ["--seeds", "100000000000000000000"],
]


@pytest.mark.parametrize("request_args", BAD_REQUESTS, ids=" ".join)
def test_out_of_range_values_are_one_line_errors_before_anything_runs(
    request_args, capsys, tmp_path, monkeypatch
):
    from essay_code.cli import main

    monkeypatch.chdir(tmp_path)
    code = main(["run", "feature-scales", "--profile", "smoke", *request_args])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert "out of range" in err or "must be in" in err
    assert not (tmp_path / "build").exists()
