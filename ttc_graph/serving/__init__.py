"""``ttc-graph serve``: an OpenAI-compatible server whose models are search strategies.

Any OpenAI client gets a searched answer by naming a strategy as its model
(``weighted-8``, ``beam_search-16``); see docs/serving.md. Needs the ``serve`` extra
(FastAPI and uvicorn): ``pip install 'ttc-graph[serve]'``. The names load on first use
(see ``__init__.pyi``).
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
