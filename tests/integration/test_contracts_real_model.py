"""The contracts between layers on the embedded model: a real search ranks candidates as
the verifier scores them (the aggregation rule end to end), and a ``HuggingFacePolicy``
built from parts generates as the loaded one. The pure rules, on a scripted policy and
verifier, are in tests/unit/test_contracts.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from ttc_graph import create_best_of_n
from ttc_graph.policy import GenerationRequest, SamplingParams
from ttc_graph.verifiers import ArithmeticVerifier

QUESTION = "Sam has 7 pencils and buys 5 more. How many pencils does Sam have?"


def test_a_real_search_ranks_as_the_verifier_scores(policy: Any) -> None:
    verifier = ArithmeticVerifier(aggregation="min")
    small = SamplingParams(temperature=0.8, max_new_tokens=32)
    for aggregation, fold in ((None, min), ("last", lambda s: s[-1])):
        graph = create_best_of_n(
            policy=policy, verifier=verifier, aggregation=aggregation, n=2, sampling=small, seed=3
        )
        candidates = graph.invoke({"question": QUESTION})["candidates"]
        for c in candidates:
            assert c["score"] == pytest.approx(fold(c["step_scores"]))
        if aggregation is None:
            steps = [c["steps"] for c in candidates]
            assert [c["score"] for c in candidates] == pytest.approx(
                verifier.score(QUESTION, steps)
            ), "inside a search as in verifier.score"


# -- HuggingFacePolicy: a BaseLLM holding model and tokenizer --------------------------


def test_a_policy_built_from_parts_generates_as_the_loaded_one(policy: Any) -> None:
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
