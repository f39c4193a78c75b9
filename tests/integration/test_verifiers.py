"""The LLM judge on the embedded model, combining verifiers, and load_verifier.
(What needs no model: tests/unit/test_verifier_specs.py.)"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import pytest
from langchain_core.runnables import RunnableConfig
from verifier_cases import CANDIDATES, QUESTION

from ttc_graph.policy import Completion, GenerationRequest, SamplingParams
from ttc_graph.verifiers import (
    ArithmeticVerifier,
    CombinedVerifier,
    LLMJudgeVerifier,
    load_verifier,
)


class TextOnlyPolicy:
    """The embedded model seen only through its text, like a served chat model without
    token probabilities: it implements the Policy protocol and nothing else."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.requests: list[GenerationRequest] = []

    def sample(
        self,
        requests: Sequence[GenerationRequest],
        *,
        n: int = 1,
        params: SamplingParams | None = None,
        config: RunnableConfig | None = None,
    ) -> list[list[Completion]]:
        self.requests.extend(requests)
        return self.inner.sample(requests, n=n, params=params, config=config)

    async def asample(
        self,
        requests: Sequence[GenerationRequest],
        *,
        n: int = 1,
        params: SamplingParams | None = None,
        config: RunnableConfig | None = None,
    ) -> list[list[Completion]]:
        self.requests.extend(requests)
        return await self.inner.asample(requests, n=n, params=params, config=config)


def _valid(scores: list[list[float]], candidates: list[list[str]]) -> None:
    assert [len(s) for s in scores] == [len(c) for c in candidates]
    assert all(0.0 <= x <= 1.0 and math.isfinite(x) for row in scores for x in row)


@pytest.fixture(scope="module")
def judge(policy: Any) -> LLMJudgeVerifier:
    return LLMJudgeVerifier(policy=policy)


def test_judge_scores_steps_from_yes_no_probabilities(policy_fp32: Any) -> None:
    # float32: bfloat16 logits depend on the batch's padding, and this test compares a
    # prompt scored in a batch with the same prompt scored alone.
    policy = policy_fp32
    judge = LLMJudgeVerifier(policy=policy)
    assert judge.uses_logprobs
    calls: list[int] = []
    handle = policy.model.base_model.register_forward_hook(lambda *_, seen=calls: seen.append(1))
    try:
        scores = judge.invoke({"question": QUESTION, "candidates": CANDIDATES})
    finally:
        handle.remove()
    _valid(scores, CANDIDATES)
    assert len(calls) == 1, "all five (candidate, step) prompts go through one forward pass"
    flat = [x for row in scores for x in row]
    assert len(set(flat)) > 1, "different steps get different scores"
    # Right padding: the shortest prompt, the most padded in the batch, scores the same alone.
    assert judge.score_steps(QUESTION, [CANDIDATES[2]])[0] == pytest.approx(scores[2], abs=1e-4)


def test_judge_prompt_shows_the_solution_up_to_the_step(judge: LLMJudgeVerifier) -> None:
    request = judge.request(QUESTION, CANDIDATES[0], 1)
    prompt = request.messages[-1].text
    assert QUESTION in prompt
    assert "Step 1: 12 + 30 = 42." in prompt
    assert "Step 2: The answer is 42." in prompt
    assert "Is step 2 correct? Answer Yes or No." in prompt
    assert "Step 2" not in judge.request(QUESTION, CANDIDATES[0], 0).messages[-1].text


async def test_judge_generates_ratings_for_text_only_policies(policy: Any) -> None:
    text_only = TextOnlyPolicy(policy)
    judge = LLMJudgeVerifier(policy=text_only, max_new_tokens=4)
    assert not judge.uses_logprobs
    candidates = CANDIDATES[:1]
    scores = judge.invoke({"question": QUESTION, "candidates": candidates})
    _valid(scores, candidates)
    assert len(text_only.requests) == 2, "one rating request per step, in one sample() call"
    assert all(r.prefix == judge.rating_prefix for r in text_only.requests)
    assert "from 0 (surely wrong) to 10" in text_only.requests[0].messages[-1].text
    assert await judge.ainvoke({"question": QUESTION, "candidates": candidates}) == scores


def test_judge_method_generate_also_works_on_a_local_model(policy: Any) -> None:
    judge = LLMJudgeVerifier(policy=policy, method="generate", max_new_tokens=4)
    _valid(judge.invoke({"question": QUESTION, "candidates": CANDIDATES[2:]}), CANDIDATES[2:])


def test_judge_validates_its_settings(policy: Any) -> None:
    with pytest.raises(ValueError, match="needs a policy"):
        LLMJudgeVerifier(policy=None)
    with pytest.raises(ValueError, match="needs a HuggingFacePolicy"):
        LLMJudgeVerifier(policy=TextOnlyPolicy(policy), method="logprobs")
    with pytest.raises(ValueError, match="single-token word"):
        LLMJudgeVerifier(policy=policy, yes_words=("Absolutely affirmative",))
    with pytest.raises(ValueError, match="batch_size"):
        LLMJudgeVerifier(policy=policy, batch_size=0)


def test_combined_is_the_weighted_mean_of_its_parts(judge: LLMJudgeVerifier) -> None:
    arithmetic = ArithmeticVerifier()
    combined = CombinedVerifier([(judge, 3), (arithmetic, 1)])
    assert [w for _, w in combined.parts] == [0.75, 0.25]
    request = {"question": QUESTION, "candidates": CANDIDATES[2:]}
    mixed = combined.invoke(request)  # type: ignore[arg-type]
    j, a = judge.invoke(request), arithmetic.invoke(request)  # type: ignore[arg-type]
    for row, jr, ar in zip(mixed, j, a, strict=True):
        assert row == pytest.approx([0.75 * x + 0.25 * y for x, y in zip(jr, ar, strict=True)])
    assert combined.score(QUESTION, CANDIDATES[2:]) == pytest.approx([s[-1] for s in mixed])


def test_load_verifier_specs(policy: Any) -> None:
    assert isinstance(load_verifier("arithmetic"), ArithmeticVerifier)
    assert isinstance(load_verifier(" judge ", policy=policy), LLMJudgeVerifier)
    with pytest.raises(ValueError, match="pass policy="):
        load_verifier("judge")
    with pytest.raises(ValueError, match="spec is empty"):
        load_verifier("")


EMBEDDED_ID = "SmolLM2-135M-Instruct (embedded)"


@pytest.mark.parametrize(
    ("spec", "policy", "message"),
    [
        ("trained", "someone/other-model", "No trained verifier ships for the policy"),
        ("trained", None, "(none given)"),
        ("grounded+", EMBEDDED_ID, "has an empty part"),
    ],
)
def test_bad_shipped_head_or_combination_specs(spec: str, policy: Any, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        load_verifier(spec, policy=policy)
