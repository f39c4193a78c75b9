"""ArithmeticVerifier and the claim checker: hand-written pairs and real reference solutions."""

from __future__ import annotations

import json
import re
from fractions import Fraction
from pathlib import Path

import pytest

from ttc_graph.verifiers import ArithmeticVerifier
from ttc_graph.verifiers.claims import find_claims
from ttc_graph.verifiers.tokens import parse_number

QUESTION = "Work it out."
OPERATION = re.compile(r"\d\)?\s*[-+*/]\s*\(?\d")

# Each correct step and its wrong twin differ only in a claimed result.
PAIRS = [
    ("Tom has 12 + 30 = 42 apples.", "Tom has 12 + 30 = 40 apples."),
    ("3 × 4 = 12", "3 × 4 = 14"),
    ("She bakes 3 x 4 = 12 cookies.", "She bakes 3 x 4 = 7 cookies."),
    # "a total of" names the calculation; it does not scale it like "half of" (a real
    # SmolLM2 phrasing: 285 of 6,400 training samples write "total of N op M").
    ("She has a total of 2 x 2 = 4 toy cars.", "She has a total of 2 x 2 = 5 toy cars."),
    ("She sells 16-3-4=<<16-3-4=9>>9 eggs.", "She sells 16-3-4=<<16-3-4=8>>8 eggs."),
    ("He earns <<15*8=120>>120 dollars.", "He earns <<15*8=125>>125 dollars."),
    ("It costs $5 * 2 = $10.", "It costs $5 * 2 = $12."),
    ("2 + 3 = 5 + 1 = 6", "2 + 3 = 5 + 1 = 7"),
    ("1/2 + 1/4 = 3/4 of the pizza", "1/2 + 1/4 = 2/6 of the pizza"),
    (r"$\frac{1}{2} + \frac{1}{3} = \frac{5}{6}$", r"$\frac{1}{2} + \frac{1}{3} = \frac{2}{5}$"),
    ("3.5 × 2 = 7 miles", "3.5 × 2 = 6.5 miles"),
    ("20% of 50 = 10", "20% of 50 = 25"),
    ("That takes 10 / 4 = 2.5 hours.", "That takes 10 / 4 = 2.25 hours."),
    ("1,200 + 800 = 2,000", "1,200 + 800 = 1,900"),
    (r"$12 \times 3 = 36$", r"$12 \times 3 = 33$"),
    ("(4 + 6) × 3 = 30", "(4 + 6) × 3 = 22"),
    ("2^5 = 32", "2^5 = 10"),
    ("5 divided by 2 = 2.5", "5 divided by 2 = 3"),
    ("7 times 8 = 56", "7 times 8 = 54"),
    ("Total = 45 - 17 = 28", "Total = 45 - 17 = 38"),
    ("12 apples + 30 apples = 42 apples", "12 apples + 30 apples = 52 apples"),
    ("He keeps 100 - 25% of 100 = 75 dollars.", "He keeps 100 - 25% of 100 = 80 dollars."),
    ("10 ÷ 4 = 2.5", "10 ÷ 4 = 2.4"),
    ("-3 + 10 = 7 degrees", "-3 + 10 = 13 degrees"),
    ("2(3 + 4) = 14", "2(3 + 4) = 10"),
    (
        "6 * 4 = <<6*4=24>>24 and 24 + 6 = <<24+6=30>>30",
        "6 * 4 = <<6*4=24>>24 and 24 + 6 = <<24+6=31>>31",
    ),
    (r"$3 \cdot 15 = 45$ minutes", r"$3 \cdot 15 = 35$ minutes"),
    ("10/3 ≈ 3.33", "10/3 ≈ 3.5"),
    ("1/3 = 0.33 of the class", "1/3 = 0.34 of the class"),
]

# Equations that are not arithmetic claims: they must be left alone, never judged wrong.
NOT_CLAIMS = [
    "2x + 3 = 7",
    "x = 5",
    "x - 3 = 5",
    "f(3) = 9",
    "x^2 = 9",
    "4 squared = 16",
    r"\sqrt{16} = 4",
    "3:4 = 0.75",
    "5! = 120",
    "Step 1 = 5",
    "2 hours + 30 minutes = 150 minutes",
    "y = 3x + 4 = 10",
    "C(5,2) = 10",
    r"$5\star 1 = 9(5)+2(1)$",
    "3 + 4i = 7",
    "The answer is 42.",
    "3/4 of 12 = 9",  # "of" after a number scales what follows
    "the cost of 3 x 2 = 6",  # only result nouns ("total", "sum", ...) name a calculation
]


@pytest.fixture(scope="module")
def verifier() -> ArithmeticVerifier:
    return ArithmeticVerifier()


def test_there_are_enough_varied_pairs() -> None:
    assert len(PAIRS) >= 20
    assert any("<<" in right for right, _ in PAIRS), "GSM8K calculator annotations are covered"


@pytest.mark.parametrize(("right", "wrong"), PAIRS)
def test_every_correct_step_beats_its_wrong_twin(
    verifier: ArithmeticVerifier, right: str, wrong: str
) -> None:
    good, bad = verifier.invoke({"question": QUESTION, "candidates": [[right], [wrong]]})
    assert good[0] > bad[0], f"{right!r} should outrank {wrong!r}"
    assert good[0] == verifier.verified
    assert bad[0] == verifier.wrong
    assert all(c.holds for c in find_claims(right))
    assert any(not c.holds for c in find_claims(wrong))


@pytest.mark.parametrize("text", NOT_CLAIMS)
def test_algebra_and_prose_are_not_judged(verifier: ArithmeticVerifier, text: str) -> None:
    assert find_claims(text) == []
    assert verifier.score_steps(QUESTION, [[text]]) == [[verifier.neutral]]


def test_claims_report_values_and_running_totals() -> None:
    (claim,) = find_claims("She has 12 + 30 = 40 apples")
    assert (claim.left, claim.right, claim.holds) == (Fraction(42), Fraction(40), False)
    first, second = find_claims("2 + 3 = 5 + 1 = 6")
    assert (first.text, first.holds) == ("2 + 3 = 5", True)
    assert (second.text, second.holds) == ("5 + 1 = 6", True)
    # The annotation and the prose around it state one calculation: counted once.
    assert len(find_claims("16-3-4=<<16-3-4=9>>9")) == 1


def test_mixed_numbers_percent_points_and_rounding() -> None:
    assert all(c.holds for c in find_claims(r"$1\frac{1}{4} = \frac{5}{4}$"))
    assert all(c.holds for c in find_claims("100% - 20% = 80%"))
    assert all(c.holds for c in find_claims("100% - 20% = 80"))
    assert find_claims("20% = $10") == []  # a share and an amount: ambiguous, skipped
    assert find_claims("10/3 = 3.4")[0].holds is False  # 3.33... does not round to 3.4


def test_parse_number() -> None:
    assert parse_number("42") == 42
    assert parse_number("$1,200") == 1200
    assert parse_number(r"\frac{3}{4}") == Fraction(3, 4)
    assert parse_number("12.5%") == Fraction(1, 8)
    assert parse_number("42 apples") == 42
    assert parse_number("x = 5") is None


def test_score_judges_the_solution_so_far(verifier: ArithmeticVerifier) -> None:
    steps = ["12 + 30 = 42.\n\n", "Then 42 - 2 = 41.\n\n", "He eats one more: 41 - 1 = 40.\n\n"]
    (scores,) = verifier.score_steps(QUESTION, [steps])
    # A mistake lowers its own step and every later one, like a PRM's prefix score.
    assert scores == [verifier.verified, verifier.wrong, verifier.wrong]
    (more,) = verifier.score_steps(QUESTION, [[*steps, "And 40 - 1 = 38."]])
    assert more[-1] < more[-2], "each further mistake lowers the score"


def test_final_answer_bonus(verifier: ArithmeticVerifier) -> None:
    work = "12 + 30 = 42.\n\n"
    scores = verifier.score_steps(
        QUESTION,
        [
            [work, r"The answer is $\boxed{42}$."],
            [work, "42 - 2 = 40.\n\n", "#### 42"],
            [work, r"The answer is \boxed{17}."],
            [r"The answer is \boxed{42}."],
        ],
    )
    assert scores[0] == [verifier.verified, verifier.answer_match]
    assert scores[1][-1] == verifier.verified  # an earlier checked result, not the last
    assert scores[2][-1] == verifier.answer_mismatch
    assert scores[3] == [verifier.neutral]  # nothing checked: no evidence either way
    assert verifier.score(QUESTION, [[work, r"\boxed{42}"], [work, r"\boxed{17}"]]) == [
        verifier.answer_match,
        verifier.answer_mismatch,
    ]


def test_scores_must_be_ordered() -> None:
    with pytest.raises(ValueError, match="wrong <= neutral"):
        ArithmeticVerifier(wrong=0.9)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        ArithmeticVerifier(answer_match=1.5)


def test_bad_input_gets_clear_errors(verifier: ArithmeticVerifier) -> None:
    with pytest.raises(ValueError, match="non-empty question"):
        verifier.invoke({"question": " ", "candidates": [["1 + 1 = 2"]]})
    with pytest.raises(ValueError, match="Candidate 1 has no steps"):
        verifier.invoke({"question": QUESTION, "candidates": [["1 + 1 = 2"], []]})
    with pytest.raises(ValueError, match="Candidate 0 is a string"):
        verifier.invoke({"question": QUESTION, "candidates": ["1 + 1 = 2"]})  # type: ignore[list-item]
    assert verifier.invoke({"question": QUESTION, "candidates": []}) == []


SPLITS = json.loads((Path(__file__).parents[2] / "benchmarks" / "splits.json").read_text())


def _rows(shared_data: Path, name: str) -> list[dict[str, str]]:
    """A shared data file's rows, without its evaluation lines (benchmarks/splits.json)."""
    first, last = SPLITS.get(name, {}).get("evaluation_lines", [0, -1])
    lines = (shared_data / name).read_text().splitlines()
    return [
        json.loads(line)
        for number, line in enumerate(lines, start=1)
        if line.strip() and not first <= number <= last
    ]


def _gsm8k(shared_data: Path) -> list[dict[str, str]]:
    return _rows(shared_data, "gsm8k_train_500.jsonl")


def test_evaluation_lines_are_skipped(shared_data: Path) -> None:
    all_lines = (shared_data / "gsm8k_train_500.jsonl").read_text().splitlines()
    first, last = SPLITS["gsm8k_train_500.jsonl"]["evaluation_lines"]
    kept = {row["question"] for row in _gsm8k(shared_data)}
    assert len(kept) == len(all_lines) - (last - first + 1)
    assert json.loads(all_lines[first - 1])["question"] not in kept
    assert json.loads(all_lines[last - 1])["question"] not in kept
    assert json.loads(all_lines[last])["question"] in kept


def test_reference_solutions_are_almost_never_flagged(shared_data: Path) -> None:
    """Human-written solutions: nearly every claim holds (the few that fail are typos)."""
    for name, field in (("gsm8k_train_500.jsonl", "answer"), ("math500.jsonl", "solution")):
        rows = _rows(shared_data, name)
        claims = [c for row in rows for c in find_claims(row[field])]
        wrong = [c.text for c in claims if not c.holds]
        assert len(claims) > 300, f"{name}: the checker should find many claims"
        assert len(wrong) <= 0.01 * len(claims), f"{name}: false alarms {wrong}"


def test_a_corrupted_result_ranks_below_the_reference(
    shared_data: Path, verifier: ArithmeticVerifier
) -> None:
    """Change the first calculator result in each GSM8K solution: the original must win."""
    annotation = re.compile(r"<<([^<>=]+)=(\d+)>>(\d+)")
    wins = total = 0
    for row in _gsm8k(shared_data):
        match = annotation.search(row["answer"])
        # Only real calculations ("<<15=15>>" merely restates a number).
        if match is None or match.group(2) != match.group(3) or not OPERATION.search(match[1]):
            continue
        wrong = str(int(match.group(2)) + 1)
        corrupted = (
            row["answer"][: match.start()]
            + f"<<{match.group(1)}={wrong}>>{wrong}"
            + row["answer"][match.end() :]
        )
        steps_right = row["answer"].split("\n")
        steps_wrong = corrupted.split("\n")
        right, bad = verifier.score(row["question"], [steps_right, steps_wrong])
        total += 1
        wins += right > bad
    assert total > 300
    assert wins == total, f"only {wins} of {total} references beat their corrupted twin"
