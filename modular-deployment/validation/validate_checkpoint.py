#!/usr/bin/env python3
"""Seed 001's path for the validator: the same as validation/validate_checkpoint.py."""

import runpy
from pathlib import Path

if __name__ == "__main__":
    runpy.run_path(
        str(Path(__file__).resolve().parents[2] / "validation" / "validate_checkpoint.py"),
        run_name="__main__",
    )
