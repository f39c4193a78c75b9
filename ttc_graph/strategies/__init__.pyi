# The public names of ``ttc_graph.strategies``, loaded on first use by ``__init__.py``
# (lazy_loader reads this file): the CLI reads the registry without importing graphs.
# The factories, Budget, EarlyStop, TokenPool and PosteriorRouting are ttc_graph's own.
from .context import OptionSet
from .registry import SPECS, StrategySpec, build_strategy, register_strategy
from .routing import Decision

__all__ = [
    "SPECS",
    "Decision",
    "OptionSet",
    "StrategySpec",
    "build_strategy",
    "register_strategy",
]
