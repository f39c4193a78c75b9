"""The policy contract: what every engine behind the Policy interface must do.

The same tests run for the transformers policy (tests/test_policy.py), the vLLM
server through ``ChatModelPolicy`` (tests/test_vllm_server.py) and the in-process
vLLM engine (tests/test_vllm_engine.py): a test module subclasses
:class:`PolicyContract` and provides a ``contract_policy`` fixture. The class name
does not start with ``Test``, so pytest collects it only through its subclasses.
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import HumanMessage

from ttc_graph.policy import GenerationRequest, Policy, SamplingParams

QUESTIONS = ("What is 12 + 30?", "What is 7 times 6?", "Name a prime number.")


def request(text: str, prefix: str = "") -> GenerationRequest:
    """A one-message request, optionally continuing a partial answer."""
    return GenerationRequest((HumanMessage(text),), prefix)


class PolicyContract:
    """Behaviour the strategies rely on; ``contract_policy`` is the engine under test."""

    def test_is_a_policy(self, contract_policy: Any) -> None:
        assert isinstance(contract_policy, Policy)

    def test_n_candidates_for_each_prompt(self, contract_policy: Any) -> None:
        params = SamplingParams(temperature=1.0, max_new_tokens=8, seed=0)
        out = contract_policy.sample([request(q) for q in QUESTIONS], n=3, params=params)
        assert [len(cands) for cands in out] == [3, 3, 3]
        for cands in out:
            for c in cands:
                assert 1 <= c.completion_tokens <= 8
                assert c.prompt_tokens > 0
                assert c.finish_reason in ("stop", "eos", "length")
                if c.finish_reason == "length":
                    assert c.completion_tokens == 8
            assert len({c.text for c in cands}) > 1, "n samples, not one sample n times"

    def test_stops_at_the_step_delimiter_and_keeps_it(self, contract_policy: Any) -> None:
        params = SamplingParams(temperature=0.8, max_new_tokens=64, stop=("\n\n",), seed=4)
        (cands,) = contract_policy.sample(
            [request("Solve 5 + 8 step by step.")], n=4, params=params
        )
        stopped = [c for c in cands if c.finish_reason == "stop"]
        assert stopped, [c.text for c in cands]
        for c in stopped:
            assert c.text.endswith("\n\n")
            assert "\n\n" not in c.text[:-2], "nothing is kept past the first delimiter"

    def test_continues_a_partial_answer(self, contract_policy: Any) -> None:
        prefix = "Step 1: 12 + 30 = "
        greedy = SamplingParams(temperature=0, max_new_tokens=6)
        cont, fresh = contract_policy.sample(
            [request(QUESTIONS[0], prefix), request(QUESTIONS[0])], n=1, params=greedy
        )
        # Greedy continuation of "12 + 30 = " goes on with a number, not a fresh turn.
        assert cont[0].text.strip()[:1].isdigit(), cont[0].text
        assert "<|im_start|>" not in cont[0].text
        assert cont[0].text != fresh[0].text

    def test_same_seed_same_output(self, contract_policy: Any) -> None:
        params = SamplingParams(temperature=1.0, max_new_tokens=12, seed=123)
        first = contract_policy.sample([request(QUESTIONS[0])], n=2, params=params)
        again = contract_policy.sample([request(QUESTIONS[0])], n=2, params=params)
        assert [c.text for c in first[0]] == [c.text for c in again[0]]
        other = contract_policy.sample(
            [request(QUESTIONS[0])],
            n=2,
            params=SamplingParams(temperature=1.0, max_new_tokens=12, seed=124),
        )
        assert [c.text for c in other[0]] != [c.text for c in first[0]]

    def test_logprobs_on_request(self, contract_policy: Any) -> None:
        params = SamplingParams(temperature=0.7, max_new_tokens=10, seed=1, logprobs=True)
        (cands,) = contract_policy.sample([request(QUESTIONS[2])], n=2, params=params)
        for c in cands:
            assert c.logprobs is not None
            assert len(c.logprobs) == c.completion_tokens
            assert all(lp <= 0.0 for lp in c.logprobs)
        (plain,) = contract_policy.sample(
            [request(QUESTIONS[2])], n=2, params=SamplingParams(max_new_tokens=4, seed=1)
        )
        assert all(c.logprobs is None for c in plain), "log-probabilities only when asked"

    async def test_asample(self, contract_policy: Any) -> None:
        params = SamplingParams(temperature=0.7, max_new_tokens=4, seed=2)
        out = await contract_policy.asample([request(QUESTIONS[1])], n=2, params=params)
        assert [len(c) for c in out] == [2]


def long_question(i: int) -> str:
    """About 1,000 tokens, none shared with ``long_question(j)`` (so the prefix cache
    cannot shorten the prefill): five overflow vLLM's default prefill budget of 4,096
    tokens a step, so a chunked prefill would split one of them."""
    return "Add these: " + " ".join(str(1000 * i + 7 * j) for j in range(200)) + "."
