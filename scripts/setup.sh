#!/usr/bin/env bash
# Create .venv and install the project with the given extras (docs, test or nlp).
# Torch is installed first, pinned: 2.13.0 is a CPU wheel where one is on disk, and an
# unpinned torch would pull a multi-GB CUDA build on Linux. TORCH_INDEX_URL, when set
# (the GitHub workflows set PyTorch's CPU index), is where that pinned torch comes from.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:?usage: scripts/setup.sh docs|test|nlp}"
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
torch_index=()
[ -z "${TORCH_INDEX_URL:-}" ] || torch_index=(--index-url "$TORCH_INDEX_URL")
.venv/bin/python -m pip install --quiet "${torch_index[@]}" "torch==2.13.0"
.venv/bin/python -m pip install --quiet -e ".[$extras]"
