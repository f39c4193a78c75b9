"""Best-of-N: sample N full solutions, score them, pick one.

prepare → generate → score → select        (vanilla / weighted)
prepare → generate → select                (majority: no verifier needed)
"""

from __future__ import annotations

from langgraph.graph import END, START
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Checkpointer, RetryPolicy

from ttc_graph.policy.base import DEFAULT_STEP_DELIMITER, Policy, SamplingParams
from ttc_graph.reliability import DEFAULT_RETRY
from ttc_graph.strategies import defaults
from ttc_graph.strategies.common import (
    check_early_stop,
    check_positive,
    compile_graph,
    new_builder,
    search_config,
)
from ttc_graph.strategies.config import Budget, EarlyStop, Expansion, SearchConfig
from ttc_graph.strategies.nodes import (
    base_request,
    make_generate,
    make_prepare,
    make_score,
    make_select,
)
from ttc_graph.strategies.prompts import DEFAULT_SYSTEM_PROMPT
from ttc_graph.strategies.selection import Selection, check_selection
from ttc_graph.strategies.state import SearchState
from ttc_graph.verifiers.base import Aggregation, Verifier


def plan_from_root(state: SearchState, cfg: SearchConfig) -> list[Expansion]:
    """All N candidates start from the question."""
    return [Expansion(base_request(state, cfg), cfg.n, None)]


def create_best_of_n(
    *,
    policy: Policy,
    verifier: Verifier | None = None,
    n: int = defaults.N,
    selection: Selection = "vanilla",
    aggregation: Aggregation | None = None,
    sampling: SamplingParams | None = None,
    system_prompt: str | None = DEFAULT_SYSTEM_PROMPT,
    seed: int | None = None,
    budget: Budget | None = None,
    early_stop: EarlyStop | None = None,
    retry: RetryPolicy | None = DEFAULT_RETRY,
    step_delimiter: str = DEFAULT_STEP_DELIMITER,
    checkpointer: Checkpointer = None,
    name: str = "best_of_n",
) -> CompiledStateGraph:
    """Build a best-of-N graph.

    Args:
        policy: Writes the candidates (:func:`ttc_graph.load_policy` or a chat-model policy).
        verifier: Scores them; required for ``vanilla`` and ``weighted`` selection.
        n: Number of full solutions to sample.
        selection: ``vanilla`` (highest score), ``weighted`` (answer with the highest
            summed score) or ``majority`` (most frequent answer).
        aggregation: How step scores fold into a candidate score (``last``, ``min``,
            ``prod``, ``mean``); default the verifier's own ``verifier.aggregation``
            (``last`` unless set), so a search ranks as ``verifier.score`` does.
        sampling: Temperature, top-p, token limit per solution.
        system_prompt: Prepended unless the input brings its own system message.
        seed: Fixes the samples; ``None`` draws a fresh seed per run.
        budget: Optional token / time limit. Each candidate gets at most its share of
            the tokens; generation stops at the time limit. Whatever was generated is
            still ranked, and the result says ``budget_limited``.
        early_stop: For ``majority``/``weighted``: sample in rounds and stop once the
            answer is settled — by the verifier-weighted posterior when there is a
            verifier, else by agreement (:class:`~ttc_graph.EarlyStop`).
        retry: Retry policy of the model-calling nodes; the default retries transient
            faults only (:data:`ttc_graph.reliability.DEFAULT_RETRY`); ``None`` never retries.
        step_delimiter: Splits solutions into steps for the verifier.
        checkpointer: LangGraph checkpointer for persistence (needs a ``thread_id``).
        name: Graph name (shows in traces and diagrams).
    """
    check_positive(n=n)
    check_selection(selection)
    check_early_stop(early_stop, selection=selection, n=n)
    cfg = search_config(
        policy=policy,
        verifier=verifier,
        verifier_for=None if selection == "majority" else f"best-of-N with {selection=}",
        retry=retry,
        strategy=name,
        n=n,
        sampling=SamplingParams() if sampling is None else sampling,
        selection=selection,
        aggregation=aggregation,
        system_prompt=system_prompt,
        seed=seed,
        budget=budget,
        step_delimiter=step_delimiter,
        early_stop=early_stop,
    )
    builder = new_builder()
    builder.add_node("prepare", make_prepare(cfg))
    builder.add_node(
        "generate",
        make_generate(policy, cfg, plan_from_root, full=True, verifier=verifier),
        retry_policy=retry,
    )
    builder.add_node("select", make_select(cfg))
    builder.add_edge(START, "prepare")
    builder.add_edge("prepare", "generate")
    if verifier is not None:
        builder.add_node("score", make_score(verifier, cfg), retry_policy=retry)
        builder.add_edge("generate", "score")
        builder.add_edge("score", "select")
    else:
        builder.add_edge("generate", "select")
    builder.add_edge("select", END)
    return compile_graph(builder, name=name, supersteps=4, checkpointer=checkpointer)
