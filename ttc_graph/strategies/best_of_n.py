"""Best-of-N: sample N full solutions, score them, pick one.

prepare → generate → score → select        (vanilla / weighted)
prepare → generate → select                (majority: no verifier needed)
"""

from __future__ import annotations

from langgraph.graph import END, START
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Checkpointer

from ttc_graph.policy.base import Policy, SamplingParams
from ttc_graph.strategies.common import (
    DEFAULT_SAMPLING,
    DELIMITER,
    check_aggregation,
    check_budget,
    check_policy,
    check_positive,
    check_verifier,
    compile_graph,
    new_builder,
)
from ttc_graph.strategies.nodes import (
    Budget,
    Expansion,
    SearchConfig,
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
    n: int = 4,
    selection: Selection = "vanilla",
    aggregation: Aggregation = "last",
    sampling: SamplingParams | None = None,
    system_prompt: str | None = DEFAULT_SYSTEM_PROMPT,
    seed: int | None = None,
    budget: Budget | None = None,
    step_delimiter: str = DELIMITER,
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
        aggregation: How step scores fold into a candidate score.
        sampling: Temperature, top-p, token limit per solution.
        system_prompt: Prepended unless the input brings its own system message.
        seed: Fixes the samples; ``None`` draws a fresh seed per run.
        budget: Optional token / time limit.
        step_delimiter: Splits solutions into steps for the verifier.
        checkpointer: LangGraph checkpointer for persistence (needs a ``thread_id``).
        name: Graph name (shows in traces and diagrams).
    """
    check_policy(policy)
    check_positive(n=n)
    check_selection(selection)
    check_aggregation(aggregation)
    check_budget(budget)
    check_verifier(
        verifier,
        strategy=f"best-of-N with selection={selection!r}",
        required=selection != "majority",
    )
    cfg = SearchConfig(
        strategy=name,
        n=n,
        sampling=sampling or DEFAULT_SAMPLING,
        selection=selection,
        aggregation=aggregation,
        system_prompt=system_prompt,
        seed=seed,
        budget=budget,
        step_delimiter=step_delimiter,
    )
    builder = new_builder()
    builder.add_node("prepare", make_prepare(cfg))
    builder.add_node("generate", make_generate(policy, cfg, plan_from_root, full=True))
    builder.add_node("select", make_select(cfg))
    builder.add_edge(START, "prepare")
    builder.add_edge("prepare", "generate")
    if verifier is not None:
        builder.add_node("score", make_score(verifier, cfg))
        builder.add_edge("generate", "score")
        builder.add_edge("score", "select")
    else:
        builder.add_edge("generate", "select")
    builder.add_edge("select", END)
    return compile_graph(builder, name=name, supersteps=4, checkpointer=checkpointer)
