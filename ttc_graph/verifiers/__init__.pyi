# The public names of ``ttc_graph.verifiers``, loaded on first use by ``__init__.py``
# (lazy_loader reads this file): torch loads only with what needs it.
from .arithmetic import ArithmeticVerifier
from .base import Verifier
from .combined import CombinedVerifier
from .grounded import GroundedVerifier
from .judge import LLMJudgeVerifier
from .loading import load_prm, load_verifier
from .prm import PRMVerifier

__all__ = [
    "ArithmeticVerifier",
    "CombinedVerifier",
    "GroundedVerifier",
    "LLMJudgeVerifier",
    "PRMVerifier",
    "Verifier",
    "load_prm",
    "load_verifier",
]
