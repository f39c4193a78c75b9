"""The per-run options of the strategies, each defined once, and the config they resolve to.

A strategy graph takes its options in LangGraph's runtime context::

    graph.invoke({"question": "..."}, context={"n": 4, "seed": 1, "max_new_tokens": 64})

:data:`OPTIONS` is the one table of them: type, default, limits and the line of help
that the CLI, the OpenAI server, LangGraph Studio (the context's JSON schema) and the
docs show. A run's options resolve into one flat :class:`SearchConfig`, which the
nodes read. Which options a strategy takes, how they combine and how a graph checks
them per run is :mod:`ttc_graph.strategies.context`.

This module loads neither LangGraph nor pydantic (the CLI's parser reads the table).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, get_args

from ttc_graph.errors import LimitError
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
RESAMPLING = ("systematic", "multinomial")
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
    "pf_temperature": Option(
        float,
        1.0,
        "particle filter: softmax temperature of the verifier scores that weight resampling",
        low=0.0,
        low_open=True,
        high=1e6,
    ),
    "resampling": Option(
        str,
        "systematic",
        "particle filter: how unfinished particles are resampled (systematic or multinomial)",
        choices=RESAMPLING,
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
    pf_temperature: float = 1.0
    resampling: str = "systematic"
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
