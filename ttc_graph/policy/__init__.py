"""Policies: the models that write candidate solutions."""

from ttc_graph.policy.base import (
    DEFAULT_STEP_DELIMITER,
    Completion,
    GenerationRequest,
    Policy,
    SamplingParams,
)
from ttc_graph.policy.chat_model import ChatModelPolicy
from ttc_graph.policy.huggingface import HuggingFacePolicy
from ttc_graph.policy.loading import cache_dir, load_policy

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
