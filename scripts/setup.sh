#!/usr/bin/env bash
# Create .venv and install the project with the given extras (docs, test or nlp).
# Torch is installed first, pinned: 2.13.0 is a CPU wheel where one is on disk, and an
# unpinned torch would pull a multi-GB CUDA build on Linux.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:?usage: scripts/setup.sh docs|test|nlp}"
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet "torch==2.13.0"
.venv/bin/python -m pip install --quiet -e ".[$extras]"
