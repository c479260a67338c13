#!/usr/bin/env bash
# Prepares this machine for raydeploy: a virtualenv (.venv) with the package and its tools.
# The Docker engine and debootstrap are ensured by 'raydeploy sandbox' itself when needed.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/raydeploy ] || [ pyproject.toml -nt .venv/.installed ]; then
  echo "== creating .venv and installing raydeploy with its dev tools"
  "$PYTHON" -m venv .venv
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e '.[dev]'
  touch .venv/.installed
fi
# The web page's browser test drives Debian's headless Chromium through chromedriver (selenium).
bash scripts/ensure-chromium.sh || echo "warning: no Chromium: the web page's browser tests will fail" >&2
