"""The expand → score → prune loop of step-wise search, shared by beam search and DVTS.

    prepare → expand → score → prune ─┬→ expand   (beams open, steps left)
                                      └→ select

A step-wise strategy is this loop plus an :data:`~ttc_graph.strategies.config.ExpansionPlan`
(which beams grow, and how many ways) and a
:data:`~ttc_graph.strategies.config.KeepRule` (which survive).
"""

from __future__ import annotations

from langgraph.graph import END, START
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Checkpointer, RetryPolicy

from ttc_graph.errors import InputError
from ttc_graph.policy.base import Policy
from ttc_graph.reliability import DEFAULT_RETRY
from ttc_graph.strategies.common import check_positive, compile_graph, new_builder
from ttc_graph.strategies.config import ExpansionPlan, KeepRule, SearchConfig
from ttc_graph.strategies.nodes import (
    make_generate,
    make_prepare,
    make_prune,
    make_route,
    make_score,
    make_select,
)
from ttc_graph.verifiers.base import Verifier


def check_steps(
    n: int,
    beam_width: int,
    max_steps: int,
    *,
    names: tuple[str, str, str] = ("n", "beam_width", "max_steps"),
) -> None:
    """``n`` must split evenly into beams of ``beam_width``; ``max_steps`` >= 1.

    ``names`` are how the caller spells the three settings (``--beam-width`` on the CLI).
    """
    n_name, width_name, steps_name = names
    check_positive(**{n_name: n, width_name: beam_width, steps_name: max_steps})
    if beam_width > n:
        raise InputError(
            f"{width_name} ({beam_width}) cannot exceed {n_name} ({n}); lower {width_name} "
            f"to {n} or less, or raise {n_name}."
        )
    if n % beam_width:
        raise InputError(
            f"{n_name} ({n}) must be a multiple of {width_name} ({beam_width}); try "
            f"{n_name}={n - n % beam_width or beam_width} or "
            f"{n_name}={n + beam_width - n % beam_width}."
        )


def build_step_search(
    policy: Policy,
    verifier: Verifier,
    cfg: SearchConfig,
    plan: ExpansionPlan,
    keep: KeepRule,
    checkpointer: Checkpointer,
    retry: RetryPolicy | None = DEFAULT_RETRY,
) -> CompiledStateGraph:
    """The expand → score → prune loop shared by beam search and DVTS."""
    builder = new_builder()
    builder.add_node("prepare", make_prepare(cfg))
    builder.add_node("expand", make_generate(policy, cfg, plan, full=False), retry_policy=retry)
    builder.add_node("score", make_score(verifier, cfg), retry_policy=retry)
    builder.add_node("prune", make_prune(cfg, keep))
    builder.add_node("select", make_select(cfg))
    builder.add_edge(START, "prepare")
    builder.add_edge("prepare", "expand")
    builder.add_edge("expand", "score")
    builder.add_edge("score", "prune")
    builder.add_conditional_edges("prune", make_route(cfg), ["expand", "select"])
    builder.add_edge("select", END)
    return compile_graph(
        builder, name=cfg.strategy, supersteps=3 * cfg.max_steps + 3, checkpointer=checkpointer
    )
