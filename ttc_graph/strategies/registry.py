"""One spec per strategy, read by ``build_strategy``, the CLI, the evaluation and the diagrams.

Adding a strategy means writing its module and adding one :class:`StrategySpec` to
:data:`SPECS`: its CLI name, how to build it, whether it needs a verifier, its
defaults, how its settings are checked and how the evaluation runs it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from ttc_graph.errors import InputError, LimitError
from ttc_graph.limits import check_n_limit
from ttc_graph.policy.base import SamplingParams
from ttc_graph.strategies import defaults

# Reading the registry (the CLI's parser and --help) must not import LangGraph or
# the graphs: each builder imports its factory when it runs.
if TYPE_CHECKING:
    from langgraph.graph.state import CompiledStateGraph

    from ttc_graph.policy.base import Policy
    from ttc_graph.strategies.selection import Selection
    from ttc_graph.verifiers.base import Verifier

EvalMode = Literal["sample", "per_n", "single", "budgeted"]
"""How the evaluation runs a strategy over an N list:

- ``sample``: read off one shared best-of-N sample at the largest N (each smaller N
  is a prefix of it), re-selected with the strategy's :attr:`StrategySpec.selection`;
- ``per_n``: one run per problem and N (the search itself depends on N);
- ``single``: one run per problem; no N (drawn as a horizontal baseline);
- ``budgeted``: replayed from the shared sample under each token budget of
  ``--budget-tokens-per-problem`` (its candidates are a prefix of that sample).
"""


@dataclass(frozen=True)
class Settings:
    """The settings every strategy is built from (each uses those that apply to it)."""

    n: int
    beam_width: int
    max_steps: int
    sampling: SamplingParams
    seed: int | None = None


Builder = Callable[
    ["StrategySpec", "Policy", "Verifier | None", Settings, dict[str, Any]],
    "CompiledStateGraph",
]
"""Builds a strategy's graph: ``(spec, policy, verifier, settings, extra factory kwargs)``."""


@dataclass(frozen=True)
class StrategySpec:
    """Everything the rest of the package needs to know about one strategy."""

    name: str
    """CLI name, also the graph's name."""
    summary: str
    """One line for help texts."""
    build: Builder = field(repr=False)
    needs_verifier: bool
    """Whether it ranks candidates by score (and so cannot run without a verifier)."""
    eval_mode: EvalMode
    selection: Selection | None = None
    """The selection of a best-of-N strategy (``None`` for the others)."""
    steps: bool = False
    """A step-wise search: ``beam_width`` and ``max_steps`` apply."""
    default_n: int = defaults.N
    """Candidates when none is asked for (``1`` where N does not apply)."""
    eval_verifier: bool = True
    """Whether the evaluation gives it the verifier (greedy is one sample: scoring it
    would only add cost)."""

    def check(
        self,
        *,
        n: int,
        beam_width: int = defaults.BEAM_WIDTH,
        max_steps: int = defaults.MAX_STEPS,
        names: tuple[str, str, str] = ("n", "beam_width", "max_steps"),
    ) -> None:
        """Refuse settings this strategy cannot run with, before any model is loaded.

        ``names`` are how the caller spells n, beam_width and max_steps in messages.
        """
        check_n_limit(n, name=names[0])
        if self.steps:
            from ttc_graph.strategies.step_search import check_steps

            check_steps(n, beam_width, max_steps, names=names)


def _greedy(
    spec: StrategySpec,
    policy: Policy,
    verifier: Verifier | None,
    s: Settings,
    extra: dict[str, Any],
) -> CompiledStateGraph:
    from ttc_graph.strategies.best_of_n import create_best_of_n

    greedy = SamplingParams(
        temperature=0.0, max_new_tokens=s.sampling.max_new_tokens, stop=s.sampling.stop
    )
    return create_best_of_n(
        policy=policy,
        verifier=verifier,
        n=1,
        selection="majority" if verifier is None else "vanilla",
        sampling=greedy,
        seed=s.seed,
        name=spec.name,
        **extra,
    )


def _best_of_n(
    spec: StrategySpec,
    policy: Policy,
    verifier: Verifier | None,
    s: Settings,
    extra: dict[str, Any],
) -> CompiledStateGraph:
    from ttc_graph.strategies.best_of_n import create_best_of_n

    assert spec.selection is not None
    return create_best_of_n(
        policy=policy,
        verifier=verifier,
        n=s.n,
        selection=spec.selection,
        sampling=s.sampling,
        seed=s.seed,
        name=spec.name,
        **extra,
    )


def _beam_search(
    spec: StrategySpec,
    policy: Policy,
    verifier: Verifier | None,
    s: Settings,
    extra: dict[str, Any],
) -> CompiledStateGraph:
    from ttc_graph.strategies.beam_search import create_beam_search

    return _step_search(create_beam_search, policy, verifier, s, extra)


def _dvts(
    spec: StrategySpec,
    policy: Policy,
    verifier: Verifier | None,
    s: Settings,
    extra: dict[str, Any],
) -> CompiledStateGraph:
    from ttc_graph.strategies.dvts import create_dvts

    return _step_search(create_dvts, policy, verifier, s, extra)


def _step_search(
    factory: Callable[..., CompiledStateGraph],
    policy: Policy,
    verifier: Verifier | None,
    s: Settings,
    extra: dict[str, Any],
) -> CompiledStateGraph:
    return factory(
        policy=policy,
        verifier=verifier,  # the factory rejects None clearly
        n=s.n,
        beam_width=s.beam_width,
        max_steps=s.max_steps,
        sampling=s.sampling,
        seed=s.seed,
        **extra,
    )


def _adaptive(
    spec: StrategySpec,
    policy: Policy,
    verifier: Verifier | None,
    s: Settings,
    extra: dict[str, Any],
) -> CompiledStateGraph:
    from ttc_graph.strategies.adaptive import create_adaptive

    return create_adaptive(
        policy=policy,
        verifier=verifier,  # type: ignore[arg-type]  # the factory rejects None clearly
        max_samples=s.n,
        beam_width=min(s.beam_width, s.n),
        max_steps=s.max_steps,
        sampling=s.sampling,
        seed=s.seed,
        name=spec.name,
        **extra,
    )


def _self_refine(
    spec: StrategySpec,
    policy: Policy,
    verifier: Verifier | None,
    s: Settings,
    extra: dict[str, Any],
) -> CompiledStateGraph:
    from ttc_graph.strategies.self_refine import create_self_refine

    return create_self_refine(
        policy=policy, verifier=verifier, sampling=s.sampling, seed=s.seed, **extra
    )


SPECS: dict[str, StrategySpec] = {
    spec.name: spec
    for spec in (
        StrategySpec(
            "greedy",
            "one temperature-0 sample",
            _greedy,
            needs_verifier=False,
            eval_mode="single",
            default_n=1,
            eval_verifier=False,
        ),
        StrategySpec(
            "best_of_n",
            "N samples, the top-scored one",
            _best_of_n,
            needs_verifier=True,
            eval_mode="sample",
            selection="vanilla",
        ),
        StrategySpec(
            "weighted",
            "N samples, the answer with the highest summed score",
            _best_of_n,
            needs_verifier=True,
            eval_mode="sample",
            selection="weighted",
        ),
        StrategySpec(
            "majority",
            "N samples, the most frequent answer",
            _best_of_n,
            needs_verifier=False,
            eval_mode="sample",
            selection="majority",
        ),
        StrategySpec(
            "beam_search",
            "step-wise search, the best N / beam_width beams kept",
            _beam_search,
            needs_verifier=True,
            eval_mode="per_n",
            steps=True,
            default_n=defaults.SEARCH_N,
        ),
        StrategySpec(
            "dvts",
            "N / beam_width independent subtrees, each keeping its best step",
            _dvts,
            needs_verifier=True,
            eval_mode="per_n",
            steps=True,
            default_n=defaults.SEARCH_N,
        ),
        StrategySpec(
            "adaptive",
            "rounds of samples until the verifier-weighted vote settles, under a token budget",
            _adaptive,
            needs_verifier=True,
            eval_mode="budgeted",
            default_n=defaults.ADAPTIVE_MAX_SAMPLES,
        ),
        StrategySpec(
            "self_refine",
            "draft, critique, refine",
            _self_refine,
            needs_verifier=False,
            eval_mode="single",
            default_n=1,
        ),
    )
}
"""Every strategy by CLI name, in the order the CLI lists them."""

STRATEGIES = tuple(SPECS)
"""Every strategy's CLI name."""
NEEDS_VERIFIER = frozenset(name for name, spec in SPECS.items() if spec.needs_verifier)
"""Strategies that rank candidates by score and cannot run without a verifier."""


def get_spec(name: str) -> StrategySpec:
    """The spec of a strategy by CLI name, or an error listing the names."""
    spec = SPECS.get(name)
    if spec is None:
        raise InputError(f"Unknown strategy {name!r}; choose one of {', '.join(SPECS)}.")
    return spec


def eval_beam_width(beam_width: int, n: int) -> int:
    """The beam width the evaluation uses at ``n``: ``beam_width``, or ``n`` when smaller.

    An accuracy curve runs a step-wise search at every N of its list (say 1, 2, 4, 8
    with width 4); below the width, N beams of one expansion each (``beam_width=n``)
    is the search that still fits. Everywhere else a too-wide beam is an error.
    """
    return min(beam_width, n)


def build_strategy(
    name: str,
    *,
    policy: Policy,
    verifier: Verifier | None = None,
    n: int | None = None,
    beam_width: int = defaults.BEAM_WIDTH,
    max_steps: int = defaults.MAX_STEPS,
    sampling: SamplingParams | None = None,
    seed: int | None = None,
    **kwargs: Any,
) -> CompiledStateGraph:
    """Build a strategy by its CLI name (see :data:`SPECS`).

    ``greedy`` is one temperature-0 sample; ``best_of_n``/``weighted``/``majority``
    are best-of-N with that selection. ``n`` defaults to the strategy's own
    (:attr:`StrategySpec.default_n`). Extra keyword arguments go to the factory.
    """
    spec = get_spec(name)
    base = SamplingParams() if sampling is None else sampling
    if not isinstance(base, SamplingParams):
        raise LimitError(
            f"sampling must be ttc_graph.policy.SamplingParams(...), got {type(base).__name__}."
        )
    settings = Settings(
        n=spec.default_n if n is None else n,
        beam_width=beam_width,
        max_steps=max_steps,
        sampling=base,
        seed=seed,
    )
    return spec.build(spec, policy, verifier, settings, kwargs)
