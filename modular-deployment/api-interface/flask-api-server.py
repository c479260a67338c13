#!/usr/bin/env python3
"""Seed 001's path for the API server (`cd modular-deployment/api-interface && python
flask-api-server.py`): the same as api-interface/flask-api-server.py."""

import runpy
from pathlib import Path

if __name__ == "__main__":
    runpy.run_path(
        str(Path(__file__).resolve().parents[2] / "api-interface" / "flask-api-server.py"),
        run_name="__main__",
    )
