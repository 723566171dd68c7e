"""Results on disk: a damaged folder is noticed, a bad summary is a one-line error,
an interrupted swap is repaired, and concurrent writers of one point do not
interleave."""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil

import pytest
from conftest import POINTS

from essay_code.tooling import results
from essay_code.tooling.results import RESULTS_ROOT, ResultsError


@pytest.fixture
def root(tmp_path):
    copy = tmp_path / "results"
    shutil.copytree(RESULTS_ROOT, copy)
    return copy


@pytest.mark.parametrize(
    "harm, said",
    [
        (lambda f: (f / "records.csv").unlink(), "records.csv is missing"),
        (
            lambda f: (f / "records.csv").write_text("seed,arm,metric,value\n"),
            "records.csv differs",
        ),
        (
            lambda f: next((f / "charts").glob("*.vl.json")).unlink(),
            "is missing",
        ),
    ],
    ids=["missing records", "truncated records", "missing chart"],
)
def test_a_damaged_results_folder_is_not_fresh(root, harm, said):
    slug = POINTS[0].slug
    assert results.damage(slug, root) is None
    harm(root / slug)
    assert said in results.damage(slug, root)


@pytest.mark.parametrize(
    "change, field",
    [
        (lambda s: s["verdict"].update(status=3), "verdict.status"),
        (lambda s: s.update(cache=[1, 2]), "'cache'"),
        (lambda s: s["estimates"][s["key"]].update(value="12"), "estimate"),
        (lambda s: s.update(tweets="3"), "'tweets'"),
    ],
    ids=["status-number", "cache-list", "estimate-string", "tweets-string"],
)
def test_a_summary_with_wrong_types_is_one_clear_error(root, change, field):
    slug = POINTS[0].slug
    path = root / slug / "summary.json"
    summary = json.loads(path.read_text())
    change(summary)
    path.write_text(json.dumps(summary))
    with pytest.raises(ResultsError) as error:
        results.load_summary(slug, root)
    message = str(error.value)
    assert "summary.json" in message and field in message
    assert "\n" not in message


def test_a_swap_killed_between_its_renames_is_repaired(root):
    slug = POINTS[0].slug
    before = sorted(p.name for p in (root / slug).rglob("*"))
    # The kill left the good copy only in .slug.old, and a staging folder behind.
    os.replace(root / slug, root / f".{slug}.old")
    (root / f".{slug}.new-abc").mkdir()
    results.recover_all(root)
    assert sorted(p.name for p in (root / slug).rglob("*")) == before
    assert not list(root.glob(f".{slug}.*[!k]"))  # only the lock file remains


def hammer(root: str, slug: str, writer: int, swaps: int) -> None:
    from pathlib import Path

    def fill(folder: Path) -> None:
        for index in range(3):
            (folder / f"part{index}.txt").write_text(f"{writer}")

    for _ in range(swaps):
        results.write_atomically(slug, fill, Path(root))


def test_two_writers_of_one_point_never_interleave_and_leave_nothing(tmp_path):
    root, slug = tmp_path / "results", "demo-point"
    context = multiprocessing.get_context("fork")
    workers = [
        context.Process(target=hammer, args=(str(root), slug, writer, 1000))
        for writer in (1, 2)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=600)
        assert worker.exitcode == 0
    parts = {p.read_text() for p in (root / slug).glob("part*.txt")}
    assert len(parts) == 1, "the files of two writers got mixed"
    leftovers = [p.name for p in root.iterdir() if p.name != slug]
    assert leftovers == [f".{slug}.lock"]
