"""Tiny randomly initialised models, built in memory (no weights are loaded): for the
prefix cache's bookkeeping, which needs a real model's cache layout but no real model."""

from __future__ import annotations

import torch
from transformers import LlamaConfig, LlamaForCausalLM

TINY: dict[str, int] = {
    "vocab_size": 64,
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
}
"""Two layers, grouped-query attention, a 64-token vocabulary."""


def tiny_llama() -> LlamaForCausalLM:
    """A :data:`TINY` Llama; seeded."""
    torch.manual_seed(0)
    config = LlamaConfig(**TINY, max_position_embeddings=256)
    return LlamaForCausalLM(config).eval()
