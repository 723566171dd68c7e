"""The cache key covers what can change a result and nothing else: a point's own
source and essay_code/core (the only library code a point imports), never the
orchestration in essay_code/tooling or the CLI."""

from __future__ import annotations

import json

import pytest
from conftest import copy_repo, in_copy

COPIED = ("essay_code", "results", "pyproject.toml")


@pytest.fixture
def repo_copy(tmp_path):
    copy_repo(tmp_path, COPIED)
    return tmp_path


def states(repo) -> dict[str, str]:
    done = in_copy(repo, "-m", "essay_code", "status", "--json", timeout=120)
    assert done.returncode in (0, 1), done.stderr
    return {row["slug"]: row["state"] for row in json.loads(done.stdout)}


def append_comment(path) -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.write("\n# an edit that changes no behaviour\n")


def test_editing_the_cli_runner_or_registry_stales_nothing(repo_copy):
    before = states(repo_copy)
    assert set(before.values()) == {"fresh"}, before
    for name in ("cli.py", "tooling/runner.py", "tooling/registry.py"):
        append_comment(repo_copy / "essay_code" / name)
    assert states(repo_copy) == before


def test_editing_a_core_helper_stales_every_point(repo_copy):
    append_comment(repo_copy / "essay_code" / "core" / "stats.py")
    assert set(states(repo_copy).values()) == {"stale"}


def test_editing_a_point_stales_only_that_point(repo_copy):
    before = states(repo_copy)
    slug = sorted(before)[0]
    append_comment(repo_copy / "essay_code" / "points" / f"{slug.replace('-', '_')}.py")
    after = states(repo_copy)
    assert after[slug] == "stale"
    assert {s: v for s, v in after.items() if s != slug} == {
        s: v for s, v in before.items() if s != slug
    }
