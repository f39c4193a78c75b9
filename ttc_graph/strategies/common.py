"""Argument checks and graph compilation shared by the strategy factories."""

from __future__ import annotations

import inspect
from dataclasses import replace
from typing import Any, cast

from langgraph.graph.state import CompiledStateGraph, StateGraph
from langgraph.types import Checkpointer

from ttc_graph.errors import InputError, LimitError
from ttc_graph.limits import check_count, check_finite, check_n_limit
from ttc_graph.policy.base import DEFAULT_STEP_DELIMITER, SamplingParams
from ttc_graph.reliability import check_retry
from ttc_graph.strategies.config import Budget, EarlyStop, SearchConfig
from ttc_graph.strategies.state import InputState, OutputState, SearchState
from ttc_graph.verifiers.base import AGGREGATIONS, Aggregation, Verifier


def check_policy(policy: Any) -> None:
    """A policy must implement :class:`ttc_graph.policy.Policy`, ``first_index`` included.

    A runtime-checkable protocol checks method names only, so the keyword is checked
    here, when the graph is built: otherwise a policy without it would fail at the
    first call with a bare ``TypeError``.
    """
    if policy is None or not callable(getattr(policy, "sample", None)):
        raise InputError(
            "policy must be a ttc-graph policy: use ttc_graph.load_policy() for a local model "
            "or ttc_graph.policy.ChatModelPolicy(chat_model) for any LangChain chat model."
        )
    for method in ("sample", "asample"):
        fn = getattr(policy, method, None)
        if fn is not None and not _takes_keyword(fn, "first_index"):
            raise InputError(
                f"{type(policy).__name__}.{method}() must accept first_index=0 (the Policy "
                "protocol, ttc_graph.policy.Policy: the returned candidates are numbered from "
                "there); add the keyword to it."
            )


def _takes_keyword(fn: Any, name: str) -> bool:
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # no signature to read (a C callable): let it run
        return True
    return any(p.name == name or p.kind is p.VAR_KEYWORD for p in parameters)


def check_verifier(verifier: Any, *, strategy: str, required: bool) -> None:
    """Strategies that rank candidates need a :class:`Verifier`."""
    if verifier is None:
        if required:
            raise InputError(
                f"{strategy} ranks candidates and needs a verifier, e.g. "
                "verifier=ArithmeticVerifier() or load_prm('<path>'); majority voting "
                "(create_best_of_n(selection='majority')) works without one."
            )
        return
    if not isinstance(verifier, Verifier):
        raise InputError(
            f"verifier must be a ttc_graph Verifier, got {type(verifier).__name__}; "
            "wrap custom scoring in a Verifier subclass."
        )


def check_positive(**values: int) -> None:
    """Every named value must be an integer >= 1."""
    for name, value in values.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise InputError(f"{name} must be an integer >= 1, got {value!r}.")


def resolve_aggregation(aggregation: Any, verifier: Verifier | None) -> Aggregation:
    """How a search folds step scores into a candidate score: the one rule.

    A strategy's explicit ``aggregation`` wins; ``None`` (every factory's default)
    takes the verifier's own :attr:`~ttc_graph.verifiers.Verifier.aggregation`, so a
    verifier built with ``aggregation="min"`` ranks candidates inside a search as
    its :meth:`~ttc_graph.verifiers.Verifier.score` does. Without a verifier nothing
    is scored and the value is moot (``"last"``).
    """
    if aggregation is None:
        aggregation = verifier.aggregation if verifier is not None else "last"
    if aggregation not in AGGREGATIONS:
        raise InputError(
            f"Unknown aggregation {aggregation!r}; choose one of {', '.join(AGGREGATIONS)}."
        )
    return cast(Aggregation, aggregation)


def step_sampling(sampling: SamplingParams | None, delimiter: str) -> SamplingParams:
    """Sampling for step-wise search: stop at the step delimiter."""
    base = SamplingParams() if sampling is None else sampling
    if not isinstance(delimiter, str) or not delimiter:
        raise LimitError(
            f"step_delimiter must be a non-empty string such as '\\n\\n', got {delimiter!r}."
        )
    if not isinstance(base, SamplingParams):
        check_search_options(
            sampling=base, seed=None, system_prompt=None, step_delimiter=delimiter, n=1
        )
    if delimiter in base.stop:
        return base
    return replace(base, stop=(*base.stop, delimiter))


def check_budget(budget: Budget | None) -> None:
    """A budget must be a :class:`Budget` with an integer token limit and a finite time limit.

    ``Budget`` checks ranges, but NaN passes every comparison: ``Budget(max_tokens=nan)``
    used to cut every row to one token. Checked here, when the graph is built.
    """
    if budget is None:
        return
    if not isinstance(budget, Budget):
        raise InputError("budget must be ttc_graph.Budget(max_tokens=..., max_seconds=...).")
    if budget.max_tokens is not None:
        check_count(
            budget.max_tokens,
            name="Budget.max_tokens",
            limit=2**62,
            why="a token count must fit in 64 bits",
        )
    if budget.max_seconds is not None:
        seconds = check_finite(budget.max_seconds, name="Budget.max_seconds", low=0.0)
        if seconds <= 0:
            raise LimitError(f"Budget.max_seconds must be > 0, got {budget.max_seconds!r}.")


def check_search_options(
    *, sampling: Any, seed: Any, system_prompt: Any, step_delimiter: Any, n: Any
) -> None:
    """Check the options every factory shares, so a wrong type fails when the graph is
    built instead of at the first ``invoke`` (or, worse, silently)."""
    check_n_limit(n)
    if not isinstance(sampling, SamplingParams):
        raise LimitError(
            "sampling must be ttc_graph.policy.SamplingParams(temperature=..., "
            f"max_new_tokens=...), got {type(sampling).__name__}."
        )
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise LimitError(f"seed must be an integer or None, got {seed!r} ({type(seed).__name__}).")
    if system_prompt is not None and not isinstance(system_prompt, str):
        raise LimitError(
            f"system_prompt must be a string or None, got {type(system_prompt).__name__}."
        )
    if not isinstance(step_delimiter, str) or not step_delimiter:
        # An empty delimiter would make every character a step.
        raise LimitError(
            f"step_delimiter must be a non-empty string such as '\\n\\n', got {step_delimiter!r}."
        )


def check_early_stop(early_stop: Any, *, selection: str, n: int) -> None:
    """Early stopping needs a vote and more than one round."""
    if early_stop is None:
        return
    if not isinstance(early_stop, EarlyStop):
        raise InputError(
            "early_stop must be an EarlyStop(round_size=..., agreement=...) "
            "from ttc_graph (or ttc_graph.strategies)."
        )
    if early_stop.by == "posterior" and selection == "majority":
        raise InputError(
            "EarlyStop(by='posterior') weighs answers by the verifier; use selection='weighted' "
            "with a verifier, or by='agreement' for a majority vote."
        )
    if selection == "vanilla":
        raise InputError(
            "early_stop stops a vote when the answers agree; use selection='majority' or "
            "'weighted' (vanilla picks the top score, which agreement says nothing about)."
        )
    if early_stop.round_size >= n:
        raise InputError(
            f"early_stop.round_size ({early_stop.round_size}) must be smaller than n ({n}), "
            "or there is only one round and nothing to stop early."
        )


def search_config(
    *,
    policy: Any,
    verifier: Any,
    verifier_for: str | None,
    retry: Any,
    **fields: Any,
) -> SearchConfig:
    """Run the checks every strategy shares, then build its :class:`SearchConfig`.

    Strategy-specific arguments (``n`` against ``beam_width``, ``max_rounds``, ...)
    are checked by the factory first; ``fields`` are the config's own fields.
    ``verifier_for`` names the strategy in the error when it needs a verifier and
    got none; ``None`` makes the verifier optional. ``aggregation=None`` becomes the
    verifier's (:func:`resolve_aggregation`).
    """
    check_policy(policy)
    check_search_options(
        sampling=fields.get("sampling"),
        seed=fields.get("seed"),
        system_prompt=fields.get("system_prompt"),
        step_delimiter=fields.get("step_delimiter", DEFAULT_STEP_DELIMITER),
        n=fields.get("n", 1),
    )
    check_budget(fields.get("budget"))
    check_retry(retry)
    check_verifier(verifier, strategy=verifier_for or "", required=verifier_for is not None)
    fields["aggregation"] = resolve_aggregation(fields.get("aggregation"), verifier)
    return SearchConfig(**fields)


def new_builder() -> StateGraph[SearchState, Any, InputState, OutputState]:
    """A state graph with the shared schema: invoke with {question}, get OutputState."""
    return StateGraph(SearchState, input_schema=InputState, output_schema=OutputState)


def compile_graph(
    builder: StateGraph[SearchState, Any, InputState, OutputState],
    *,
    name: str,
    supersteps: int,
    checkpointer: Checkpointer = None,
) -> CompiledStateGraph[SearchState, Any, InputState, OutputState]:
    """Compile with a recursion limit the configured loop can never reach.

    ``supersteps`` is the most node executions the strategy can make; the limit is
    set above it so users never meet ``GraphRecursionError`` in normal use.
    """
    graph = builder.compile(checkpointer=checkpointer, name=name)
    return graph.with_config(recursion_limit=supersteps + 10)
