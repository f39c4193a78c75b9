"""Early stopping's rules, no model: ``EarlyStop`` refuses bad values at construction,
and the posterior weighs answers by score with a prior. (Budgets and early stopping
on the embedded model: tests/integration/test_reliability_budgets.py; on every
strategy's graph with a scripted policy: tests/unit/test_budgets_and_events.py.)"""

from __future__ import annotations

from typing import Any

import pytest

from ttc_graph.strategies.config import EarlyStop
from ttc_graph.strategies.routing import answer_masses, posterior


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"round_size": 0}, "round_size"),
        ({"agreement": 0.0}, "agreement"),
        ({"agreement": 1.5}, "agreement"),
        ({"by": "votes"}, "by"),
        ({"prior": -1.0}, "prior"),
        ({"prior": float("nan")}, "prior"),
    ],
)
def test_bad_early_stop_values_fail_on_construction(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        EarlyStop(**kwargs)


def test_answer_posterior_weighs_answers_by_score_with_a_prior() -> None:
    def share(answers: list[str | None], weights: list[float], prior: float) -> float:
        masses, _ = answer_masses(answers, weights)
        return posterior(masses, sum(weights), prior)

    # Two low-scored "7"s against one well-checked "12": the vote would say 7.
    assert share(["7", "7", "12"], [1.0, 1.0, 1.0], prior=0.0) == pytest.approx(2 / 3)
    weighted = share(["7", "7", "12", None], [0.1, 0.1, 0.9, 0.5], prior=1.0)
    assert weighted == pytest.approx(0.9 / (1.6 + 1.0))
    assert share([None, None], [0.5, 0.5], prior=1.0) == 0.0
