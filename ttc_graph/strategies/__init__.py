"""Test-time compute strategies, each a compiled LangGraph graph.

Every strategy has one :class:`~ttc_graph.strategies.registry.StrategySpec` in
:data:`~ttc_graph.strategies.registry.SPECS`; the CLI, the evaluation and the
diagrams read it from there. The names load on first use (see ``__init__.pyi``):
reading the registry imports no graph code.
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
