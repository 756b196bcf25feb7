#!/usr/bin/env bash
# Install Chromium for the dashboard's browser tests (tests/dashboard_web, marked `browser`).
# Debian's `chromium` package: Playwright drives it through executable_path=/usr/bin/chromium
# (Playwright's own browser downloads are not used). Needs root or sudo; without either it says
# so and exits 0: locally the browser tests then skip, and with CI=true they fail.
# Usage: bash scripts/install_browser.sh
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  echo "chromium already installed: $(command -v chromium)"
  exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  as_root=(sudo)
else
  echo "install_browser.sh: cannot install chromium (not root, no sudo); the browser tests will" \
       "skip (or fail with CI=true). As root: apt-get install chromium" >&2
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install_browser.sh: no apt-get here; install Chromium and set RETIARII_CHROMIUM=/path/to/it" >&2
  exit 0
fi
echo "== installing chromium (apt-get)"
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq chromium >/dev/null
command -v chromium
