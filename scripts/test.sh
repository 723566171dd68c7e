#!/usr/bin/env bash
# Install the test extras and Debian's chromium (for the browser test), then lint and
# run the whole test suite. Extra arguments go to pytest (e.g. -k stats).
# ESSAY_BROWSER names another Chromium-based browser to drive instead (the GitHub
# workflow uses the runner's preinstalled Google Chrome); then nothing is installed.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${ESSAY_BROWSER:-}" ] && ! command -v chromium >/dev/null; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
bash scripts/setup.sh test
.venv/bin/ruff check .
.venv/bin/ruff format --check .
export NO_MKDOCS_2_WARNING=1
exec .venv/bin/python -m pytest "$@"
