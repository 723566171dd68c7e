"""The contributor path: `new` scaffolds a point into a copy of the repo; the
registry lists it at once and the test suite names what it still lacks."""

from __future__ import annotations

import json

import pytest
from conftest import copy_repo, in_copy

from essay_code.tooling.registry import RegistryError, source_paths
from essay_code.tooling.scaffold import scaffold

COPIED = ("essay_code", "docs", "tests", "results", "mkdocs.yml", "pyproject.toml")


@pytest.fixture
def repo_copy(tmp_path):
    copy_repo(tmp_path, COPIED)
    return tmp_path


def test_scaffolded_point_is_registered_and_the_suite_names_what_is_missing(repo_copy):
    made = in_copy(
        repo_copy,
        "-m",
        "essay_code",
        "new",
        "demo-claim",
        "--tweets",
        "12",
        "--title",
        "Behaviours learned offline",
    )
    assert made.returncode == 0, made.stderr
    listed = in_copy(repo_copy, "-m", "essay_code", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    row = next(r for r in json.loads(listed.stdout) if r["slug"] == "demo-claim")
    assert row["tweets"] == [12] and row["state"] == "missing"

    tests = in_copy(
        repo_copy,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "tests/test_points.py",
        "tests/test_sync.py",
        "-k",
        "demo-claim or every_point",
    )
    report = tests.stdout
    assert tests.returncode == 1, report[-3000:]
    assert "TODO: write run()" in report
    assert "results/demo-claim is missing" in report
    assert "python -m essay_code run demo-claim" in report


def test_scaffold_refuses_bad_or_taken_slugs(tmp_path):
    with pytest.raises(RegistryError, match="lowercase"):
        scaffold("Bad_Slug", [3], "x", root=tmp_path)
    with pytest.raises(RegistryError, match="tweet numbers"):
        scaffold("fine-slug", [30], "x", root=tmp_path)
    taken = next(iter(source_paths()))
    with pytest.raises(RegistryError, match="already exists"):
        scaffold(taken, [3], "x", root=tmp_path)


@pytest.mark.parametrize(
    "title",
    [
        'Quotes " and \\ backslashes',
        'Ends a docstring """ here',
        "Braces {x} and\nlines",
    ],
)
def test_scaffold_writes_a_module_that_parses_whatever_the_title(tmp_path, title):
    import ast

    module, _page, test = scaffold("hostile-title", [12], title, root=tmp_path)
    tree = ast.parse(module.read_text(encoding="utf-8"))
    ast.parse(test.read_text(encoding="utf-8"))
    assigned = {
        node.targets[0].id: node.value
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
    }
    assert assigned["TITLE"].value == " ".join(title.split())
