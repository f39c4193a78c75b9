"""Tiny randomly initialised PRMs of each family, saved like real checkpoints.

Shared by the transformers PRM tests (test_verifiers_prm.py) and the vLLM PRM
tests (test_vllm_prm.py). Real PRMs are 7-8B and need a GPU; these share their
architecture family and token layout and use the embedded SmolLM2 tokenizer plus
the special tokens each layout needs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from transformers import AutoTokenizer, Qwen2Config

# A stand-in for the code Qwen2.5-Math-PRM ships: a Qwen2 body and a 2-label MLP head,
# with the parameter names of the real checkpoint (vLLM's own Qwen2ForProcessRewardModel
# loads it without this code).
REMOTE_CODE = """
from torch import nn
from transformers import Qwen2Config, Qwen2Model, Qwen2PreTrainedModel
from transformers.modeling_outputs import TokenClassifierOutput


class Qwen2ForProcessRewardModel(Qwen2PreTrainedModel):
    config_class = Qwen2Config

    def __init__(self, config):
        super().__init__(config)
        self.model = Qwen2Model(config)
        size = config.hidden_size
        self.score = nn.Sequential(nn.Linear(size, size), nn.ReLU(), nn.Linear(size, 2))
        self.post_init()

    def forward(self, input_ids=None, attention_mask=None, **kwargs):
        hidden = self.model(input_ids=input_ids, attention_mask=attention_mask)[0]
        return TokenClassifierOutput(logits=self.score(hidden))
"""


def tokenizer(base: Path, *, chat: bool = True, extra: tuple[str, ...] = ()) -> Any:
    """The tokenizer saved in ``base``, without its chat template or with extra tokens."""
    tok = AutoTokenizer.from_pretrained(base)
    if not chat:
        tok.chat_template = None
    if extra:
        tok.add_tokens(list(extra), special_tokens=True)
    return tok


def config(cls: Any, tok: Any, **kwargs: Any) -> Any:
    """A tiny config of ``cls`` for ``tok``'s vocabulary."""
    # A large init spread makes scores depend strongly on context, so a padding
    # leak or a misplaced read position would show.
    sizes: dict[str, Any] = {
        "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 1024,
        "initializer_range": 0.5,
    }  # fmt: skip
    return cls(vocab_size=len(tok), **{**sizes, **kwargs})


VLLM_SIZES: dict[str, Any] = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_attention_heads": 2,
    "num_key_value_heads": 1,
}
"""Sizes vLLM's CPU attention accepts: it needs a head size of 32 or more."""


def save(model: Any, tok: Any, target: Path) -> Path:
    """``save_pretrained`` of both into ``target``."""
    model.save_pretrained(target)
    tok.save_pretrained(target)
    return target


def save_qwen_prm(base: Path, target: Path, *, seed: int = 1, **sizes: Any) -> Path:
    """A tiny Qwen2ForProcessRewardModel (Qwen2.5-Math-PRM's layout) with its remote code."""
    tok = tokenizer(base, extra=("<extra_0>",))
    target.mkdir(parents=True, exist_ok=True)
    (target / "modeling_tiny_prm.py").write_text(REMOTE_CODE)
    namespace: dict[str, Any] = {}
    exec(compile(REMOTE_CODE, str(target / "modeling_tiny_prm.py"), "exec"), namespace)
    torch.manual_seed(seed)
    save(namespace["Qwen2ForProcessRewardModel"](config(Qwen2Config, tok, **sizes)), tok, target)
    card = json.loads((target / "config.json").read_text())
    card["auto_map"] = {"AutoModel": "modeling_tiny_prm.Qwen2ForProcessRewardModel"}
    (target / "config.json").write_text(json.dumps(card))
    return target
