"""Test-time compute strategies, each a compiled LangGraph graph."""

from __future__ import annotations

from typing import Any

from langgraph.graph.state import CompiledStateGraph

from ttc_graph.errors import LimitError
from ttc_graph.policy.base import Policy, SamplingParams
from ttc_graph.strategies.beam_search import create_beam_search
from ttc_graph.strategies.best_of_n import create_best_of_n
from ttc_graph.strategies.dvts import create_dvts
from ttc_graph.strategies.nodes import Budget, EarlyStop
from ttc_graph.strategies.selection import Selection
from ttc_graph.strategies.self_refine import create_self_refine
from ttc_graph.verifiers.base import Verifier

STRATEGIES = ("greedy", "best_of_n", "weighted", "majority", "beam_search", "dvts", "self_refine")
_SELECTION_OF: dict[str, Selection] = {
    "best_of_n": "vanilla",
    "weighted": "weighted",
    "majority": "majority",
}
NEEDS_VERIFIER = frozenset({"best_of_n", "weighted", "beam_search", "dvts"})


def build_strategy(
    name: str,
    *,
    policy: Policy,
    verifier: Verifier | None = None,
    n: int = 4,
    beam_width: int = 4,
    max_steps: int = 8,
    sampling: SamplingParams | None = None,
    seed: int | None = None,
    **kwargs: Any,
) -> CompiledStateGraph:
    """Build a strategy by its CLI name (see :data:`STRATEGIES`).

    ``greedy`` is one temperature-0 sample; ``best_of_n``/``weighted``/``majority``
    are best-of-N with that selection. Extra keyword arguments go to the factory.
    """
    base = SamplingParams() if sampling is None else sampling
    if not isinstance(base, SamplingParams):
        raise LimitError(
            f"sampling must be ttc_graph.policy.SamplingParams(...), got {type(base).__name__}."
        )
    if name == "greedy":
        greedy = SamplingParams(temperature=0.0, max_new_tokens=base.max_new_tokens, stop=base.stop)
        return create_best_of_n(
            policy=policy,
            verifier=verifier,
            n=1,
            selection="majority" if verifier is None else "vanilla",
            sampling=greedy,
            seed=seed,
            name="greedy",
            **kwargs,
        )
    if name in ("best_of_n", "weighted", "majority"):
        selection: Selection = _SELECTION_OF[name]
        return create_best_of_n(
            policy=policy,
            verifier=verifier,
            n=n,
            selection=selection,
            sampling=base,
            seed=seed,
            name=name,
            **kwargs,
        )
    if name in ("beam_search", "dvts"):
        factory = create_beam_search if name == "beam_search" else create_dvts
        return factory(
            policy=policy,
            verifier=verifier,  # type: ignore[arg-type]  # the factory rejects None clearly
            n=n,
            beam_width=min(beam_width, n),
            max_steps=max_steps,
            sampling=base,
            seed=seed,
            **kwargs,
        )
    if name == "self_refine":
        return create_self_refine(
            policy=policy, verifier=verifier, sampling=base, seed=seed, **kwargs
        )
    raise ValueError(f"Unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}.")


__all__ = [
    "STRATEGIES",
    "Budget",
    "EarlyStop",
    "build_strategy",
    "create_beam_search",
    "create_best_of_n",
    "create_dvts",
    "create_self_refine",
]
