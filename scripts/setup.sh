#!/usr/bin/env bash
# Create .venv (if missing) and install retiarii into it.
# torch==2.13.0 is installed FIRST: on this kind of machine it resolves to the local CPU wheel,
# whereas a bare `torch` requirement would pull a multi-GB CUDA build.
# Usage: bash scripts/setup.sh [EXTRAS]      (EXTRAS defaults to "dev")
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-dev}"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
py=.venv/bin/python
$py -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null 2>&1 || true
if ! $py -c "import torch" >/dev/null 2>&1; then
  $py -m pip install -q --disable-pip-version-check "torch==2.13.0"
fi
$py -m pip install -q --disable-pip-version-check -e ".[${extras}]"
