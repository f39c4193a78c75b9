"""Pick the final answer from complete candidates: vanilla, weighted or majority.

Kept free of graph code so the evaluation harness can re-select on subsets of
one large sample (accuracy at every N from a single run at the largest N).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ttc_graph.answers import answers_equal
from ttc_graph.errors import InputError
from ttc_graph.strategies.options import SELECTIONS, Selection
from ttc_graph.verifiers.tokens import parse_number

if TYPE_CHECKING:
    from ttc_graph.strategies.state import Candidate


def check_selection(selection: str) -> Selection:
    """Validate a selection name."""
    if selection not in SELECTIONS:
        raise InputError(f"Unknown selection {selection!r}; choose one of {', '.join(SELECTIONS)}.")
    return selection  # type: ignore[return-value]


def group_answers(answers: Sequence[str | None]) -> list[int]:
    """Group ids such that equal ids mean math-verify-equivalent answers (-1: no answer)."""
    representatives: list[str] = []
    groups: list[int] = []
    for ans in answers:
        if ans is None:
            groups.append(-1)
            continue
        for gid, rep in enumerate(representatives):
            if answers_equal(rep, ans):
                groups.append(gid)
                break
        else:
            representatives.append(ans)
            groups.append(len(representatives) - 1)
    return groups


def select(candidates: Sequence[Candidate], selection: Selection) -> int | None:
    """Index of the chosen candidate, or ``None`` when there are no candidates.

    - ``vanilla``: highest aggregated score.
    - ``weighted``: the answer whose candidates' scores sum highest, plus the votes
      every candidate's checked work lends it (``support``, see
      :meth:`~ttc_graph.verifiers.Verifier.support`); its best candidate.
    - ``majority``: the most frequent answer (ties go to the earliest); needs no scores.
    Candidates without an answer never win a vote while any candidate has one.
    """
    check_selection(selection)
    if not candidates:
        return None
    if selection == "vanilla":
        return max(range(len(candidates)), key=lambda i: _score(candidates[i]))
    groups = group_answers([c["answer"] for c in candidates])
    totals: dict[int, float] = {}
    for c, g in zip(candidates, groups, strict=True):
        if g >= 0:
            totals[g] = totals.get(g, 0.0) + (_score(c) if selection == "weighted" else 1.0)
    if not totals:
        # Nobody produced an answer: fall back to the best-scored text.
        return max(range(len(candidates)), key=lambda i: _score(candidates[i]))
    if selection == "weighted":
        _add_support(candidates, groups, totals)
    # max() keeps the first maximal group, i.e. the answer seen earliest.
    best_group = max(totals, key=lambda g: totals[g])
    members = [i for i, g in enumerate(groups) if g == best_group]
    return max(members, key=lambda i: _score(candidates[i]))


def _add_support(
    candidates: Sequence[Candidate], groups: list[int], totals: dict[int, float]
) -> None:
    """Add to each answer group the votes that candidates' work lends its answer."""
    answers = {g: c["answer"] for c, g in zip(candidates, groups, strict=True) if g >= 0}
    # Numbers compare as numbers (fast, and the usual case); anything else via math-verify.
    numbers = {g: parse_number(a) for g, a in answers.items() if a is not None}
    for c in candidates:
        for value, vote in c.get("support", {}).items():
            number = parse_number(value)
            for g, answer in answers.items():
                known = numbers.get(g)
                same = (
                    known == number
                    if known is not None and number is not None
                    else answers_equal(answer, value)
                )
                if same:
                    totals[g] += vote
                    break


def _score(c: Candidate) -> float:
    return c["score"] if c["score"] is not None else 0.0
