"""The contracts between layers on the embedded model: a ``HuggingFacePolicy`` built from
parts generates as the loaded one. The pure rules, and the aggregation rule inside a real
graph (a search ranks candidates as the verifier scores them), on a scripted policy and
verifier, are in tests/unit/test_contracts.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from ttc_graph.policy import GenerationRequest, SamplingParams

# -- HuggingFacePolicy: a BaseLLM holding model and tokenizer --------------------------


def test_a_policy_built_from_parts_generates_as_the_loaded_one(policy_fp32: Any) -> None:
    # float32: rows of one batch then do not depend on each other's padding.
    policy = policy_fp32
    from langchain_core.language_models import BaseLLM
    from langchain_core.messages import HumanMessage
    from transformers import AutoTokenizer

    from ttc_graph.policy import HuggingFacePolicy

    # A fresh tokenizer as transformers loads it: right padding; no pad token.
    tokenizer = AutoTokenizer.from_pretrained(policy.model.name_or_path)
    tokenizer.padding_side = "right"
    tokenizer.pad_token = None
    built = HuggingFacePolicy(model=policy.model, tokenizer=tokenizer, prefix_cache_mb=0)
    assert isinstance(built, BaseLLM)
    assert (tokenizer.padding_side, tokenizer.pad_token) == ("left", tokenizer.eos_token)
    assert built.model_id == policy.model.name_or_path
    # Prompts of different lengths share a padded batch: padding must not change a row.
    requests = [
        GenerationRequest((HumanMessage("What is 2 + 3?"),)),
        GenerationRequest((HumanMessage("Sam has 7 pencils and buys 5 more. How many now?"),)),
    ]
    greedy = SamplingParams(temperature=0.0, max_new_tokens=12)
    assert built.sample(requests, params=greedy) == policy.sample(requests, params=greedy)
    assert built.invoke("1 + 1 =", max_new_tokens=4) == "".join(
        built.stream("1 + 1 =", max_new_tokens=4)
    )
    with pytest.raises(ValueError, match="takes model= and tokenizer=, not a pipeline"):
        HuggingFacePolicy(pipeline=object())
    with pytest.raises(ValueError, match="batch_size"):
        HuggingFacePolicy(model=policy.model, tokenizer=tokenizer, batch_size=4)
