"""How the answer is picked (vanilla, weighted, majority), and a graph refused without a
policy. (Strategy graphs on the real embedded model: tests/integration/test_strategies.py;
every graph driven by the scripted policy: tests/unit/test_*_graph.py.)"""

from __future__ import annotations

import pytest

from ttc_graph import create_best_of_n
from ttc_graph.strategies.selection import select
from ttc_graph.strategies.state import Candidate
from ttc_graph.verifiers import ArithmeticVerifier


@pytest.fixture(scope="module")
def verifier() -> ArithmeticVerifier:
    return ArithmeticVerifier()


def test_weighted_selection_sums_scores_over_equivalent_answers() -> None:
    def cand(answer: str, score: float) -> Candidate:
        return Candidate(
            id=answer,
            text=answer,
            steps=[answer],
            step_scores=[score],
            score=score,
            answer=answer,
            finish_reason="eos",
            completion_tokens=1,
            group=0,
        )

    candidates = [cand("7", 0.9), cand("\\frac{1}{2}", 0.5), cand("0.5", 0.5), cand("1/2", 0.1)]
    assert select(candidates, "vanilla") == 0
    # 0.5 + 0.5 + 0.1 for the three spellings of one half beats 0.9.
    assert select(candidates, "weighted") == 1
    assert select(candidates, "majority") == 1
    assert select([cand("7", 0.9), cand("8", 0.2), cand("8.0", 0.2)], "weighted") == 0


def test_missing_policy_is_refused(verifier: ArithmeticVerifier) -> None:
    with pytest.raises(ValueError, match="load_policy"):
        create_best_of_n(policy=None, verifier=verifier)  # type: ignore[arg-type]
