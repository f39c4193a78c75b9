"""The embedded policy through its LangChain wrapper: batching, continuation, stops, seeds.
(What is refused before any weights load: tests/unit/test_policy_checks.py.)"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import HumanMessage
from policy_contract import PolicyContract

from ttc_graph import load_policy
from ttc_graph.policy import GenerationRequest, SamplingParams

QUESTIONS = ["What is 12 + 30?", "What is 7 times 6?", "Name a prime number."]


def _req(text: str, prefix: str = "") -> GenerationRequest:
    return GenerationRequest((HumanMessage(text),), prefix)


class _Counter(BaseCallbackHandler):
    def __init__(self) -> None:
        self.prompts: list[list[str]] = []

    def on_llm_start(self, serialized: Any, prompts: list[str], **kwargs: Any) -> None:
        self.prompts.append(prompts)


def test_n_candidates_for_each_prompt_from_one_generate_call(policy: Any) -> None:
    calls = 0
    real_generate = policy.model.generate

    def counting_generate(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        return real_generate(*args, **kwargs)

    policy.model.generate = counting_generate
    try:
        out = policy.sample(
            [_req(q) for q in QUESTIONS], n=3, params=SamplingParams(max_new_tokens=8, seed=0)
        )
    finally:
        del policy.model.generate
    assert calls == 1
    assert [len(cands) for cands in out] == [3, 3, 3]
    for cands in out:
        for c in cands:
            assert 1 <= c.completion_tokens <= 8
            assert c.prompt_tokens > 0


def test_a_partial_answer_is_rendered_for_continuation(policy: Any) -> None:
    prefix = "Step 1: 12 + 30 = "
    request = _req(QUESTIONS[0], prefix)
    rendered = policy.render(request)
    assert rendered.endswith("<|im_start|>assistant\n" + prefix)
    # What the model makes of it: PolicyContract.test_continues_a_partial_answer.


def test_same_seed_same_output_and_batch_invariance(policy_fp32: Any) -> None:
    # Batch invariance holds in float32 (docs/reliability.md); bfloat16 only reruns alike.
    policy = policy_fp32
    params = SamplingParams(temperature=1.0, max_new_tokens=12, seed=123)
    first = policy.sample([_req(QUESTIONS[0])], n=2, params=params)
    again = policy.sample([_req(QUESTIONS[0])], n=2, params=params)
    assert [c.text for c in first[0]] == [c.text for c in again[0]]
    in_batch = policy.sample([_req(QUESTIONS[1]), _req(QUESTIONS[0])], n=2, params=params)
    assert [c.text for c in in_batch[1]] == [c.text for c in first[0]]
    other = policy.sample(
        [_req(QUESTIONS[0])],
        n=2,
        params=SamplingParams(temperature=1.0, max_new_tokens=12, seed=124),
    )
    assert [c.text for c in other[0]] != [c.text for c in first[0]]


def test_is_a_langchain_runnable(policy: Any) -> None:
    handler = _Counter()
    text = policy.invoke(
        "The capital of France is", config={"callbacks": [handler]}, max_new_tokens=5
    )
    assert isinstance(text, str)
    assert text
    assert handler.prompts == [["The capital of France is"]]
    assert len(policy.batch(["1 + 1 =", "2 + 2 ="], max_new_tokens=3)) == 2
    handler2 = _Counter()
    policy.sample(
        [_req(QUESTIONS[0])],
        n=2,
        params=SamplingParams(max_new_tokens=3),
        config={"callbacks": [handler2]},
    )
    assert len(handler2.prompts) == 1, "tracing sees the batched sample call"


async def test_ainvoke(policy: Any) -> None:
    text = await policy.ainvoke("1, 2, 3,", max_new_tokens=4)
    assert isinstance(text, str)


def test_bad_generation_arguments(policy: Any) -> None:
    with pytest.raises(ValueError, match="n must be"):
        policy.sample([_req(QUESTIONS[0])], n=0)
    with pytest.raises(ValueError, match="Unsupported generation argument"):
        policy.invoke("hi", beams=3)
    with pytest.raises(ValueError, match="at least one message"):
        GenerationRequest(())


@pytest.mark.model
def test_the_bfloat16_path_runs_a_search_on_cpu(policy: Any, policy_fp32: Any) -> None:
    """bf16 is cuda's default and the CPU default where the CPU has native bf16 (slower
    on CPUs without it, docs/performance.md); the weights are bf16 and a search returns
    the same kind of result as in float32."""
    import torch

    from ttc_graph import create_best_of_n
    from ttc_graph.policy.devices import resolve_device, resolve_dtype
    from ttc_graph.verifiers import GroundedVerifier

    bf16 = load_policy(device="cpu", dtype="bfloat16")
    assert {p.dtype for p in bf16.model.parameters()} == {torch.bfloat16}
    default = resolve_dtype("auto", resolve_device("cpu"))
    assert {p.dtype for p in policy.model.parameters()} == {default}, "the default"
    assert {p.dtype for p in policy_fp32.model.parameters()} == {torch.float32}
    params = SamplingParams(temperature=0, max_new_tokens=12)
    ((greedy,),) = bf16.sample([_req(QUESTIONS[0])], params=params)
    assert greedy.text.strip()
    assert 1 <= greedy.completion_tokens <= 12
    graph = create_best_of_n(
        policy=bf16,
        verifier=GroundedVerifier(),
        n=2,
        selection="weighted",
        sampling=SamplingParams(max_new_tokens=16),
        seed=0,
    )
    result = graph.invoke({"question": QUESTIONS[0]})
    assert len(result["candidates"]) == 2
    assert all(c["score"] is not None for c in result["candidates"])


def test_cached_weights_load_in_a_new_process(policy: Any) -> None:
    # The session fixture converted (or found) the cache; a new process reuses it.
    code = (
        "import time; t=time.perf_counter(); from ttc_graph import load_policy; "
        "p=load_policy(device='cpu'); print(round(time.perf_counter()-t, 2))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert proc.returncode == 0, proc.stderr[-1500:]
    assert "Converting" not in proc.stderr, "the GGUF must not be converted again"


def test_a_langchain_huggingface_pipeline_becomes_a_policy_sharing_its_weights(
    policy_fp32: Any,
) -> None:
    # float32: with and without the prefix cache the same rows (bf16 rounds them apart).
    policy = policy_fp32
    from langchain_huggingface import ChatHuggingFace, HuggingFacePipeline
    from transformers import pipeline

    from ttc_graph.policy import HuggingFacePolicy

    pipe = pipeline("text-generation", model=policy.model, tokenizer=policy.tokenizer)
    hf = HuggingFacePipeline(pipeline=pipe, model_id="my-smollm2")
    bridged = HuggingFacePolicy.from_langchain(hf, prefix_cache_mb=0)
    assert bridged.model is policy.model
    assert bridged.model_id == "my-smollm2"
    request = GenerationRequest((HumanMessage("What is 2 + 3?"),))
    params = SamplingParams(temperature=0.8, max_new_tokens=12, seed=5)
    ours = policy.sample([request], n=2, params=params)
    theirs = bridged.sample([request], n=2, params=params)
    assert [c.text for c in theirs[0]] == [c.text for c in ours[0]]
    # A ChatHuggingFace over the same pipeline is accepted too.
    chat = ChatHuggingFace.model_construct(llm=hf)
    assert HuggingFacePolicy.from_langchain(chat).model is policy.model
    with pytest.raises(ValueError, match="ChatModelPolicy"):
        HuggingFacePolicy.from_langchain(policy)


class TestTransformersPolicyContract(PolicyContract):
    """The policy contract every engine meets (tests/policy_contract.py), on transformers."""

    @pytest.fixture
    def contract_policy(self, policy: Any) -> Any:
        return policy
