"""ttc-graph: test-time compute scaling as LangGraph state machines.

Sample many solutions and let a verifier pick, search step by step guided by a
process reward model, or let the model refine its own answer — each strategy a
compiled LangGraph graph over a local policy and verifier, usable as an LCEL
runnable or as an agent tool.
"""

from ttc_graph.answers import answers_equal, extract_answer
from ttc_graph.policy import load_policy
from ttc_graph.runnables import as_chain, as_tool
from ttc_graph.strategies import (
    Budget,
    EarlyStop,
    PosteriorRouting,
    TokenPool,
    create_adaptive,
    create_beam_search,
    create_best_of_n,
    create_dvts,
    create_self_refine,
)
from ttc_graph.verifiers import ArithmeticVerifier, GroundedVerifier, load_prm, load_verifier

__all__ = [
    "ArithmeticVerifier",
    "Budget",
    "EarlyStop",
    "GroundedVerifier",
    "PosteriorRouting",
    "TokenPool",
    "answers_equal",
    "as_chain",
    "as_tool",
    "create_adaptive",
    "create_beam_search",
    "create_best_of_n",
    "create_dvts",
    "create_self_refine",
    "extract_answer",
    "load_policy",
    "load_prm",
    "load_verifier",
]
__version__ = "0.1.0"
