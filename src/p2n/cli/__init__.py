"""The ``p2n`` command line: one subcommand module per concern, registered here.

Each module in ``SUBCOMMANDS`` exposes ``register(subparsers)``, which adds its parser and sets
``func`` to a callable taking the parsed namespace and returning the process exit status. Typed
P2N errors are printed as ``CODE: message`` (or as JSON with ``--json``) and exit non-zero; a
traceback is never the user interface.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Callable, Sequence
from typing import cast

from p2n import __version__, errors

SUBCOMMANDS: tuple[str, ...] = ("sandbox", "reproduce", "claims")

EXIT_USAGE = 2
EXIT_ERROR = 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="p2n", description="Paper -> Plan -> Notebook -> Run -> Report.")
    parser.add_argument("--version", action="version", version=f"p2n {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in SUBCOMMANDS:
        module = importlib.import_module(f"p2n.cli.{name}")
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = cast(Callable[[argparse.Namespace], int], args.func)
    try:
        return func(args)
    except errors.P2NError as exc:
        if getattr(args, "json", False):
            print(json.dumps({"error": exc.to_dict()}))
        else:
            print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
