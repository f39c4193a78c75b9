"""``ttc-graph graph``: a strategy's LangGraph diagram as Mermaid text or an offline PNG."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ttc_graph.cli.options import add_verifier_options, verifier_choice
from ttc_graph.strategies.registry import SPECS


def register(sub: Any) -> None:
    """Add the ``graph`` subcommand."""
    p = sub.add_parser(
        "graph",
        help="print a strategy's graph diagram as Mermaid, or draw it as PNG (offline)",
        description="Show the LangGraph state machine of a strategy. No model is loaded. "
        "The PNG is drawn locally with Graphviz's `dot`, never by a web service.",
    )
    p.add_argument("--strategy", choices=tuple(SPECS), required=True)
    p.add_argument("--png", type=Path, default=None, help="write a PNG image to this file")
    add_verifier_options(
        p,
        what="draw the scoring step its verifier adds (only the spec's form is checked; "
        "nothing is loaded)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Build the strategy graph over diagram-only stand-ins and draw it."""
    from ttc_graph.visualization import draw_mermaid, draw_png, strategy_graph

    with_verifier = verifier_choice(args, args.strategy) is not None
    graph = strategy_graph(args.strategy, with_verifier=with_verifier)
    if args.png is None:
        print(draw_mermaid(graph), end="")
        return 0
    draw_png(graph, args.png, title=args.strategy)
    print(f"Diagram written to {args.png}")
    return 0
