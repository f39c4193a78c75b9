"""Which options a strategy takes, how they combine, and how a graph checks them per run.

An :class:`OptionSet` names the options of :data:`~ttc_graph.strategies.options.OPTIONS`
one strategy takes, with the check of how they combine (``n`` a multiple of
``beam_width``, ...). :func:`context_schema` turns a set and a graph's defaults (its
factory's arguments) into the graph's ``context_schema``: a dataclass whose constructor
refuses an unknown option, a wrong type or a bad combination with one line naming the
option and the strategy's options, before the graph runs.

No LangGraph or pydantic at import (the registry, and so the CLI's parser, reads the
option sets).
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from ttc_graph.errors import InputError, LimitError
from ttc_graph.strategies.options import OPTIONS, SearchConfig

if TYPE_CHECKING:
    from ttc_graph.policy.base import SamplingParams
    from ttc_graph.strategies.config import Budget, EarlyStop


Check = Callable[[SearchConfig, bool], None]
"""Checks how a run's options combine; the bool says whether the graph has a verifier."""


@dataclass(frozen=True)
class OptionSet:
    """The options one strategy takes, and the check of how they combine."""

    names: tuple[str, ...]
    check: Check

    def __post_init__(self) -> None:
        unknown = [name for name in self.names if name not in OPTIONS]
        if unknown:
            raise InputError(
                f"Unknown option(s) {', '.join(unknown)}; options are defined in "
                "ttc_graph.strategies.options.OPTIONS."
            )

    def defaults(self, **overrides: Any) -> dict[str, Any]:
        """Each option's default, with ``overrides`` (a factory's arguments) applied."""
        return {name: overrides.get(name, OPTIONS[name].default) for name in self.names}


def check_verifier_selection(cfg: SearchConfig, verifier: bool) -> None:
    """A ranking selection needs a verifier (majority voting does not)."""
    if not verifier and cfg.selection != "majority":
        raise InputError(
            f"{cfg.strategy} with selection={cfg.selection!r} ranks candidates by score and needs "
            "a verifier, e.g. verifier=GroundedVerifier(); selection='majority' needs none."
        )


def check_common(cfg: SearchConfig, verifier: bool) -> None:
    """Options every strategy shares need no combined check."""


def check_best_of_n(cfg: SearchConfig, verifier: bool) -> None:
    """Best-of-N: a ranking selection needs a verifier; early stop needs a vote and rounds."""
    check_verifier_selection(cfg, verifier)
    if cfg.early_stop_round is None:
        return
    if cfg.early_stop_by == "posterior" and (cfg.selection == "majority" or not verifier):
        raise InputError(
            f"{cfg.strategy}: early_stop_by='posterior' weighs answers by the verifier; use "
            "selection='weighted' with a verifier, or early_stop_by='agreement'."
        )
    if cfg.selection == "vanilla":
        raise InputError(
            f"{cfg.strategy}: early stopping ends a vote when the answers agree; use "
            "selection='majority' or 'weighted' (vanilla picks the top score, which agreement "
            "says nothing about)."
        )
    if cfg.early_stop_round >= cfg.n:
        raise InputError(
            f"{cfg.strategy}: early_stop_round ({cfg.early_stop_round}) must be smaller than n "
            f"({cfg.n}), or there is only one round and nothing to stop early."
        )


def check_steps(
    n: int, beam_width: int, *, names: tuple[str, str] = ("n", "beam_width"), where: str = ""
) -> None:
    """``n`` must split evenly into beams of ``beam_width``."""
    n_name, width_name = names
    prefix = f"{where}: " if where else ""
    if beam_width > n:
        raise InputError(
            f"{prefix}{width_name} ({beam_width}) cannot exceed {n_name} ({n}); lower "
            f"{width_name} to {n} or less, or raise {n_name}."
        )
    if n % beam_width:
        raise InputError(
            f"{prefix}{n_name} ({n}) must be a multiple of {width_name} ({beam_width}); try "
            f"{n_name}={n - n % beam_width or beam_width} or "
            f"{n_name}={n + beam_width - n % beam_width}."
        )


def check_step_search(cfg: SearchConfig, verifier: bool) -> None:
    """Beam search and DVTS: beams of ``beam_width`` that divide ``n``; a verifier guides them."""
    if not verifier:
        raise InputError(
            f"{cfg.strategy} scores every step and needs a verifier, e.g. "
            "verifier=GroundedVerifier() or load_prm('<path>')."
        )
    check_steps(cfg.n, cfg.beam_width, where=cfg.strategy)


def check_particle_filter(cfg: SearchConfig, verifier: bool) -> None:
    """Particle filter: a verifier to weight particles by, and more than one particle."""
    if not verifier:
        raise InputError(
            f"{cfg.strategy} weights its particles by the verifier's scores and needs a "
            "verifier, e.g. verifier=GroundedVerifier() or load_prm('<path>')."
        )
    if cfg.n < 2:
        raise InputError(
            f"{cfg.strategy}: n must be at least 2 particles, got {cfg.n}: one particle has "
            "nothing to be resampled against (that is greedy step sampling)."
        )


def check_adaptive(cfg: SearchConfig, verifier: bool) -> None:
    """Adaptive: a verifier to route by, and a token budget that holds one first round."""
    if not verifier:
        raise InputError(
            f"{cfg.strategy} routes by the verifier's scores; pass verifier=... "
            "(e.g. load_verifier('grounded'))."
        )
    first = min(cfg.round_size, cfg.n) * cfg.max_new_tokens
    if cfg.budget_tokens is not None and cfg.budget_tokens < first:
        raise InputError(
            f"{cfg.strategy}: budget_tokens={cfg.budget_tokens} is smaller than one first round "
            f"({first} = {min(cfg.round_size, cfg.n)} samples × max_new_tokens "
            f"{cfg.max_new_tokens}); raise the budget or lower round_size / max_new_tokens."
        )


COMMON = (
    "seed",
    "temperature",
    "top_p",
    "max_new_tokens",
    "budget_tokens",
    "budget_seconds",
    "system_prompt",
    "aggregation",
    "step_delimiter",
)
"""Options of every sampling strategy."""
EARLY_STOP = ("early_stop_round", "early_stop_agreement", "early_stop_by", "early_stop_prior")

GREEDY = OptionSet(
    (
        "seed",
        "max_new_tokens",
        "budget_tokens",
        "budget_seconds",
        "system_prompt",
        "step_delimiter",
    ),
    check_common,
)
"""One temperature-0 sample: nothing to sample or select. ``seed`` changes nothing at
temperature 0; it is taken so that one seed can go to every strategy."""
BEST_OF_N = OptionSet(("n", "selection", *COMMON, *EARLY_STOP), check_best_of_n)
BEAM_SEARCH = OptionSet(
    ("n", "beam_width", "max_steps", "lookahead", "selection", *COMMON), check_step_search
)
DVTS = OptionSet(
    ("n", "beam_width", "max_steps", "lookahead", "selection", *COMMON), check_step_search
)
PARTICLE_FILTER = OptionSet(
    (
        "n",
        "max_steps",
        "pf_temperature",
        "resampling",
        "lookahead",
        "selection",
        *COMMON,
    ),
    check_particle_filter,
)
ADAPTIVE = OptionSet(("n", "round_size", *COMMON), check_adaptive)
SELF_REFINE = OptionSet(("max_rounds", "threshold", *COMMON), check_common)


def option_defaults(
    *,
    sampling: SamplingParams | None = None,
    budget: Budget | None = None,
    early_stop: EarlyStop | None = None,
) -> dict[str, Any]:
    """The flat option values that a factory's ``sampling``, ``budget`` and ``early_stop``
    objects stand for (what is not given is left out)."""
    from ttc_graph.policy.base import SamplingParams
    from ttc_graph.strategies.config import Budget, EarlyStop

    values: dict[str, Any] = {}
    if sampling is not None:
        if not isinstance(sampling, SamplingParams):
            raise LimitError(
                "sampling must be ttc_graph.policy.SamplingParams(temperature=..., "
                f"max_new_tokens=...), got {type(sampling).__name__}."
            )
        values.update(
            temperature=sampling.temperature,
            top_p=sampling.top_p,
            max_new_tokens=sampling.max_new_tokens,
        )
    if budget is not None:
        if not isinstance(budget, Budget):
            raise InputError("budget must be ttc_graph.Budget(max_tokens=..., max_seconds=...).")
        values.update(budget_tokens=budget.max_tokens, budget_seconds=budget.max_seconds)
    if early_stop is not None:
        if not isinstance(early_stop, EarlyStop):
            raise InputError(
                "early_stop must be an EarlyStop(round_size=..., agreement=...) from ttc_graph."
            )
        values.update(
            early_stop_round=early_stop.round_size,
            early_stop_agreement=early_stop.agreement,
            early_stop_by=early_stop.by,
            early_stop_prior=early_stop.prior,
        )
    return values


def fixed_config(sampling: SamplingParams | None, **values: Any) -> dict[str, Any]:
    """Config a graph fixes when it is built: the stop strings of the factory's
    ``sampling``, and ``values`` (``step_wise=True``, greedy's ``temperature=0.0``)."""
    return {"stop": tuple(sampling.stop) if sampling is not None else (), **values}


def factory_arguments(values: Mapping[str, Any]) -> dict[str, Any]:
    """Factory keyword arguments for flat option ``values``: the inverse of
    :func:`option_defaults` (``temperature`` goes into ``sampling``, and so on)."""
    from ttc_graph.policy.base import SamplingParams
    from ttc_graph.strategies.config import Budget, EarlyStop

    plain: dict[str, Any] = {}
    grouped: dict[str, dict[str, Any]] = {}
    for name, value in values.items():
        option = OPTIONS.get(name)
        if option is None:
            raise InputError(f"Unknown option {name!r}; options are: {', '.join(OPTIONS)}.")
        if option.factory_arg is None:
            plain[name] = value
        else:
            grouped.setdefault(option.factory_arg, {})[name] = value
    if "sampling" in grouped:
        plain["sampling"] = SamplingParams(**grouped["sampling"])
    if "budget" in grouped:
        b = grouped["budget"]
        if b.get("budget_tokens") is not None or b.get("budget_seconds") is not None:
            plain["budget"] = Budget(b.get("budget_tokens"), b.get("budget_seconds"))
    if "early_stop" in grouped:
        e = grouped["early_stop"]
        if e.get("early_stop_round") is not None:
            fields = {k.removeprefix("early_stop_"): v for k, v in e.items()}
            plain["early_stop"] = EarlyStop(round_size=fields.pop("round"), **fields)
    return plain


class RunOptions:
    """Base of every graph's ``context_schema`` (made by :func:`context_schema`).

    Constructed from keyword options (LangGraph does so from ``context={...}``); an
    unknown option, a wrong type or a bad combination is an :class:`InputError` that
    names the option and lists the strategy's options, raised before the graph runs.
    """

    __dataclass_fields__: ClassVar[dict[str, Any]]
    strategy: ClassVar[str]
    option_set: ClassVar[OptionSet]
    fixed: ClassVar[Mapping[str, Any]]
    """Config values the strategy does not take as options (greedy's temperature 0)."""
    has_verifier: ClassVar[bool]

    def __init__(self, **values: Any) -> None:
        names = self.option_set.names
        unknown = [key for key in values if key not in names]
        if unknown:
            raise InputError(unknown_option(self.strategy, unknown[0], names))
        for f in dataclasses.fields(self):
            value = values.get(f.name, f.default)
            object.__setattr__(self, f.name, OPTIONS[f.name].check(f.name, value, self.strategy))
        self.option_set.check(self.config(), self.has_verifier)

    def config(self) -> SearchConfig:
        """The :class:`SearchConfig` of a run with these options."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return SearchConfig(strategy=self.strategy, **self.fixed, **values)

    def values(self) -> dict[str, Any]:
        """The options as a dict (every option the strategy takes)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def replace(self, **changes: Any) -> RunOptions:
        """These options with ``changes``, checked again."""
        return type(self)(**{**self.values(), **changes})


def unknown_option(strategy: str, name: str, names: tuple[str, ...]) -> str:
    """The message for an option ``strategy`` does not take (with a near spelling, if any)."""
    close = difflib.get_close_matches(name, names, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"{strategy} takes no option {name!r}{hint}; its options: {', '.join(names)}."


def context_schema(
    strategy: str,
    option_set: OptionSet,
    values: Mapping[str, Any],
    *,
    verifier: bool,
    fixed: Mapping[str, Any] | None = None,
) -> type[RunOptions]:
    """A graph's ``context_schema``: ``option_set``'s options with ``values`` as defaults.

    ``values`` are the factory's arguments in flat form; they are checked here, so a
    bad factory argument fails when the graph is built. The class is a dataclass, so
    LangGraph coerces ``context={...}`` into it and a LangGraph server shows its JSON
    schema (types, defaults, limits, help) as the graph's options.
    """
    from typing import Annotated

    from pydantic import Field

    defaults_ = option_set.defaults(**values)
    fields = []
    for name in option_set.names:
        option = OPTIONS[name]
        kind: Any = option.type
        if option.choices:
            kind = Literal[option.choices]
        if option.nullable:
            kind = kind | None
        limits: dict[str, Any] = {}
        if option.low is not None:
            limits["gt" if option.low_open else "ge"] = option.low
        if option.high is not None:
            limits["le"] = option.high
        annotation = Annotated[kind, Field(description=option.help, **limits)]
        fields.append((name, annotation, dataclasses.field(default=defaults_[name])))
    title = "".join(part.title() for part in strategy.replace("-", "_").split("_")) + "Options"
    cls = dataclasses.make_dataclass(
        title,
        fields,
        bases=(RunOptions,),
        frozen=True,
        init=False,
        namespace={
            "strategy": strategy,
            "option_set": option_set,
            "fixed": dict(fixed or {}),
            "has_verifier": verifier,
            "__doc__": f"Per-run options of {strategy} (LangGraph runtime context).",
            "__module__": __name__,
        },
    )
    cls()  # the defaults themselves must pass: a bad factory argument fails now
    return cls
