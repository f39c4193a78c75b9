"""Argument checks and graph compilation shared by the strategy factories."""

from __future__ import annotations

import inspect
from typing import Any, cast

from langgraph.graph.state import CompiledStateGraph, StateGraph
from langgraph.types import Checkpointer

from ttc_graph.errors import InputError
from ttc_graph.reliability import check_retry
from ttc_graph.strategies.context import OptionSet, RunOptions, context_schema
from ttc_graph.strategies.options import SearchConfig
from ttc_graph.strategies.state import InputState, OutputState, SearchState
from ttc_graph.verifiers.aggregation import Aggregation
from ttc_graph.verifiers.base import Verifier


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


def check_positive(**values: int) -> None:
    """Every named value must be an integer >= 1."""
    for name, value in values.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise InputError(f"{name} must be an integer >= 1, got {value!r}.")


def check_verifier(verifier: Any) -> None:
    """A verifier, if given, must be a :class:`Verifier` (whether the strategy needs
    one is its :class:`~ttc_graph.strategies.options.OptionSet`'s check)."""
    if verifier is not None and not isinstance(verifier, Verifier):
        raise InputError(
            f"verifier must be a ttc_graph Verifier, got {type(verifier).__name__}; "
            "wrap custom scoring in a Verifier subclass."
        )


def aggregation_of(cfg: SearchConfig, verifier: Verifier | None) -> Aggregation:
    """How a run folds step scores into a candidate score: the one rule.

    The run's ``aggregation`` option wins; ``None`` (the default) takes the verifier's
    own :attr:`~ttc_graph.verifiers.Verifier.aggregation`, so a verifier built with
    ``aggregation="min"`` ranks candidates inside a search as its
    :meth:`~ttc_graph.verifiers.Verifier.score` does.
    """
    if cfg.aggregation is not None:
        return cast(Aggregation, cfg.aggregation)
    return verifier.aggregation if verifier is not None else "last"


def run_options(
    strategy: str,
    option_set: OptionSet,
    *,
    policy: Any,
    verifier: Any,
    retry: Any,
    values: dict[str, Any],
    fixed: dict[str, Any] | None = None,
) -> type[RunOptions]:
    """Check what every factory is given, then make its graph's ``context_schema``.

    ``values`` are the factory's arguments in flat option form: the context's defaults.
    """
    check_policy(policy)
    check_verifier(verifier)
    check_retry(retry)
    return context_schema(strategy, option_set, values, verifier=verifier is not None, fixed=fixed)


def new_builder(
    schema: type[RunOptions],
) -> StateGraph[SearchState, RunOptions, InputState, OutputState]:
    """A state graph with the shared schema: invoke with ``{question}`` or ``{messages}``
    and per-run options in ``context``; get :class:`OutputState`."""
    return StateGraph(
        SearchState, context_schema=schema, input_schema=InputState, output_schema=OutputState
    )


def compile_graph(
    builder: StateGraph[SearchState, RunOptions, InputState, OutputState],
    *,
    name: str,
    supersteps: int,
    checkpointer: Checkpointer = None,
) -> CompiledStateGraph[SearchState, RunOptions, InputState, OutputState]:
    """Compile with a recursion limit the loop can never reach.

    ``supersteps`` is the most node executions the strategy can make with the largest
    options it accepts; the limit is set above it so users never meet
    ``GraphRecursionError``.
    """
    graph = builder.compile(checkpointer=checkpointer, name=name)
    return graph.with_config(recursion_limit=supersteps + 10)
