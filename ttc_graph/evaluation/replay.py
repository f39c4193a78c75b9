"""Adaptive replayed from stored samples: what it would do on each question, no model.

The adaptive graph samples candidate ``k`` of a question with best-of-N's seed for
candidate ``k``, so a seeded best-of-N sample holds every candidate an adaptive run
would draw, in order; :func:`replay` walks the routing policy over them with the same
:func:`~ttc_graph.strategies.routing.summarize` and
:func:`~ttc_graph.strategies.routing.decide` the graph calls, so a replayed run is the
live run by construction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ttc_graph.strategies.pool import TokenPool
from ttc_graph.strategies.routing import Decision, RoutingPolicy, decide, summarize


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
