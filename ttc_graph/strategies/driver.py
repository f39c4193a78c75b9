"""Policy drivers: how a node's policy calls are batched, budgeted, run and reported.

Nodes that call the policy are written once as generators that *yield* the
policy calls they need (:class:`SampleCall`); a sync driver answers them with
``policy.sample`` (``graph.invoke``) and an async one with ``policy.asample``
(``graph.ainvoke``), so cancelling an ``ainvoke`` reaches the generation. A
failure that is not bad input becomes a :class:`~ttc_graph.errors.StrategyError`
naming the strategy, node and iteration.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, cast

from langchain_core.runnables import Runnable, RunnableConfig, RunnableLambda
from langgraph.errors import GraphBubbleUp

from ttc_graph.errors import InputError, StrategyError
from ttc_graph.policy.base import Completion, GenerationRequest, Policy, SamplingParams
from ttc_graph.reliability import deadline_scope
from ttc_graph.strategies.options import SearchConfig
from ttc_graph.strategies.state import SearchState, empty_usage


@dataclass(frozen=True)
class SampleCall:
    """One policy call a node needs; the node yields it and receives the completions."""

    requests: list[GenerationRequest]
    n: int
    params: SamplingParams
    first_index: int = 0
    deadline: float | None = None
    """``time.monotonic()`` at which generation stops (time budget)."""


@dataclass(frozen=True)
class ConcurrentCalls:
    """Policy calls a node needs at once, answered with one result per call.

    They run concurrently, so a batching policy (the in-process engines'
    :class:`~ttc_graph.policy.batching.Coalescer`) merges them into one generation:
    resampled particles with different copy counts make one batch, not one per count.
    """

    calls: tuple[SampleCall, ...]


PolicyWork = Generator[SampleCall | ConcurrentCalls, Any, dict[str, Any]]
"""A node body: yields the policy calls it needs, returns the state update. A
:class:`SampleCall` is answered with its completions, :class:`ConcurrentCalls`
with a list of them."""


def sample_grouped(
    requests: Sequence[tuple[GenerationRequest, int]],
    params: SamplingParams,
    deadline: float | None = None,
) -> Generator[SampleCall | ConcurrentCalls, Any, tuple[list[list[Completion]], int]]:
    """Sample ``count`` completions per request in as few policy calls as possible.

    Identical requests are merged first (otherwise per-row seeding would give two
    identical subtrees the same samples); requests are then grouped by count,
    which is one policy call whenever every beam expands equally. Groups of
    different counts are asked for at once (:class:`ConcurrentCalls`). Returns the
    completions in request order and the number of policy calls made.
    """

    def key(request: GenerationRequest) -> tuple[object, ...]:
        return (*((m.type, m.text) for m in request.messages), request.prefix)

    merged: dict[tuple[object, ...], tuple[GenerationRequest, int]] = {}
    for request, count in requests:
        first, total = merged.get(key(request), (request, 0))
        merged[key(request)] = (first, total + count)
    by_count: dict[int, list[tuple[object, ...]]] = {}
    for k, (_, count) in merged.items():
        by_count.setdefault(count, []).append(k)
    calls = tuple(
        SampleCall([merged[k][0] for k in keys], count, params, deadline=deadline)
        for count, keys in by_count.items()
    )
    if len(calls) == 1:
        answers = [(yield calls[0])]
    else:
        answers = yield ConcurrentCalls(calls)
    pools: dict[tuple[object, ...], list[Completion]] = {}
    for keys, sampled in zip(by_count.values(), answers, strict=True):
        for k, completions in zip(keys, sampled, strict=True):
            pools[k] = list(completions)
    out = []
    for request, count in requests:
        out.append(pools[key(request)][:count])
        del pools[key(request)][:count]
    return out, len(by_count)


def _sample(policy: Policy, call: SampleCall, config: RunnableConfig) -> list[list[Completion]]:
    with deadline_scope(call.deadline):
        return policy.sample(
            call.requests, n=call.n, params=call.params, config=config, first_index=call.first_index
        )


async def _asample(
    policy: Policy, call: SampleCall, config: RunnableConfig
) -> list[list[Completion]]:
    with deadline_scope(call.deadline):
        return await policy.asample(
            call.requests, n=call.n, params=call.params, config=config, first_index=call.first_index
        )


def _answer(policy: Policy, call: SampleCall | ConcurrentCalls, config: RunnableConfig) -> Any:
    if isinstance(call, SampleCall):
        return _sample(policy, call, config)
    with ThreadPoolExecutor(len(call.calls), thread_name_prefix="ttc-graph-call") as pool:
        # Each thread runs in a copy of this context: the deadline and LangChain's run
        # context reach the policy as they would in this thread.
        futures = [
            pool.submit(contextvars.copy_context().run, _sample, policy, c, config)
            for c in call.calls
        ]
        # Threads cannot be cancelled: when one call fails, the others run to their end
        # (a step's length) before the failure is raised. ``ainvoke`` cancels them.
        return [f.result() for f in futures]


async def _aanswer(
    policy: Policy, call: SampleCall | ConcurrentCalls, config: RunnableConfig
) -> Any:
    if isinstance(call, SampleCall):
        return await _asample(policy, call, config)
    # A task group: when one call fails, the others are cancelled, not left running.
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(_asample(policy, c, config)) for c in call.calls]
    except BaseExceptionGroup as grouped:
        # The node sees the failure as a lone call would raise it.
        failure: BaseException = grouped
        while isinstance(failure, BaseExceptionGroup):
            failure = failure.exceptions[0]
        raise failure from None
    return [t.result() for t in tasks]


def run_policy_work(policy: Policy, work: PolicyWork, config: RunnableConfig) -> dict[str, Any]:
    """Drive a node body with ``policy.sample``; a failed call is raised inside the body."""
    try:
        call = next(work)
        while True:
            try:
                result = _answer(policy, call, config)
            except Exception as exc:
                call = work.throw(exc)
                continue
            call = work.send(result)
    except StopIteration as done:
        return cast(dict[str, Any], done.value)


async def arun_policy_work(
    policy: Policy, work: PolicyWork, config: RunnableConfig
) -> dict[str, Any]:
    """Drive a node body with ``policy.asample``, so that cancelling it stops generation."""
    try:
        call = next(work)
        while True:
            try:
                result = await _aanswer(policy, call, config)
            except Exception as exc:
                call = work.throw(exc)
                continue
            call = work.send(result)
    except StopIteration as done:
        return cast(dict[str, Any], done.value)


def config_of(state: SearchState) -> SearchConfig:
    """The options of the run ``state`` belongs to (stored by its prepare node)."""
    return SearchConfig.from_dict(state["options"])


@contextmanager
def reported(strategy: str, state: SearchState, config: RunnableConfig) -> Iterator[None]:
    """Turn a node's failure into a :class:`StrategyError` naming strategy, node and iteration.

    Bad-input errors of ttc-graph (already clear ``ValueError``s) and LangGraph's
    own control-flow exceptions pass through unchanged.
    """
    try:
        yield
    except (GraphBubbleUp, StrategyError):
        raise
    except Exception as exc:
        if isinstance(exc, InputError):
            raise
        node_name = str((config.get("metadata") or {}).get("langgraph_node", "?"))
        iteration = state.get("iteration", 0)
        raise StrategyError(
            f"{strategy}: node {node_name!r} failed at iteration {iteration}: "
            f"{type(exc).__name__}: {exc}. Transient faults (timeouts, lost connections, "
            "HTTP 5xx, out of memory) are retried first; with a checkpointer, fix the cause "
            "and resume from the last completed step with graph.invoke(None, config).",
            strategy=strategy,
            iteration=iteration,
            node=node_name,
        ) from exc


def policy_node(
    policy: Policy, body: Callable[[SearchState, SearchConfig], PolicyWork], name: str
) -> Runnable[SearchState, dict[str, Any]]:
    """A graph node running ``body`` with the sync or async policy API, as the graph is run.

    ``body`` gets the state and the run's options (:func:`config_of`)."""

    def run(state: SearchState, config: RunnableConfig) -> dict[str, Any]:
        cfg = config_of(state)
        with reported(cfg.strategy, state, config):
            return run_policy_work(policy, body(state, cfg), config)

    async def arun(state: SearchState, config: RunnableConfig) -> dict[str, Any]:
        cfg = config_of(state)
        with reported(cfg.strategy, state, config):
            return await arun_policy_work(policy, body(state, cfg), config)

    return RunnableLambda(run, afunc=arun, name=name)


def budgeted(
    state: SearchState, cfg: SearchConfig, rows: int, params: SamplingParams
) -> tuple[SamplingParams, float | None]:
    """Sampling and deadline for ``rows`` new sequences within the remaining budget.

    Each row gets at most its share of the remaining tokens, so one wide call can
    overshoot a token budget by at most ``rows - 1`` tokens (every row writes one).
    """
    budget = cfg.budget
    if budget is None:
        return params, None
    usage = state.get("usage") or empty_usage()
    if budget.max_tokens is not None:
        share = max(1, (budget.max_tokens - usage["completion_tokens"]) // max(1, rows))
        if share < params.max_new_tokens:
            params = replace(params, max_new_tokens=share)
    deadline = None
    if budget.max_seconds is not None:
        deadline = time.monotonic() + max(0.0, budget.max_seconds - usage["seconds"])
    return params, deadline


def cut_by_budget(
    completions: Sequence[Completion],
    params: SamplingParams,
    cfg: SearchConfig,
    deadline: float | None,
) -> bool:
    """Whether the budget (a token share below the configured limit, or the deadline) cut a row."""
    cut = [c for c in completions if c.finish_reason == "length"]
    if not cut:
        return False
    capped = params.max_new_tokens < cfg.max_new_tokens
    return capped or (deadline is not None and time.monotonic() >= deadline)
