"""Early stopping's rules, no model: ``EarlyStop`` refuses bad values at construction,
best-of-N refuses an early stop it cannot honour (and a policy that cannot number its
rounds), and the posterior weighs answers by score with a prior. (Budgets and early stopping
on the embedded model: tests/integration/test_reliability_budgets.py; on every
strategy's graph with a scripted policy: tests/unit/test_budgets_and_events.py.)"""

from __future__ import annotations

from typing import Any

import pytest

from scripted import ScriptedPolicy, ScriptedVerifier
from ttc_graph import create_best_of_n
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


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"selection": "vanilla"}, "majority"),
        (
            {"selection": "majority", "n": 4, "early_stop": EarlyStop(round_size=4)},
            "smaller than n",
        ),
        ({"selection": "majority", "early_stop": "yes"}, "EarlyStop"),
        (
            {"selection": "majority", "early_stop": EarlyStop(round_size=2, by="posterior")},
            "posterior",
        ),
    ],
)
def test_bad_early_stop_is_refused(kwargs: dict[str, Any], match: str) -> None:
    options = {"n": 8, "early_stop": EarlyStop(round_size=2), **kwargs}
    with pytest.raises(ValueError, match=match):
        create_best_of_n(policy=ScriptedPolicy(), verifier=ScriptedVerifier(), **options)


def test_early_stop_needs_a_policy_that_numbers_rounds() -> None:
    policy = ScriptedPolicy()

    class PlainPolicy:
        def sample(
            self, requests: Any, *, n: int = 1, params: Any = None, config: Any = None
        ) -> Any:
            return policy.sample(requests, n=n, params=params, config=config)

        async def asample(
            self, requests: Any, *, n: int = 1, params: Any = None, config: Any = None
        ) -> Any:
            return await policy.asample(requests, n=n, params=params, config=config)

    with pytest.raises(ValueError, match="first_index"):
        create_best_of_n(
            policy=PlainPolicy(), n=8, selection="majority", early_stop=EarlyStop(round_size=2)
        )
