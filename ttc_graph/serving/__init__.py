"""``ttc-graph serve``: an OpenAI-compatible server whose models are search strategies.

Any OpenAI client gets a searched answer by naming a strategy as its model
(``weighted-8``, ``beam_search-16``); see docs/serving.md.
"""

from ttc_graph.serving.app import create_app
from ttc_graph.serving.errors import APIError
from ttc_graph.serving.options import Defaults, ServeLimits, parse_model
from ttc_graph.serving.server import serve, serve_in_thread

__all__ = [
    "APIError",
    "Defaults",
    "ServeLimits",
    "create_app",
    "parse_model",
    "serve",
    "serve_in_thread",
]
