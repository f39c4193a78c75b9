"""The ``ttc-graph`` command line: one module per subcommand."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

# Each module defines ``register(subparsers)``; it adds its parser and sets ``func``.
COMMANDS = ["solve", "eval", "train-verifier", "view", "graph"]


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (also used by the docs and tests)."""
    parser = argparse.ArgumentParser(
        prog="ttc-graph",
        description="Test-time compute scaling (best-of-N, beam search, DVTS, self-refine) "
        "as LangGraph graphs over local models.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"ttc_graph.cli.{name.replace('-', '_')}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ttc-graph`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    # Kept so a command can record the exact command line that made its output.
    args.argv = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError, PermissionError) as exc:
        # Bad input is reported as one clear line, not a traceback.
        print(f"ttc-graph: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ttc-graph: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
