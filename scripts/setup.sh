#!/usr/bin/env bash
# Create .venv (if missing) and install retiarii into it.
# torch==2.13.0 is installed FIRST: on this kind of machine it resolves to the local CPU wheel,
# whereas a bare `torch` requirement would pull a multi-GB CUDA build.
# A second run with the same pyproject.toml and extras installs nothing (a stamp in .venv says
# what was installed); delete .venv/.retiarii-setup to force a reinstall.
# Usage: bash scripts/setup.sh [EXTRAS]      (EXTRAS defaults to "dev")
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-dev}"
stamp=.venv/.retiarii-setup   # line 1: hash of pyproject.toml; line 2: the extras installed
hash="$(sha256sum pyproject.toml | cut -c1-16)"
if [ -f "$stamp" ] && [ -x .venv/bin/python ] && [ "$(head -n 1 "$stamp")" = "$hash" ]; then
  installed="$(sed -n 2p "$stamp")"
  missing=""
  for extra in ${extras//,/ }; do
    case ",${installed}," in *",${extra},"*) ;; *) missing="${missing}${extra}," ;; esac
  done
  if [ -z "$missing" ]; then
    echo "== .venv is up to date (extras: ${installed})"
    exit 0
  fi
  extras="${installed},${missing%,}"   # keep what is installed, add the missing extras
fi
if [ ! -x .venv/bin/python ]; then
  echo "== creating .venv"
  python3 -m venv .venv
fi
py=.venv/bin/python
$py -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null 2>&1 || true
if ! $py -c "import torch" >/dev/null 2>&1; then
  echo "== installing torch 2.13.0 (CPU build; the first time only, about a minute)"
  $py -m pip install -q --disable-pip-version-check "torch==2.13.0"
fi
echo "== installing retiarii with extras [${extras}] and their dependencies (first time: a minute or two)"
$py -m pip install -q --disable-pip-version-check -e ".[${extras}]"
printf '%s\n%s\n' "$hash" "$extras" > "$stamp"
