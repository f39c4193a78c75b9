"""The grounded checker, rule by rule, on real outputs of the embedded model.

Every wrong solution below was written by SmolLM2-135M-Instruct (sampled at
temperature 0.8 on generated arithmetic problems of the training seeds, or by
`make demo`); each rule is shown separating it from a right solution to the same
question. Pure Python: no model is loaded.
"""

from __future__ import annotations

from fractions import Fraction

import pytest

from ttc_graph.verifiers import GroundedVerifier
from ttc_graph.verifiers.claims import find_claims
from ttc_graph.verifiers.grounded import CHECKER_FEATURES
from ttc_graph.verifiers.grounding import question_facts
from ttc_graph.verifiers.word_claims import find_word_claims, relations_as_equals


@pytest.fixture(scope="module")
def verifier() -> GroundedVerifier:
    return GroundedVerifier()


def last_features(v: GroundedVerifier, question: str, text: str) -> dict[str, float]:
    return v.step_features(question, text.split("\n\n"))[-1]


# -- claims the plain reader missed (issue examples, real outputs) -------------------

MISSED = [
    ("To add 41 and 25, 25 + 41 = 66. So, the answer is 66.", Fraction(66), True),
    (
        "To compute 18 + 57, add 18 to 57: 57 + 18 = 75.  The final answer is 75.",
        Fraction(75),
        True,
    ),
    ("57 - 18 equals 39.", Fraction(39), True),
    ("The difference between 57 and 18 is 39.", Fraction(39), True),
    ("The sum of 23 and 38 is 52.", Fraction(61), False),
    ("the sum of 23 and 38 is 61", Fraction(61), True),
    ("adding 26 and 17 gives 43", Fraction(43), True),
    ("14 times 35 equals 490", Fraction(490), True),
    ("the difference between 80 and 23 is 57", Fraction(57), True),
    ("half of 40 is 20", Fraction(20), True),
    ("twice as many as 9 is 18", Fraction(18), True),
    ("multiplying 4 coins by 2, which gives 8 coins", Fraction(8), True),
]


@pytest.mark.parametrize(("text", "value", "holds"), MISSED)
def test_claims_in_words_and_after_clauses_are_read(
    text: str, value: Fraction, holds: bool
) -> None:
    (claim,) = find_claims(text)
    assert claim.left == value
    assert claim.holds is holds


def test_operands_are_recorded_for_grounding() -> None:
    (claim,) = find_claims("Ava has 36 + 16 + 10 = 56 books")
    assert claim.operands == (36, 16, 10)
    assert claim.ops == ("+", "+")
    assert not claim.holds
    (word,) = find_word_claims("subtracting 18 from 57 gives 39")
    assert (word.left, word.operands, word.op) == (39, (18, 57), "-")


@pytest.mark.parametrize(
    "text", ["the answer is 5", "36 books is 36", "She is 12 years old and has 3 cats"]
)
def test_relation_words_need_a_calculation_before_them(text: str) -> None:
    assert relations_as_equals(text) == text
    assert find_claims(text) == []


# -- what the question gives ---------------------------------------------------------


def test_question_facts_read_quantities_implicit_numbers_and_cues() -> None:
    facts = question_facts(
        "Zoe has 25 stamps. Zoe ends up with twice as many stamps as before. "
        "Then Zoe finds 11 more stamps. Then she sells a dozen. How many stamps does Zoe have now?"
    )
    assert facts.quantities == (25, 11)
    assert {2, 12} <= facts.implicit
    assert facts.cues[Fraction(11)] == {"+"}
    assert facts.cues[Fraction(2)] == {"×"}
    assert Fraction(25) not in facts.cues  # "has 25" cues nothing
    assert facts.needed[Fraction(2)] == 1  # the doubling must be used


def test_the_question_sentence_cues_nothing() -> None:
    facts = question_facts("Tom has 12 apples. How many apples are left after he eats 3?")
    assert Fraction(3) not in facts.cues


# -- each rule separates a real wrong solution from a right one ----------------------

TOM = "Tom has 12 apples and buys 30 more. How many apples does he have now?"
BEN = "Ben has 17 cards. Ben loses 6 cards. Then Ben finds 12 more cards. How many cards does Ben have now?"  # noqa: E501
NINA = "Nina has 10 balloons. Nina sells 4 balloons. How many balloons does Nina have now?"
ROSA = (
    "Rosa has 14 stickers. Rosa buys 3 more stickers. Then Rosa ends up with three times as "
    "many stickers as before. How many stickers does Rosa have now?"
)
LEO = "Leo has 16 balloons. Eli gives Leo 4 more balloons. How many balloons does Leo have now?"

RULES = [
    # rule, question, real wrong output, right solution, the feature that separates them
    (
        "a number from nowhere",
        TOM,
        "12 + 14 = 26  The answer is 26.",
        "12 + 30 = 42. The answer is 42.",
        "ungrounded",
    ),
    (
        "a wrong calculation",
        BEN,
        "Ben has 17 cards. Ben loses 6 cards, so Ben has 17 - 6 = 9 cards left.\nBen finds 12 "
        "more cards, so Ben has 9 + 12 = 21 cards now.\n#### 21",
        "Ben has 17 - 6 = 11 cards left.\n\nBen finds 12 more cards, so Ben has 11 + 12 = 23 "
        "cards now.\n\nThe final answer is 23.",
        "wrong",
    ),
    (
        "an operation against the question's cue",
        NINA,
        "10 balloons: 4 balloons\nNina has 10 + 4 = 14 balloons now.\n\nThe final answer is the "
        "result of the calculation of Nina selling 10 balloons, which is 14.",
        "Nina has 10 - 4 = 6 balloons now.\n\nThe final answer is 6.",
        "cue_conflict",
    ),
    (
        "a question quantity left unused",
        ROSA,
        "Let's think this through step by step. Rosa has 14 stickers. Rosa bought 3 more "
        "stickers, which means she has now 14 + 3 = 17 stickers remaining. \n\nSo, Rosa ends up "
        "with 17 stickers.\n\nThe final answer is 17.",
        "Rosa has 14 + 3 = 17 stickers.\n\nThen she has 17 × 3 = 51 stickers.\n\n"
        "The final answer is 51.",
        "used_fraction",
    ),
    (
        "a quantity counted twice",
        LEO,
        "Leo has 16 + 4 = 20 balloons.\nEli gives Leo 4 more balloons, so he now has 20 + 4 = "
        "24 balloons.\n#### 24\nThe answer is: 24",
        "Leo has 16 + 4 = 20 balloons.\n\nThe answer is: 20",
        "overused",
    ),
    (
        "a final answer that is not the last result",
        NINA,
        "10 x 4 = 40\nNina has 10 - 4 = 6 balloons now.\n#### 14\nThe final answer is 40.",
        "Nina has 10 - 4 = 6 balloons now.\n\nThe final answer is 6.",
        "answer_is_last",
    ),
]


@pytest.mark.parametrize(("rule", "question", "wrong", "right", "feature"), RULES)
def test_each_rule_separates_a_real_wrong_solution(
    verifier: GroundedVerifier, rule: str, question: str, wrong: str, right: str, feature: str
) -> None:
    bad = last_features(verifier, question, wrong)
    good = last_features(verifier, question, right)
    assert bad[feature] != good[feature], rule
    scores = verifier.score(question, [wrong.split("\n\n"), right.split("\n\n")])
    assert scores[1] > scores[0], f"{rule}: {scores}"


def test_the_plain_checker_could_not_tell_these_apart() -> None:
    """Why grounding is needed: the ungrounded sum scores as high as the right one."""
    from ttc_graph.verifiers import ArithmeticVerifier

    plain = ArithmeticVerifier().score(TOM, [["12 + 14 = 26  The answer is 26."],
                                             ["12 + 30 = 42. The answer is 42."]])  # fmt: skip
    assert plain[0] == plain[1]


def test_features_are_per_step_prefix_and_named(verifier: GroundedVerifier) -> None:
    steps = ["Tom has 12 + 30 = 42 apples.\n\n", "So he has 42.\n\n", "The answer is 42."]
    rows = verifier.step_features(TOM, steps)
    assert len(rows) == 3
    assert all(tuple(r) == CHECKER_FEATURES for r in rows)
    assert rows[0]["answered"] == 0.0
    assert rows[-1]["answered"] == 1.0
    assert rows[-1]["answer_is_last"] == 1.0
    scores = verifier.invoke({"question": TOM, "candidates": [steps]})[0]
    assert scores[-1] > scores[0], "the explicit, matching answer raises the last step"


def test_unknown_weight_names_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown features"):
        GroundedVerifier(weights={"bogus": 1.0})


# -- votes from the work ------------------------------------------------------------

SAM = "Sam has 8 shells. Sam finds 10 more shells. How many shells does Sam have now?"
# Real embedded-model outputs (training seed 100): the first is cut off after the right
# sum and its last number is 11; the second is right by its own final answer.
SAM_CUT_OFF = (
    "Sammy has 8 + 10 = 18 shells.\nTo solve this, let's think about it in a step-by-step "
    "manner.\nThe original equation is: 8 + 10 = x\nIf 10 + 1 is 11, then the initial"
)


@pytest.mark.parametrize(
    ("question", "text", "supported"),
    [
        (SAM, SAM_CUT_OFF, {"18", "11"}),  # "10 + 1": 1 is free, 10 is cued "more"
        (TOM, "12 + 14 = 26  The answer is 26.", set()),  # 14 from nowhere
        (NINA, "Nina has 10 + 4 = 14 balloons now.", set()),  # "sells 4" added
        (NINA, "Nina has 10 - 4 = 6 balloons now.", {"6"}),
        (NINA, "Nina has 10 - 4 = 7 balloons now.", set()),  # a wrong sum supports nothing
        (ROSA, "14 + 3 = 17, and 17 × 3 = 51.", {"17", "51"}),  # 17 is an earlier result
        (TOM, "1 + 1 = 2. The answer is 2.", set()),  # only free constants
        # A real output: a wrong product, then a result minus itself.
        (TOM, "12 apples * 30 apples = 320 apples.\n320 - 320 = 0", set()),
    ],
)
def test_support_is_right_grounded_cue_consistent_work(
    verifier: GroundedVerifier, question: str, text: str, supported: set[str]
) -> None:
    votes = verifier.support(question, [text])
    assert set(votes) == supported
    assert all(v == verifier.support_weight for v in votes.values())


def test_support_turns_a_weighted_vote_towards_what_the_work_shows(
    verifier: GroundedVerifier,
) -> None:
    from ttc_graph.strategies.selection import select

    right = "Sam has 8 + 10 = 18 shells.\nThe answer is 18."
    texts = [SAM_CUT_OFF, SAM_CUT_OFF.replace("Sammy", "Sam"), right]
    scores = verifier.score(SAM, [[t] for t in texts])
    plain = [{"answer": a, "score": s} for a, s in zip(["11", "11", "18"], scores, strict=True)]
    # Without votes, the two cut-off texts' answer (11) outweighs the one right text ...
    assert plain[0]["score"] + plain[1]["score"] > plain[2]["score"]
    assert select(plain, "weighted") == 0  # type: ignore[arg-type]
    # ... with them, three texts whose work reaches 18 lend it 0.3, and 11 only 0.2.
    voted = [
        {**c, "support": verifier.support(SAM, [t])} for c, t in zip(plain, texts, strict=True)
    ]
    assert select(voted, "weighted") == 2  # type: ignore[arg-type]
    # A replay at N = 2 sees the first two candidates' votes only: no 18 among them.
    assert select(voted[:2], "weighted") == 0  # type: ignore[arg-type]
    off = GroundedVerifier(support_weight=0.0)
    assert off.support(SAM, [right]) == {}


@pytest.mark.parametrize("weight", [-0.1, float("nan"), float("inf")])
def test_a_bad_support_weight_is_refused(weight: float) -> None:
    with pytest.raises(ValueError, match="support_weight must be a finite number >= 0"):
        GroundedVerifier(support_weight=weight)
