"""ttc-graph: test-time compute scaling as LangGraph state machines.

Sample many solutions and let a verifier pick, search step by step guided by a
process reward model, or let the model refine its own answer — each strategy a
compiled LangGraph graph over a local policy and verifier, usable as an LCEL
runnable or as an agent tool.

The names are loaded on first use (see ``__init__.pyi``), so ``import ttc_graph``
costs nothing until a strategy or model is asked for.

Example:
    >>> from ttc_graph import ArithmeticVerifier, create_best_of_n, load_policy
    >>> graph = create_best_of_n(policy=load_policy(), verifier=ArithmeticVerifier(), n=4)
    >>> graph.invoke({"question": "What is 2 + 3?"})["answer"]  # doctest: +SKIP
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
__version__ = "0.1.0"
