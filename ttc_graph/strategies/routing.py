"""Round summaries and routing policies: when sampling in rounds stops.

Pure logic, no graph and no model: the rounds loop of the strategies
(:mod:`ttc_graph.strategies.rounds`) and the evaluation's replay of adaptive
(:func:`ttc_graph.evaluation.replay.replay`) both call :func:`summarize` and
:func:`decide`, so a replayed run is the live run by construction.

After each round of samples the question is summarised (:class:`RoundSummary`:
the answer masses, spend, what is left) and a *routing policy* — any function
``RoundSummary -> Decision | route name`` — picks the next route:

- ``"stop"``: answer now (confident, or more samples are not expected to help);
- ``"sample"``: one more round of samples.

:func:`decide` then applies the limits the policy cannot override (samples and
tokens left) and says why in :attr:`Decision.reason`. :func:`posterior` is the one
formula of "how settled is the leading answer", read by early stopping and adaptive.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Literal, cast, get_args

from ttc_graph.errors import InputError, StrategyError
from ttc_graph.limits import check_finite
from ttc_graph.strategies import defaults
from ttc_graph.strategies.selection import group_answers

Route = Literal["stop", "sample"]
ROUTES: tuple[str, ...] = get_args(Route)


@dataclass(frozen=True)
class RoundSummary:
    """What a routing policy sees after each round of one question."""

    round: int
    """Rounds sampled so far (1 after the first)."""
    samples: int
    """Candidates sampled so far."""
    tokens: int
    """Completion tokens spent on this question so far."""
    masses: tuple[float, ...]
    """Summed verifier score of each distinct answer, largest first."""
    total_score: float
    """Summed verifier score of every candidate (those without an answer included)."""
    best_score: float
    """The highest single candidate score."""
    answered: int
    """Candidates with a parseable answer."""
    leading_answer: str | None
    """The answer with the largest mass (``None`` when no candidate has one)."""
    samples_left: int
    """Candidates this question may still sample (``max_samples - samples``)."""
    tokens_left: int | None
    """Tokens this question may still spend (its budget and the shared pool; ``None``:
    no token limit)."""

    def posterior(self, prior: float = defaults.ADAPTIVE_PRIOR) -> float:
        """The leading answer's posterior (:func:`posterior`)."""
        return posterior(self.masses, self.total_score, prior)

    @property
    def distinct_answers(self) -> int:
        """How many different answers the candidates give."""
        return len(self.masses)


@dataclass(frozen=True)
class Decision:
    """A route and why; ``rows`` is the size of the next round (``sample`` only)."""

    route: Route
    reason: str
    rows: int = 0
    budget: bool = False
    """A stop forced by the token budget (the result is then ``budget_limited``)."""


RoutingPolicy = Callable[[RoundSummary], "Decision | str"]
"""Any function of the round summary returning a :class:`Decision` or a route name."""


@dataclass(frozen=True)
class PosteriorRouting:
    """The default routing policy: stop once the verifier-weighted posterior is high.

    ``posterior(prior) >= stop_at``: stop (the answer is settled); otherwise sample
    another round (the budget, or the most samples, decides when that ends).

    The defaults were fitted on the training seed (data seed 100) of the
    arithmetic set with ``benchmarks/adaptive_replay.py --fit``, never on a seed
    the docs report.

    Example:
        >>> PosteriorRouting(stop_at=0.4)(summary)  # doctest: +SKIP
        Decision(route='stop', reason='confident: posterior 0.52 >= 0.40', rows=0)
    """

    stop_at: float = defaults.ADAPTIVE_STOP_AT
    prior: float = defaults.ADAPTIVE_PRIOR

    def __post_init__(self) -> None:
        check_finite(self.stop_at, name="PosteriorRouting.stop_at", low=0.0, high=1.0)
        check_finite(self.prior, name="PosteriorRouting.prior", low=0.0)

    def __call__(self, s: RoundSummary) -> Decision:
        post = s.posterior(self.prior)
        if post >= self.stop_at:
            return Decision("stop", f"confident: posterior {post:.2f} >= {self.stop_at:.2f}")
        return Decision("sample", f"open: posterior {post:.2f} < {self.stop_at:.2f}")


def answer_masses(
    answers: Sequence[str | None], weights: Sequence[float]
) -> tuple[list[float], str | None]:
    """Summed weight of each distinct answer, largest first, and the leading answer.

    Answers are grouped as math-verify equivalents; candidates without an answer
    belong to no group. Ties go to the answer seen first (as the weighted vote).
    """
    mass: dict[int, float] = {}
    first: dict[int, str] = {}
    for g, w, a in zip(group_answers(answers), weights, answers, strict=True):
        if g >= 0 and a is not None:
            mass[g] = mass.get(g, 0.0) + w
            first.setdefault(g, a)
    order = sorted(mass, key=lambda g: (-mass[g], g))
    return [mass[g] for g in order], (first[order[0]] if order else None)


def posterior(masses: Sequence[float], total: float, prior: float) -> float:
    """How settled the leading answer is: its mass over all mass plus ``prior``.

    ``masses`` are the answers' summed weights, largest first; ``total`` is every
    candidate's weight (those without an answer included). With verifier scores as
    weights this is the verifier-weighted posterior, where ``prior`` is pseudo-mass
    for "an answer not seen yet": a handful of low-scored candidates cannot look
    settled. With weights of 1 and ``prior=0`` it is the raw agreement.
    """
    denominator = total + prior
    return masses[0] / denominator if masses and denominator > 0 else 0.0


def summarize(
    answers: Sequence[str | None],
    scores: Sequence[float | None] | None,
    tokens: int,
    *,
    round_: int,
    samples_left: int,
    tokens_left: int | None,
) -> RoundSummary:
    """The :class:`RoundSummary` of a question's candidates so far (scores ``None`` count
    0; no scores at all: every candidate weighs 1)."""
    if scores is None:
        weights = [1.0] * len(answers)
    else:
        weights = [s if s is not None and math.isfinite(s) else 0.0 for s in scores]
    masses, leading = answer_masses(answers, weights)
    return RoundSummary(
        round=round_,
        samples=len(answers),
        tokens=tokens,
        masses=tuple(masses),
        total_score=sum(weights),
        best_score=max(weights, default=0.0),
        answered=sum(a is not None for a in answers),
        leading_answer=leading,
        samples_left=samples_left,
        tokens_left=tokens_left,
    )


def decide(
    policy: RoutingPolicy,
    summary: RoundSummary,
    *,
    round_size: int,
    row_tokens: int,
    strategy: str = "adaptive",
) -> Decision:
    """Ask ``policy`` for a route, then apply the limits: samples, tokens, a whole row.

    A ``sample`` route gets ``rows`` = the next round's size: ``round_size``, or fewer
    where fewer samples or tokens (``row_tokens`` per row, the most one row can
    write) are left; none left turns it into ``stop`` ("budget"). A policy that
    raises, or returns anything but a route, is an error here, never a silent
    fallback (a policy that does not return is bounded by the rounds loop's deadline).
    """
    try:
        raw = policy(summary)
    except Exception as exc:
        raise StrategyError(
            f"{strategy}: the routing policy raised {type(exc).__name__}: {exc}. Fix it, or "
            "pass routing=PosteriorRouting() (the default).",
            strategy=strategy,
            iteration=summary.round,
            node="route",
        ) from exc
    decision: Decision | None = None
    if isinstance(raw, Decision):
        decision = raw
    elif isinstance(raw, str):
        decision = Decision(cast(Route, raw), f"policy chose {raw}")
    if decision is None or decision.route not in ROUTES:
        got = decision.route if decision is not None else raw
        raise InputError(
            f"{strategy}: the routing policy returned {got!r}; return one of "
            f"{', '.join(ROUTES)} (or a Decision with one of them)."
        )
    if decision.route == "stop":
        return decision
    fit = summary.tokens_left // row_tokens if summary.tokens_left is not None else round_size
    rows = min(round_size, summary.samples_left, fit)
    if summary.samples_left < 1:
        return Decision("stop", f"done: {summary.samples} samples, the most allowed")
    if rows < 1:
        return Decision(
            "stop",
            f"budget: {summary.tokens_left} tokens left, under one row of {row_tokens} "
            f"({decision.reason})",
            budget=True,
        )
    return replace(decision, rows=rows)
