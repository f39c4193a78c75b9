"""Budgets: every strategy stops within its token / time budget, returns the best
answer it has, says so (``budget_limited``), and early-stopping votes keep the
per-row seeding property."""

from __future__ import annotations

from typing import Any

import pytest
from reliability_faults import FlakyPolicy

from scripted import options_for
from ttc_graph import Budget, create_beam_search, create_best_of_n
from ttc_graph.policy import SamplingParams
from ttc_graph.strategies import SPECS, build_strategy, defaults
from ttc_graph.strategies.config import EarlyStop
from ttc_graph.verifiers import ArithmeticVerifier, Verifier

QUESTION = "Sam has 7 pencils and buys 5 more. How many pencils does Sam have?"
SAMPLING = SamplingParams(temperature=0.8, max_new_tokens=24)
OPTIONS: dict[str, Any] = {"n": 4, "beam_width": 2, "max_steps": 3, "max_rounds": 2, "seed": 5}


@pytest.fixture(scope="module")
def verifier() -> ArithmeticVerifier:
    return ArithmeticVerifier()


def build(name: str, policy: Any, verifier: Any, **kwargs: Any) -> Any:
    return build_strategy(
        name,
        policy=policy,
        verifier=verifier,
        sampling=SAMPLING,
        **options_for(name, **OPTIONS),
        **kwargs,
    )


@pytest.mark.parametrize("name", list(SPECS))
def test_every_strategy_stops_within_its_token_budget(
    name: str, policy: Any, verifier: ArithmeticVerifier
) -> None:
    limit = 16
    if name == "adaptive":
        # Adaptive shares its budget out in whole rounds: less than one is refused
        # up front, and a budget of one round and a half stops after the first.
        with pytest.raises(ValueError, match="smaller than one first round"):
            build(name, policy, verifier, budget=Budget(max_tokens=limit))
        first_round = min(defaults.ADAPTIVE_ROUND, OPTIONS["n"]) * SAMPLING.max_new_tokens
        limit = first_round + first_round // 2
    result = build(name, policy, verifier, budget=Budget(max_tokens=limit)).invoke(
        {"question": QUESTION}
    )
    used = result["usage"]["completion_tokens"]
    # Every row gets at most its share of what is left, so nothing overshoots.
    assert used <= limit, used
    if name != "adaptive":  # adaptive may settle inside its budget
        assert result["budget_limited"] is True
    assert result["candidates"], "the best answer found so far is still returned"
    assert result["solution"], "a limited search never returns nothing"
    assert result["solution"] in [c["text"] for c in result["candidates"]]


@pytest.mark.parametrize("name", ["majority", "beam_search", "self_refine"])
def test_a_budget_that_does_not_bind_changes_nothing(
    name: str, policy: Any, verifier: ArithmeticVerifier
) -> None:
    small = options_for(name, n=2, beam_width=1, max_steps=2, max_rounds=1, seed=5)

    def run(**kwargs: Any) -> dict[str, Any]:
        graph = build_strategy(
            name,
            policy=policy,
            verifier=verifier,
            sampling=SamplingParams(max_new_tokens=8),
            **small,
            **kwargs,
        )
        return graph.invoke({"question": QUESTION})

    free = run()
    roomy = run(budget=Budget(max_tokens=100_000))
    assert roomy["budget_limited"] is False
    assert [c["text"] for c in roomy["candidates"]] == [c["text"] for c in free["candidates"]]


def test_best_of_n_splits_the_token_budget_between_candidates(policy: Any) -> None:
    graph = create_best_of_n(
        policy=policy,
        n=4,
        selection="majority",
        sampling=SamplingParams(temperature=0.8, max_new_tokens=48),
        seed=2,
        budget=Budget(max_tokens=20),
    )
    result = graph.invoke({"question": QUESTION})
    assert len(result["candidates"]) == 4, "N is kept; each candidate gets a share"
    assert all(c["completion_tokens"] <= 5 for c in result["candidates"])
    assert result["usage"]["completion_tokens"] <= 20
    assert result["budget_limited"] is True


def test_time_budget_stops_generation_mid_call(policy: Any) -> None:
    # 512 tokens would take many seconds; the deadline stops the rows long before.
    graph = create_best_of_n(
        policy=policy,
        n=2,
        selection="majority",
        sampling=SamplingParams(temperature=0.0, max_new_tokens=512),
        system_prompt=None,
        seed=0,
        budget=Budget(max_seconds=0.3),
    )
    result = graph.invoke({"question": "Count from 1 to 500, one number per line."})
    assert result["budget_limited"] is True
    for c in result["candidates"]:
        assert c["finish_reason"] == "length", "stopped by the deadline, not by EOS"
        assert 1 <= c["completion_tokens"] < 512
    assert result["solution"]


def test_time_budget_ends_a_step_search_between_iterations(
    policy: Any, verifier: ArithmeticVerifier
) -> None:
    graph = create_beam_search(
        policy=policy,
        verifier=verifier,
        n=2,
        beam_width=1,
        max_steps=50,
        sampling=SamplingParams(temperature=0.8, max_new_tokens=8),
        seed=4,
        budget=Budget(max_seconds=0.2),
    )
    result = graph.invoke({"question": QUESTION})
    iterations = {n["iteration"] for n in result["trace"].values() if n["status"] != "root"}
    assert len(iterations) < 50
    assert result["budget_limited"] is True
    assert result["solution"]


def test_one_token_budget_still_returns_an_answer_attempt(
    policy: Any, verifier: ArithmeticVerifier
) -> None:
    graph = create_beam_search(
        policy=policy,
        verifier=verifier,
        n=2,
        beam_width=1,
        max_steps=4,
        sampling=SAMPLING,
        seed=1,
        budget=Budget(max_tokens=1),
    )
    result = graph.invoke({"question": QUESTION})
    assert result["usage"]["completion_tokens"] <= 2, "one token per row at most"
    assert result["budget_limited"] is True
    assert result["candidates"]
    assert result["solution"]


# -- early stopping ------------------------------------------------------------------


def test_early_stop_ends_the_vote_once_answers_agree(policy: Any) -> None:
    greedy = SamplingParams(temperature=0.0, max_new_tokens=12)
    counted = FlakyPolicy(policy)
    graph = create_best_of_n(
        policy=counted,
        n=8,
        selection="majority",
        sampling=greedy,
        system_prompt=None,  # the bare model answers "2 + 3 = 5" straight away
        seed=0,
        early_stop=EarlyStop(round_size=2, agreement=1.0),
    )
    events = list(graph.stream({"question": "What is 2 + 3?"}, stream_mode=["custom", "values"]))
    result = events[-1][1]
    stopped = [
        data for mode, data in events if mode == "custom" and data["event"] == "early_stopped"
    ]
    # Greedy rows are identical, so the first round already agrees.
    assert result["candidates"][0]["answer"] is not None
    assert len(result["candidates"]) == 2
    assert counted.calls == 1
    assert stopped == [
        {
            "event": "early_stopped",
            "sampled": 2,
            "n": 8,
            "agreement": 1.0,
            "saved_candidates": 6,
            "saved_tokens_estimate": 3 * result["usage"]["completion_tokens"],
        }
    ]


def test_early_stopped_vote_is_the_full_vote_cut_short(policy: Any) -> None:
    sampling = SamplingParams(temperature=1.0, max_new_tokens=10)
    full = create_best_of_n(policy=policy, n=6, selection="majority", sampling=sampling, seed=9)
    counted = FlakyPolicy(policy)
    rounds = create_best_of_n(
        policy=counted,
        n=6,
        selection="majority",
        sampling=sampling,
        seed=9,
        early_stop=EarlyStop(round_size=3, agreement=1.0),
    )
    everything = full.invoke({"question": QUESTION})
    cut = rounds.invoke({"question": QUESTION})
    got = [c["text"] for c in cut["candidates"]]
    # Candidate i is the same row whatever the rounds: the rounds' samples are a prefix.
    assert got == [c["text"] for c in everything["candidates"]][: len(got)]
    assert counted.calls == len(got) // 3
    assert len(got) == 6, "with this seed the three first answers disagree, so both rounds ran"


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
def test_bad_early_stop_is_refused(
    kwargs: dict[str, Any], match: str, policy: Any, verifier: ArithmeticVerifier
) -> None:
    options = {"n": 8, "early_stop": EarlyStop(round_size=2), **kwargs}
    with pytest.raises(ValueError, match=match):
        create_best_of_n(policy=policy, verifier=verifier, **options)


def test_early_stop_needs_a_policy_that_numbers_rounds(policy: Any) -> None:
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


# -- early stopping by the verifier's posterior --------------------------------------


class ConstantVerifier(Verifier):
    """Scripted scores for a pure test of the stopping rule (the model is real)."""

    value: float = 0.9

    def score_steps(self, question: str, candidates: Any) -> list[list[float]]:
        return [[self.value] * len(steps) for steps in candidates]


@pytest.mark.parametrize(("score", "sampled"), [(0.9, 4), (0.1, 8)])
def test_posterior_early_stop_waits_for_verified_agreement(
    policy: Any, score: float, sampled: int
) -> None:
    """Greedy rows agree at once; only well-scored agreement settles the vote.

    With scores s the posterior after k identical rows is k·s / (k·s + 1): 0.64 after
    the first round of 2 and 0.78 after the second at s = 0.9 (stop at 0.75), while
    at s = 0.1 it never gets there and all 8 rows are sampled. Raw agreement would
    have stopped after the first round in both cases.
    """
    graph = create_best_of_n(
        policy=FlakyPolicy(policy),
        verifier=ConstantVerifier(value=score),
        n=8,
        selection="weighted",
        sampling=SamplingParams(temperature=0.0, max_new_tokens=12),
        system_prompt=None,
        seed=0,
        early_stop=EarlyStop(round_size=2, agreement=0.75),
    )
    events = list(graph.stream({"question": "What is 2 + 3?"}, stream_mode=["custom", "values"]))
    result = events[-1][1]
    assert result["candidates"][0]["answer"] is not None
    assert len(result["candidates"]) == sampled
    stopped = [d for m, d in events if m == "custom" and d["event"] == "early_stopped"]
    if sampled < 8:
        (event,) = stopped
        assert event["agreement"] == pytest.approx(4 * score / (4 * score + 1))
    else:
        assert stopped == []
