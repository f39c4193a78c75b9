"""``ttc-graph serve``: an OpenAI-compatible server whose models are search strategies.

Any OpenAI client gets a searched answer by naming a strategy as its model
(``weighted-8``, ``beam_search-16``); see docs/serving.md. Needs the ``serve`` extra
(FastAPI and uvicorn): ``pip install 'ttc-graph[serve]'``.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "ServeLimits": "ttc_graph.serving.settings",
    "parse_model": "ttc_graph.serving.options",
    "create_app": "ttc_graph.serving.app",
    "serve": "ttc_graph.serving.server",
    "serve_in_thread": "ttc_graph.serving.server",
    "APIError": "ttc_graph.serving.errors",
}


def __getattr__(name: str) -> Any:
    # FastAPI and uvicorn are an optional extra: imported only when the server is used,
    # so that `ttc-graph solve` and `import ttc_graph.serving.options` work without them;
    # and `ttc-graph serve --help` reads the settings without pydantic or LangChain.
    if name not in _LAZY:
        raise AttributeError(f"module 'ttc_graph.serving' has no attribute {name!r}")
    try:
        module = importlib.import_module(_LAZY[name])
    except ImportError as exc:
        from ttc_graph.errors import TTCGraphError

        raise TTCGraphError(
            f"ttc-graph serve needs FastAPI and uvicorn ({exc}); install them with "
            "pip install 'ttc-graph[serve]'."
        ) from exc
    return getattr(module, name)


__all__ = [
    "APIError",
    "ServeLimits",
    "create_app",
    "parse_model",
    "serve",
    "serve_in_thread",
]
