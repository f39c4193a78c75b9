"""See what a search did: trace files, an HTML tree viewer, a terminal tree, graph diagrams.

save_trace(result, "run.json")      # the search tree, answer and usage as JSON
render_html(result, "run.html")     # one self-contained page, no network
print_tree(load_trace("run.json"))  # a quick look in the terminal
draw_png(strategy_graph("beam_search"), "beam.png")  # offline, via Graphviz

The names load on first use (see ``__init__.pyi``).
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
