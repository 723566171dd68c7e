"""Shared fixtures: each point's smoke run happens once per session."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from essay_code.tooling.registry import all_points
from essay_code.tooling.results import REPO_ROOT
from essay_code.tooling.runner import RunContext, execute, resolve_config

POINTS = list(all_points().values())
POINT_IDS = [point.slug for point in POINTS]


@pytest.fixture(scope="session")
def smoke_runs() -> dict:
    """slug -> (records, judgement, charts) of the smoke profile, lazily."""
    cache: dict = {}

    def get(point):
        if point.slug not in cache:
            config = resolve_config(point, "smoke")
            cache[point.slug] = execute(
                point, config, RunContext(show_progress=False, record_timings=False)
            )
        return cache[point.slug]

    return get


def copy_repo(target, names) -> None:
    """Copy the named top-level parts of the repo (no __pycache__) into target."""
    import shutil

    for name in names:
        source = REPO_ROOT / name
        if source.is_dir():
            shutil.copytree(
                source, target / name, ignore=shutil.ignore_patterns("__pycache__")
            )
        else:
            shutil.copy2(source, target / name)


def in_copy(repo, *args, timeout=600):
    """python *args in a copy of the repo; the copy comes first on the path, so
    `essay_code` there is the one imported."""
    env = {k: v for k, v in os.environ.items() if k != "ESSAY_RESULTS_ROOT"}
    env["PYTHONPATH"] = str(repo)
    return subprocess.run(
        [sys.executable, *args],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def site_port() -> int:
    """The loopback port the browser test serves the site on, known before the build:
    Material's instant navigation only treats links to its site_url as internal."""
    return free_port()


@pytest.fixture(scope="session")
def built_site(tmp_path_factory, site_port):
    """`mkdocs build --strict` of the real docs into a temporary folder, once."""
    site = tmp_path_factory.mktemp("site")
    env = {
        **os.environ,
        "NO_MKDOCS_2_WARNING": "1",
        "SITE_URL": f"http://127.0.0.1:{site_port}/",
    }
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, f"mkdocs build --strict failed:\n{done.stderr[-6000:]}"
    return site
