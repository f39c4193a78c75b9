# The public names of ``ttc_graph.policy``, loaded on first use by ``__init__.py``
# (lazy_loader reads this file): ``policy.base`` alone does not import torch.
from .base import (
    DEFAULT_STEP_DELIMITER,
    Completion,
    GenerationRequest,
    Policy,
    SamplingParams,
)
from .chat_model import ChatModelPolicy
from .huggingface import HuggingFacePolicy
from .loading import cache_dir, load_policy

__all__ = [
    "DEFAULT_STEP_DELIMITER",
    "ChatModelPolicy",
    "Completion",
    "GenerationRequest",
    "HuggingFacePolicy",
    "Policy",
    "SamplingParams",
    "cache_dir",
    "load_policy",
]
