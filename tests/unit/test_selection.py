"""How the answer is picked from candidates: vanilla, weighted (equivalent answers summed),
majority. (On best-of-N's real graph: tests/unit/test_best_of_n_graph.py.)"""

from __future__ import annotations

from ttc_graph.strategies.selection import select
from ttc_graph.strategies.state import Candidate


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
