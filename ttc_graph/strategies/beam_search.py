"""Beam search guided by a process reward model.

    prepare → expand → score → prune ─┬→ expand   (beams open, steps left)
                                      └→ select

Each iteration samples N next steps in total, the verifier scores every partial
solution, the best N / beam_width survive and each is expanded beam_width times.
Beams that finish (EOS or a boxed answer) leave the pool; the answer is selected
among the finished beams.
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
from ttc_graph.strategies.context import BEAM_SEARCH, fixed_config, option_defaults
from ttc_graph.strategies.nodes import base_request, extend
from ttc_graph.strategies.options import SearchConfig, Selection
from ttc_graph.strategies.state import Beam, SearchState
from ttc_graph.strategies.step_search import build_step_search
from ttc_graph.verifiers.aggregation import Aggregation
from ttc_graph.verifiers.base import Verifier


def plan_beams(state: SearchState, cfg: SearchConfig) -> list[Expansion]:
    """N next steps in total: from the question first, then spread over the kept beams."""
    beams = state.get("beams", [])
    if state.get("iteration", 0) == 0 or not beams:
        return [Expansion(base_request(state, cfg), cfg.n, None)]
    share, extra = divmod(cfg.n, len(beams))
    return [extend(b, state, cfg, share + (i < extra)) for i, b in enumerate(beams)]


def keep_top(
    pending: list[Beam], cfg: SearchConfig, state: SearchState
) -> tuple[list[Beam], list[Beam], list[Beam]]:
    """Finished beams leave; the best N / beam_width open ones stay."""
    done = [b for b in pending if b["finished"]]
    open_beams = sorted(
        (b for b in pending if not b["finished"]),
        key=lambda b: b["score"] if b["score"] is not None else 0.0,
        reverse=True,
    )
    width = cfg.n // cfg.beam_width
    return open_beams[:width], done, open_beams[width:]


def create_beam_search(
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
    name: str = "beam_search",
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """Build a PRM-guided beam search graph.

    The plain-valued arguments are the defaults of the graph's per-run options: a run
    may change any of them with ``context={...}`` (``graph.context_schema`` lists them).

    Args:
        policy: Proposes next steps.
        verifier: Scores partial solutions (a PRM, or any :class:`Verifier`).
        n: Candidates sampled per iteration.
        beam_width: Expansions per kept beam; ``n / beam_width`` beams are kept.
        max_steps: Iteration limit; open beams compete as they are when it is hit.
        lookahead: Greedy steps rolled out past each candidate before scoring.
        selection: How the answer is picked among finished beams.
        sampling: Per-step sampling; ``max_new_tokens`` bounds one step.
        seed, budget, retry, step_delimiter, system_prompt, aggregation, checkpointer, name:
            as in :func:`create_best_of_n`.

    Example:
        >>> from ttc_graph import GroundedVerifier, create_beam_search, load_policy
        >>> graph = create_beam_search(policy=load_policy(), verifier=GroundedVerifier(),
        ...                            n=8, beam_width=4, seed=0)  # doctest: +SKIP
        >>> graph.invoke({"question": "What is 17 + 25?"},
        ...              context={"n": 4, "beam_width": 2})["answer"]  # doctest: +SKIP
    """
    schema = run_options(
        name,
        BEAM_SEARCH,
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
    return build_step_search(policy, verifier, schema, plan_beams, keep_top, checkpointer, retry)
