# The public names of ``ttc_graph.visualization``, loaded on first use by ``__init__.py``
# (lazy_loader reads this file): reading a trace loads no diagram code.
from .diagram import draw_mermaid, draw_png, strategy_graph
from .html import render_html
from .terminal import print_tree
from .trace import load_trace, save_trace

__all__ = [
    "draw_mermaid",
    "draw_png",
    "load_trace",
    "print_tree",
    "render_html",
    "save_trace",
    "strategy_graph",
]
