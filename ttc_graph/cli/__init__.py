"""The ``ttc-graph`` command line: one module per subcommand."""

from __future__ import annotations

import argparse
import importlib
import logging
import sqlite3
import sys
from collections.abc import Sequence

# Each module defines ``register(subparsers)``; it adds its parser and sets ``func``.
COMMANDS = ["solve", "eval", "train-verifier", "view", "graph", "serve"]

MAX_ERROR_CHARS = 2000
"""An error line is cut here: some messages quote input (a question, a file's text)."""


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (also used by the docs and tests)."""
    parser = argparse.ArgumentParser(
        prog="ttc-graph",
        description="Test-time compute scaling (best-of-N, beam search, DVTS, self-refine) "
        "as LangGraph graphs over local models.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"ttc_graph.cli.{name.replace('-', '_')}").register(sub)
    for command in sub.choices.values():
        # Also accepted after the subcommand; SUPPRESS keeps the subcommand from
        # resetting a --debug given before it.
        command.add_argument(
            "--debug",
            action="store_true",
            default=argparse.SUPPRESS,
            help="show the full traceback of an error",
        )
    return parser


def error_line(exc: BaseException) -> str:
    """One terminal-safe line for an error: its message, whitespace collapsed, cut if long."""
    from ttc_graph.escape import terminal_safe

    text = " ".join(str(exc).split()) or type(exc).__name__
    if len(text) > MAX_ERROR_CHARS:
        text = text[: MAX_ERROR_CHARS - 1] + "…"
    return terminal_safe(text, newlines=False)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ttc-graph`` console script.

    Exit status: 0 on success, 2 for bad input (a one-line ``ttc-graph: error:``
    saying what to change), 1 for any other failure (also one line; ``--debug``
    shows the traceback), 130 when interrupted.
    """
    from ttc_graph.errors import TTCGraphError

    parser = build_parser()
    args = parser.parse_args(argv)
    # Kept so a command can record the exact command line that made its output.
    args.argv = list(sys.argv[1:] if argv is None else argv)
    debug = bool(getattr(args, "debug", False))
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("ttc-graph: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if debug:
            raise
        if isinstance(exc, ValueError | FileNotFoundError | PermissionError):
            # Bad input: the message says what to change.
            print(f"ttc-graph: error: {error_line(exc)}", file=sys.stderr)
            return 2
        if isinstance(exc, TTCGraphError | OSError | sqlite3.Error | MemoryError):
            print(f"ttc-graph: error: {error_line(exc)}", file=sys.stderr)
            return 1
        # Not a failure ttc-graph knows how to explain: say how to see more.
        print(
            f"ttc-graph: error: unexpected {type(exc).__name__}: {error_line(exc)} "
            "(run the same command with --debug for the traceback)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
