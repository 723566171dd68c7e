"""A point is its science: it imports the standard library, third-party packages and
`essay_code.core` itself, never a core submodule, the tooling or another point. The
site never imports a point module (or torch) to build its pages."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

from essay_code.tooling.registry import source_paths
from essay_code.tooling.results import REPO_ROOT

POINT_FILES = source_paths()


def imported_modules(path) -> list[str]:
    """Every module an import statement in the file names (relative ones as '.x')."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            found.append(base)
            if base == "essay_code":  # `from essay_code import core`
                found += [f"essay_code.{alias.name}" for alias in node.names]
    return found


def allowed(module: str) -> bool:
    if module.startswith("."):
        return False
    if module == "essay_code.core":
        return True
    return module.split(".")[0] != "essay_code"


@pytest.mark.parametrize("slug", sorted(POINT_FILES))
def test_point_imports_only_the_core(slug):
    bad = [
        module
        for module in imported_modules(POINT_FILES[slug])
        if not allowed(module) and module != "essay_code"
    ]
    assert not bad, f"{slug} imports {bad}; a point may import only essay_code.core"


def test_the_import_rule_catches_submodules_tooling_and_other_points(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import numpy\nfrom essay_code import core\n"
        "from essay_code.core import Verdict\n"
        "from essay_code.core.stats import bootstrap\n"
        "from essay_code.tooling.runner import execute\n"
        "from essay_code.points import logic_sat\nfrom . import other\n",
        encoding="utf-8",
    )
    bad = [m for m in imported_modules(sample) if not allowed(m) and m != "essay_code"]
    assert bad == [
        "essay_code.core.stats",
        "essay_code.tooling.runner",
        "essay_code.points",
        ".",
    ]


def test_site_code_imports_no_point_module_and_no_torch():
    """Load the hooks and render the essay page's markers in a fresh interpreter,
    then list what got imported."""
    probe = (
        "import sys\n"
        "from essay_code.site import hooks, markers, overview\n"
        "page = open('docs/index.md', encoding='utf-8').read()\n"
        "markers.render(page, '', 'index.md')\n"
        "overview.dashboard_chart()\n"
        "bad = sorted(m for m in sys.modules if m.startswith('essay_code.points.')"
        " or m == 'torch')\n"
        "print(','.join(bad))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "", f"the site imported {done.stdout.strip()}"
