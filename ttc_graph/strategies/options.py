"""Per-run options of the strategies: every option defined once, checked before any generation.

A strategy graph takes its options in LangGraph's runtime context::

    graph.invoke({"question": "..."}, context={"n": 4, "seed": 1, "max_new_tokens": 64})

:data:`OPTIONS` is the one table of them: type, default, limits and the line of help
that the CLI, the OpenAI server, LangGraph Studio (the context's JSON schema) and
the docs show. An :class:`OptionSet` names the options one strategy takes and checks
how they combine (``n`` a multiple of ``beam_width``, ...). :func:`context_schema`
turns a set and a graph's defaults (its factory's arguments) into the graph's
``context_schema``: a dataclass whose constructor refuses an unknown option, a wrong
type or a bad combination with one line naming the option and the strategy's options.
Options resolve into one flat :class:`SearchConfig`, which the nodes read.

This module loads neither LangGraph nor pydantic (the CLI's parser reads the table).
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal, get_args

from ttc_graph.errors import InputError, LimitError
from ttc_graph.limits import MAX_N, MAX_NEW_TOKENS, N_WHY, TOKENS_WHY
from ttc_graph.policy.base import DEFAULT_STEP_DELIMITER
from ttc_graph.prompts import DEFAULT_SYSTEM_PROMPT
from ttc_graph.strategies import defaults
from ttc_graph.verifiers.aggregation import AGGREGATIONS

if TYPE_CHECKING:
    from ttc_graph.policy.base import SamplingParams
    from ttc_graph.strategies.config import Budget, EarlyStop

Selection = Literal["vanilla", "weighted", "majority"]
SELECTIONS: tuple[str, ...] = get_args(Selection)
EARLY_STOP_BY = ("auto", "posterior", "agreement")
MAX_STEPS = 1024
"""Most iterations of a step search: a bound on the graph's recursion, far above use."""
MAX_ROUNDS = 64
"""Most refinement rounds of self-refinement."""


@dataclass(frozen=True)
class Option:
    """One per-run option: its type, default, limits and help line."""

    type: type
    default: Any
    help: str
    nullable: bool = False
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    """``low`` itself is refused (``top_p > 0``)."""
    choices: tuple[str, ...] = ()
    factory_arg: str | None = None
    """The factory argument whose object holds it (``sampling``, ``budget``, ``early_stop``);
    ``None``: the factory argument of the same name."""
    why: str = ""
    """Why the upper limit exists (said when a value is over it)."""

    def check(self, name: str, value: Any, where: str) -> Any:
        """``value`` if it is right for this option, else a :class:`LimitError` naming it."""
        label = f"{where}: option {name!r}"
        if value is None:
            if self.nullable:
                return None
            raise LimitError(f"{label} cannot be None; leave it out for the default.")
        if self.type is int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise LimitError(
                    f"{label} must be an integer, got {value!r} ({type(value).__name__})."
                )
        elif self.type is float:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise LimitError(
                    f"{label} must be a number, got {value!r} ({type(value).__name__})."
                )
            if not math.isfinite(value):
                raise LimitError(f"{label} must be a finite number, got {value!r}.")
            value = float(value)
        elif not isinstance(value, str):
            raise LimitError(f"{label} must be a string, got {value!r} ({type(value).__name__}).")
        if self.choices and value not in self.choices:
            raise LimitError(f"{label} must be one of {', '.join(self.choices)}, got {value!r}.")
        if self.type is str and not self.choices and not value:
            raise LimitError(f"{label} must be a non-empty string.")
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            relation = ">" if self.low_open else ">="
            raise LimitError(f"{label} must be {relation} {self.low:g}, got {value!r}.")
        if self.high is not None and value > self.high:
            high = int(self.high) if float(self.high).is_integer() else self.high
            if self.why:
                raise LimitError(f"{label} is {value:,}, above the limit of {high:,}: {self.why}.")
            raise LimitError(f"{label} must be <= {high:,}, got {value!r}.")
        return value


OPTIONS: dict[str, Option] = {
    "n": Option(
        int,
        defaults.N,
        "candidates: samples (best-of-N), next steps per iteration (beam search, DVTS), "
        "most samples (adaptive)",
        low=1,
        high=MAX_N,
        why=N_WHY,
    ),
    "selection": Option(
        str,
        "vanilla",
        "how the answer is picked: vanilla (top score), weighted (summed score per answer), "
        "majority (most frequent answer)",
        choices=SELECTIONS,
    ),
    "beam_width": Option(
        int,
        defaults.BEAM_WIDTH,
        "expansions per kept beam; n / beam_width beams",
        low=1,
        high=MAX_N,
    ),
    "max_steps": Option(
        int, defaults.MAX_STEPS, "iterations of a step search", low=1, high=MAX_STEPS
    ),
    "lookahead": Option(
        int, 0, "greedy steps rolled out past each candidate before it is scored", low=0, high=64
    ),
    "round_size": Option(
        int, defaults.ADAPTIVE_ROUND, "candidates per round of samples", low=1, high=MAX_N
    ),
    "max_rounds": Option(
        int, defaults.MAX_ROUNDS, "refinements after the draft", low=1, high=MAX_ROUNDS
    ),
    "threshold": Option(
        float, 0.9, "stop refining once the best version scores this much", low=0.0, high=1.0
    ),
    "temperature": Option(
        float,
        0.8,
        "sampling temperature (0: greedy)",
        low=0.0,
        factory_arg="sampling",
    ),
    "top_p": Option(
        float,
        1.0,
        "nucleus sampling mass",
        low=0.0,
        low_open=True,
        high=1.0,
        factory_arg="sampling",
    ),
    "max_new_tokens": Option(
        int,
        256,
        "most tokens per solution (per step in a step search)",
        low=1,
        high=MAX_NEW_TOKENS,
        factory_arg="sampling",
        why=TOKENS_WHY,
    ),
    "seed": Option(int, None, "fixes the samples; null draws a fresh seed per run", nullable=True),
    "budget_tokens": Option(
        int,
        None,
        "stop at this many generated tokens and answer with what was found",
        nullable=True,
        low=1,
        high=2**62,
        factory_arg="budget",
        why="a token count must fit in 64 bits",
    ),
    "budget_seconds": Option(
        float,
        None,
        "stop generating after this many seconds and answer with what was found",
        nullable=True,
        low=0.0,
        low_open=True,
        factory_arg="budget",
    ),
    "early_stop_round": Option(
        int,
        None,
        "sample in rounds of this many and stop once the answer is settled (null: off)",
        nullable=True,
        low=1,
        high=MAX_N,
        factory_arg="early_stop",
    ),
    "early_stop_agreement": Option(
        float,
        0.75,
        "early stop: the leading answer's share that settles it",
        low=0.0,
        low_open=True,
        high=1.0,
        factory_arg="early_stop",
    ),
    "early_stop_by": Option(
        str,
        "auto",
        "early stop: posterior (verifier-weighted), agreement (raw share) or auto",
        choices=EARLY_STOP_BY,
        factory_arg="early_stop",
    ),
    "early_stop_prior": Option(
        float,
        1.0,
        "early stop: pseudo-mass of an answer not seen yet",
        low=0.0,
        factory_arg="early_stop",
    ),
    "aggregation": Option(
        str,
        None,
        "how step scores fold into a candidate score (null: the verifier's own)",
        nullable=True,
        choices=AGGREGATIONS,
    ),
    "system_prompt": Option(
        str,
        DEFAULT_SYSTEM_PROMPT,
        "prepended unless the input brings its own system message (null: none)",
        nullable=True,
    ),
    "step_delimiter": Option(str, DEFAULT_STEP_DELIMITER, "what separates steps"),
}
"""Every per-run option of every strategy, by name."""


@dataclass(frozen=True)
class SearchConfig:
    """Everything a strategy's nodes need to know about one run: its options resolved.

    Flat and made of plain values, so a run stores it in its state (a resumed run goes
    on with the options it started with) and any checkpointer can write it.
    """

    strategy: str
    n: int = defaults.N
    selection: str = "vanilla"
    beam_width: int = 1
    max_steps: int = 1
    lookahead: int = 0
    round_size: int = defaults.ADAPTIVE_ROUND
    max_rounds: int = defaults.MAX_ROUNDS
    threshold: float = 0.9
    temperature: float = 0.8
    top_p: float = 1.0
    max_new_tokens: int = 256
    stop: tuple[str, ...] = ()
    """Stop strings of the factory's ``sampling`` (not a per-run option)."""
    step_wise: bool = False
    """A step search: generation also stops at ``step_delimiter``."""
    seed: int | None = None
    budget_tokens: int | None = None
    budget_seconds: float | None = None
    early_stop_round: int | None = None
    early_stop_agreement: float = 0.75
    early_stop_by: str = "auto"
    early_stop_prior: float = 1.0
    aggregation: str | None = None
    system_prompt: str | None = DEFAULT_SYSTEM_PROMPT
    step_delimiter: str = DEFAULT_STEP_DELIMITER

    def __post_init__(self) -> None:
        # A checkpoint gives a list back where a tuple went in.
        object.__setattr__(self, "stop", tuple(self.stop))

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> SearchConfig:
        """The config a run stored in its state (:meth:`to_dict`)."""
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """Plain values, as stored in a run's state."""
        return {**dataclasses.asdict(self), "stop": list(self.stop)}

    @property
    def sampling(self) -> SamplingParams:
        """The sampling parameters of one solution (or step)."""
        from ttc_graph.policy.base import SamplingParams

        stop = self.stop
        if self.step_wise and self.step_delimiter not in stop:
            stop = (*stop, self.step_delimiter)
        return SamplingParams(
            temperature=self.temperature,
            top_p=self.top_p,
            max_new_tokens=self.max_new_tokens,
            stop=stop,
        )

    @property
    def budget(self) -> Budget | None:
        """The run's token / time budget, if it has one."""
        if self.budget_tokens is None and self.budget_seconds is None:
            return None
        from ttc_graph.strategies.config import Budget

        return Budget(max_tokens=self.budget_tokens, max_seconds=self.budget_seconds)

    @property
    def early_stop(self) -> EarlyStop | None:
        """The run's early stop, if it samples in rounds."""
        if self.early_stop_round is None:
            return None
        from ttc_graph.strategies.config import EarlyStop

        return EarlyStop(
            round_size=self.early_stop_round,
            agreement=self.early_stop_agreement,
            by=self.early_stop_by,  # type: ignore[arg-type]  # checked by OPTIONS
            prior=self.early_stop_prior,
        )


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
DVTS = OptionSet(("n", "beam_width", "max_steps", "selection", *COMMON), check_step_search)
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
