#!/usr/bin/env bash
# The slow fault-injection tests (tests/faults) on their own sandbox hosts: killed Ray
# processes, restarted hosts, dropped SSH. CI runs the fast ones; this runs the rest and writes
# benchmarks/results/faults.{json,md}, the table the README quotes.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export PATH="$PWD/.venv/bin:$PATH"
raydeploy sandbox engine
exec bash scripts/pytest-strict.sh "fault tests" -m faults tests/faults "$@"
