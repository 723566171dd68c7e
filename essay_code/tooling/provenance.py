"""Where a result came from. Only this block holds volatile fields (times, commit,
machine), so two runs with the same seeds compare equal on everything else."""

from __future__ import annotations

import datetime as dt
import platform
import subprocess
import sys
from pathlib import Path

import torch

from essay_code.tooling.results import REPO_ROOT


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def provenance(
    inputs: list[Path],
    device_label: str,
    wall_seconds: float,
    cpu_seconds: float,
    command: list[str],
    *,
    torch_threads: int | None = None,
) -> dict:
    """cpu_seconds is the process's CPU time over all threads: on a machine shared
    with other work it tells what the run itself cost, which wall time does not.
    torch_threads is the count the run used (read inside the runner's limit);
    inputs are the files the result depends on, for the dirty flag."""
    commit = _git("rev-parse", "HEAD")
    # Dirty means: the code this result depends on (the point, the core, the data it
    # reads) differs from the commit. An edit elsewhere (a page, the tooling) cannot
    # have changed the numbers, so it does not taint the provenance.
    paths = [str(path.relative_to(REPO_ROOT)) for path in inputs]
    status = _git("status", "--porcelain", "--untracked-files=all", "--", *paths)
    return {
        "git_commit": commit,
        "git_dirty": bool(status) if status is not None else None,
        "command": " ".join(command),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "platform": f"{sys.platform} {platform.machine()}",
        "device": device_label,
        "torch_threads": torch_threads or torch.get_num_threads(),
        "wall_seconds": round(wall_seconds, 2),
        "cpu_seconds": round(cpu_seconds, 2),
        "timestamp": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
