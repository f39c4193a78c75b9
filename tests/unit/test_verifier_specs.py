"""Verifiers by name and in combination, no model: the judge's rating parser and its
refusal of a reply without a rating, combining verifiers (weights checked, parts run
concurrently), the shipped head and combinations loaded by name, and how eval names
them. (The LLM judge on the embedded model: tests/integration/test_verifiers.py.)"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import pytest
from verifier_cases import CANDIDATES, QUESTION

from ttc_graph.policy import Completion, GenerationRequest
from ttc_graph.verifiers import (
    ArithmeticVerifier,
    CombinedVerifier,
    LLMJudgeVerifier,
    load_verifier,
)
from ttc_graph.verifiers.judge import parse_rating


def test_parse_rating() -> None:
    assert parse_rating(" 8") == 0.8
    assert parse_rating("Rating: 7/10") == 0.7
    assert parse_rating(" 10\n\nThe answer is 42") == 1.0
    assert parse_rating("Step 2 is right, I give it 9.") == 0.9
    assert parse_rating("Yes, that is correct.") == 1.0
    assert parse_rating("No. The sum is wrong.") == 0.0
    assert parse_rating("Step 2: 42 - 30 = 12.") is None
    assert parse_rating("") is None


def test_judge_refuses_a_reply_without_a_rating() -> None:
    class Evasive:
        """A served model that answers everything but the question."""

        def sample(self, requests: Sequence[GenerationRequest], **_: Any) -> list[list[Completion]]:
            return [[Completion("Let me think about apples.", "eos", 6)] for _ in requests]

        async def asample(self, requests: Sequence[GenerationRequest], **kw: Any) -> Any:
            return self.sample(requests, **kw)

    judge = LLMJudgeVerifier(policy=Evasive())
    with pytest.raises(RuntimeError, match="step 0 of candidate 0 has no rating"):
        judge.invoke({"question": QUESTION, "candidates": [["12 + 30 = 42"]]})


async def test_combined_runs_its_parts_concurrently_in_async() -> None:
    modest = ArithmeticVerifier(verified=0.6, answer_match=0.7)
    combined = CombinedVerifier([(ArithmeticVerifier(), 0.5), (modest, 0.5)])
    request = {"question": QUESTION, "candidates": CANDIDATES}
    assert await combined.ainvoke(request) == combined.invoke(request)  # type: ignore[arg-type]
    assert combined.invoke(request)[0] == pytest.approx([0.7, 0.825])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("parts", "message"),
    [
        ([], "list of \\(verifier, weight\\) pairs"),
        ([(ArithmeticVerifier(), 0)], "finite number > 0"),
        ([(ArithmeticVerifier(), -1.0)], "finite number > 0"),
        ([(ArithmeticVerifier(), float("nan"))], "finite number > 0"),
        ([(ArithmeticVerifier(), True)], "must be a number"),
        ([("arithmetic", 1.0)], "is a str, not a Verifier"),
        ([(ArithmeticVerifier(),)], "must be a \\(verifier, weight\\) pair"),
    ],
)
def test_combined_validates_weights(parts: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CombinedVerifier(parts)


EMBEDDED_ID = "SmolLM2-135M-Instruct (embedded)"


def test_the_shipped_head_and_combinations_load_by_name() -> None:
    from ttc_graph.verifiers import GroundedVerifier
    from ttc_graph.verifiers.loading import default_verifier_spec
    from ttc_graph.verifiers.trained import TrainedVerifier

    # `auto` stays the grounded checker: the shipped head did not beat it (docs/verifiers.md).
    assert default_verifier_spec(EMBEDDED_ID) == "grounded"
    head = load_verifier("trained", policy=EMBEDDED_ID)
    assert isinstance(head, TrainedVerifier)
    question = "Tom has 12 apples and buys 30 more. How many apples does he have?"
    right = ["12 + 30 = 42.", " The answer is 42."]
    wrong = ["12 + 30 = 52.", " The answer is 52."]
    both = load_verifier(" grounded + trained ", policy=EMBEDDED_ID)
    assert isinstance(both, CombinedVerifier)
    mixed = both.score(question, [right, wrong])
    alone = [v.score(question, [right, wrong]) for v in (GroundedVerifier(), head)]
    # Equal weights: the mean of the two parts' scores, and the right sum still wins.
    assert mixed == pytest.approx([(a + b) / 2 for a, b in zip(*alone, strict=True)])
    assert mixed[0] > mixed[1]


def test_eval_names_the_shipped_head_by_its_card_not_its_install_path() -> None:
    from ttc_graph.evaluation.options import _verifier_identity

    identity = _verifier_identity("grounded + trained", None)
    assert re.fullmatch(r"grounded\+trained#[0-9a-f]{12}", str(identity)), identity
    assert _verifier_identity("grounded", None) == "grounded"
