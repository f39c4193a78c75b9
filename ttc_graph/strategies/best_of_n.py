"""Best-of-N: sample N full solutions, score them, pick one.

    prepare → generate → score → route ─┬→ generate   (early stop: not settled yet)
                                        └→ select     (vanilla / weighted / majority)

One round of N solutions; with early stopping, rounds until the answers agree (the
rounds loop of :mod:`ttc_graph.strategies.rounds`). Without a verifier (majority)
there is no score node. Greedy decoding is the same graph with one temperature-0
sample (:func:`create_greedy`).
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
from ttc_graph.strategies.config import Budget, EarlyStop
from ttc_graph.strategies.context import BEST_OF_N, GREEDY, fixed_config, option_defaults
from ttc_graph.strategies.options import Selection
from ttc_graph.strategies.rounds import FixedRounds, build_rounds
from ttc_graph.verifiers.aggregation import Aggregation
from ttc_graph.verifiers.base import Verifier


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
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """Build a best-of-N graph.

    The plain-valued arguments (and the fields of ``sampling``, ``budget`` and
    ``early_stop``) are the defaults of the graph's per-run options: a run may change
    any of them with ``context={...}``; ``graph.context_schema`` lists them, and an
    unknown or wrong one is refused before anything is generated.

    Args:
        policy: Writes the candidates (:func:`ttc_graph.load_policy` or a chat-model policy).
        verifier: Scores them; required for ``vanilla`` and ``weighted`` selection.
        n: Number of full solutions to sample.
        selection: ``vanilla`` (highest score), ``weighted`` (answer with the highest
            summed score) or ``majority`` (most frequent answer).
        aggregation: How step scores fold into a candidate score (``last``, ``min``,
            ``prod``, ``mean``); default the verifier's own ``verifier.aggregation``
            (``last`` unless set), so a search ranks as ``verifier.score`` does.
        sampling: Temperature, top-p, token limit per solution (options ``temperature``,
            ``top_p``, ``max_new_tokens``).
        system_prompt: Prepended unless the input brings its own system message.
        seed: Fixes the samples; ``None`` draws a fresh seed per run.
        budget: Optional token / time limit (options ``budget_tokens``,
            ``budget_seconds``). Each candidate gets at most its share of the tokens;
            generation stops at the time limit. Whatever was generated is still ranked,
            and the result says ``budget_limited``.
        early_stop: For ``majority``/``weighted``: sample in rounds and stop once the
            answer is settled — by the verifier-weighted posterior when there is a
            verifier, else by agreement (:class:`~ttc_graph.EarlyStop`; options
            ``early_stop_round``, ``early_stop_agreement``, ...).
        retry: Retry policy of the model-calling nodes; the default retries transient
            faults only (:data:`ttc_graph.reliability.DEFAULT_RETRY`); ``None`` never retries.
        step_delimiter: Splits solutions into steps for the verifier.
        checkpointer: LangGraph checkpointer for persistence (needs a ``thread_id``).
        name: Graph name (shows in traces and diagrams).

    Example:
        >>> from ttc_graph import GroundedVerifier, create_best_of_n, load_policy
        >>> graph = create_best_of_n(policy=load_policy(), verifier=GroundedVerifier(),
        ...                          n=16, selection="weighted")  # doctest: +SKIP
        >>> graph.invoke({"question": "What is 17 + 25?"})["answer"]  # doctest: +SKIP
        >>> graph.invoke({"messages": [{"role": "user", "content": "What is 2 + 3?"}]},
        ...              context={"n": 4, "seed": 1})["messages"][-1].content  # doctest: +SKIP
    """
    schema = run_options(
        name,
        BEST_OF_N,
        policy=policy,
        verifier=verifier,
        retry=retry,
        values={
            "n": n,
            "selection": selection,
            "aggregation": aggregation,
            "system_prompt": system_prompt,
            "seed": seed,
            "step_delimiter": step_delimiter,
            **option_defaults(sampling=sampling, budget=budget, early_stop=early_stop),
        },
        fixed=fixed_config(sampling),
    )
    rounds = FixedRounds(weighted=verifier is not None)
    return build_rounds(policy, verifier, schema, rounds, retry=retry, checkpointer=checkpointer)


def create_greedy(
    *,
    policy: Policy,
    verifier: Verifier | None = None,
    max_new_tokens: int | None = None,
    sampling: SamplingParams | None = None,
    system_prompt: str | None = DEFAULT_SYSTEM_PROMPT,
    seed: int | None = None,
    budget: Budget | None = None,
    retry: RetryPolicy | None = DEFAULT_RETRY,
    step_delimiter: str = DEFAULT_STEP_DELIMITER,
    checkpointer: Checkpointer = None,
    name: str = "greedy",
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """Build the baseline: one temperature-0 solution (scored when there is a verifier).

    Its options are the token limit, budget and prompt: there is nothing to sample
    or select. ``max_new_tokens`` (or ``sampling.max_new_tokens``) is the default limit.

    Example:
        >>> graph = create_greedy(policy=load_policy(), max_new_tokens=64)  # doctest: +SKIP
        >>> graph.invoke({"question": "What is 17 + 25?"})["answer"]  # doctest: +SKIP
    """
    values = option_defaults(sampling=sampling, budget=budget)
    if max_new_tokens is not None:
        values["max_new_tokens"] = max_new_tokens
    schema = run_options(
        name,
        GREEDY,
        policy=policy,
        verifier=verifier,
        retry=retry,
        values={
            "system_prompt": system_prompt,
            "seed": seed,
            "step_delimiter": step_delimiter,
            **{k: v for k, v in values.items() if k in GREEDY.names},
        },
        fixed=fixed_config(
            sampling,
            n=1,
            temperature=0.0,
            selection="majority" if verifier is None else "vanilla",
        ),
    )
    rounds = FixedRounds(weighted=verifier is not None)
    return build_rounds(policy, verifier, schema, rounds, retry=retry, checkpointer=checkpointer)
