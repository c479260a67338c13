#!/usr/bin/env python3
"""Seed 001's API server script (modular-deployment/api-interface/ runs this one): a thin script
over `raydeploy api` (see README).

./api-interface/flask-api-server.py [--host 127.0.0.1] [--port 8000] [--inventory INV] ...
"""

import os
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
try:
    from raydeploy.cli import main
    from raydeploy.cli.api import api
except ImportError:
    venv_python = PROJECT / ".venv" / "bin" / "python"
    if venv_python.exists() and Path(sys.prefix).resolve() != venv_python.parent.parent.resolve():
        # Run under the project's virtualenv, where raydeploy, Flask and waitress live.
        os.execv(str(venv_python), [str(venv_python), __file__, *sys.argv[1:]])  # noqa: S606
    sys.exit("flask-api-server.py needs raydeploy installed: run scripts/bootstrap.sh first")

if __name__ == "__main__":
    main(api, prog_name="flask-api-server.py")
