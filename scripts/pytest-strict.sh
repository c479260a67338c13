#!/usr/bin/env bash
# pytest, where exit 5 (no test collected) fails: a marker or path that selects nothing must
# not pass as green. Shared by test.sh and faults.sh. Usage: pytest-strict.sh LABEL [ARGS...]
# (LABEL names what was expected, e.g. "fault tests"; ARGS go to pytest, found on PATH).
set -uo pipefail
label=${1:?usage: pytest-strict.sh LABEL [PYTEST ARGS...]}
shift
code=0
pytest "$@" || code=$?
if [ "$code" -eq 5 ]; then
  echo "pytest collected no $label: that is a failure, not a pass" >&2
  exit 1
fi
exit "$code"
