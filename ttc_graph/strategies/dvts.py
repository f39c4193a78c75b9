"""Diverse verifier tree search (DVTS).

    prepare → expand → score → prune ─┬→ expand
                                      └→ select

N / beam_width independent subtrees. Each iteration every open subtree samples
beam_width next steps and keeps only its best-scored one, so subtrees never
compete with each other: the search stays diverse where beam search collapses
onto a few high-scoring prefixes.
"""

from __future__ import annotations

from typing import Any

from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Checkpointer, RetryPolicy

from ttc_graph.policy.base import DEFAULT_STEP_DELIMITER, Policy, SamplingParams
from ttc_graph.prompts import DEFAULT_SYSTEM_PROMPT
from ttc_graph.reliability import DEFAULT_RETRY
from ttc_graph.strategies import defaults
from ttc_graph.strategies.common import run_options
from ttc_graph.strategies.config import Budget, Expansion
from ttc_graph.strategies.context import DVTS, fixed_config, option_defaults
from ttc_graph.strategies.nodes import base_request, extend
from ttc_graph.strategies.options import SearchConfig, Selection
from ttc_graph.strategies.state import Beam, SearchState
from ttc_graph.strategies.step_search import build_step_search
from ttc_graph.verifiers.aggregation import Aggregation
from ttc_graph.verifiers.base import Verifier


def plan_subtrees(state: SearchState, cfg: SearchConfig) -> list[Expansion]:
    """Every subtree samples beam_width next steps (the first ones from the question)."""
    if state.get("iteration", 0) == 0:
        root = base_request(state, cfg)
        return [
            Expansion(root, cfg.beam_width, None, group=g) for g in range(cfg.n // cfg.beam_width)
        ]
    return [extend(b, state, cfg, cfg.beam_width) for b in state.get("beams", [])]


def keep_best_per_subtree(
    pending: list[Beam], cfg: SearchConfig, state: SearchState
) -> tuple[list[Beam], list[Beam], list[Beam]]:
    """Each subtree keeps its best candidate; the subtree ends if that one finished."""
    best: dict[int, Beam] = {}
    for b in pending:
        current = best.get(b["group"])
        if current is None or (b["score"] or 0.0) > (current["score"] or 0.0):
            best[b["group"]] = b
    winners = {id(b) for b in best.values()}
    kept = [b for b in best.values() if not b["finished"]]
    done = [b for b in best.values() if b["finished"]]
    pruned = [b for b in pending if id(b) not in winners]
    return kept, done, pruned


def create_dvts(
    *,
    policy: Policy,
    verifier: Verifier,
    n: int = defaults.SEARCH_N,
    beam_width: int = defaults.BEAM_WIDTH,
    max_steps: int = defaults.MAX_STEPS,
    lookahead: int = 0,
    selection: Selection = "weighted",
    aggregation: Aggregation | None = None,
    sampling: SamplingParams | None = None,
    system_prompt: str | None = DEFAULT_SYSTEM_PROMPT,
    seed: int | None = None,
    budget: Budget | None = None,
    retry: RetryPolicy | None = DEFAULT_RETRY,
    step_delimiter: str = DEFAULT_STEP_DELIMITER,
    checkpointer: Checkpointer = None,
    name: str = "dvts",
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """Build a DVTS graph: ``n / beam_width`` independent greedy-by-verifier subtrees.

    Arguments are those of :func:`ttc_graph.create_beam_search`;
    the final answer is selected among the subtrees' solutions. The plain-valued ones
    are the defaults of the per-run options (``context={...}``).

    Example:
        >>> graph = create_dvts(policy=load_policy(), verifier=GroundedVerifier(), n=8)
        >>> graph.invoke({"question": "What is 17 + 25?"}, context={"seed": 1})  # doctest: +SKIP
    """
    schema = run_options(
        name,
        DVTS,
        policy=policy,
        verifier=verifier,
        retry=retry,
        values={
            "n": n,
            "beam_width": beam_width,
            "max_steps": max_steps,
            "lookahead": lookahead,
            "selection": selection,
            "aggregation": aggregation,
            "system_prompt": system_prompt,
            "seed": seed,
            "step_delimiter": step_delimiter,
            **option_defaults(sampling=sampling, budget=budget),
        },
        fixed=fixed_config(sampling, step_wise=True),
    )
    return build_step_search(
        policy, verifier, schema, plan_subtrees, keep_best_per_subtree, checkpointer, retry
    )
