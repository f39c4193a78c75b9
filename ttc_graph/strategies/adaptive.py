"""Adaptive: spend samples where they can still change the answer, under a budget.

    prepare → generate → score → route ─┬→ generate   (not settled, budget left)
                                        └→ select

Each round samples ``round_size`` full solutions, the verifier scores them, and a
routing policy (:mod:`ttc_graph.strategies.routing`) reads the round summary — the
verifier-weighted answer posterior and its spread — and stops or samples another
round, within a token budget per question or a :class:`TokenPool` shared by a batch,
and a time limit. The answer is the weighted vote over every candidate. It is the
rounds loop of best-of-N (:mod:`ttc_graph.strategies.rounds`) with a routing policy
deciding when to stop.

Candidate ``k`` is sampled with the same seed as candidate ``k`` of
``create_best_of_n`` with the same ``seed``, so an adaptive run's candidates are
a prefix of a best-of-N sample: the evaluation replays adaptive from a stored
sample instead of generating again (:func:`ttc_graph.evaluation.replay.replay`).
"""

from __future__ import annotations

from typing import Any

from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Checkpointer, RetryPolicy

from ttc_graph.errors import InputError
from ttc_graph.policy.base import DEFAULT_STEP_DELIMITER, Policy, SamplingParams
from ttc_graph.prompts import DEFAULT_SYSTEM_PROMPT
from ttc_graph.reliability import DEFAULT_RETRY
from ttc_graph.strategies import defaults
from ttc_graph.strategies.common import run_options
from ttc_graph.strategies.config import Budget
from ttc_graph.strategies.context import ADAPTIVE, fixed_config, option_defaults
from ttc_graph.strategies.pool import TokenPool
from ttc_graph.strategies.rounds import RoutedRounds, build_rounds
from ttc_graph.strategies.routing import PosteriorRouting, RoutingPolicy
from ttc_graph.verifiers.aggregation import Aggregation
from ttc_graph.verifiers.base import Verifier


def create_adaptive(
    *,
    policy: Policy,
    verifier: Verifier,
    budget: Budget | TokenPool | None = None,
    routing: RoutingPolicy | None = None,
    round_size: int = defaults.ADAPTIVE_ROUND,
    n: int = defaults.ADAPTIVE_MAX_SAMPLES,
    max_samples: int | None = None,
    aggregation: Aggregation | None = None,
    sampling: SamplingParams | None = None,
    system_prompt: str | None = DEFAULT_SYSTEM_PROMPT,
    seed: int | None = None,
    retry: RetryPolicy | None = DEFAULT_RETRY,
    step_delimiter: str = DEFAULT_STEP_DELIMITER,
    checkpointer: Checkpointer = None,
    name: str = "adaptive",
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """Build an adaptive graph: rounds of samples routed by the verifier, under a budget.

    The plain-valued arguments (and the fields of ``budget`` and ``sampling``) are the
    defaults of the per-run options (``context={...}``): ``n``, ``round_size``,
    ``budget_tokens``, ``budget_seconds``, sampling, ...

    Args:
        policy: Writes the candidates (:func:`ttc_graph.load_policy`; its ``sample``
            must accept ``first_index`` so rounds continue the candidate numbering).
        verifier: Scores every candidate; the routing reads its scores.
        budget: ``Budget(max_tokens=K, max_seconds=T)``: at most K completion tokens per
            question (a round never starts unless every row of it fits: a row writes up
            to ``max_new_tokens``), and generation and routing end at T seconds with the
            best answer so far; a :class:`~ttc_graph.strategies.pool.TokenPool`: one
            token budget shared by a batch (``graph.batch``), settled questions leave
            their share to open ones; ``None``: only ``n`` limits.
        routing: ``RoundSummary -> Decision | "stop" | "sample"`` (default
            :class:`~ttc_graph.strategies.routing.PosteriorRouting`). It must answer
            within the time budget, or within 30 s without one: past that the search
            ends with the best answer so far (a time budget) or a clear error.
        round_size: Candidates per round.
        n: The most candidates per question (rounds stop there).
        max_samples: The former name of ``n`` (give one of them).
        aggregation: How step scores fold into a candidate score; default the verifier's.
        sampling: Temperature, top-p, tokens per solution.
        system_prompt: Prepended unless the input brings its own system message.
        seed: Fixes the samples (candidate k = candidate k of best-of-N, same seed).
        retry, step_delimiter, checkpointer, name: As for the other strategies.

    Example:
        >>> from ttc_graph import Budget, create_adaptive, load_policy
        >>> from ttc_graph.verifiers import load_verifier
        >>> policy = load_policy()  # doctest: +SKIP
        >>> graph = create_adaptive(policy=policy, verifier=load_verifier("grounded"),
        ...                         budget=Budget(max_tokens=512), seed=0)  # doctest: +SKIP
        >>> result = graph.invoke({"question": "Sam has 3 apples and buys 4. How many?"})
        >>> result["answer"], result["routes"][-1]["reason"]  # doctest: +SKIP
    """
    if max_samples is not None:
        if n not in (defaults.ADAPTIVE_MAX_SAMPLES, max_samples):
            raise InputError("Give n or max_samples (its former name), not both.")
        n = max_samples
    if routing is None:
        routing = PosteriorRouting()
    elif not callable(routing):
        raise InputError(
            "routing must be a function RoundSummary -> Decision or a route name, "
            f"e.g. PosteriorRouting(stop_at=0.5); got {type(routing).__name__}."
        )
    if budget is not None and not isinstance(budget, Budget | TokenPool):
        raise InputError(
            "budget must be ttc_graph.Budget(max_tokens=..., max_seconds=...) (per question) "
            "or TokenPool(tokens_per_question=..., questions=...) (shared by a batch)."
        )
    pool = budget if isinstance(budget, TokenPool) else None
    per_question = budget if isinstance(budget, Budget) else None
    schema = run_options(
        name,
        ADAPTIVE,
        policy=policy,
        verifier=verifier,
        retry=retry,
        values={
            "n": n,
            "round_size": round_size,
            "aggregation": aggregation,
            "system_prompt": system_prompt,
            "seed": seed,
            "step_delimiter": step_delimiter,
            **option_defaults(sampling=sampling, budget=per_question),
        },
        fixed=fixed_config(sampling, selection="weighted"),
    )
    if pool is not None:
        cfg = schema().config()
        pool.set_first_round(min(cfg.round_size, cfg.n) * cfg.max_new_tokens)
    rounds = RoutedRounds(routing, pool)
    return build_rounds(
        policy, verifier, schema, rounds, retry=retry, checkpointer=checkpointer, announce=True
    )
