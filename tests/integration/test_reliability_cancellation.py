"""Cancellation: cancelling an awaiting task stops its rows inside ``model.generate``
after the current token, leaves other callers' rows alone, and a cancelled call
that had not started yet never runs. Time limits use the same per-row stop."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from langchain_core.messages import HumanMessage

from ttc_graph import create_best_of_n
from ttc_graph.policy import GenerationRequest, HuggingFacePolicy, SamplingParams
from ttc_graph.reliability import deadline_scope

COUNTING = "Count from 1 to 500, one number per line."
LONG = 1000


@dataclass
class GenerateSpy:
    """Watches the real ``model.generate``: forward passes, and what each call returned."""

    forwards: int = 0
    entered: int = 0
    calls: list[dict[str, int]] = field(default_factory=list)
    returned: threading.Event = field(default_factory=threading.Event)

    def started(self, passes: int) -> bool:
        return self.forwards >= passes


def watch_generate(model: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[GenerateSpy]:
    """Count ``model``'s generate calls and forward passes while the test runs."""
    watch = GenerateSpy()
    real_generate = model.generate

    def count_forward(*_: Any) -> None:
        watch.forwards += 1

    def generate(*args: Any, **kwargs: Any) -> Any:
        watch.entered += 1
        try:
            out = real_generate(*args, **kwargs)
            prompt = kwargs["input_ids"].shape[1]
            watch.calls.append(
                {
                    "rows": int(out.sequences.shape[0]),
                    "new_tokens": int(out.sequences.shape[1] - prompt),
                    "max_new_tokens": int(kwargs["generation_config"].max_new_tokens),
                }
            )
            return out
        finally:
            watch.returned.set()

    handle = model.register_forward_hook(count_forward)
    monkeypatch.setattr(model, "generate", generate)
    try:
        yield watch
    finally:
        handle.remove()


@pytest.fixture
def spy(policy: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[GenerateSpy]:
    yield from watch_generate(policy.model, monkeypatch)


@pytest.fixture
def spy_fp32(policy_fp32: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[GenerateSpy]:
    """The spy on the float32 policy, for comparing a batched row with the row alone
    (in bfloat16 a near-tie can round differently in a 2-row batch)."""
    yield from watch_generate(policy_fp32.model, monkeypatch)


async def wait_until(condition: Any, limit_s: float = 300.0) -> None:
    """Poll without blocking the loop; the limit only guards against a hang."""
    end = time.monotonic() + limit_s
    while not condition():
        assert time.monotonic() < end, "timed out waiting"
        await asyncio.sleep(0.01)


def counting_request() -> list[GenerationRequest]:
    return [GenerationRequest((HumanMessage(COUNTING),))]


async def test_cancelling_ainvoke_stops_the_model_within_a_few_tokens(
    policy: Any, spy: GenerateSpy
) -> None:
    graph = create_best_of_n(
        policy=policy,
        n=1,
        selection="majority",
        sampling=SamplingParams(temperature=0.0, max_new_tokens=LONG),
        system_prompt=None,
        seed=0,
    )
    task = asyncio.create_task(graph.ainvoke({"question": COUNTING}))
    await wait_until(lambda: spy.started(4))  # prefill + 3 tokens
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await wait_until(spy.returned.is_set)
    (call,) = spy.calls
    assert call["max_new_tokens"] == LONG
    # Without the stop signal greedy counting runs for hundreds of tokens.
    assert call["new_tokens"] < 40, call


async def test_cancelling_one_caller_leaves_the_other_rows_of_its_batch_alone(
    policy_fp32: Any, spy_fp32: GenerateSpy
) -> None:
    spy = spy_fp32
    # A wide coalescing window makes sure both callers share one generate call.
    shared = HuggingFacePolicy(
        model=policy_fp32.model,
        tokenizer=policy_fp32.tokenizer,
        model_id="shared",
        coalesce_window_s=0.25,
    )
    params = [SamplingParams(temperature=0.7, max_new_tokens=32, seed=s) for s in (1, 2)]
    alone = await shared.asample(counting_request(), n=1, params=params[1])
    spy.calls.clear()
    spy.forwards = 0

    doomed = asyncio.create_task(shared.asample(counting_request(), n=1, params=params[0]))
    survivor = asyncio.create_task(shared.asample(counting_request(), n=1, params=params[1]))
    await wait_until(lambda: spy.started(4))
    doomed.cancel()
    result = await survivor
    with pytest.raises(asyncio.CancelledError):
        await doomed

    (call,) = spy.calls
    assert call["rows"] == 2, "both callers were served by one generate call"
    assert result == alone, "the other caller's row ran to its end, unchanged"
    assert result[0][0].completion_tokens > 4


async def test_a_cancelled_call_that_has_not_started_never_runs(
    policy: Any, spy: GenerateSpy
) -> None:
    busy = asyncio.create_task(
        policy.asample(
            counting_request(), n=1, params=SamplingParams(temperature=0.0, max_new_tokens=24)
        )
    )
    await wait_until(lambda: spy.started(2))
    # Other sampling settings cannot join the running batch: this call waits in the queue.
    queued = asyncio.create_task(
        policy.asample(
            counting_request(), n=1, params=SamplingParams(temperature=0.5, max_new_tokens=24)
        )
    )
    await asyncio.sleep(0.05)
    queued.cancel()
    with pytest.raises(asyncio.CancelledError):
        await queued
    await busy
    # The queue is served in order: once a later call is answered, the cancelled
    # one has been dealt with.
    await policy.asample(counting_request(), n=1, params=SamplingParams(max_new_tokens=1))
    assert spy.entered == 2, "the cancelled call never reached the model"


def test_deadline_stops_a_sync_call(policy: Any, spy: GenerateSpy) -> None:
    with deadline_scope(time.monotonic() + 0.2):
        (rows,) = policy.sample(
            counting_request(), n=2, params=SamplingParams(temperature=0.0, max_new_tokens=LONG)
        )
    for c in rows:
        assert c.finish_reason == "length"
        assert 1 <= c.completion_tokens < LONG
    (call,) = spy.calls
    assert call["new_tokens"] < LONG
