#!/usr/bin/env bash
# The slow fault-injection tests (tests/faults) on their own sandbox hosts: killed Ray
# processes, restarted hosts, dropped SSH. CI runs the fast ones; this runs the rest and writes
# benchmarks/results/faults.{json,md}, the table the README quotes.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export PATH="$PWD/.venv/bin:$PATH"
raydeploy sandbox engine
set +e
pytest -m faults tests/faults "$@"
code=$?
set -e
if [ "$code" -eq 5 ]; then
  echo "pytest collected no fault tests: that is a failure, not a pass" >&2
  exit 1
fi
exit "$code"
