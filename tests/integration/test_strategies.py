"""Strategy graphs on the real embedded model: results, search shape, events, persistence."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.checkpoint.memory import InMemorySaver

from scripted import options_for
from ttc_graph import (
    Budget,
    create_beam_search,
    create_best_of_n,
    create_dvts,
    create_self_refine,
)
from ttc_graph.policy import SamplingParams
from ttc_graph.strategies import SPECS, build_strategy
from ttc_graph.strategies.selection import select
from ttc_graph.verifiers import ArithmeticVerifier

QUESTION = "Sam has 7 pencils and buys 5 more. How many pencils does Sam have?"
SMALL = SamplingParams(temperature=0.8, max_new_tokens=12)


@pytest.fixture(scope="module")
def verifier() -> ArithmeticVerifier:
    return ArithmeticVerifier()


def _check_result(result: dict[str, Any], strategy: str) -> None:
    assert result["strategy"] == strategy
    assert result["question_text"] == QUESTION
    assert result["candidates"], "every strategy reports its candidates"
    chosen = [c for c in result["candidates"] if c["text"] == result["solution"]]
    assert chosen, "the solution is one of the candidates"
    assert result["answer"] == chosen[0]["answer"]
    usage = result["usage"]
    assert usage["completion_tokens"] >= max(c["completion_tokens"] for c in result["candidates"])
    assert usage["policy_calls"] >= 1
    assert usage["seconds"] > 0
    for c in result["candidates"]:
        assert "".join(c["steps"]) == c["text"]
        if c["step_scores"]:
            assert len(c["step_scores"]) == len(c["steps"])
            assert all(0.0 <= s <= 1.0 for s in c["step_scores"])
    trace = result["trace"]
    assert trace["root"]["status"] == "root"
    for node in trace.values():
        assert node["parent"] is None or node["parent"] in trace
    chosen_nodes = [n for n in trace.values() if n["chosen"]]
    assert len(chosen_nodes) >= 2, "the chosen path runs from the root to a leaf"


@pytest.mark.parametrize("name", list(SPECS))
def test_every_strategy_returns_a_well_formed_result(
    name: str, policy: Any, verifier: ArithmeticVerifier
) -> None:
    graph = build_strategy(
        name,
        policy=policy,
        verifier=verifier,
        sampling=SMALL,
        **options_for(name, n=4, beam_width=2, max_steps=2, seed=11, max_rounds=1),
    )
    result = graph.invoke({"question": QUESTION})
    _check_result(result, name)
    if name in ("majority", "weighted", "best_of_n"):
        assert len(result["candidates"]) == 4
        assert result["usage"]["policy_calls"] == 1, "N candidates come from one policy call"
        assert result["usage"]["completion_tokens"] == sum(
            c["completion_tokens"] for c in result["candidates"]
        )


def test_beam_search_keeps_n_over_beam_width_beams(
    policy: Any, verifier: ArithmeticVerifier
) -> None:
    graph = create_beam_search(
        policy=policy, verifier=verifier, n=4, beam_width=2, max_steps=3, sampling=SMALL, seed=5
    )
    events = list(graph.stream({"question": QUESTION}, stream_mode="custom"))
    prunes = [e for e in events if e["event"] == "beam_pruned"]
    generated_per_iteration: dict[int, int] = {}
    for e in events:
        if e["event"] == "candidate_generated":
            generated_per_iteration[e["iteration"]] = (
                generated_per_iteration.get(e["iteration"], 0) + 1
            )
    assert prunes
    for e in prunes[:-1]:
        open_count = len(e["kept"]) + len(e["pruned"])
        assert len(e["kept"]) == min(2, open_count), e
    # Every iteration samples N candidates in total, in one policy call.
    for iteration, count in generated_per_iteration.items():
        assert count == 4, (iteration, count)


def test_beam_search_policy_calls_one_per_iteration(
    policy: Any, verifier: ArithmeticVerifier
) -> None:
    graph = create_beam_search(
        policy=policy, verifier=verifier, n=4, beam_width=2, max_steps=2, sampling=SMALL, seed=2
    )
    result = graph.invoke({"question": QUESTION})
    iterations = {n["iteration"] for n in result["trace"].values() if n["status"] != "root"}
    assert result["usage"]["policy_calls"] == len(iterations)
    assert result["usage"]["verifier_calls"] == len(iterations)


def test_dvts_subtrees_stay_independent(policy: Any, verifier: ArithmeticVerifier) -> None:
    graph = create_dvts(
        policy=policy, verifier=verifier, n=4, beam_width=2, max_steps=3, sampling=SMALL, seed=9
    )
    result = graph.invoke({"question": QUESTION})
    trace = result["trace"]
    groups = {n["group"] for n in trace.values() if n["status"] != "root"}
    assert groups == {0, 1}
    for n in trace.values():
        if n["parent"] not in (None, "root"):
            assert trace[n["parent"]]["group"] == n["group"], "a subtree only extends itself"
    # Each subtree keeps one beam per iteration and samples beam_width children from it.
    children: dict[str, int] = {}
    for n in trace.values():
        if n["parent"] not in (None, "root"):
            children[n["parent"]] = children.get(n["parent"], 0) + 1
    assert all(count == 2 for count in children.values())
    kept = [n for n in trace.values() if n["status"] == "kept"]
    per_iteration_group = {(n["iteration"], n["group"]) for n in kept}
    assert len(per_iteration_group) == len(kept), "at most one kept beam per subtree and step"
    assert {c["group"] for c in result["candidates"]} <= {0, 1}


def test_a_weighted_search_carries_each_candidates_votes_from_its_work(policy: Any) -> None:
    from ttc_graph.verifiers import GroundedVerifier

    grounded = GroundedVerifier()
    graph = create_best_of_n(
        policy=policy,
        verifier=grounded,
        n=8,
        selection="weighted",
        sampling=SamplingParams(temperature=0.8, max_new_tokens=48),
        seed=0,
    )
    result = graph.invoke({"question": QUESTION})
    votes = [c.get("support", {}) for c in result["candidates"]]
    assert votes == [grounded.support(QUESTION, c["steps"]) for c in result["candidates"]]
    # With seed 0 one sample checks out: "so Sam has 1 + 7 = 8 pencils".
    assert any(votes), [c["text"] for c in result["candidates"]]
    # The graph's choice is the one select() makes from the same candidates and votes.
    chosen = select(result["candidates"], "weighted")
    assert chosen is not None
    assert result["candidates"][chosen]["answer"] == result["answer"]


def test_self_refine_never_returns_a_worse_answer(
    policy: Any, verifier: ArithmeticVerifier
) -> None:
    graph = create_self_refine(
        policy=policy, verifier=verifier, max_rounds=2, threshold=1.0, sampling=SMALL, seed=4
    )
    result = graph.invoke({"question": QUESTION})
    draft = result["candidates"][0]
    chosen = next(c for c in result["candidates"] if c["text"] == result["solution"])
    assert chosen["score"] >= draft["score"]
    assert chosen["score"] == max(c["score"] for c in result["candidates"])
    assert result["usage"]["policy_calls"] == 1 + 2 * (len(result["candidates"]) - 1)


def test_streaming_yields_events_in_order(policy: Any, verifier: ArithmeticVerifier) -> None:
    graph = create_beam_search(
        policy=policy, verifier=verifier, n=2, beam_width=1, max_steps=2, sampling=SMALL, seed=3
    )
    names = [e["event"] for e in graph.stream({"question": QUESTION}, stream_mode="custom")]
    assert names[-1] == "answer_chosen"
    first_round = names[: names.index("beam_pruned") + 1]
    assert first_round == ["candidate_generated"] * 2 + ["step_scored"] * 2 + ["beam_pruned"]


def test_checkpointed_run_resumes_to_the_same_result(
    policy: Any, verifier: ArithmeticVerifier
) -> None:
    def build() -> Any:
        return create_beam_search(
            policy=policy,
            verifier=verifier,
            n=2,
            beam_width=1,
            max_steps=2,
            sampling=SMALL,
            seed=21,
            checkpointer=InMemorySaver(),
        )

    straight = build().invoke({"question": QUESTION}, {"configurable": {"thread_id": "a"}})
    graph = build()
    config = {"configurable": {"thread_id": "b"}}
    graph.invoke({"question": QUESTION}, config, interrupt_after=["score"])
    paused = graph.get_state(config)
    assert paused.next == ("prune",), "interrupted after the first scoring step"
    resumed = graph.invoke(None, config)
    assert resumed["answer"] == straight["answer"]
    assert [c["text"] for c in resumed["candidates"]] == [c["text"] for c in straight["candidates"]]


def test_long_searches_never_hit_the_recursion_limit(
    policy: Any, verifier: ArithmeticVerifier
) -> None:
    graph = create_beam_search(
        policy=policy,
        verifier=verifier,
        n=2,
        beam_width=2,
        max_steps=12,
        sampling=SamplingParams(temperature=0.8, max_new_tokens=3),
        seed=1,
    )
    result = graph.invoke({"question": QUESTION})
    assert max(n["iteration"] for n in result["trace"].values()) <= 11
    assert result["candidates"]


def test_chat_messages_are_accepted_as_input(policy: Any) -> None:
    graph = create_best_of_n(policy=policy, n=2, selection="majority", sampling=SMALL, seed=0)
    result = graph.invoke({"question": [SystemMessage("Answer briefly."), HumanMessage(QUESTION)]})
    assert result["question_text"] == QUESTION
    assert len(result["candidates"]) == 2


def test_batch_matches_one_by_one(policy: Any) -> None:
    graph = create_best_of_n(policy=policy, n=2, selection="majority", sampling=SMALL, seed=8)
    questions = [QUESTION, "What is 9 + 6?", "What is 3 times 4?"]
    batched = graph.batch([{"question": q} for q in questions])
    for q, result in zip(questions, batched, strict=True):
        assert result["question_text"] == q
        alone = graph.invoke({"question": q})
        assert [c["text"] for c in alone["candidates"]] == [c["text"] for c in result["candidates"]]


def test_budget_stops_the_search_with_the_best_so_far(
    policy: Any, verifier: ArithmeticVerifier
) -> None:
    graph = create_beam_search(
        policy=policy,
        verifier=verifier,
        n=2,
        beam_width=1,
        max_steps=8,
        sampling=SamplingParams(temperature=0.8, max_new_tokens=16),
        seed=6,
        budget=Budget(max_tokens=20),
    )
    result = graph.invoke({"question": QUESTION})
    assert result["usage"]["completion_tokens"] < 8 * 2 * 16
    assert result["candidates"], "a budget-limited search still returns what it had"
    assert result["solution"]


@pytest.mark.parametrize(
    ("factory", "kwargs", "match"),
    [
        (create_beam_search, {"n": 6, "beam_width": 4}, "multiple of beam_width"),
        (create_beam_search, {"n": 2, "beam_width": 4}, "cannot exceed n"),
        (create_beam_search, {"n": 4, "beam_width": 2, "max_steps": 0}, "max_steps"),
        (create_dvts, {"n": 0, "beam_width": 1}, "option 'n' must be >= 1"),
        (create_beam_search, {"n": 4, "beam_width": 2, "lookahead": -1}, "lookahead"),
        (create_self_refine, {"max_rounds": 0}, "max_rounds"),
        (create_self_refine, {"threshold": 1.5}, "threshold"),
        (create_best_of_n, {"n": -1}, "option 'n' must be >= 1"),
        (create_best_of_n, {"selection": "best"}, "option 'selection' must be one of"),
        (create_best_of_n, {"aggregation": "max"}, "option 'aggregation' must be one of"),
    ],
)
def test_bad_arguments_fail_at_construction(
    factory: Any, kwargs: dict[str, Any], match: str, policy: Any, verifier: ArithmeticVerifier
) -> None:
    with pytest.raises(ValueError, match=match):
        factory(policy=policy, verifier=verifier, **kwargs)


@pytest.mark.parametrize("factory", [create_beam_search, create_dvts])
def test_search_without_verifier_is_refused(factory: Any, policy: Any) -> None:
    with pytest.raises(ValueError, match="needs a verifier"):
        factory(policy=policy, verifier=None)
    with pytest.raises(ValueError, match="needs a verifier"):
        create_best_of_n(policy=policy, selection="weighted")


@pytest.mark.parametrize("question", ["", "   ", [], [SystemMessage("only a system prompt")]])
def test_empty_questions_are_refused(question: Any, policy: Any) -> None:
    graph = create_best_of_n(policy=policy, n=1, selection="majority", sampling=SMALL)
    with pytest.raises(ValueError, match=r"question|user message"):
        graph.invoke({"question": question})
