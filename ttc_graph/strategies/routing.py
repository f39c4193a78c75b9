"""Routing of the adaptive strategy: round summaries, routing policies, a shared token pool.

Pure logic, no graph and no model: the adaptive graph
(:func:`ttc_graph.strategies.create_adaptive`) and the evaluation's replay of it
(:func:`replay`) both call :func:`summarize` and :func:`decide`, so a replayed
run is the live run by construction.

After each round of samples the question is summarised (:class:`RoundSummary`:
the verifier-weighted answer masses, spend, what is left) and a *routing policy*
— any function ``RoundSummary -> Decision | route name`` — picks the next route:

- ``"stop"``: answer now (confident, or more samples are not expected to help);
- ``"sample"``: one more round of samples;
- ``"search"``: spend what is left on a step-level search (beam search).

:func:`decide` then applies the limits the policy cannot override (samples and
tokens left, the shared pool) and says why in :attr:`Decision.reason`.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Literal, cast, get_args

from ttc_graph.errors import InputError, StrategyError
from ttc_graph.limits import check_count, check_finite
from ttc_graph.strategies import defaults
from ttc_graph.strategies.config import answer_masses

Route = Literal["stop", "sample", "search"]
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
        """The leading answer's verifier-weighted posterior, ``mass / (Σ score + prior)``.

        ``prior`` is pseudo-mass for "an answer not seen yet": with it a handful of
        low-scored candidates cannot look settled (see :class:`ttc_graph.EarlyStop`).
        """
        total = self.total_score + prior
        return self.masses[0] / total if self.masses and total > 0 else 0.0

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

    - ``posterior(prior) >= stop_at``: stop (the answer is settled);
    - ``search_below`` set, at least ``search_after`` rounds done and
      ``posterior < search_below``: escalate to step-level search (off by
      default: on the measured arithmetic set beam search lost to more samples,
      see docs/strategies.md, "Compute-optimal scaling");
    - otherwise sample another round (the budget decides when that ends).

    The defaults were fitted on the training seed (data seed 100) of the
    arithmetic set with ``benchmarks/adaptive_replay.py --fit``, never on the
    held-out seed the docs report.

    Example:
        >>> PosteriorRouting(stop_at=0.4)(summary)  # doctest: +SKIP
        Decision(route='stop', reason='confident: posterior 0.52 >= 0.40', rows=0)
    """

    stop_at: float = defaults.ADAPTIVE_STOP_AT
    prior: float = defaults.ADAPTIVE_PRIOR
    search_below: float | None = None
    search_after: int = 2

    def __post_init__(self) -> None:
        check_finite(self.stop_at, name="PosteriorRouting.stop_at", low=0.0, high=1.0)
        check_finite(self.prior, name="PosteriorRouting.prior", low=0.0)
        if self.search_below is not None:
            check_finite(self.search_below, name="PosteriorRouting.search_below", low=0.0, high=1.0)
        check_count(self.search_after, name="PosteriorRouting.search_after", limit=10**6, why="")

    def __call__(self, s: RoundSummary) -> Decision:
        post = s.posterior(self.prior)
        if post >= self.stop_at:
            return Decision("stop", f"confident: posterior {post:.2f} >= {self.stop_at:.2f}")
        if (
            self.search_below is not None
            and s.round >= self.search_after
            and post < self.search_below
        ):
            return Decision(
                "search",
                f"hard: posterior {post:.2f} < {self.search_below:.2f} after {s.round} rounds",
            )
        return Decision("sample", f"open: posterior {post:.2f} < {self.stop_at:.2f}")


def summarize(
    answers: Sequence[str | None],
    scores: Sequence[float | None],
    tokens: int,
    *,
    round_: int,
    samples_left: int,
    tokens_left: int | None,
) -> RoundSummary:
    """The :class:`RoundSummary` of a question's candidates so far (scores ``None`` count 0)."""
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
    write) are left; none left turns it into ``stop`` ("budget"). A ``search`` route
    with fewer tokens left than one row stops too. A policy that raises, or returns
    anything but a route, is an error here — never a silent fallback, never a hang.
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
    if decision.route == "search":
        if fit < 1:
            return Decision(
                "stop", f"budget: {summary.tokens_left} tokens left, under one row", budget=True
            )
        return replace(decision, rows=0)
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


class TokenPool:
    """A token budget shared by a batch of ``questions`` questions.

    ``tokens_per_question × questions`` tokens in all. Each question's first round
    is set aside up front, so no question is starved of its first look; every
    later round takes from what is left, and a question that stops early leaves
    its unspent share to those still open. Thread-safe: pass one pool to the
    graph and run ``graph.batch(questions)``. Made for one batch: a pool refuses
    a question beyond ``questions``.

    Which open question gets the last tokens depends on the order their rounds
    ask (in :func:`replay`, round-robin in dataset order; in a threaded batch,
    whichever asks first), so a pooled batch is reproducible as a whole only in
    replay; every question's own candidates are the same either way.

    Example:
        >>> pool = TokenPool(tokens_per_question=500, questions=len(questions))
        >>> graph = create_adaptive(policy=p, verifier=v, budget=pool)  # doctest: +SKIP
        >>> results = graph.batch([{"question": q} for q in questions])  # doctest: +SKIP
    """

    def __init__(self, *, tokens_per_question: int, questions: int) -> None:
        check_count(
            tokens_per_question, name="tokens_per_question", limit=2**40, why="a token count"
        )
        check_count(questions, name="questions", limit=2**20, why="one pool per batch")
        self.tokens_per_question = tokens_per_question
        self.questions = questions
        self.total = tokens_per_question * questions
        self._spent = 0
        self._reserved = 0
        self._started = 0
        self._first_round = 0
        self._lock = threading.Lock()

    def set_first_round(self, tokens: int) -> None:
        """The most one question's first round can cost (set by the graph)."""
        if tokens > self.tokens_per_question:
            raise InputError(
                f"The pool gives {self.tokens_per_question} tokens per question, fewer than "
                f"one first round ({tokens}: round_size × max_new_tokens); raise "
                "tokens_per_question or lower round_size / max_new_tokens."
            )
        with self._lock:
            self._first_round = max(self._first_round, tokens)

    @property
    def spent(self) -> int:
        """Tokens spent so far."""
        return self._spent

    def available(self) -> int:
        """Tokens a later round may take now (first rounds not yet run are set aside)."""
        with self._lock:
            return self._available()

    def _available(self) -> int:
        aside = (self.questions - self._started) * self._first_round
        return max(0, self.total - self._spent - self._reserved - aside)

    def start(self, tokens: int) -> None:
        """Reserve a question's first round (always granted: it was set aside)."""
        with self._lock:
            if self._started >= self.questions:
                raise InputError(
                    f"This TokenPool was made for {self.questions} questions and all have "
                    "started; make one pool per batch (questions=len(batch))."
                )
            self._started += 1
            self._reserved += tokens

    def reserve(self, tokens: int) -> int:
        """Reserve up to ``tokens`` for a later round; returns what was granted."""
        with self._lock:
            granted = min(tokens, self._available())
            self._reserved += granted
            return granted

    def settle(self, reserved: int, used: int) -> None:
        """A round reserved ``reserved`` tokens and used ``used``: the rest goes back."""
        with self._lock:
            self._reserved -= reserved
            self._spent += used


@dataclass(frozen=True)
class Sample:
    """One stored candidate as :func:`replay` needs it."""

    answer: str | None
    score: float | None
    tokens: int


@dataclass(frozen=True)
class ReplayResult:
    """A replayed adaptive run on one question: its samples and route decisions."""

    samples: int
    tokens: int
    decisions: tuple[Decision, ...]


def replay(
    pools: Sequence[Sequence[Sample]],
    *,
    routing: RoutingPolicy,
    round_size: int,
    row_tokens: int,
    tokens_per_question: int,
    shared: bool = True,
    max_samples: int | None = None,
) -> list[ReplayResult]:
    """What the adaptive strategy does on each question, from stored samples.

    ``pools[q]`` are question ``q``'s candidates in sampling order (those of a
    seeded best-of-N run, which the adaptive graph samples in the same order
    with the same seeds). With ``shared`` the budget is one :class:`TokenPool`
    over all questions, served round-robin in order; otherwise each question has
    ``tokens_per_question`` alone. The chosen answer is the weighted vote over
    the first ``samples`` candidates.
    """
    cap = max_samples if max_samples is not None else min(len(p) for p in pools)
    first = min(round_size, cap)
    pool = TokenPool(tokens_per_question=tokens_per_question, questions=len(pools) if shared else 1)
    pool.set_first_round(first * row_tokens)
    taken = [0] * len(pools)
    spent = [0] * len(pools)
    decisions: list[list[Decision]] = [[] for _ in pools]
    open_ = list(range(len(pools)))

    def run_round(q: int, rows: int, reserved: int, own: TokenPool) -> None:
        used = sum(s.tokens for s in pools[q][taken[q] : taken[q] + rows])
        taken[q] += rows
        spent[q] += used
        own.settle(reserved, used)

    own_pools = (
        [pool] * len(pools)
        if shared
        else [_private(tokens_per_question, first * row_tokens) for _ in pools]
    )
    for q in open_:
        own_pools[q].start(first * row_tokens)
        run_round(q, first, first * row_tokens, own_pools[q])
    while open_:
        still = []
        for q in open_:
            own = own_pools[q]
            rows_so_far = pools[q][: taken[q]]
            summary = summarize(
                [s.answer for s in rows_so_far],
                [s.score for s in rows_so_far],
                spent[q],
                round_=len(decisions[q]) + 1,
                samples_left=cap - taken[q],
                tokens_left=own.available(),
            )
            d = decide(routing, summary, round_size=round_size, row_tokens=row_tokens)
            if d.route == "search":
                raise InputError(
                    "replay cannot run a step-level search from stored samples; evaluate a "
                    "routing policy that escalates to search with live runs."
                )
            if d.route == "sample":
                reserved = own.reserve(d.rows * row_tokens)
                run_round(q, d.rows, reserved, own)
                still.append(q)
            decisions[q].append(d)
        open_ = still
    return [
        ReplayResult(samples=taken[q], tokens=spent[q], decisions=tuple(decisions[q]))
        for q in range(len(pools))
    ]


def _private(tokens: int, first_round: int) -> TokenPool:
    pool = TokenPool(tokens_per_question=tokens, questions=1)
    pool.set_first_round(first_round)
    return pool
