"""Adaptive (issue 16) on the embedded model: one real search checked against its replay
from a best-of-N sample (the real policy's per-row seeding makes its candidates a prefix
of that sample). Routing, the pool, the eval option and the plot on scripted scores are
unit tests (tests/unit/test_adaptive.py); the graph's rounds, events, budgets and a batch
sharing one token pool on the scripted policy are in tests/unit/test_adaptive_graph.py."""

from __future__ import annotations

from typing import Any

from ttc_graph import Budget, create_adaptive, create_best_of_n
from ttc_graph.evaluation.replay import Sample, replay
from ttc_graph.policy import SamplingParams
from ttc_graph.strategies.routing import Decision
from ttc_graph.verifiers import GroundedVerifier

# -- one real search with the embedded model ------------------------------------------------

QUESTIONS = [
    "Sam has 3 apples. Sam buys 4 more apples. How many apples does Sam have now?",
    "Mia has 12 coins. Mia loses 5 coins. How many coins does Mia have now?",
]
TINY = SamplingParams(temperature=0.8, max_new_tokens=12)


def test_live_adaptive_equals_its_replay_from_a_best_of_n_sample(policy: Any) -> None:
    verifier = GroundedVerifier()
    sample = create_best_of_n(
        policy=policy, verifier=verifier, n=4, selection="weighted", sampling=TINY, seed=0
    )
    stored = [sample.invoke({"question": q})["candidates"] for q in QUESTIONS]
    pools = [[Sample(c["answer"], c["score"], c["completion_tokens"]) for c in cs] for cs in stored]
    # Always "sample": the budget (36 tokens = 3 rows) must end each question mid-way.
    graph = create_adaptive(
        policy=policy,
        verifier=verifier,
        budget=Budget(max_tokens=36),
        routing=lambda s: Decision("sample", "scripted"),
        round_size=2,
        max_samples=4,
        sampling=TINY,
        seed=0,
    )
    results = [graph.invoke({"question": q}) for q in QUESTIONS]
    replayed = replay(
        pools,
        routing=lambda s: Decision("sample", "scripted"),
        round_size=2,
        row_tokens=12,
        tokens_per_question=36,
        shared=False,
        max_samples=4,
    )
    for result, cs, again in zip(results, stored, replayed, strict=True):
        texts = [c["text"] for c in result["candidates"]]
        assert texts == [c["text"] for c in cs[: len(texts)]], "a prefix of best-of-N's sample"
        assert len(texts) == again.samples == 3
        assert result["usage"]["completion_tokens"] == again.tokens <= 36
        assert [r["route"] for r in result["routes"]] == [d.route for d in again.decisions]
        assert result["routes"][-1]["budget"]
        assert result["budget_limited"]
        assert result["answer"] is not None or all(c["answer"] is None for c in cs[:3])
