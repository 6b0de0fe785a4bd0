"""`jedi query`: scorecards and comparisons from the query service, printed as tables."""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("query", help="read benchmarks from the query service")
    parser.set_defaults(handler=lambda arguments: parser.error("not available yet"))
