# The public names of ``ttc_graph``. ``__init__.py`` loads each on first use
# (lazy_loader reads this file): ``import ttc_graph`` and ``ttc-graph --help`` stay
# fast, and torch is imported only by what needs it.
from .answers import answers_equal, extract_answer
from .chat_model import ChatTTC
from .policy.loading import load_policy
from .runnables import as_chain, as_tool
from .strategies import (
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
from .verifiers import ArithmeticVerifier, GroundedVerifier, load_prm, load_verifier

__all__ = [
    "ArithmeticVerifier",
    "Budget",
    "ChatTTC",
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
__version__: str
