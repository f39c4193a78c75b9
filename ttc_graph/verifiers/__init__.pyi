# The public names of ``ttc_graph.verifiers``, loaded on first use by ``__init__.py``
# (lazy_loader reads this file): torch loads only with what needs it.
from .aggregation import AGGREGATIONS, Aggregation, aggregate
from .arithmetic import ArithmeticVerifier
from .base import Verifier, VerifierInput
from .claims import Claim, find_claims
from .combined import CombinedVerifier
from .grounded import CHECKER_FEATURES, GroundedVerifier
from .judge import LLMJudgeVerifier
from .loading import load_prm, load_verifier
from .pooling import PoolingPRMVerifier, VLLMPRMVerifier, vllm_prm_args
from .prm import PRM_FORMATS, BasePRMVerifier, PRMFormat, PRMVerifier
from .prm_source import detect_prm_format

__all__ = [
    "AGGREGATIONS",
    "CHECKER_FEATURES",
    "PRM_FORMATS",
    "Aggregation",
    "ArithmeticVerifier",
    "BasePRMVerifier",
    "Claim",
    "CombinedVerifier",
    "GroundedVerifier",
    "LLMJudgeVerifier",
    "PRMFormat",
    "PRMVerifier",
    "PoolingPRMVerifier",
    "VLLMPRMVerifier",
    "Verifier",
    "VerifierInput",
    "aggregate",
    "detect_prm_format",
    "find_claims",
    "load_prm",
    "load_verifier",
    "vllm_prm_args",
]
