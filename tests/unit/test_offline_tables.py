"""The offline scripts behind the docs' verifier tables (benchmarks/verifier_table.py)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from verifier_table import auroc, reread


def candidate(text: str, answer: str | None) -> dict[str, Any]:
    return {"id": "0.0", "text": text, "steps": [text], "answer": answer, "score": None}


def test_reread_grades_old_samples_by_todays_answer_reading() -> None:
    # Stored by an answer reader that returned the whole clause.
    text = "Ivy sells 2 balloons.\nThe final answer is 12 - 2 = 10 balloons."
    greedy = {"reference": "10", "answer": "12 - 2 = 10 balloons", "correct": False,
              "candidates": [candidate(text, "12 - 2 = 10 balloons")]}  # fmt: skip
    again = reread(greedy)
    assert (again["answer"], again["correct"]) == ("10", True)
    assert greedy["correct"] is False  # the stored record is left as it was
    sample = {"reference": "10", "answer": "7", "correct": False,
              "candidates": [candidate(text, "x"), candidate("So 3 + 4 = 7.", "7")]}  # fmt: skip
    assert [c["answer"] for c in reread(sample)["candidates"]] == ["10", "7"]
    # A sample record's own fields are not a greedy answer: they stay.
    assert reread(sample)["correct"] is False


@pytest.mark.parametrize(
    ("positives", "negatives", "expected"),
    [([0.9, 0.8], [0.1, 0.2], 1.0), ([0.1], [0.9], 0.0), ([0.5], [0.5], 0.5), ([], [0.1], None)],
)
def test_auroc(positives: list[float], negatives: list[float], expected: float | None) -> None:
    assert auroc(positives, negatives) == expected
