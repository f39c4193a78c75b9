"""The expand → score → prune loop of step-wise search, shared by beam search and DVTS.

    prepare → expand → score → prune ─┬→ expand   (beams open, steps left)
                                      └→ select

A step-wise strategy is this loop plus an :data:`~ttc_graph.strategies.config.ExpansionPlan`
(which beams grow, and how many ways) and a
:data:`~ttc_graph.strategies.config.KeepRule` (which survive).
"""

from __future__ import annotations

from typing import Any

from langgraph.graph import END, START
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Checkpointer, RetryPolicy

from ttc_graph.policy.base import Policy
from ttc_graph.reliability import DEFAULT_RETRY
from ttc_graph.strategies.common import compile_graph, new_builder
from ttc_graph.strategies.config import ExpansionPlan, KeepRule
from ttc_graph.strategies.context import RunOptions
from ttc_graph.strategies.nodes import (
    make_generate,
    make_prune,
    make_route,
    make_score,
    make_select,
)
from ttc_graph.strategies.options import MAX_STEPS
from ttc_graph.strategies.prepare import make_prepare
from ttc_graph.verifiers.base import Verifier


def build_step_search(
    policy: Policy,
    verifier: Verifier,
    schema: type[RunOptions],
    plan: ExpansionPlan,
    keep: KeepRule,
    checkpointer: Checkpointer,
    retry: RetryPolicy | None = DEFAULT_RETRY,
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """The expand → score → prune loop shared by beam search and DVTS."""
    builder = new_builder(schema)
    builder.add_node("prepare", make_prepare(schema))
    builder.add_node("expand", make_generate(policy, plan, full=False), retry_policy=retry)
    builder.add_node("score", make_score(verifier), retry_policy=retry)
    builder.add_node("prune", make_prune(keep))
    builder.add_node("select", make_select())
    builder.add_edge(START, "prepare")
    builder.add_edge("prepare", "expand")
    builder.add_edge("expand", "score")
    builder.add_edge("score", "prune")
    builder.add_conditional_edges("prune", make_route(), ["expand", "select"])
    builder.add_edge("select", END)
    return compile_graph(
        builder, name=schema.strategy, supersteps=3 * MAX_STEPS + 3, checkpointer=checkpointer
    )
