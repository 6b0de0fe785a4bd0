"""Argument types the CLI's commands share, so a bad value is an argparse error, not a traceback."""

from __future__ import annotations

import argparse
from pathlib import Path


def readable_file(value: str) -> Path:
    path = Path(value)
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"{value}: no such file")
    return path
