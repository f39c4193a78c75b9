# The public names of ``ttc_graph.strategies``, loaded on first use by ``__init__.py``
# (lazy_loader reads this file): the CLI reads the registry without importing graphs.
from . import defaults
from .beam_search import create_beam_search
from .best_of_n import create_best_of_n
from .config import Budget, EarlyStop
from .dvts import create_dvts
from .registry import (
    NEEDS_VERIFIER,
    SPECS,
    STRATEGIES,
    StrategySpec,
    build_strategy,
    get_spec,
)
from .self_refine import create_self_refine

__all__ = [
    "NEEDS_VERIFIER",
    "SPECS",
    "STRATEGIES",
    "Budget",
    "EarlyStop",
    "StrategySpec",
    "build_strategy",
    "create_beam_search",
    "create_best_of_n",
    "create_dvts",
    "create_self_refine",
    "defaults",
    "get_spec",
]
