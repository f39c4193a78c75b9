"""Determinism: the same seed and configuration give the identical result on CPU,
run alone, run again, or run inside ``graph.batch`` beside other questions, in float32.

(In bfloat16, the default on CPUs with native bf16, a row's last digits depend on what it
is batched with, and a near-tie can sample another token: docs/reliability.md.)

Two halves make it: every graph makes the same policy calls alone, in a batch and under
``abatch`` (proved for every strategy on the scripted policy in
tests/unit/test_budgets_and_events.py), and the embedded policy gives the same rows for
the same calls whatever they are batched with: checked here on one strategy of each kind
of call (whole solutions, rounds numbered on, step continuations, chat critiques)."""

from __future__ import annotations

from typing import Any

import pytest

from scripted import options_for, without_ids
from ttc_graph.policy import SamplingParams
from ttc_graph.strategies import build_strategy
from ttc_graph.verifiers import ArithmeticVerifier

QUESTIONS = ["What is 9 + 6?", "Tom has 12 apples and eats 5. How many are left?"]
SAMPLING = SamplingParams(temperature=0.8, max_new_tokens=8)


def build(name: str, policy: Any, seed: int = 17) -> Any:
    return build_strategy(
        name,
        policy=policy,
        verifier=ArithmeticVerifier(),
        sampling=SAMPLING,
        **options_for(name, n=2, beam_width=1, max_steps=2, max_rounds=1, seed=seed),
    )


def comparable(result: dict[str, Any]) -> dict[str, Any]:
    """Everything but the wall-clock time and the messages' fresh ids."""
    usage = {k: v for k, v in result["usage"].items() if k != "seconds"}
    return {**without_ids(result), "usage": usage}


# Whole solutions (majority), rounds numbered on (adaptive), step continuations of
# merged prefixes (beam search), chat critiques and rewrites (self-refine).
KINDS_OF_CALL = ["majority", "adaptive", "beam_search", "self_refine"]


@pytest.mark.parametrize("name", KINDS_OF_CALL)
def test_same_seed_gives_the_same_result_alone_and_in_a_batch(name: str, policy_fp32: Any) -> None:
    policy = policy_fp32
    graph = build(name, policy)
    alone = [comparable(graph.invoke({"question": q})) for q in QUESTIONS]
    together = [comparable(r) for r in graph.batch([{"question": q} for q in QUESTIONS])]
    for q, a, b in zip(QUESTIONS, alone, together, strict=True):
        assert a["question_text"] == q
        assert a == b, f"{name}: batch and one-by-one differ for {q!r}"


async def test_async_runs_match_sync_runs(policy_fp32: Any) -> None:
    policy = policy_fp32
    graph = build("beam_search", policy)
    sync = [comparable(graph.invoke({"question": q})) for q in QUESTIONS]
    concurrent = await graph.abatch([{"question": q} for q in QUESTIONS])
    assert [comparable(r) for r in concurrent] == sync


def test_the_seed_is_what_fixes_the_samples(policy_fp32: Any) -> None:
    policy = policy_fp32
    first = build("majority", policy, seed=1).invoke({"question": QUESTIONS[0]})
    again = build("majority", policy, seed=1).invoke({"question": QUESTIONS[0]})
    other = build("majority", policy, seed=2).invoke({"question": QUESTIONS[0]})
    texts = [[c["text"] for c in r["candidates"]] for r in (first, again, other)]
    assert texts[0] == texts[1], "a fresh graph with the same seed repeats the samples"
    assert texts[0] != texts[2], "another seed draws other samples"
