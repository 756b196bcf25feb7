#!/usr/bin/env bash
# Build the documentation site (docs/ -> site/) and serve it at http://127.0.0.1:8000/.
# Usage: bash scripts/docs.sh          (build and serve, reloads on edits)
#        bash scripts/docs.sh build    (build only, strict: a broken link or reference fails)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh "dev,docs"
export NO_MKDOCS_2_WARNING=1
if [ "${1:-serve}" = "build" ]; then
  exec .venv/bin/python -m mkdocs build --strict
fi
exec .venv/bin/python -m mkdocs serve --strict -a 127.0.0.1:8000
