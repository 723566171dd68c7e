#!/usr/bin/env bash
# Do what a newcomer does, and fail if it does not work: copy this checkout's files
# (no .venv, no .cache, no build/) to a new folder, run the README's first command,
# `bash scripts/serve.sh`, there, and wait until it serves the essay, every point page
# and every companion notebook. The copy gets its own venv with exactly the extras
# that serve.sh installs (pages.yml calls the same script), and no notebook cache,
# so every notebook executes cold, as on a bare machine.
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"
work="$(mktemp -d)"
server=""
cleanup() {
  [ -z "$server" ] || kill -- "-$server" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# Tracked files plus new ones that git does not ignore: what a clone of this tree has.
git ls-files -z --cached --others --exclude-standard \
  | (cd "$repo" && xargs -0 tar -cf - --ignore-failed-read 2>/dev/null) \
  | tar -xf - -C "$work"

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
started=$(date +%s)
# setsid: serve.sh leads its own process group (its pid is the group's id), so
# cleanup stops mkdocs and its file watcher together.
cd "$work"
SITE_URL="http://127.0.0.1:$port/" setsid bash scripts/serve.sh \
  --dev-addr "127.0.0.1:$port" >"$work/serve.log" 2>&1 &
server=$!
cd "$repo"

python3 - "$port" "$server" "$work" <<'PY'
"""Poll until the site answers, then fetch every page a reader would open."""

import os
import re
import sys
import time
import urllib.request
from pathlib import Path

port, server, work = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
base = f"http://127.0.0.1:{port}/"
deadline = time.time() + 1200


def fetch(path: str) -> str:
    with urllib.request.urlopen(base + path, timeout=30) as reply:
        return reply.read().decode("utf-8", "replace")


def alive() -> bool:
    try:
        os.kill(server, 0)
    except OSError:
        return False
    return True


while True:
    try:
        home = fetch("")
        break
    except OSError:
        if not alive():
            log = (work / "serve.log").read_text(errors="replace")
            sys.exit(f"serve.sh exited before serving the site:\n{log[-4000:]}")
        if time.time() > deadline:
            sys.exit("serve.sh did not serve the site within 20 minutes")
        time.sleep(2)

slugs = sorted(p.stem for p in (work / "docs" / "points").glob("*.md"))
problems = []
if "verdict" not in home.lower():
    problems.append("the essay page has no verdict table")
for slug in slugs:
    page = fetch(f"points/{slug}/")
    if 'class="essay-chart"' not in page:
        problems.append(f"points/{slug}/ has no chart")
    notebook = fetch(f"notebooks/{slug}/")
    if re.search(r"Traceback|Error\b.*most recent call", notebook):
        problems.append(f"notebooks/{slug}/ shows a traceback")
    fetch(f"notebooks/{slug}.ipynb")
if problems:
    sys.exit("newcomer check failed:\n- " + "\n- ".join(problems))
print(f"newcomer check: served the essay, {len(slugs)} point pages and notebooks")
PY
echo "newcomer check: first build and serve took $(( $(date +%s) - started )) s"
