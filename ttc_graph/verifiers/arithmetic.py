"""A heuristic verifier that checks the arithmetic each step claims; no model needed."""

from __future__ import annotations

import re
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

from ttc_graph.answers import extract_answer, find_boxed
from ttc_graph.errors import InputError
from ttc_graph.verifiers.base import Verifier
from ttc_graph.verifiers.claims import Claim, find_claims
from ttc_graph.verifiers.tokens import parse_number

# An explicit final answer; extract_answer alone would also accept "the last number".
_ANSWER_MARKER = re.compile(r"answer\s*(?:is|:)|####", re.IGNORECASE)


class ArithmeticVerifier(Verifier):
    """Scores steps by whether the calculations they write down are right.

    Each claim such as ``12 + 30 = 42``, ``<<16-3-4=9>>`` or ``20% of 50 = 10`` is
    checked with exact fractions (see :mod:`ttc_graph.verifiers.claims`). Like a
    PRM, the score of step *k* judges the solution *up to* step *k*, so the default
    ``last`` aggregation sees every earlier mistake:

    ==========================================================  =================
    solution so far                                             score
    ==========================================================  =================
    any wrong claim (*w* of them so far)                        ``wrong / 2**(w-1)``
    final answer equal to the last checked result               ``answer_match``
    final answer equal to an earlier checked result             ``verified``
    final answer equal to no checked result                     ``answer_mismatch``
    checked claims, all right (no final answer yet)             ``verified``
    nothing to check                                            ``neutral``
    ==========================================================  =================

    Defaults: ``wrong=0.1``, ``neutral=0.5``, ``answer_mismatch=0.6``,
    ``verified=0.8``, ``answer_match=0.95``. A "final answer" is an explicit one
    (``\\boxed{}``, "the answer is", ``####``) whose value can be read as a number.
    The reference answer is never seen. Pure Python, about a millisecond a step.
    """

    wrong: float = 0.1
    neutral: float = 0.5
    answer_mismatch: float = 0.6
    verified: float = 0.8
    answer_match: float = 0.95

    def __init__(self, **kwargs: Any) -> None:
        # Checked after pydantic has built the object, so that errors reach the
        # caller as they are instead of wrapped in a ValidationError.
        super().__init__(**kwargs)
        self._validate()

    def _validate(self) -> None:
        """Check that the scores are ordered so that search prefers checked work."""
        levels = [self.wrong, self.neutral, self.answer_mismatch, self.verified, self.answer_match]
        if not all(0.0 <= v <= 1.0 for v in levels) or levels != sorted(levels):
            raise InputError(
                "ArithmeticVerifier scores must lie in [0, 1] and satisfy wrong <= neutral <= "
                f"answer_mismatch <= verified <= answer_match; got {levels}."
            )

    def score_steps(self, question: str, candidates: Sequence[Sequence[str]]) -> list[list[float]]:
        """Score every step of every candidate (no model: candidates are independent)."""
        return [self._score_candidate(steps) for steps in candidates]

    def check(self, text: str) -> list[Claim]:
        """The calculations ``text`` claims, each marked as holding or not."""
        return find_claims(text)

    def _score_candidate(self, steps: Sequence[str]) -> list[float]:
        wrong = 0
        results: list[Fraction] = []  # right-hand sides of claims that held, in order
        scores = []
        for step in steps:
            claims = find_claims(step)
            wrong += sum(not c.holds for c in claims)
            results.extend(c.right for c in claims if c.holds)
            if wrong:
                scores.append(self.wrong / 2 ** (wrong - 1))
                continue
            answer = explicit_answer(step)
            if answer is not None and results:
                if answer == results[-1]:
                    scores.append(self.answer_match)
                elif answer in results:
                    scores.append(self.verified)
                else:
                    scores.append(self.answer_mismatch)
            else:
                scores.append(self.verified if results else self.neutral)
        return scores


def explicit_answer(step: str) -> Fraction | None:
    """The numeric value of an explicit final answer in ``step``, if it has one."""
    if find_boxed(step) is None and not _ANSWER_MARKER.search(step):
        return None
    answer = extract_answer(step)
    return parse_number(answer) if answer else None
