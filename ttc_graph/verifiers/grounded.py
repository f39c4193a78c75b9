"""A verifier that checks calculations *and* that they are about the question.

The plain arithmetic checker (:class:`~ttc_graph.verifiers.ArithmeticVerifier`)
cannot fault a small model's most common mistake: true sums of the wrong
numbers ("12 + 14 = 26" when the question says 12 and 30). This one reads the
question too (:func:`~ttc_graph.verifiers.grounding.question_facts`) and asks of
every solution prefix:

- are the calculations right (exact arithmetic, words included: "the sum of 23
  and 38 is 61")?
- is every operand *grounded* — a question quantity, an implicit one ("twice",
  "half", "dozen") or an earlier result — rather than a number from nowhere?
- does each quantity go through the operation its sentence cues ("buys 3 more"
  is an addition; "sells 4" a subtraction; "twice as many" a doubling)?
- is the final answer the result of the last calculation, and were the
  question's quantities used (softly: some questions carry distractors)?

Each answer is a feature (:data:`CHECKER_FEATURES`); :meth:`GroundedVerifier.step_features`
returns them per step so that a trained head can weigh them
(:mod:`ttc_graph.verifiers.trained`), and the verifier's own score is a fixed,
documented logistic combination of them. The reference answer is never seen.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from pydantic import Field

from ttc_graph.answers import extract_answer
from ttc_graph.errors import InputError
from ttc_graph.verifiers.arithmetic import explicit_answer
from ttc_graph.verifiers.base import Verifier
from ttc_graph.verifiers.claims import Claim, find_claims
from ttc_graph.verifiers.grounding import QuestionFacts, question_facts
from ttc_graph.verifiers.tokens import parse_number

# Numbers any calculation may use without grounding ("x 1", "/ 100" for percentages).
_FREE = frozenset({Fraction(0), Fraction(1), Fraction(100)})

CHECKER_FEATURES: tuple[str, ...] = (
    "claims",  # calculations read so far
    "right",  # ... that hold
    "wrong",  # ... that do not
    "grounded",  # ... whose every operand is known (question, implicit, earlier result)
    "ungrounded",  # ... with an operand from nowhere
    "cue_match",  # a cued quantity used with its operation
    "cue_conflict",  # a cued quantity used with another operation
    "chained",  # calculations that use an earlier result
    "used_fraction",  # share of the question's quantities used as operands
    "overused",  # a quantity used more often than the question gives it
    "answered",  # an explicit final answer ("the answer is", \boxed, ####)
    # The answer below is the explicit one, else the one a strategy would read off
    # the text (its last number), so that cut-off solutions are judged too.
    "answer_is_last",  # the answer equals the last calculation's result
    "answer_in_results",  # ... some result
    "answer_is_given",  # ... a question quantity and no result (often a copy)
    "answer_unsupported",  # ... no result and no quantity
    "no_claims",  # nothing checkable so far
    "steps",  # steps so far
)


# Set by reasoning about each signal, not fitted on data: fitting a head on your own
# policy's samples is what ttc_graph.verifiers.trained.train_verifier is for.
DEFAULT_WEIGHTS: dict[str, float] = {
    "right": 0.3,
    "wrong": -6.0,
    "grounded": 0.3,
    "ungrounded": -1.5,
    "cue_match": 0.4,
    "cue_conflict": -1.5,
    "chained": 0.2,
    "used_fraction": 1.0,
    "overused": -1.5,
    "answered": 0.5,
    "answer_is_last": 1.5,
    "answer_in_results": 0.3,
    "answer_is_given": -0.8,
    "answer_unsupported": -1.5,
}


@dataclass
class _Tally:
    """Running counts over a solution's steps."""

    claims: int = 0
    right: int = 0
    wrong: int = 0
    grounded: int = 0
    ungrounded: int = 0
    cue_match: int = 0
    cue_conflict: int = 0
    chained: int = 0
    uses: Counter[Fraction] = field(default_factory=Counter)  # operand uses per quantity


class GroundedVerifier(Verifier):
    """Scores each solution prefix by checked, grounded, cue-consistent calculations.

    The score is ``sigmoid(bias + Σ weight × feature)`` over :data:`CHECKER_FEATURES`
    with the fixed weights below: right and grounded work raises it, a wrong
    claim, a number from nowhere, an operation against the question's cue or a
    final answer that is not the last result lowers it. Pure Python, about a
    millisecond a solution.

    Example:
        >>> v = GroundedVerifier()
        >>> q = "Tom has 12 apples and buys 30 more. How many apples does he have?"
        >>> right, off = v.score(q, [["12 + 30 = 42.", "The answer is 42."],
        ...                          ["12 + 14 = 26.", "The answer is 26."]])
        >>> right > 0.5 > off
        True
    """

    support_weight: float = 0.1
    """Vote lent to each value a solution establishes by a right, grounded, cue-consistent
    calculation (:meth:`support`); 0 turns it off. Chosen on the training seed: see
    docs/verifiers.md "Votes from the work"."""
    bias: float = -4.0
    """Log-odds with no evidence. Low, so that in a weighted vote solutions with nothing
    checked weigh little (chosen on the training seeds, see docs/verifiers.md)."""
    weights: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    """Weight per feature name (missing names weigh 0); default :data:`DEFAULT_WEIGHTS`."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not math.isfinite(self.support_weight) or self.support_weight < 0:
            raise InputError(
                f"GroundedVerifier support_weight must be a finite number >= 0 (0: no votes "
                f"from the work), got {self.support_weight!r}."
            )
        unknown = set(self.weights) - set(CHECKER_FEATURES)
        if unknown:
            raise InputError(
                f"GroundedVerifier weights name unknown features {sorted(unknown)}; "
                f"use names from CHECKER_FEATURES: {', '.join(CHECKER_FEATURES)}."
            )

    def score_steps(self, question: str, candidates: Sequence[Sequence[str]]) -> list[list[float]]:
        """Score every step prefix of every candidate."""
        facts = question_facts(question)
        return [[self._combine(f) for f in _features(facts, steps)] for steps in candidates]

    def support(self, question: str, steps: Sequence[str]) -> dict[str, float]:
        """:attr:`support_weight` for each result of a right calculation whose operands all
        come from the question or earlier results and go through the operations the
        question cues (``8 + 10 = 18`` for "has 8, finds 10 more").

        Example:
            >>> q = "Sam has 8 shells. Sam finds 10 more shells. How many does he have?"
            >>> GroundedVerifier().support(q, ["8 + 10 = 18. Then 10 + 4 = 14."])
            {'18': 0.1}
        """
        if self.support_weight <= 0:
            return {}
        facts = question_facts(question)
        results: list[Fraction] = []
        verified: set[Fraction] = set()
        for step in steps:
            for claim in find_claims(step):
                if _count(claim, facts, results, _Tally()) and claim.holds:
                    verified.add(claim.right)
                results.append(claim.right)
        return {str(value): self.support_weight for value in verified}  # 18, 3/4

    def step_features(self, question: str, steps: Sequence[str]) -> list[dict[str, float]]:
        """The :data:`CHECKER_FEATURES` of each prefix ``steps[:k+1]``."""
        return _features(question_facts(question), steps)

    def _combine(self, features: dict[str, float]) -> float:
        z = self.bias + sum(w * features[name] for name, w in self.weights.items())
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


def _features(facts: QuestionFacts, steps: Sequence[str]) -> list[dict[str, float]]:
    tally = _Tally()
    results: list[Fraction] = []  # right-hand sides so far, in order
    explicit: Fraction | None = None  # the latest explicit final answer so far
    out = []
    for k, step in enumerate(steps):
        for claim in find_claims(step):
            _count(claim, facts, results, tally)
            results.append(claim.right)
        # "is not None": an explicit answer of 0 is an answer too.
        stated = explicit_answer(step)
        explicit = stated if stated is not None else explicit
        answer = explicit if explicit is not None else _implied_answer(steps[: k + 1])
        out.append(_snapshot(tally, facts, results, answer, explicit is not None, k + 1))
    return out


def _count(claim: Claim, facts: QuestionFacts, results: list[Fraction], t: _Tally) -> bool:
    """Add ``claim`` to the tally; whether it is grounded work on the question (every
    operand known, at least one not a free constant, no operand against its cue)."""
    t.claims += 1
    t.right += claim.holds
    t.wrong += not claim.holds
    known = facts.known | set(results)
    operands = [v for v in claim.operands if v not in _FREE]
    grounded = all(v in known for v in operands)
    if grounded:
        t.grounded += 1
    else:
        t.ungrounded += 1
    conflict = False
    if any(v in results for v in operands):
        t.chained += 1
    for value in operands:
        if value in facts.needed:
            t.uses[value] += 1
        cues = facts.cues.get(value)
        if not cues:
            continue
        if cues & set(claim.ops):
            t.cue_match += 1
        else:
            t.cue_conflict += 1
            conflict = True
    # "320 - 320 = 0" or "8 / 8 = 1" combines a number with itself: no work on the question.
    itself = len(operands) > 1 and len(set(operands)) == 1 and claim.right in (0, 1)
    return grounded and bool(operands) and not conflict and not itself


def _snapshot(
    t: _Tally,
    facts: QuestionFacts,
    results: list[Fraction],
    answer: Fraction | None,
    answered: bool,
    steps: int,
) -> dict[str, float]:
    needed = facts.needed
    used = sum(min(t.uses[v], count) for v, count in needed.items())
    overused = sum(max(0, t.uses[v] - count) for v, count in needed.items())
    has = answer is not None
    given = set(needed)
    return {
        # Counts are capped: three right calculations are evidence, thirty are rambling.
        "claims": float(min(t.claims, 5)),
        "right": float(min(t.right, 3)),
        "wrong": float(min(t.wrong, 3)),
        "grounded": float(min(t.grounded, 3)),
        "ungrounded": float(min(t.ungrounded, 3)),
        "cue_match": float(min(t.cue_match, 3)),
        "cue_conflict": float(min(t.cue_conflict, 3)),
        "chained": float(min(t.chained, 3)),
        "used_fraction": used / sum(needed.values()) if needed else 1.0,
        "overused": float(min(overused, 3)),
        "answered": float(answered),
        "answer_is_last": float(has and bool(results) and answer == results[-1]),
        "answer_in_results": float(has and answer in results),
        "answer_is_given": float(has and answer in given and answer not in results),
        "answer_unsupported": float(has and answer not in results and answer not in given),
        "no_claims": float(t.claims == 0),
        "steps": float(min(steps, 10)),
    }


def _implied_answer(steps: Sequence[str]) -> Fraction | None:
    """The answer a strategy would read off the text so far (its last number)."""
    answer = extract_answer("".join(steps))
    return parse_number(answer) if answer else None
