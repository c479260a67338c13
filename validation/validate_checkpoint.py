#!/usr/bin/env python3
"""Seed 001's validator: a thin script over raydeploy.validate (see `--help`).

./validation/validate_checkpoint.py --format text|json [--checkpoint NAME] [--health-only]
    [--approval-check NAME] [--inventory PATH]
Exit codes: 0 healthy, 1 degraded, 2 failed or unreachable.
"""

import os
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))  # this checkout's raydeploy, whichever is installed
try:
    from raydeploy.validate.cli import main
except ImportError:
    venv_python = PROJECT / ".venv" / "bin" / "python"
    if venv_python.exists() and Path(sys.prefix).resolve() != venv_python.parent.parent.resolve():
        # Run under the project's virtualenv, where click and PyYAML live.
        os.execv(str(venv_python), [str(venv_python), __file__, *sys.argv[1:]])  # noqa: S606
    sys.exit("validate_checkpoint.py needs raydeploy's dependencies: run scripts/bootstrap.sh first")

if __name__ == "__main__":
    main(prog_name="validate_checkpoint.py")
