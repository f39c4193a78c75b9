"""See what a search did: trace files, an HTML tree viewer, a terminal tree, graph diagrams.

save_trace(result, "run.json")      # the search tree, answer and usage as JSON
render_html(result, "run.html")     # one self-contained page, no network
print_tree(load_trace("run.json"))  # a quick look in the terminal
draw_png(strategy_graph("beam_search"), "beam.png")  # offline, via Graphviz
"""

from ttc_graph.visualization.diagram import (
    DiagramOnlyPolicy,
    DiagramOnlyVerifier,
    GraphvizNotFoundError,
    draw_mermaid,
    draw_png,
    strategy_graph,
)
from ttc_graph.visualization.escape import terminal_safe
from ttc_graph.visualization.html import html_document, render_html
from ttc_graph.visualization.terminal import build_tree, print_tree
from ttc_graph.visualization.trace import (
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
