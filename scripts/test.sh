#!/usr/bin/env bash
# The test command: lint, then every test (unit and end-to-end on sandbox hosts).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export PATH="$PWD/.venv/bin:$PATH"
raydeploy sandbox engine
echo "== ruff";         ruff check .
echo "== yamllint";     yamllint -s .
echo "== ansible-lint"; ansible-lint --profile production -q
echo "== pytest";       exec bash scripts/pytest-strict.sh tests --durations=25 "$@"
