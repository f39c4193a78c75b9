# The public names of ``ttc_graph.serving``, loaded on first use by ``__init__.py``
# (lazy_loader reads this file): ``ttc-graph serve --help`` loads neither FastAPI nor
# LangChain; the server needs the ``serve`` extra (FastAPI and uvicorn).
from .app import create_app
from .server import serve, serve_in_thread
from .settings import ServeLimits

__all__ = [
    "ServeLimits",
    "create_app",
    "serve",
    "serve_in_thread",
]
