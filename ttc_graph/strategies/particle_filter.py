"""Particle filtering: N partial solutions advance a step at a time, resampled by the verifier.

    prepare → expand → score → resample ─┬→ expand   (particles open, steps left)
                                         └→ select

Each iteration every unfinished particle writes its next step, the verifier scores the
partial solutions, and the unfinished particles are resampled among themselves with
weights ``softmax(score / pf_temperature)``: likely particles are copied, unlikely ones
dropped, and the number of open particles stays as it was. A finished particle leaves
the pool and is kept. Unlike beam search, a weak-looking particle keeps a chance in
proportion to its weight, which is what lets the search recover from a verifier that
misjudges an early step (Puri et al., 2025, "A Probabilistic Inference Approach to
Inference-Time Scaling of LLMs using Particle-Based Monte Carlo Methods"). The answer
is the best-scored finished particle (``selection="vanilla"``, as the paper), or a
weighted vote over them.

Resampling is seeded by the run's seed and the iteration, so a seeded run repeats. The
trace shows where every particle came from: a copy continues from the node it was drawn
from (whose ``copies`` says how often it was drawn), a dropped one is ``pruned``, and a
``particles_resampled`` event lists the draws.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Any

from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Checkpointer, RetryPolicy

from ttc_graph.policy.base import DEFAULT_STEP_DELIMITER, Policy, SamplingParams
from ttc_graph.prompts import DEFAULT_SYSTEM_PROMPT
from ttc_graph.reliability import DEFAULT_RETRY
from ttc_graph.strategies import defaults
from ttc_graph.strategies.common import run_options
from ttc_graph.strategies.config import Budget, Expansion
from ttc_graph.strategies.context import PARTICLE_FILTER, fixed_config, option_defaults
from ttc_graph.strategies.nodes import base_request, emit, extend
from ttc_graph.strategies.options import SearchConfig, Selection
from ttc_graph.strategies.state import Beam, SearchState
from ttc_graph.strategies.step_search import build_step_search
from ttc_graph.verifiers.aggregation import Aggregation
from ttc_graph.verifiers.base import Verifier


def resampling_weights(scores: Sequence[float | None], temperature: float) -> list[float]:
    """``softmax(score / temperature)``; an unscored particle counts as score 0.

    Example:
        >>> [round(w, 3) for w in resampling_weights([0.9, 0.1], temperature=0.5)]
        [0.832, 0.168]
    """
    logits = [(s if s is not None and math.isfinite(s) else 0.0) / temperature for s in scores]
    top = max(logits)
    exps = [math.exp(v - top) for v in logits]
    total = sum(exps)
    return [e / total for e in exps]


def resample(weights: Sequence[float], count: int, rng: random.Random, method: str) -> list[int]:
    """Indices of ``count`` draws from ``weights`` (which sum to 1), in index order.

    ``systematic``: one uniform offset and ``count`` evenly spaced points, so particle
    *i* is drawn ``floor(count·w_i)`` or ``ceil(count·w_i)`` times (low variance);
    ``multinomial``: ``count`` independent draws.

    Example:
        >>> resample([0.5, 0.25, 0.25], 4, random.Random(0), "systematic")
        [0, 0, 1, 2]
    """
    if method == "multinomial":
        return sorted(rng.choices(range(len(weights)), weights=weights, k=count))
    offset = rng.random() / count
    drawn: list[int] = []
    cumulative, index = weights[0], 0
    for k in range(count):
        point = offset + k / count
        while point > cumulative and index < len(weights) - 1:
            index += 1
            cumulative += weights[index]
        drawn.append(index)
    return drawn


def plan_particles(state: SearchState, cfg: SearchConfig) -> list[Expansion]:
    """N first steps from the question, then one next step per open particle (a particle
    drawn twice is two particles: its two requests merge into one call of two rows)."""
    beams = state.get("beams", [])
    if state.get("iteration", 0) == 0 or not beams:
        return [Expansion(base_request(state, cfg), cfg.n, None)]
    return [extend(b, state, cfg, 1) for b in beams]


def keep_resampled(
    pending: list[Beam], cfg: SearchConfig, state: SearchState
) -> tuple[list[Beam], list[Beam], list[Beam]]:
    """Finished particles leave the pool; the open ones are resampled among themselves."""
    done = [b for b in pending if b["finished"]]
    open_particles = [b for b in pending if not b["finished"]]
    if not open_particles:
        return [], done, []
    weights = resampling_weights([b["score"] for b in open_particles], cfg.pf_temperature)
    iteration = state.get("iteration", 0)
    rng = random.Random(state["seed"] * 1_000_003 + iteration * 7_919 + 104_729)
    drawn = resample(weights, len(open_particles), rng, cfg.resampling)
    kept = [open_particles[i] for i in drawn]
    chosen = set(drawn)
    pruned = [b for i, b in enumerate(open_particles) if i not in chosen]
    emit(
        "particles_resampled",
        iteration=iteration,
        weights={b["id"]: round(w, 6) for b, w in zip(open_particles, weights, strict=True)},
        drawn=[b["id"] for b in kept],
        dropped=[b["id"] for b in pruned],
    )
    return kept, done, pruned


def create_particle_filter(
    *,
    policy: Policy,
    verifier: Verifier,
    n: int = defaults.SEARCH_N,
    max_steps: int = defaults.MAX_STEPS,
    pf_temperature: float = 1.0,
    resampling: str = "systematic",
    lookahead: int = 0,
    selection: Selection = "vanilla",
    aggregation: Aggregation | None = None,
    sampling: SamplingParams | None = None,
    system_prompt: str | None = DEFAULT_SYSTEM_PROMPT,
    seed: int | None = None,
    budget: Budget | None = None,
    retry: RetryPolicy | None = DEFAULT_RETRY,
    step_delimiter: str = DEFAULT_STEP_DELIMITER,
    checkpointer: Checkpointer = None,
    name: str = "particle_filter",
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """Build a particle-filtering graph guided by a process reward model.

    The plain-valued arguments are the defaults of the per-run options (``context={...}``).

    Args:
        policy: Proposes next steps.
        verifier: Scores partial solutions (a PRM, or any :class:`Verifier`); its score of
            the latest step weights a particle (``aggregation`` folds them otherwise).
        n: Particles (at least 2: one particle has nothing to be resampled against).
        max_steps: Iteration limit; open particles compete as they are when it is hit.
        pf_temperature: Softmax temperature of the scores: lower copies the leaders more
            often, higher keeps more diversity.
        resampling: ``systematic`` (low variance, the default) or ``multinomial``.
        lookahead: Greedy steps rolled out past each particle before it is scored.
        selection: ``vanilla`` (the best-scored finished particle, as the paper) or
            ``weighted`` (a verifier-weighted vote).
        sampling: Per-step sampling; ``max_new_tokens`` bounds one step.
        seed, budget, retry, step_delimiter, system_prompt, aggregation, checkpointer, name:
            as in :func:`ttc_graph.create_best_of_n`.

    Example:
        >>> from ttc_graph import GroundedVerifier, load_policy
        >>> graph = create_particle_filter(policy=load_policy(), verifier=GroundedVerifier(),
        ...                                n=8, seed=0)  # doctest: +SKIP
        >>> graph.invoke({"question": "What is 17 + 25?"},
        ...              context={"pf_temperature": 0.5})["answer"]  # doctest: +SKIP
    """
    schema = run_options(
        name,
        PARTICLE_FILTER,
        policy=policy,
        verifier=verifier,
        retry=retry,
        values={
            "n": n,
            "max_steps": max_steps,
            "pf_temperature": pf_temperature,
            "resampling": resampling,
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
        policy, verifier, schema, plan_particles, keep_resampled, checkpointer, retry
    )
