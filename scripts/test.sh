#!/usr/bin/env bash
# Set up (if needed) and run everything CI checks: lint, format, types, tests.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -m "not slow"`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh "dev,lightning,dashboard,tpe,ray,docs,onnx"
# the dashboard's browser tests drive Debian's chromium (Playwright cannot download browsers here)
command -v chromium >/dev/null 2>&1 || bash scripts/install_browser.sh
py=.venv/bin/python
echo "== ruff check";        $py -m ruff check src tests benchmarks examples
echo "== ruff format";       $py -m ruff format --check src tests benchmarks examples
echo "== mypy";              $py -m mypy
echo "== pytest";            $py -m pytest -q "$@"
