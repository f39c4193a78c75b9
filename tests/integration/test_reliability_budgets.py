"""Budgets on the embedded model: a time budget stops the real policy's generation
mid-call, and an early-stopped vote is the full vote cut short (the real policy's
per-row seeding). Every strategy within its token and time budgets, ``budget_limited``,
early stopping by agreement and by the posterior are proved on the scripted policy
(tests/unit/test_budgets_and_events.py, test_best_of_n_graph.py, test_early_stop_rules.py)."""

from __future__ import annotations

from typing import Any

from reliability_faults import FlakyPolicy

from ttc_graph import Budget, create_best_of_n
from ttc_graph.policy import SamplingParams
from ttc_graph.strategies.config import EarlyStop

QUESTION = "Sam has 7 pencils and buys 5 more. How many pencils does Sam have?"


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
