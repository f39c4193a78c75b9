# The public names of ``ttc_graph``. ``__init__.py`` loads each on first use
# (lazy_loader reads this file): ``import ttc_graph`` and ``ttc-graph --help`` stay
# fast, and torch is imported only by what needs it.
from .answers import answers_equal, extract_answer
from .chat_model import ChatTTC
from .policy.loading import load_policy
from .runnables import as_chain, as_tool
from .strategies.adaptive import create_adaptive
from .strategies.beam_search import create_beam_search
from .strategies.best_of_n import create_best_of_n, create_greedy
from .strategies.config import Budget, EarlyStop
from .strategies.dvts import create_dvts
from .strategies.particle_filter import create_particle_filter
from .strategies.pool import TokenPool
from .strategies.routing import PosteriorRouting
from .strategies.self_refine import create_self_refine
from .verifiers.arithmetic import ArithmeticVerifier
from .verifiers.grounded import GroundedVerifier
from .verifiers.loading import load_prm, load_verifier

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
    "create_greedy",
    "create_particle_filter",
    "create_self_refine",
    "extract_answer",
    "load_policy",
    "load_prm",
    "load_verifier",
]
