"""Strategy graphs on the real embedded model: a batch gives what one-by-one runs give.

What the graphs do with their candidates (results, search shape, selection, budgets,
events, persistence, refusals) is proved on the scripted policy in tests/unit
(test_best_of_n_graph.py, test_step_search_graphs.py, test_self_refine_graph.py,
test_adaptive_graph.py, test_budgets_and_events.py, test_strategy_refusals.py); every
strategy runs on the embedded model in test_reliability_determinism.py."""

from __future__ import annotations

from typing import Any

from ttc_graph import create_best_of_n
from ttc_graph.policy import SamplingParams

QUESTION = "Sam has 7 pencils and buys 5 more. How many pencils does Sam have?"
SMALL = SamplingParams(temperature=0.8, max_new_tokens=12)


def test_batch_matches_one_by_one(policy: Any) -> None:
    graph = create_best_of_n(policy=policy, n=2, selection="majority", sampling=SMALL, seed=8)
    questions = [QUESTION, "What is 9 + 6?", "What is 3 times 4?"]
    batched = graph.batch([{"question": q} for q in questions])
    for q, result in zip(questions, batched, strict=True):
        assert result["question_text"] == q
        alone = graph.invoke({"question": q})
        assert [c["text"] for c in alone["candidates"]] == [c["text"] for c in result["candidates"]]
