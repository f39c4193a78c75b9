"""Faults: transient errors are retried, others surface as StrategyError, and a
checkpointed search resumes after the fault without redoing finished work.

Faults are injected (tests/reliability_faults.py) into real graphs around the scripted
policy of tests/scripted.py: what is tested is what the graph does with a failed call."""

from __future__ import annotations

import pickle
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from reliability_faults import FlakyPolicy, FlakyVerifier, http_400, http_500, out_of_memory

from scripted import ScriptedPolicy
from ttc_graph import create_beam_search, create_best_of_n, create_self_refine
from ttc_graph.errors import StrategyError
from ttc_graph.policy import SamplingParams
from ttc_graph.reliability import DEFAULT_RETRY, is_transient, transient_retry
from ttc_graph.verifiers import ArithmeticVerifier

QUESTION = "A box holds 6 eggs. How many eggs are in 4 boxes?"
TINY = SamplingParams(temperature=0.8, max_new_tokens=8)
STEPS = SamplingParams(temperature=0.8, max_new_tokens=6)
# LangGraph's jitter waits up to a second more before each retry: off, so retries are instant.
FAST_RETRY = transient_retry(max_attempts=3, initial_interval=0.01)._replace(jitter=False)


def texts(result: dict[str, Any]) -> list[str]:
    return [c["text"] for c in result["candidates"]]


@pytest.fixture(scope="module")
def majority_reference() -> dict[str, Any]:
    graph = create_best_of_n(
        policy=ScriptedPolicy(), n=2, selection="majority", sampling=TINY, seed=3
    )
    return graph.invoke({"question": QUESTION})


@pytest.mark.parametrize(
    "error",
    [lambda: TimeoutError("timed out"), lambda: ConnectionError("reset"), http_500, out_of_memory],
    ids=["timeout", "connection", "http500", "oom"],
)
def test_transient_policy_fault_is_retried_to_the_same_result(
    error: Any, majority_reference: dict[str, Any]
) -> None:
    flaky = FlakyPolicy(ScriptedPolicy(), fail_on=[1], error=error)
    graph = create_best_of_n(
        policy=flaky, n=2, selection="majority", sampling=TINY, seed=3, retry=FAST_RETRY
    )
    result = graph.invoke({"question": QUESTION})
    assert flaky.calls == 2, "one failed call, one retry"
    assert texts(result) == texts(majority_reference)
    assert result["answer"] == majority_reference["answer"]


async def test_transient_fault_is_retried_under_ainvoke(
    majority_reference: dict[str, Any],
) -> None:
    flaky = FlakyPolicy(ScriptedPolicy(), fail_on=[1], error=http_500)
    graph = create_best_of_n(
        policy=flaky, n=2, selection="majority", sampling=TINY, seed=3, retry=FAST_RETRY
    )
    result = await graph.ainvoke({"question": QUESTION})
    assert flaky.calls == 2
    assert texts(result) == texts(majority_reference)


@pytest.mark.parametrize(
    "error",
    [lambda: RuntimeError("CUDA error: device-side assert triggered"), http_400],
    ids=["runtime", "http400"],
)
def test_permanent_policy_fault_fails_at_once_as_strategy_error(error: Any) -> None:
    flaky = FlakyPolicy(ScriptedPolicy(), fail_on=[1], error=error)
    graph = create_best_of_n(policy=flaky, n=2, selection="majority", sampling=TINY, seed=3)
    with pytest.raises(StrategyError) as info:
        graph.invoke({"question": QUESTION})
    assert flaky.calls == 1, "a permanent error is not retried"
    err = info.value
    assert err.strategy == "best_of_n"
    assert err.iteration == 0
    assert err.node == "generate"
    assert type(err.__cause__) is type(error())
    for part in ("best_of_n", "iteration 0", "'generate'", type(error()).__name__):
        assert part in str(err)
    revived = pickle.loads(pickle.dumps(err))
    assert (revived.strategy, revived.iteration, revived.node) == ("best_of_n", 0, "generate")


async def test_permanent_fault_under_ainvoke_is_a_strategy_error() -> None:
    flaky = FlakyPolicy(ScriptedPolicy(), fail_on=[1], error=lambda: RuntimeError("model crashed"))
    graph = create_best_of_n(policy=flaky, n=2, selection="majority", sampling=TINY, seed=3)
    with pytest.raises(StrategyError, match="model crashed") as info:
        await graph.ainvoke({"question": QUESTION})
    assert isinstance(info.value.__cause__, RuntimeError)


def test_retries_give_up_after_max_attempts() -> None:
    flaky = FlakyPolicy(ScriptedPolicy(), fail_on=range(1, 100), error=lambda: TimeoutError("down"))
    graph = create_best_of_n(
        policy=flaky, n=2, selection="majority", sampling=TINY, seed=3, retry=FAST_RETRY
    )
    with pytest.raises(StrategyError) as info:
        graph.invoke({"question": QUESTION})
    assert flaky.calls == FAST_RETRY.max_attempts
    assert isinstance(info.value.__cause__, TimeoutError)


def test_retry_none_turns_retries_off() -> None:
    flaky = FlakyPolicy(ScriptedPolicy(), fail_on=[1], error=lambda: TimeoutError("once"))
    graph = create_best_of_n(
        policy=flaky, n=2, selection="majority", sampling=TINY, seed=3, retry=None
    )
    with pytest.raises(StrategyError):
        graph.invoke({"question": QUESTION})
    assert flaky.calls == 1


def test_bad_retry_argument_is_refused() -> None:
    with pytest.raises(ValueError, match="RetryPolicy"):
        create_best_of_n(policy=ScriptedPolicy(), selection="majority", retry=3)  # type: ignore[arg-type]


def test_critique_fault_names_the_node_and_round() -> None:
    flaky = FlakyPolicy(ScriptedPolicy(), fail_on=[2], error=lambda: RuntimeError("critic crashed"))
    graph = create_self_refine(policy=flaky, max_rounds=1, sampling=TINY, seed=1)
    with pytest.raises(StrategyError) as info:
        graph.invoke({"question": QUESTION})
    assert (info.value.strategy, info.value.node, info.value.iteration) == (
        "self_refine",
        "critique",
        1,
    )


def test_verifier_fault_resumes_from_the_last_completed_iteration() -> None:
    def build(p: Any, verifier: Any) -> Any:
        return create_beam_search(
            policy=p,
            verifier=verifier,
            n=2,
            beam_width=1,
            max_steps=3,
            sampling=STEPS,
            seed=12,
            checkpointer=InMemorySaver(),
        )

    clean_policy = FlakyPolicy(ScriptedPolicy())
    straight = build(clean_policy, ArithmeticVerifier()).invoke(
        {"question": QUESTION}, {"configurable": {"thread_id": "straight"}}
    )
    iterations = straight["usage"]["policy_calls"]
    assert iterations >= 2, "the search must run past the faulty iteration"

    flaky_policy = FlakyPolicy(ScriptedPolicy())
    verifier = FlakyVerifier(
        inner=ArithmeticVerifier(),
        fail_on={2},
        error=lambda: RuntimeError("PRM server lost its GPU"),
    )
    graph = build(flaky_policy, verifier)
    config = {"configurable": {"thread_id": "faulty"}}
    with pytest.raises(StrategyError) as info:
        graph.invoke({"question": QUESTION}, config)
    assert (info.value.node, info.value.iteration) == ("score", 1)
    assert isinstance(info.value.__cause__, RuntimeError)
    assert flaky_policy.calls == 2, "iterations 0 and 1 were generated before the fault"

    verifier.fix()
    resumed = graph.invoke(None, config)
    assert flaky_policy.calls == clean_policy.calls, "no iteration was generated twice"
    assert verifier.calls == straight["usage"]["verifier_calls"] + 1, "only the failed call repeats"
    assert texts(resumed) == texts(straight)
    assert resumed["answer"] == straight["answer"]
    assert resumed["usage"]["policy_calls"] == iterations


# -- which errors are transient --------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (TimeoutError("read timed out"), True),
        (ConnectionError("connection reset by peer"), True),
        (http_500(), True),
        (out_of_memory(), True),
        (http_400(), False),
        (RuntimeError("CUDA error: device-side assert triggered"), False),
        (ValueError("bad shape"), False),
        (KeyError("logits"), False),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else str(v),
)
def test_only_transient_errors_are_retryable(error: BaseException, transient: bool) -> None:
    assert is_transient(error) is transient
    wrapped = StrategyError("wrapped", strategy="s")
    wrapped.__cause__ = error
    assert is_transient(wrapped) is transient, "a StrategyError is judged by its cause"


def test_default_retry_only_retries_transient_errors() -> None:
    assert DEFAULT_RETRY.max_attempts >= 2
    assert DEFAULT_RETRY.retry_on is is_transient
