"""Verifiers score each step of candidate solutions in [0, 1].

``ArithmeticVerifier`` checks the calculations steps claim (no model);
``GroundedVerifier`` also checks that they use the question's quantities;
``load_prm`` loads a learned process reward model; ``LLMJudgeVerifier`` asks a
policy model; ``CombinedVerifier`` mixes them; ``load_verifier`` maps a CLI spec.
"""

from ttc_graph.verifiers.arithmetic import ArithmeticVerifier
from ttc_graph.verifiers.base import AGGREGATIONS, Aggregation, Verifier, VerifierInput, aggregate
from ttc_graph.verifiers.claims import Claim, find_claims
from ttc_graph.verifiers.combined import CombinedVerifier
from ttc_graph.verifiers.grounded import CHECKER_FEATURES, GroundedVerifier
from ttc_graph.verifiers.judge import LLMJudgeVerifier
from ttc_graph.verifiers.loading import detect_prm_format, load_prm, load_verifier
from ttc_graph.verifiers.prm import PRM_FORMATS, PRMFormat, PRMVerifier

__all__ = [
    "AGGREGATIONS",
    "CHECKER_FEATURES",
    "PRM_FORMATS",
    "Aggregation",
    "ArithmeticVerifier",
    "Claim",
    "CombinedVerifier",
    "GroundedVerifier",
    "LLMJudgeVerifier",
    "PRMFormat",
    "PRMVerifier",
    "Verifier",
    "VerifierInput",
    "aggregate",
    "detect_prm_format",
    "find_claims",
    "load_prm",
    "load_verifier",
]
