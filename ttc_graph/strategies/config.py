"""Configuration types of the strategies: budgets, early stopping, expansion plans.

:class:`Budget` and :class:`EarlyStop` are public (``from ttc_graph import Budget,
EarlyStop``) and set a graph's default budget and early stop; :class:`Expansion`,
:data:`ExpansionPlan` and :data:`KeepRule` are what a strategy module hands to the
shared nodes. A run's options are :class:`~ttc_graph.strategies.options.SearchConfig`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from ttc_graph.errors import InputError

if TYPE_CHECKING:  # types only: the option table reads Budget and EarlyStop lazily
    from ttc_graph.policy.base import GenerationRequest
    from ttc_graph.strategies.options import SearchConfig
    from ttc_graph.strategies.state import Beam, SearchState, Usage


@dataclass(frozen=True)
class Budget:
    """A compute budget: the search stops when either limit is reached."""

    max_tokens: int | None = None
    max_seconds: float | None = None

    def __post_init__(self) -> None:
        if self.max_tokens is not None and self.max_tokens < 1:
            raise InputError(f"Budget.max_tokens must be >= 1, got {self.max_tokens}.")
        if self.max_seconds is not None and self.max_seconds <= 0:
            raise InputError(f"Budget.max_seconds must be > 0, got {self.max_seconds}.")

    def exceeded(self, usage: Usage) -> bool:
        """Whether ``usage`` has used the budget up."""
        return (self.max_tokens is not None and usage["completion_tokens"] >= self.max_tokens) or (
            self.max_seconds is not None and usage["seconds"] >= self.max_seconds
        )


@dataclass(frozen=True)
class EarlyStop:
    """Stop sampling early once the answer is settled.

    Candidates are sampled ``round_size`` at a time. After each round the search
    stops when the leading answer's share reaches ``agreement``:

    - ``by="posterior"`` (with a verifier): the verifier-weighted posterior of the
      leading answer, ``Σ score(its candidates) / (Σ score(all) + prior)``. A weak
      policy's samples often agree on a wrong answer; weighting by the verifier
      lets a few well-checked candidates outweigh many unchecked ones, and the
      ``prior`` (one pseudo-candidate for "an answer not seen yet") keeps a single
      early candidate from settling the vote alone.
    - ``by="agreement"``: the raw share of candidates that give it (no verifier).
    - ``by="auto"`` (default): ``posterior`` when the search has a verifier.

    Candidate ``i`` is the same as without early stopping (per-row seeding), so an
    early-stopped vote is exactly the full vote cut short. The value is
    :func:`ttc_graph.strategies.routing.posterior`, the formula adaptive routes by.
    """

    round_size: int = 4
    agreement: float = 0.75
    by: Literal["auto", "posterior", "agreement"] = "auto"
    prior: float = 1.0

    def __post_init__(self) -> None:
        if not isinstance(self.round_size, int) or self.round_size < 1:
            raise InputError(
                f"EarlyStop.round_size must be an integer >= 1, got {self.round_size!r}."
            )
        if not 0.0 < self.agreement <= 1.0:
            raise InputError(
                f"EarlyStop.agreement must be in (0, 1], e.g. 0.75, got {self.agreement!r}."
            )
        if self.by not in ("auto", "posterior", "agreement"):
            raise InputError(
                f"EarlyStop.by must be 'auto', 'posterior' or 'agreement', got {self.by!r}."
            )
        if not (isinstance(self.prior, int | float) and 0.0 <= self.prior < math.inf):
            raise InputError(f"EarlyStop.prior must be a finite number >= 0, got {self.prior!r}.")


@dataclass(frozen=True)
class Expansion:
    """One request of an expansion plan: ``count`` continuations of ``parent``."""

    request: GenerationRequest
    count: int
    parent: Beam | None
    group: int = 0
    base_steps: tuple[str, ...] = ()
    base_node_ids: tuple[str, ...] = ()


ExpansionPlan = Callable[["SearchState", "SearchConfig"], list[Expansion]]
KeepRule = Callable[
    [list["Beam"], "SearchConfig", "SearchState"],
    tuple[list["Beam"], list["Beam"], list["Beam"]],
]
"""Split scored candidates into (kept active, newly finished, pruned); the run's state
gives what a random keep rule is seeded by (a particle filter's resampling)."""
