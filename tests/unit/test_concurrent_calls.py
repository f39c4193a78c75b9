"""Count groups of one step are asked for at once (ConcurrentCalls), sync and async.

A particle filter's resampled particles come in different copy counts; each count is
its own policy call, and run one after another they were separate generations. Run
at once, a batching policy merges them. Here a policy that blocks until every call of
the step has arrived shows they are in flight together, and a failing call reaches
the node as the error a lone call would raise.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from langchain_core.messages import HumanMessage

from ttc_graph.policy import Completion, GenerationRequest, SamplingParams
from ttc_graph.strategies.driver import (
    ConcurrentCalls,
    arun_policy_work,
    run_policy_work,
    sample_grouped,
)

PARAMS = SamplingParams(temperature=0.8, max_new_tokens=4, seed=0)
A = GenerationRequest((HumanMessage("a"),))
B = GenerationRequest((HumanMessage("b"),))


class Rendezvous:
    """Answers a call only once ``expected`` calls are in flight at the same time."""

    def __init__(self, expected: int, fail_on: str | None = None) -> None:
        self.barrier = threading.Barrier(expected, timeout=10)
        self.fail_on = fail_on
        self.cancelled = 0

    def _answer(self, requests: Any, n: int) -> list[list[Completion]]:
        text = requests[0].messages[0].text
        if text == self.fail_on:
            raise RuntimeError(f"device lost on {text}")
        return [
            [Completion(f"{r.messages[0].text}{i}", "stop", 1, 1) for i in range(n)]
            for r in requests
        ]

    def sample(self, requests: Any, *, n: int = 1, **kwargs: Any) -> list[list[Completion]]:
        self.barrier.wait()
        return self._answer(requests, n)

    async def asample(self, requests: Any, *, n: int = 1, **kwargs: Any) -> Any:
        if self.fail_on is None:
            await asyncio.to_thread(self.barrier.wait)
        elif requests[0].messages[0].text != self.fail_on:
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                self.cancelled += 1
                raise
        return self._answer(requests, n)


def body() -> Any:
    # A once, B three times: two count groups, two calls.
    results, calls = yield from sample_grouped([(A, 1), (B, 3)], PARAMS)
    return {"texts": [[c.text for c in r] for r in results], "calls": calls}


def test_groups_of_different_counts_are_one_concurrent_request() -> None:
    work = body()
    asked = next(work)
    assert isinstance(asked, ConcurrentCalls)
    assert [(c.requests, c.n) for c in asked.calls] == [([A], 1), ([B], 3)]


def test_sync_driver_runs_the_calls_together_and_keeps_their_order() -> None:
    # With the calls made one after another, the first would wait at the barrier forever.
    done = run_policy_work(Rendezvous(2), body(), {})  # type: ignore[arg-type]
    assert done == {"texts": [["a0"], ["b0", "b1", "b2"]], "calls": 2}


def test_async_driver_runs_the_calls_together_and_keeps_their_order() -> None:
    done = asyncio.run(arun_policy_work(Rendezvous(2), body(), {}))  # type: ignore[arg-type]
    assert done == {"texts": [["a0"], ["b0", "b1", "b2"]], "calls": 2}


def test_a_failing_call_reaches_the_node_as_itself_and_the_others_are_cancelled() -> None:
    policy = Rendezvous(1, fail_on="a")
    with pytest.raises(RuntimeError, match="device lost on a"):
        asyncio.run(arun_policy_work(policy, body(), {}))  # type: ignore[arg-type]
    assert policy.cancelled == 1
    sync = Rendezvous(1, fail_on="a")
    with pytest.raises(RuntimeError, match="device lost on a"):
        run_policy_work(sync, body(), {})  # type: ignore[arg-type]
