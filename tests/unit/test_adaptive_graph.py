"""Adaptive's real graph driven by the scripted policy and verifier: rounds of samples until
the routing stops, each round numbered on from the last (so the candidates are a prefix of
best-of-N's with the same seed, and the evaluation's replay is the live run), the token
budget per question, a pool shared by a batch, and the ``route_decided`` events.

Two of the four scripted solutions say 12 (scored 0.9), the others 2 and 35 (0.2).
"""

from __future__ import annotations

from typing import Any

from scripted import QUESTION, SOLUTIONS, ScriptedPolicy, ScriptedVerifier, streamed
from ttc_graph import Budget, PosteriorRouting, TokenPool, create_adaptive, create_best_of_n
from ttc_graph.evaluation.replay import Sample, replay
from ttc_graph.policy import SamplingParams
from ttc_graph.strategies import defaults
from ttc_graph.strategies.routing import Decision


def always_sample(summary: Any) -> Decision:
    return Decision("sample", "scripted")


def rounds_of_two(policy: ScriptedPolicy, **arguments: Any) -> Any:
    """Adaptive on the scripted verifier, rounds of two, seed 0, routed by ``routing``
    (default: always sample another round)."""
    options: dict[str, Any] = {"routing": always_sample, "round_size": 2, "seed": 0}
    return create_adaptive(policy=policy, verifier=ScriptedVerifier(), **{**options, **arguments})


def test_rounds_go_on_until_the_most_samples_and_number_their_candidates_on() -> None:
    policy = ScriptedPolicy()
    graph = rounds_of_two(policy, n=6)
    result, events = streamed(graph)
    assert [(c.n, c.first_index) for c in policy.calls] == [(2, 0), (2, 2), (2, 4)]
    assert len({c.params.seed for c in policy.calls}) == 1, "best-of-N's one seed throughout"
    # Candidate k is best-of-N's candidate k with the same seed.
    sample = ScriptedPolicy()
    full = create_best_of_n(policy=sample, verifier=ScriptedVerifier(), n=6, seed=0)
    assert [c["text"] for c in result["candidates"]] == [
        c["text"] for c in full.invoke({"question": QUESTION})["candidates"]
    ]
    routes = result["routes"]
    assert [(r["route"], r["rows"], r["samples"]) for r in routes] == [
        ("sample", 2, 2),
        ("sample", 2, 4),
        ("stop", 0, 6),
    ]
    assert routes[-1]["reason"] == "done: 6 samples, the most allowed"
    tokens = [c["completion_tokens"] for c in result["candidates"]]
    for k, r in enumerate(routes):
        assert (r["round"], r["tokens"]) == (k + 1, sum(tokens[: 2 * (k + 1)])), "spent so far"
    decided = [e for e in events if e["event"] == "route_decided"]
    assert [e["route"] for e in decided] == ["sample", "sample", "stop"]
    assert all("reserved" not in e for e in decided)
    assert decided[-1]["leading_answer"] == "12"
    names = [e["event"] for e in events]
    assert names == (["candidate_generated"] * 2 + ["step_scored"] * 2 + ["route_decided"]) * 3 + [
        "answer_chosen"
    ]
    assert result["answer"] == "12"
    assert result["budget_limited"] is False


def test_the_default_routing_stops_once_the_weighted_vote_is_settled() -> None:
    policy = ScriptedPolicy()
    result, _ = streamed(create_adaptive(policy=policy, verifier=ScriptedVerifier(), seed=0))
    (route,) = result["routes"]
    # A first round of 4: two 12s at 0.9 against 0.2 + 0.2, plus the prior's pseudo-mass.
    posterior = 1.8 / (2.2 + defaults.ADAPTIVE_PRIOR)
    assert route["posterior"] == posterior
    assert posterior >= defaults.ADAPTIVE_STOP_AT
    assert route["route"] == "stop"
    assert (
        route["reason"]
        == f"confident: posterior {posterior:.2f} >= {defaults.ADAPTIVE_STOP_AT:.2f}"
    )
    assert len(result["candidates"]) == defaults.ADAPTIVE_ROUND
    assert len(policy.calls) == 1


def test_a_strict_routing_samples_on_while_the_vote_stays_open() -> None:
    policy = ScriptedPolicy()
    graph = rounds_of_two(policy, routing=PosteriorRouting(stop_at=0.6), n=8)
    result, _ = streamed(graph)
    posteriors = [r["posterior"] for r in result["routes"]]
    assert [r["route"] for r in result["routes"]] == ["sample", "sample", "stop"]
    assert max(posteriors[:2]) < 0.6, "open: another round"
    assert posteriors[-1] >= 0.6


def test_the_token_budget_shrinks_the_last_round_then_ends_the_search() -> None:
    policy = ScriptedPolicy()
    graph = rounds_of_two(
        policy, n=8, sampling=SamplingParams(max_new_tokens=20), budget=Budget(max_tokens=60)
    )
    result, events = streamed(graph)
    first, second = result["routes"]
    # 60 tokens, rows of up to 20: what the first round left fits one row, not two.
    left = 60 - first["tokens"]
    assert (first["route"], first["rows"], first["tokens_left"]) == ("sample", left // 20, left)
    assert second["route"] == "stop"
    assert second["budget"] is True
    assert second["reason"].startswith(f"budget: {60 - second['tokens']} tokens left")
    assert [c.n for c in policy.calls] == [2, 1]
    assert result["usage"]["completion_tokens"] == second["tokens"] <= 60
    assert result["budget_limited"] is True
    decided = [e for e in events if e["event"] == "route_decided"]
    assert [(e["route"], e["reason"][:6]) for e in decided] == [
        ("sample", "script"),
        ("stop", "budget"),
    ]


def test_a_run_equals_its_replay_from_a_stored_best_of_n_sample() -> None:
    questions = [QUESTION, "Sam has 7 pencils and buys 5 more. How many now?"]
    sampler = create_best_of_n(
        policy=ScriptedPolicy(), verifier=ScriptedVerifier(), n=4, selection="weighted", seed=0
    )
    stored = [sampler.invoke({"question": q})["candidates"] for q in questions]
    pools = [[Sample(c["answer"], c["score"], c["completion_tokens"]) for c in cs] for cs in stored]
    graph = rounds_of_two(
        ScriptedPolicy(), n=4, sampling=SamplingParams(max_new_tokens=16), budget=Budget(48)
    )
    results = [graph.invoke({"question": q}) for q in questions]
    rounds = {"round_size": 2, "max_samples": 4, "row_tokens": 16, "tokens_per_question": 48}
    replayed = replay(pools, routing=always_sample, shared=False, **rounds)
    for result, cs, again in zip(results, stored, replayed, strict=True):
        live = (
            [c["text"] for c in result["candidates"]],
            result["usage"]["completion_tokens"],
            [(r["route"], r["reason"], r["rows"]) for r in result["routes"]],
        )
        replay_of_it = (
            [c["text"] for c in cs[: again.samples]],  # a prefix of best-of-N's sample
            again.tokens,
            [(d.route, d.reason, d.rows) for d in again.decisions],
        )
        assert live == replay_of_it
        assert (again.samples, again.tokens <= 48) == (3, True)


def test_a_shared_pool_never_overspends_a_batch_and_every_question_gets_a_round() -> None:
    pool = TokenPool(tokens_per_question=40, questions=3)
    graph = rounds_of_two(
        ScriptedPolicy(), n=8, sampling=SamplingParams(max_new_tokens=16), budget=pool
    )
    batch = graph.batch([{"question": QUESTION}] * 3)
    spent = [r["usage"]["completion_tokens"] for r in batch]
    assert pool.spent == sum(spent) <= 3 * 40
    assert all(len(r["candidates"]) >= 2 for r in batch)
    assert all(r["routes"][-1]["budget"] for r in batch), "the pool ended every question"
    assert all(r["budget_limited"] for r in batch)


def test_adaptive_votes_by_weight() -> None:
    # Three weak 35s against one well-checked 12: the weighted vote says 12.
    policy = ScriptedPolicy([SOLUTIONS[3], SOLUTIONS[3], SOLUTIONS[3], SOLUTIONS[0]])
    graph = create_adaptive(
        policy=policy, verifier=ScriptedVerifier(scores={"35": 0.1}), n=4, seed=0
    )
    result, _ = streamed(graph)
    assert sorted(c["answer"] for c in result["candidates"]) == ["12", "35", "35", "35"]
    assert result["answer"] == "12"
