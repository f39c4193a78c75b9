"""One spec per strategy: the only place its facts live.

A :class:`StrategySpec` names a strategy, its factory, the per-run options it takes
(its :class:`~ttc_graph.strategies.options.OptionSet`, which is the graph's context
schema), their defaults, whether it needs a verifier and how the evaluation runs it.
The CLI (``--strategy`` and its option flags), ``ttc-graph eval``, the OpenAI
server's model names and checks, the LangGraph app and ``langgraph.json``, the
diagrams and the docs' strategy table all read :data:`SPECS`.

Adding a strategy is writing its module and one spec: in :data:`SPECS` below, or,
from your own code, :func:`register_strategy`.

Reading the registry imports no graph code (the CLI's ``--help`` stays fast): a
spec names its factory as ``"module:function"``, imported when a graph is built.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from ttc_graph.errors import InputError
from ttc_graph.strategies import defaults
from ttc_graph.strategies.context import (
    ADAPTIVE,
    BEAM_SEARCH,
    BEST_OF_N,
    DVTS,
    GREEDY,
    PARTICLE_FILTER,
    SELF_REFINE,
    OptionSet,
    context_schema,
    factory_arguments,
    unknown_option,
)
from ttc_graph.strategies.options import OPTIONS, SearchConfig

if TYPE_CHECKING:
    from langgraph.graph.state import CompiledStateGraph

    from ttc_graph.policy.base import Policy
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

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


@dataclass(frozen=True)
class StrategySpec:
    """Everything the rest of the package needs to know about one strategy.

    Example (a strategy of your own, registered from your code)::

        register_strategy(StrategySpec(
            name="my_search",
            summary="what it does, in one line",
            factory="my_package.my_search:create_my_search",
            options=OptionSet(("n", "seed", "max_new_tokens"), check_common),
            needs_verifier=False,
            eval_mode="per_n",
        ))
    """

    name: str
    """CLI name, model name of the server, graph name of the LangGraph app."""
    summary: str
    """One line for help texts and the docs' table."""
    factory: str
    """``"module:function"``, the keyword-only factory that builds the graph."""
    options: OptionSet
    """The per-run options it takes: its graph's context schema."""
    needs_verifier: bool
    """Whether it ranks candidates by score (and so cannot run without a verifier)."""
    eval_mode: EvalMode
    factory_args: Mapping[str, Any] = field(default_factory=dict)
    """Fixed factory arguments that make this strategy (``selection="weighted"``)."""
    defaults: Mapping[str, Any] = field(default_factory=dict)
    """Option defaults that differ from :data:`~ttc_graph.strategies.options.OPTIONS`':
    the factory's own (a test checks that they agree)."""
    steps: bool = False
    """A step-wise search (``beam_width`` and ``max_steps`` shape its tree)."""
    eval_verifier: bool = True
    """Whether the evaluation gives it the verifier (greedy is one sample: scoring it
    would only add cost)."""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise InputError(
                f"Strategy name {self.name!r} is invalid: use 1-40 lowercase letters, digits "
                "and '_', starting with a letter (it is also a model name and a CLI value)."
            )
        if not isinstance(self.factory, str) or ":" not in self.factory:
            raise InputError(
                f"{self.name}: factory must be 'module:function', got {self.factory!r}."
            )
        for name in self.defaults:
            if name not in self.options.names:
                raise InputError(unknown_option(self.name, name, self.options.names))

    @property
    def takes_n(self) -> bool:
        """Whether it takes N (a model name ``name-N``, ``--n``)."""
        return "n" in self.options.names

    @property
    def selection(self) -> str | None:
        """The default selection (``None`` where it does not select by one)."""
        if "selection" not in self.options.names:
            return None
        return str(self.factory_args.get("selection", self.default("selection")))

    def default(self, name: str) -> Any:
        """The default of one of its options."""
        if name not in self.options.names:
            raise InputError(unknown_option(self.name, name, self.options.names))
        if name in self.factory_args:
            return self.factory_args[name]
        return self.defaults.get(name, OPTIONS[name].default)

    def option_defaults(self) -> dict[str, Any]:
        """Every option it takes, with its default."""
        return {name: self.default(name) for name in self.options.names}

    def check(self, values: Mapping[str, Any], *, verifier: bool) -> SearchConfig:
        """Check option ``values`` as a run would (names, types, how they combine),
        without building the graph or loading a model; returns the resolved config."""
        schema = context_schema(self.name, self.options, self.option_defaults(), verifier=verifier)
        return schema(**values).config()

    def load_factory(self) -> Callable[..., CompiledStateGraph[Any, Any, Any, Any]]:
        """The factory function (its module is imported now)."""
        module, _, function = self.factory.partition(":")
        return getattr(importlib.import_module(module), function)

    def build(
        self,
        *,
        policy: Policy,
        verifier: Verifier | None = None,
        **arguments: Any,
    ) -> CompiledStateGraph[Any, Any, Any, Any]:
        """Build the graph. ``arguments`` are option values (flat: ``temperature=0.5``),
        which become the graph's defaults, and other factory arguments
        (``checkpointer=...``, or the objects ``sampling=``, ``budget=``)."""
        options = {k: v for k, v in arguments.items() if k in OPTIONS}
        for name in options:
            if name not in self.options.names:
                raise InputError(unknown_option(self.name, name, self.options.names))
        factory_kwargs = {k: v for k, v in arguments.items() if k not in OPTIONS}
        grouped = factory_arguments(options)
        both = sorted(set(grouped) & set(factory_kwargs))
        if both:
            raise InputError(
                f"{self.name}: give {both[0]} as an object or as its options, not both."
            )
        kwargs = {**self.factory_args, **grouped, **factory_kwargs}
        return self.load_factory()(policy=policy, verifier=verifier, name=self.name, **kwargs)


SPECS: dict[str, StrategySpec] = {
    spec.name: spec
    for spec in (
        StrategySpec(
            "greedy",
            "one temperature-0 solution: the baseline",
            "ttc_graph.strategies.best_of_n:create_greedy",
            GREEDY,
            needs_verifier=False,
            eval_mode="single",
            eval_verifier=False,
        ),
        StrategySpec(
            "best_of_n",
            "N solutions; the one the verifier scores highest",
            "ttc_graph.strategies.best_of_n:create_best_of_n",
            BEST_OF_N,
            needs_verifier=True,
            eval_mode="sample",
            factory_args={"selection": "vanilla"},
        ),
        StrategySpec(
            "weighted",
            "N solutions; the answer with the highest summed verifier score",
            "ttc_graph.strategies.best_of_n:create_best_of_n",
            BEST_OF_N,
            needs_verifier=True,
            eval_mode="sample",
            factory_args={"selection": "weighted"},
        ),
        StrategySpec(
            "majority",
            "N solutions; the most frequent answer (no verifier needed)",
            "ttc_graph.strategies.best_of_n:create_best_of_n",
            BEST_OF_N,
            needs_verifier=False,
            eval_mode="sample",
            factory_args={"selection": "majority"},
        ),
        StrategySpec(
            "beam_search",
            "step by step: N next steps scored, the best N / beam_width beams kept and expanded",
            "ttc_graph.strategies.beam_search:create_beam_search",
            BEAM_SEARCH,
            needs_verifier=True,
            eval_mode="per_n",
            defaults={"n": defaults.SEARCH_N, "selection": "weighted"},
            steps=True,
        ),
        StrategySpec(
            "dvts",
            "N / beam_width independent subtrees, each greedy by the verifier",
            "ttc_graph.strategies.dvts:create_dvts",
            DVTS,
            needs_verifier=True,
            eval_mode="per_n",
            defaults={"n": defaults.SEARCH_N, "selection": "weighted"},
            steps=True,
        ),
        StrategySpec(
            "particle_filter",
            "N particles step by step, resampled by softmax(verifier score / temperature)",
            "ttc_graph.strategies.particle_filter:create_particle_filter",
            PARTICLE_FILTER,
            needs_verifier=True,
            eval_mode="per_n",
            defaults={"n": defaults.SEARCH_N, "selection": "vanilla"},
        ),
        StrategySpec(
            "adaptive",
            "rounds of samples until the verifier-weighted vote settles, under a token budget",
            "ttc_graph.strategies.adaptive:create_adaptive",
            ADAPTIVE,
            needs_verifier=True,
            eval_mode="budgeted",
            defaults={"n": defaults.ADAPTIVE_MAX_SAMPLES},
        ),
        StrategySpec(
            "self_refine",
            "draft, critique, refine; with a verifier the best-scored version wins",
            "ttc_graph.strategies.self_refine:create_self_refine",
            SELF_REFINE,
            needs_verifier=False,
            eval_mode="single",
        ),
    )
}
"""Every strategy by name, in the order the CLI lists them. :func:`register_strategy`
adds to it."""


def register_strategy(spec: StrategySpec, *, replace: bool = False) -> StrategySpec:
    """Add a strategy: the CLI, ``eval``, the OpenAI server and the LangGraph app find it.

    Register before building the CLI's parser or the server (they read :data:`SPECS`
    then). ``replace=True`` overrides a strategy of the same name.
    """
    if not isinstance(spec, StrategySpec):
        raise InputError(f"register_strategy needs a StrategySpec, got {type(spec).__name__}.")
    if spec.name in SPECS and not replace:
        raise InputError(
            f"A strategy named {spec.name!r} is already registered; pick another name or "
            "pass replace=True."
        )
    SPECS[spec.name] = spec
    return spec


def get_spec(name: str) -> StrategySpec:
    """The spec of a strategy by name, or an error listing the names."""
    spec = SPECS.get(name)
    if spec is None:
        raise InputError(f"Unknown strategy {name!r}; choose one of {', '.join(SPECS)}.")
    return spec


def needs_verifier(name: str) -> bool:
    """Whether strategy ``name`` ranks candidates and cannot run without a verifier."""
    return get_spec(name).needs_verifier


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
    **arguments: Any,
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """Build a strategy's graph by name (see :data:`SPECS` and :meth:`StrategySpec.build`).

    Example:
        >>> graph = build_strategy("weighted", policy=load_policy(), verifier=GroundedVerifier(),
        ...                        n=16, max_new_tokens=128)  # doctest: +SKIP
        >>> graph.invoke({"question": "What is 2 + 3?"}, context={"n": 4})  # doctest: +SKIP
    """
    return get_spec(name).build(policy=policy, verifier=verifier, **arguments)
