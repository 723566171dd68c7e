"""GitHub Actions workflows: zizmor finds nothing, every action pinned by SHA."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from essay_code.tooling.results import REPO_ROOT

WORKFLOWS = REPO_ROOT / ".github" / "workflows"


def zizmor() -> str:
    beside_python = Path(sys.executable).with_name("zizmor")
    return str(beside_python) if beside_python.exists() else shutil.which("zizmor")


def test_zizmor_offline_finds_nothing():
    """Even the pedantic persona: every job named, every grant explained."""
    done = subprocess.run(
        [
            zizmor(),
            "--offline",
            "--no-progress",
            "--persona=pedantic",
            str(REPO_ROOT / ".github"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No findings" in done.stdout + done.stderr


def test_every_action_is_pinned_by_commit_sha_with_its_version():
    uses = re.compile(r"uses:\s*(\S+)@(\S+)(.*)")
    found = 0
    for workflow in WORKFLOWS.glob("*.yml"):
        for line in workflow.read_text(encoding="utf-8").splitlines():
            match = uses.search(line)
            if match:
                found += 1
                action, ref, comment = match.groups()
                assert re.fullmatch(r"[0-9a-f]{40}", ref), f"{workflow.name}: {action}"
                assert re.search(r"#\s*v\d", comment), f"{action}: no version comment"
    assert found > 0


def test_workflows_grant_nothing_at_the_top_level():
    for workflow in WORKFLOWS.glob("*.yml"):
        text = workflow.read_text(encoding="utf-8")
        assert re.search(r"^permissions: \{\}$", text, re.MULTILINE), workflow.name
        assert "pull_request_target" not in text, workflow.name


def jobs_of(workflow: Path) -> dict[str, str]:
    """job name -> its text (the lines under `jobs:` indented by two spaces)."""
    text = workflow.read_text(encoding="utf-8").split("\njobs:\n", 1)[1]
    parts = re.split(r"^  (\w[\w-]*):\n", text, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_every_job_has_a_timeout_and_any_container_is_pinned_by_digest():
    for workflow in WORKFLOWS.glob("*.yml"):
        for job, text in jobs_of(workflow).items():
            assert "timeout-minutes:" in text, f"{workflow.name}: job {job}"
            for image in re.findall(
                r"^\s+(?:container|image):\s*(\S+)", text, flags=re.MULTILINE
            ):
                assert "@sha256:" in image, f"{workflow.name}: {job} uses {image}"


def test_the_site_is_built_with_the_extras_that_serve_installs():
    """serve.sh, pages.yml and the newcomer check install the same extras, and those
    extras include what the notebooks execute (the point extras)."""
    serve = (REPO_ROOT / "scripts" / "serve.sh").read_text(encoding="utf-8")
    pages = (WORKFLOWS / "pages.yml").read_text(encoding="utf-8")
    newcomer = (REPO_ROOT / "scripts" / "check-newcomer.sh").read_text("utf-8")
    assert "bash scripts/setup.sh docs" in serve
    assert "bash scripts/setup.sh docs" in pages
    assert "bash scripts/serve.sh" in newcomer
    assert "check-newcomer.sh" in (REPO_ROOT / ".ci" / "run").read_text("utf-8")
    import tomllib

    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text("utf-8"))
    assert "essay-code[nlp]" in project["project"]["optional-dependencies"]["docs"]


def test_regenerate_opens_the_pr_before_it_fails_on_refused_points():
    text = (WORKFLOWS / "regenerate.yml").read_text(encoding="utf-8")
    gather_at = text.index("essay_code gather")
    pr_at = text.index("gh pr create")
    fail_at = text.index("steps.gather.outputs.refused")
    assert gather_at < pr_at < fail_at
