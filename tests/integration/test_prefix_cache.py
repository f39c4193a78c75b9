"""Prompt-prefix KV reuse: same outputs with and without it, and less prefill work.

Equivalence runs on the embedded model. (The cache's own bookkeeping on tiny random
models: tests/unit/test_prefix_cache_bookkeeping.py.)
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import HumanMessage, SystemMessage
from tiny_models import tiny_llama

from ttc_graph import create_beam_search
from ttc_graph.policy import GenerationRequest, HuggingFacePolicy, SamplingParams
from ttc_graph.policy.generation import generate_candidates
from ttc_graph.policy.prefix_cache import PrefixCache
from ttc_graph.verifiers import ArithmeticVerifier

QUESTION = "Sam has 7 pencils and buys 5 more. How many pencils does Sam have?"
OTHER = "What is 3 times 4?"


def _prompts(policy: Any) -> list[str]:
    def render(question: str, prefix: str = "") -> str:
        messages = (SystemMessage("Solve step by step."), HumanMessage(question))
        return str(policy.render(GenerationRequest(messages, prefix)))

    # Shared question with different partial answers, plus an unrelated prompt:
    # rows of different lengths whose cached prefixes differ in length too.
    return [
        render(QUESTION),
        render(QUESTION, "Sam starts with 7 pencils.\n\n"),
        render(OTHER, "3 times 4 is"),
    ]


def _texts(results: list[list[Any]]) -> list[list[tuple[str, str, int, int]]]:
    return [
        [(c.text, c.finish_reason, c.completion_tokens, c.prompt_tokens) for c in row]
        for row in results
    ]


@pytest.mark.parametrize(
    "params",
    [
        SamplingParams(temperature=0.0, max_new_tokens=10),
        SamplingParams(temperature=0.8, max_new_tokens=10, seed=5, stop=("\n\n",)),
    ],
    ids=["greedy", "seeded-sampling"],
)
def test_reuse_gives_the_same_completions(policy_fp32: Any, params: SamplingParams) -> None:
    policy = policy_fp32
    prompts = _prompts(policy)
    counts = [2, 1, 1]
    plain = generate_candidates(policy.model, policy.tokenizer, prompts, n=counts, params=params)
    cache = PrefixCache(max_bytes=64 * 2**20)
    first = generate_candidates(
        policy.model, policy.tokenizer, prompts, n=counts, params=params, prefix_cache=cache
    )
    assert _texts(first) == _texts(plain)
    assert cache.stats.reused_tokens == 0, "an empty cache has nothing to reuse"
    # Only each distinct prompt is encoded, not each row.
    distinct = sum(len(policy.tokenizer(p, add_special_tokens=False)["input_ids"]) for p in prompts)
    assert cache.stats.encoded_tokens == distinct - len(prompts) + sum(counts)

    # The second prompt now extends the first one's cached prefix by a step.
    again = generate_candidates(
        policy.model, policy.tokenizer, prompts, n=counts, params=params, prefix_cache=cache
    )
    assert _texts(again) == _texts(plain)
    assert cache.stats.reused_tokens > 0
    assert cache.stats.encoded_tokens < cache.stats.prompt_tokens / 2


def test_chunked_batches_share_the_cache(policy_fp32: Any) -> None:
    policy = policy_fp32
    params = SamplingParams(temperature=0.7, max_new_tokens=6, seed=1)
    prompts = _prompts(policy)[:1]
    plain = generate_candidates(policy.model, policy.tokenizer, prompts, n=3, params=params)
    cache = PrefixCache(max_bytes=64 * 2**20)
    chunked = generate_candidates(
        policy.model,
        policy.tokenizer,
        prompts,
        n=3,
        params=params,
        max_batch_size=2,
        prefix_cache=cache,
    )
    assert _texts(chunked) == _texts(plain)
    length = len(policy.tokenizer(prompts[0], add_special_tokens=False)["input_ids"])
    assert cache.stats.reused_tokens == length - 1, "the second chunk reuses the first one's prefix"


def test_beam_search_is_unchanged_and_encodes_the_question_once(policy_fp32: Any) -> None:
    policy = policy_fp32
    reusing = HuggingFacePolicy(model=policy.model, tokenizer=policy.tokenizer, model_id="reuse")
    plain = HuggingFacePolicy(
        model=policy.model, tokenizer=policy.tokenizer, model_id="plain", prefix_cache_mb=0
    )
    assert plain.prefix_cache is None
    settings: dict[str, Any] = {
        "verifier": ArithmeticVerifier(),
        "n": 4,
        "beam_width": 2,
        "max_steps": 3,
        "sampling": SamplingParams(temperature=0.8, max_new_tokens=12),
        "seed": 3,
    }
    with_reuse = create_beam_search(policy=reusing, **settings).invoke({"question": QUESTION})
    without = create_beam_search(policy=plain, **settings).invoke({"question": QUESTION})
    assert [c["text"] for c in with_reuse["candidates"]] == [
        c["text"] for c in without["candidates"]
    ]
    assert with_reuse["answer"] == without["answer"]
    assert with_reuse["usage"]["prompt_tokens"] == without["usage"]["prompt_tokens"]

    stats = reusing.prefix_cache.stats  # type: ignore[union-attr]
    assert stats.prompt_tokens == with_reuse["usage"]["prompt_tokens"]
    question = len(
        reusing.tokenizer(
            reusing.render(
                GenerationRequest((SystemMessage(_system_prompt()), HumanMessage(QUESTION)))
            ),
            add_special_tokens=False,
        )["input_ids"]
    )
    trace = with_reuse["trace"].values()
    iterations = len({n["iteration"] for n in trace if n["status"] != "root"})
    assert iterations >= 2, "the search ran more than one step"
    # The question is encoded once; later iterations only encode the kept steps.
    assert stats.reused_tokens >= question * (iterations - 1)
    assert stats.encoded_tokens < stats.prompt_tokens / 2


def _system_prompt() -> str:
    from ttc_graph.prompts import DEFAULT_SYSTEM_PROMPT

    return DEFAULT_SYSTEM_PROMPT


# -- the cache's bookkeeping on tiny random models -----------------------------


def test_bad_settings_are_refused(policy: Any) -> None:
    with pytest.raises(ValueError, match="max_bytes must be > 0"):
        PrefixCache(max_bytes=0)
    with pytest.raises(ValueError, match="prefix_cache_mb must be >= 0"):
        HuggingFacePolicy(
            model=policy.model, tokenizer=policy.tokenizer, model_id="odd", prefix_cache_mb=-1
        )
    with pytest.raises(ValueError, match="at least one token"):
        PrefixCache(max_bytes=2**20).prepare(tiny_llama(), [[]], 0)


def test_a_particle_filter_step_is_one_generation_whatever_the_copy_counts(
    policy: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Resampled particles come in different copy counts, one policy call per count;
    asked for at once, the batching policy runs each step as one generation."""
    import ttc_graph.policy.generation as generation
    from scripted import ScriptedVerifier
    from ttc_graph import create_particle_filter

    chunks: list[int] = []
    real = generation._generate_chunk

    def counted(model: Any, tokenizer: Any, prompts: list[str], *args: Any, **kw: Any) -> Any:
        chunks.append(len(prompts))
        return real(model, tokenizer, prompts, *args, **kw)

    monkeypatch.setattr(generation, "_generate_chunk", counted)
    graph = create_particle_filter(
        policy=policy,
        # Scores that differ from step to step, sharpened: unequal copy counts.
        verifier=ScriptedVerifier(scores={"3": 0.95, "4": 0.6, "=": 0.4}),
        n=8,
        max_steps=3,
        pf_temperature=0.1,
        sampling=SamplingParams(temperature=0.8, max_new_tokens=16),
        seed=0,
    )
    usage = graph.invoke({"question": "Tom has 3 bags of 4 apples. He eats 2. How many?"})["usage"]
    assert usage["policy_calls"] > usage["verifier_calls"], "no step had unequal copy counts"
    # One generation per scored step: the count groups of a step were merged.
    assert len(chunks) == usage["verifier_calls"], chunks
