# The public names of ``ttc_graph.visualization``, loaded on first use by ``__init__.py``
# (lazy_loader reads this file): an error line's escaping loads no diagram code.
from ttc_graph.escape import terminal_safe

from .diagram import (
    DiagramOnlyPolicy,
    DiagramOnlyVerifier,
    GraphvizNotFoundError,
    draw_mermaid,
    draw_png,
    strategy_graph,
)
from .html import html_document, render_html
from .terminal import build_tree, print_tree
from .trace import (
    SearchTrace,
    check_output_path,
    load_trace,
    save_trace,
    trace_from_result,
    validate_trace,
)

__all__ = [
    "DiagramOnlyPolicy",
    "DiagramOnlyVerifier",
    "GraphvizNotFoundError",
    "SearchTrace",
    "build_tree",
    "check_output_path",
    "draw_mermaid",
    "draw_png",
    "html_document",
    "load_trace",
    "print_tree",
    "render_html",
    "save_trace",
    "strategy_graph",
    "terminal_safe",
    "trace_from_result",
    "validate_trace",
]
