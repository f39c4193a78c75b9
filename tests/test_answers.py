"""Answer extraction and math-verify equivalence, on hand cases and real MATH-500 answers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ttc_graph.answers import answers_equal, extract_answer, find_boxed


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("so the result is $\\boxed{\\frac{1}{2}}$.", "\\frac{1}{2}"),
        ("\\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}", "\\left( 3, \\frac{\\pi}{2} \\right)"),
        ("first \\boxed{1} then \\boxed{2}", "2"),
        ("The final answer is 42.", "42"),
        ("Therefore, the final answer is: $\\boxed{7}$. I hope it is correct.", "7"),
        ("Natalia sold 48+24 = 72 clips.\n#### 72", "72"),
        ("We get 3 apples and then 1,250 more", "1250"),
        ("no numbers here", None),
        ("", None),
    ],
)
def test_extract_answer(text: str, expected: str | None) -> None:
    assert extract_answer(text) == expected


def test_find_boxed_handles_nesting_and_truncation() -> None:
    assert find_boxed("\\boxed{a{b{c}}d}") == "a{b{c}}d"
    assert find_boxed("cut off \\boxed{\\frac{1}{") is None


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("\\frac{1}{2}", "0.5"),
        ("90^\\circ", "90"),
        ("1/2", "\\dfrac{1}{2}"),
        ("(3, \\frac{\\pi}{2})", "\\left( 3, \\frac{\\pi}{2} \\right)"),
        ("1,000", "1000"),
        ("x = 5", "5"),
        ("\\sqrt{2}/2", "\\frac{\\sqrt{2}}{2}"),
    ],
)
def test_equivalent_answers(a: str, b: str) -> None:
    assert answers_equal(a, b)


@pytest.mark.parametrize(
    ("a", "b"),
    [("2", "3"), ("(1,2)", "12"), ("\\frac{1}{3}", "0.33"), ("5", None), (None, None)],
)
def test_different_answers(a: str | None, b: str | None) -> None:
    assert not answers_equal(a, b)


def test_math500_reference_solutions_yield_their_answers(shared_data: Path) -> None:
    rows = [json.loads(line) for line in (shared_data / "math500.jsonl").read_text().splitlines()]
    checked = 0
    misses = []
    for row in rows[:120]:
        extracted = extract_answer(row["solution"])
        checked += 1
        if not answers_equal(extracted, row["answer"]):
            misses.append((row["unique_id"], extracted, row["answer"]))
    # Reference solutions box their answer; math-verify must match nearly all of them.
    assert checked == 120
    assert len(misses) <= 3, misses
