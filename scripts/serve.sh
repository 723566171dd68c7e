#!/usr/bin/env bash
# Install the docs extras and serve the site on the committed results:
# http://127.0.0.1:8000 (charts, notebooks, light and dark mode).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh docs
export NO_MKDOCS_2_WARNING=1
exec .venv/bin/mkdocs serve "$@"
