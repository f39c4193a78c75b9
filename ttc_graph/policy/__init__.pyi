# The public names of ``ttc_graph.policy``, loaded on first use by ``__init__.py``
# (lazy_loader reads this file): torch loads only with what needs it.
from .base import Completion, GenerationRequest, Policy, SamplingParams
from .chat_model import ChatModelPolicy
from .huggingface import HuggingFacePolicy
from .loading import load_policy

__all__ = [
    "ChatModelPolicy",
    "Completion",
    "GenerationRequest",
    "HuggingFacePolicy",
    "Policy",
    "SamplingParams",
    "load_policy",
]
