"""Test-time compute strategies, each a compiled LangGraph graph.

Every strategy has one :class:`~ttc_graph.strategies.registry.StrategySpec` in
:data:`~ttc_graph.strategies.registry.SPECS`; the CLI, the evaluation and the
diagrams read it from there.
"""

from __future__ import annotations

from ttc_graph.strategies.adaptive import create_adaptive
from ttc_graph.strategies.beam_search import create_beam_search
from ttc_graph.strategies.best_of_n import create_best_of_n
from ttc_graph.strategies.config import Budget, EarlyStop
from ttc_graph.strategies.dvts import create_dvts
from ttc_graph.strategies.registry import SPECS, StrategySpec, build_strategy, get_spec
from ttc_graph.strategies.routing import (
    Decision,
    PosteriorRouting,
    RoundSummary,
    RoutingPolicy,
    TokenPool,
)
from ttc_graph.strategies.self_refine import create_self_refine

STRATEGIES = tuple(SPECS)
"""Every strategy's CLI name."""
NEEDS_VERIFIER = frozenset(name for name, spec in SPECS.items() if spec.needs_verifier)
"""Strategies that rank candidates by score and cannot run without a verifier."""

__all__ = [
    "NEEDS_VERIFIER",
    "SPECS",
    "STRATEGIES",
    "Budget",
    "Decision",
    "EarlyStop",
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
    "create_self_refine",
    "get_spec",
]
