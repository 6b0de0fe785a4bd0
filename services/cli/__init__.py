"""`jedi`: the command line for sites and coordinators.

Each subcommand lives in its own module with `add_parser(subparsers)`, which registers
the command and sets `handler` (a function taking the parsed arguments, returning the
exit status).
"""

from __future__ import annotations

import argparse
import sys

from services.cli import audit, credentials, cycles, mapping_init, push, query, response_key


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jedi", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module in (audit, credentials, cycles, mapping_init, push, query, response_key):
        module.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    status: int = arguments.handler(arguments)
    return status


if __name__ == "__main__":
    sys.exit(main())
