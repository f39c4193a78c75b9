"""Beam search guided by a process reward model.

    prepare → expand → score → prune ─┬→ expand   (beams open, steps left)
                                      └→ select

Each iteration samples N next steps in total, the verifier scores every partial
solution, the best N / beam_width survive and each is expanded beam_width times.
Beams that finish (EOS or a boxed answer) leave the pool; the answer is selected
among the finished beams.
"""

from __future__ import annotations

from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Checkpointer, RetryPolicy

from ttc_graph.errors import InputError
from ttc_graph.policy.base import DEFAULT_STEP_DELIMITER, Policy, SamplingParams
from ttc_graph.reliability import DEFAULT_RETRY
from ttc_graph.strategies import defaults
from ttc_graph.strategies.common import search_config, step_sampling
from ttc_graph.strategies.config import Budget, Expansion, SearchConfig
from ttc_graph.strategies.nodes import base_request, extend
from ttc_graph.strategies.prompts import DEFAULT_SYSTEM_PROMPT
from ttc_graph.strategies.selection import Selection, check_selection
from ttc_graph.strategies.state import Beam, SearchState
from ttc_graph.strategies.step_search import build_step_search, check_steps
from ttc_graph.verifiers.base import Aggregation, Verifier


def plan_beams(state: SearchState, cfg: SearchConfig) -> list[Expansion]:
    """N next steps in total: from the question first, then spread over the kept beams."""
    beams = state.get("beams", [])
    if state.get("iteration", 0) == 0 or not beams:
        return [Expansion(base_request(state, cfg), cfg.n, None)]
    share, extra = divmod(cfg.n, len(beams))
    return [extend(b, state, cfg, share + (i < extra)) for i, b in enumerate(beams)]


def keep_top(pending: list[Beam], cfg: SearchConfig) -> tuple[list[Beam], list[Beam], list[Beam]]:
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
) -> CompiledStateGraph:
    """Build a PRM-guided beam search graph.

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
    """
    check_steps(n, beam_width, max_steps)
    if not isinstance(lookahead, int) or lookahead < 0:
        raise InputError(f"lookahead must be an integer >= 0, got {lookahead!r}.")
    check_selection(selection)
    cfg = search_config(
        policy=policy,
        verifier=verifier,
        verifier_for="beam search",
        retry=retry,
        strategy=name,
        n=n,
        sampling=step_sampling(sampling, step_delimiter),
        selection=selection,
        aggregation=aggregation,
        beam_width=beam_width,
        max_steps=max_steps,
        lookahead=lookahead,
        system_prompt=system_prompt,
        seed=seed,
        budget=budget,
        step_delimiter=step_delimiter,
    )
    return build_step_search(policy, verifier, cfg, plan_beams, keep_top, checkpointer, retry)
