"""Unparsable answers, no model: they vote by their text, also from many worker threads
at once. (Hostile input on the embedded model: tests/integration/test_reliability_input.py.)"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from ttc_graph import answers_equal
from ttc_graph.strategies.selection import group_answers, select
from ttc_graph.strategies.state import Candidate


def _candidate(answer: str | None, score: float) -> Candidate:
    return Candidate(
        id=str(answer),
        text=str(answer),
        steps=[str(answer)],
        step_scores=[score],
        score=score,
        answer=answer,
        finish_reason="eos",
        completion_tokens=1,
        group=0,
    )


UNPARSABLE = ["\\frac{1}{", "}{", "\\sqrt[", "∞∞", "{{{", "\\frac{1}{", "\\begin{matrix", "$$"]


def test_unparsable_answers_vote_by_their_text() -> None:
    candidates = [_candidate(a, 0.5) for a in UNPARSABLE] + [_candidate(None, 0.9)]
    assert select(candidates, "majority") == 0, "the twice-written '\\frac{1}{' wins the vote"
    assert select(candidates, "weighted") == 0
    assert select(candidates, "vanilla") == len(UNPARSABLE)
    groups = group_answers(UNPARSABLE)
    assert groups[0] == groups[5]
    assert len(set(groups)) == len(UNPARSABLE) - 1
    assert answers_equal("\\frac{1}{", "\\frac{1}{")
    assert not answers_equal("\\frac{1}{", "}{")


def test_unparsable_answers_in_worker_threads() -> None:
    # LangGraph runs nodes in threads, where math-verify cannot use its SIGALRM timeout.
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: group_answers(UNPARSABLE), range(8)))
    assert all(r == results[0] for r in results)
