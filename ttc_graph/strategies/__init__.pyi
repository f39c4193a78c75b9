# The public names of ``ttc_graph.strategies``, loaded on first use by ``__init__.py``
# (lazy_loader reads this file): the CLI reads the registry without importing graphs.
from . import defaults
from .adaptive import create_adaptive
from .beam_search import create_beam_search
from .best_of_n import create_best_of_n, create_greedy
from .config import Budget, EarlyStop
from .dvts import create_dvts
from .options import OPTIONS, OptionSet
from .pool import TokenPool
from .registry import SPECS, StrategySpec, build_strategy, get_spec, register_strategy
from .routing import Decision, PosteriorRouting, RoundSummary, RoutingPolicy
from .self_refine import create_self_refine

__all__ = [
    "OPTIONS",
    "SPECS",
    "Budget",
    "Decision",
    "EarlyStop",
    "OptionSet",
    "PosteriorRouting",
    "RoundSummary",
    "RoutingPolicy",
    "StrategySpec",
    "TokenPool",
    "build_strategy",
    "create_adaptive",
    "create_beam_search",
    "create_best_of_n",
    "create_dvts",
    "create_greedy",
    "create_self_refine",
    "defaults",
    "get_spec",
    "register_strategy",
]
