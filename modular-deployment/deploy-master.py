#!/usr/bin/env python3
"""Seed 001's orchestrator path: a thin script over `raydeploy.cli.deploy` (see README).

./modular-deployment/deploy-master.py --deploy [--auto-approve] [--inventory INV] ...
"""

import os
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
try:
    from raydeploy.cli import main
    from raydeploy.cli.deploy import deploy_master
except ImportError:
    venv_python = PROJECT / ".venv" / "bin" / "python"
    if venv_python.exists() and Path(sys.prefix).resolve() != venv_python.parent.parent.resolve():
        # Run under the project's virtualenv, where raydeploy and ansible-runner live.
        os.execv(str(venv_python), [str(venv_python), __file__, *sys.argv[1:]])  # noqa: S606
    sys.exit("deploy-master.py needs raydeploy installed: run scripts/bootstrap.sh first")

if __name__ == "__main__":
    main(deploy_master, prog_name="deploy-master.py")
