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
    done = subprocess.run(
        [zizmor(), "--offline", "--no-progress", str(REPO_ROOT / ".github")],
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
