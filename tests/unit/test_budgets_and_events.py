"""Every strategy's real graph driven by the scripted policy and verifier: a well-formed
result, token and time budgets (``budget_tokens``, ``budget_seconds``) and
``budget_limited``, the custom stream events in order, and a checkpointed run resumed
from an interrupt to the result of an uninterrupted one."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from scripted import QUESTION, ScriptedPolicy, ScriptedVerifier, options_for, streamed, without_ids
from ttc_graph import Budget, create_beam_search, create_best_of_n
from ttc_graph.policy import SamplingParams
from ttc_graph.strategies import SPECS, build_strategy, defaults

SAMPLING = SamplingParams(temperature=0.8, max_new_tokens=24)
OPTIONS: dict[str, Any] = {
    "n": 4,
    "beam_width": 2,
    "max_steps": 3,
    "max_rounds": 2,
    "threshold": 1.0,
    "seed": 5,
}


def build(name: str, policy: ScriptedPolicy | None = None, **kwargs: Any) -> Any:
    return build_strategy(
        name,
        policy=policy or ScriptedPolicy(),
        verifier=ScriptedVerifier(),
        sampling=SAMPLING,
        **options_for(name, **OPTIONS),
        **kwargs,
    )


@pytest.mark.parametrize("name", list(SPECS))
def test_every_strategy_returns_a_well_formed_result(name: str) -> None:
    result, _ = streamed(build(name))
    assert result["strategy"] == name
    assert result["question_text"] == QUESTION
    assert result["candidates"], "every strategy reports its candidates"
    chosen = [c for c in result["candidates"] if c["text"] == result["solution"]]
    assert chosen, "the solution is one of the candidates"
    assert result["answer"] == chosen[0]["answer"]
    usage = result["usage"]
    assert usage["completion_tokens"] >= max(c["completion_tokens"] for c in result["candidates"])
    assert usage["policy_calls"] >= 1
    assert usage["verifier_calls"] >= 1
    assert usage["seconds"] > 0
    for c in result["candidates"]:
        assert "".join(c["steps"]) == c["text"]
        assert len(c["step_scores"]) == len(c["steps"])
        assert all(0.0 <= s <= 1.0 for s in c["step_scores"])
    trace = result["trace"]
    assert trace["root"]["status"] == "root"
    for node in trace.values():
        assert node["parent"] is None or node["parent"] in trace
    chosen_nodes = [n for n in trace.values() if n["chosen"]]
    assert len(chosen_nodes) >= 2, "the chosen path runs from the root to a leaf"
    assert result["budget_limited"] is False
    if name in ("majority", "weighted", "best_of_n"):
        assert len(result["candidates"]) == 4
        assert result["usage"]["policy_calls"] == 1, "N candidates come from one policy call"
        assert result["usage"]["completion_tokens"] == sum(
            c["completion_tokens"] for c in result["candidates"]
        )


# -- budgets ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(SPECS))
def test_every_strategy_stops_within_its_token_budget(name: str) -> None:
    limit = 12  # less than one scripted solution (16 words, a token each)
    if name == "adaptive":
        # Adaptive shares its budget out in whole rounds: less than one is refused
        # up front, and a budget of one round and a half stops after the first.
        with pytest.raises(ValueError, match="smaller than one first round"):
            build(name, budget=Budget(max_tokens=limit))
        first_round = min(defaults.ADAPTIVE_ROUND, OPTIONS["n"]) * SAMPLING.max_new_tokens
        limit = first_round + first_round // 2
    policy = ScriptedPolicy()
    result, _ = streamed(build(name, policy, budget=Budget(max_tokens=limit)))
    used = result["usage"]["completion_tokens"]
    # Every row gets at most its share of what is left, so nothing overshoots.
    assert used <= limit, used
    if name != "adaptive":  # adaptive may settle inside its budget
        assert result["budget_limited"] is True
    assert result["candidates"], "the best answer found so far is still returned"
    assert result["solution"], "a limited search never returns nothing"
    assert result["solution"] in [c["text"] for c in result["candidates"]]
    if name != "adaptive":  # adaptive grants whole rounds; the others share tokens out
        first = policy.calls[0]
        rows = len(first.requests) * first.n
        assert first.params.max_new_tokens == limit // rows, "each row its share of the budget"


@pytest.mark.parametrize("name", list(SPECS))
def test_a_budget_that_does_not_bind_changes_nothing(name: str) -> None:
    free, _ = streamed(build(name))
    roomy, _ = streamed(build(name, budget=Budget(max_tokens=100_000, max_seconds=600.0)))
    assert roomy["budget_limited"] is False
    assert [c["text"] for c in roomy["candidates"]] == [c["text"] for c in free["candidates"]]
    assert roomy["answer"] == free["answer"]


@pytest.mark.parametrize("strategy", ["best_of_n", "beam_search"])
def test_a_budget_limited_answer_is_the_top_scored_candidate(strategy: str) -> None:
    common: dict[str, Any] = {
        "policy": ScriptedPolicy(),
        # The solution that opens "He has" scores higher (by its mean step) than the others.
        "verifier": ScriptedVerifier(scores={"He has": 0.7}),
        "aggregation": "mean",
        "selection": "vanilla",
        "seed": 2,
        "budget": Budget(max_tokens=12),
    }
    if strategy == "best_of_n":
        graph = create_best_of_n(
            n=4, sampling=SamplingParams(temperature=0.8, max_new_tokens=32), **common
        )
    else:
        steps = SamplingParams(temperature=0.8, max_new_tokens=8)
        graph = create_beam_search(n=2, beam_width=1, max_steps=6, sampling=steps, **common)
    result = graph.invoke({"question": QUESTION})
    assert result["budget_limited"] is True
    scored = [c for c in result["candidates"] if c["score"] is not None]
    assert scored, result["candidates"]
    best = max(scored, key=lambda c: c["score"])
    assert result["solution"] == best["text"]
    assert best["score"] > min(c["score"] for c in scored), "a choice was made"


def test_a_one_token_budget_still_returns_an_answer_attempt() -> None:
    result, _ = streamed(build("beam_search", budget=Budget(max_tokens=1)))
    assert result["usage"]["completion_tokens"] <= 4, "one token per row at most"
    assert result["budget_limited"] is True
    assert result["candidates"]
    assert result["solution"]


@pytest.mark.parametrize("name", list(SPECS))
def test_a_time_budget_ends_every_strategy_with_what_it_has(name: str) -> None:
    # Every call takes 50 ms and the budget is 10 ms: the first call ends past the
    # deadline, its rows cut (as a real policy cuts them), and nothing more is asked.
    slow = ScriptedPolicy(seconds_per_call=0.05)
    result, _ = streamed(build(name, slow, budget=Budget(max_seconds=0.01)))
    assert result["budget_limited"] is True
    assert len(slow.calls) == 1, "no call starts after the deadline"
    assert result["usage"]["seconds"] >= 0.01
    assert result["candidates"]
    assert all(c["finish_reason"] == "length" for c in result["candidates"])
    assert result["solution"] in [c["text"] for c in result["candidates"]]


def test_a_time_budget_ends_a_step_search_between_iterations() -> None:
    slow = ScriptedPolicy(seconds_per_call=0.02)
    graph = build("beam_search", slow, budget=Budget(max_seconds=0.05))
    result, _ = streamed(graph, context={"n": 2, "beam_width": 1, "max_steps": 50})
    iterations = {n["iteration"] for n in result["trace"].values() if n["status"] != "root"}
    assert 1 <= len(iterations) < 50
    assert len(slow.calls) == len(iterations)
    assert result["budget_limited"] is True
    assert result["solution"]


# -- stream events -----------------------------------------------------------------------

STEP = ["candidate_generated", "step_scored", "beam_pruned"]
EVENTS: dict[str, list[tuple[str, int]]] = {
    # (event, how many in a row), with OPTIONS: N = 4, beams of 2, 3 steps, 2 rounds.
    "greedy": [("candidate_generated", 1), ("step_scored", 1)],
    "best_of_n": [("candidate_generated", 4), ("step_scored", 4)],
    "weighted": [("candidate_generated", 4), ("step_scored", 4)],
    "majority": [("candidate_generated", 4), ("step_scored", 4)],
    "adaptive": [("candidate_generated", 4), ("step_scored", 4), ("route_decided", 1)],
    "beam_search": [(e, 1 if e == "beam_pruned" else 4) for e in STEP] * 3,
    "dvts": [(e, 1 if e == "beam_pruned" else 4) for e in STEP] * 3,
    "self_refine": [(e, 1) for e in STEP] + [(e, 1) for e in ["critique", *STEP]] * 2,
}


@pytest.mark.parametrize("name", list(EVENTS))
def test_each_strategy_streams_its_events_in_order(name: str) -> None:
    result, events = streamed(build(name))
    names = [e["event"] for e in events]
    groups = [(event, len(list(run_))) for event, run_ in itertools.groupby(names)]
    assert groups == [*EVENTS[name], ("answer_chosen", 1)]
    generated = [e for e in events if e["event"] == "candidate_generated"]
    assert len({e["id"] for e in generated}) == len(generated), "each id announced once"
    for e in generated:
        assert set(e) == {"event", "id", "parent", "text", "iteration", "group", "finish_reason"}
    scores = {e["id"]: e["score"] for e in events if e["event"] == "step_scored"}
    assert set(scores) == {e["id"] for e in generated}
    for c in result["candidates"]:
        assert scores[c["id"]] == c["score"], "the score streamed is the score reported"
    chosen = next(c for c in result["candidates"] if c["text"] == result["solution"])
    assert events[-1] == {"event": "answer_chosen", "answer": result["answer"], "id": chosen["id"]}


# -- determinism -------------------------------------------------------------------------

QUESTIONS = [QUESTION, "Sam has 7 pencils and buys 5 more. How many now?"]


def comparable(result: dict[str, Any]) -> dict[str, Any]:
    """Everything but the wall-clock time and the messages' fresh ids."""
    usage = {k: v for k, v in result["usage"].items() if k != "seconds"}
    return {**without_ids(result), "usage": usage}


@pytest.mark.parametrize("name", list(SPECS))
async def test_every_graph_asks_the_same_alone_in_a_batch_and_async(name: str) -> None:
    """The graph's half of determinism: the same seeded run makes the same policy calls and
    gets the same result alone, in ``graph.batch`` beside another question, and under
    ``abatch``. (The policy's half, identical rows whatever they are batched with, is
    tests/integration/test_reliability_determinism.py on the embedded model.)"""
    alone_policy, batch_policy, async_policy = ScriptedPolicy(), ScriptedPolicy(), ScriptedPolicy()
    alone = [comparable(build(name, alone_policy).invoke({"question": q})) for q in QUESTIONS]
    inputs = [{"question": q} for q in QUESTIONS]
    together = [comparable(r) for r in build(name, batch_policy).batch(inputs)]
    concurrent = [comparable(r) for r in await build(name, async_policy).abatch(inputs)]
    assert together == alone
    assert concurrent == alone
    assert sorted(map(repr, asked(batch_policy))) == sorted(map(repr, asked(alone_policy)))
    assert sorted(map(repr, asked(async_policy))) == sorted(map(repr, asked(alone_policy)))


# -- checkpoints -------------------------------------------------------------------------


def asked(policy: ScriptedPolicy) -> list[Any]:
    """What each policy call asked for: rows, numbering, sampling, prefixes."""
    return [(c.n, c.first_index, c.params, [r.prefix for r in c.requests]) for c in policy.calls]


@pytest.mark.parametrize("name", list(SPECS))
def test_an_interrupted_run_resumes_to_the_result_of_an_uninterrupted_one(name: str) -> None:
    straight_policy = ScriptedPolicy()
    straight = build(name, straight_policy, checkpointer=InMemorySaver()).invoke(
        {"question": QUESTION}, {"configurable": {"thread_id": "a"}}
    )
    policy = ScriptedPolicy()
    graph = build(name, policy, checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "b"}}
    graph.invoke({"question": QUESTION}, config, interrupt_after=["score"])
    paused = graph.get_state(config)
    (after_score,) = {e.target for e in graph.get_graph().edges if e.source == "score"}
    assert paused.next == (after_score,), "interrupted after the first scoring step"
    resumed = graph.invoke(None, config)
    assert without_ids(resumed) | {"usage": None} == without_ids(straight) | {"usage": None}
    for key in ("completion_tokens", "prompt_tokens", "policy_calls", "verifier_calls"):
        assert resumed["usage"][key] == straight["usage"][key], key
    # The same policy calls, none made twice: nothing finished before the interrupt is redone.
    assert asked(policy) == asked(straight_policy)
