"""``ttc-graph view``: open a saved search trace as an HTML page or a terminal tree."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ttc_graph.errors import InputError


def register(sub: Any) -> None:
    """Add the ``view`` subcommand."""
    p = sub.add_parser(
        "view",
        help="show a saved search trace (from `solve --trace`) as an HTML page or terminal tree",
        description="Write a self-contained HTML viewer of a search trace (no network needed "
        "to open it), or print the tree in the terminal.",
    )
    p.add_argument("trace", type=Path, help="trace JSON written by `ttc-graph solve --trace`")
    p.add_argument(
        "-o",
        "--output",
        type=Path,
        default=None,
        help="HTML file to write (default: the trace's name with .html; "
        "with --terminal, only written when given)",
    )
    p.add_argument("--terminal", action="store_true", help="print the tree in the terminal")
    p.add_argument(
        "--max-text", type=int, default=80, help="characters of step text per terminal line"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Load, validate and show one trace."""
    from ttc_graph.escape import terminal_safe
    from ttc_graph.visualization import load_trace, print_tree, render_html
    from ttc_graph.visualization.trace import check_output_path

    trace = load_trace(args.trace)
    output = args.output
    if output is None and not args.terminal:
        output = args.trace.with_suffix(".html")
    if output is not None and output.resolve() == args.trace.resolve():
        raise InputError(
            f"--output {output} would overwrite the trace itself; choose another name."
        )
    if output is not None:
        check_output_path(output, example="tree.html")  # before printing anything
    if args.terminal:
        print_tree(trace, max_text=args.max_text)
    if output is not None:
        render_html(trace, output)
        print(terminal_safe(f"Search tree written to {output} (open it in a browser)"))
    return 0
