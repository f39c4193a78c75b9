"""Best-of-N's real graph (and greedy's, the same graph with one temperature-0 sample)
driven by the scripted policy and verifier: candidates and their scores, the three
selections, early stopping by agreement and by the verifier's posterior."""

from __future__ import annotations

import pytest
from langchain_core.messages import HumanMessage, SystemMessage

from scripted import QUESTION, RIGHT, SOLUTIONS, ScriptedPolicy, ScriptedVerifier, streamed
from ttc_graph import Budget, EarlyStop, create_best_of_n
from ttc_graph.answers import extract_answer
from ttc_graph.policy import SamplingParams
from ttc_graph.strategies.best_of_n import create_greedy
from ttc_graph.strategies.selection import select
from ttc_graph.verifiers import GroundedVerifier


def written(policy: ScriptedPolicy, call: int = 0) -> list[str]:
    """What candidate ``i`` of a one-request call writes: solution ``(i + seed) % 4``."""
    c = policy.calls[call]
    seed = c.params.seed or 0
    count = len(policy.solutions)
    return [policy.solutions[(i + seed) % count] for i in range(c.first_index, c.first_index + c.n)]


def test_every_candidate_is_sampled_in_one_call_and_scored_step_by_step() -> None:
    policy = ScriptedPolicy()
    graph = create_best_of_n(policy=policy, verifier=ScriptedVerifier(), n=4, seed=0)
    result, events = streamed(graph)
    (call,) = policy.calls
    assert (len(call.requests), call.n, call.first_index) == (1, 4, 0)
    candidates = result["candidates"]
    assert [c["text"] for c in candidates] == written(policy)
    for c in candidates:
        # The verifier scored each step; the candidate's score is its last step's.
        assert "".join(c["steps"]) == c["text"]
        assert c["step_scores"] == [0.9 if "12" in s else 0.2 for s in c["steps"]]
        assert c["score"] == c["step_scores"][-1]
        assert c["answer"] == extract_answer(c["text"])
        assert c["finish_reason"] == "eos"
    usage = result["usage"]
    assert usage["completion_tokens"] == sum(c["completion_tokens"] for c in candidates)
    assert usage["prompt_tokens"] == 4 * policy.prompt_tokens
    assert (usage["policy_calls"], usage["verifier_calls"]) == (1, 1)
    # Vanilla: the top score, the earliest among equals.
    best = max(range(4), key=lambda i: (candidates[i]["score"], -i))
    assert result["solution"] == candidates[best]["text"]
    assert result["answer"] == "12"
    assert RIGHT in result["solution"]
    trace = result["trace"]
    chosen = [n["id"] for n in trace.values() if n["chosen"]]
    assert chosen[0] == "root"
    assert trace[chosen[-1]]["text"] == candidates[best]["steps"][-1]
    assert len(chosen) == 1 + len(candidates[best]["steps"]), "root to the chosen leaf"
    assert [e["event"] for e in events] == (
        ["candidate_generated"] * 4 + ["step_scored"] * 4 + ["answer_chosen"]
    )
    assert events[-1] == {"event": "answer_chosen", "answer": "12", "id": candidates[best]["id"]}


# Six one-step candidates: one well-checked 7, two fair 8s, three weak 9s.
VOTES = [f"The final answer is $\\boxed{{{a}}}$." for a in ("7", "8", "8", "9", "9", "9")]
VOTE_SCORES = {"{7}": 0.95, "{8}": 0.5, "{9}": 0.3}


@pytest.mark.parametrize(
    ("selection", "answer"),
    [
        ("vanilla", "7"),  # the single best score
        ("weighted", "8"),  # the largest summed score: 0.5 + 0.5 > 0.95 > 3 x 0.3
        ("majority", "9"),  # the most votes
    ],
)
def test_each_selection_picks_its_own_answer(selection: str, answer: str) -> None:
    graph = create_best_of_n(
        policy=ScriptedPolicy(VOTES),
        verifier=ScriptedVerifier(scores=VOTE_SCORES),
        n=6,
        seed=0,
    )
    result, _ = streamed(graph, context={"selection": selection})
    assert sorted(c["answer"] for c in result["candidates"]) == ["7", "8", "8", "9", "9", "9"]
    assert result["answer"] == answer
    assert result["options"]["selection"] == selection
    reply = result["messages"][-1]
    assert (reply.type, reply.content) == ("ai", result["solution"])
    assert reply.response_metadata == {"answer": answer, "strategy": "best_of_n"}
    chosen = select(result["candidates"], selection)  # type: ignore[arg-type]
    assert chosen is not None
    assert result["candidates"][chosen]["answer"] == answer, "the graph selects as select()"


def test_majority_needs_no_verifier_and_scores_nothing() -> None:
    policy = ScriptedPolicy()
    result, events = streamed(create_best_of_n(policy=policy, n=4, selection="majority", seed=0))
    assert [c["score"] for c in result["candidates"]] == [None] * 4
    assert all(c["step_scores"] == [] for c in result["candidates"])
    assert result["usage"]["verifier_calls"] == 0
    assert result["answer"] == "12", "two of the four scripted solutions say 12"
    assert [e["event"] for e in events] == ["candidate_generated"] * 4 + ["answer_chosen"]


def test_a_weighted_vote_carries_each_candidates_votes_from_its_work() -> None:
    grounded = GroundedVerifier()
    graph = create_best_of_n(policy=ScriptedPolicy(), verifier=grounded, n=4, seed=0)
    result, _ = streamed(graph, context={"selection": "weighted"})
    votes = [c.get("support", {}) for c in result["candidates"]]
    assert votes == [grounded.support(QUESTION, c["steps"]) for c in result["candidates"]]
    assert any(votes), "7 + 5 = 12 checks out against the question"
    # The graph's choice is the one select() makes from the same candidates and votes.
    chosen = select(result["candidates"], "weighted")
    assert chosen is not None
    assert result["candidates"][chosen]["answer"] == result["answer"]


def test_greedy_is_one_temperature_zero_sample_whatever_the_seed() -> None:
    answers = []
    for seed in (0, 1, 2):
        policy = ScriptedPolicy()
        result, _ = streamed(
            create_greedy(policy=policy, max_new_tokens=64), context={"seed": seed}
        )
        (call,) = policy.calls
        assert (call.n, call.params.temperature, call.params.max_new_tokens) == (1, 0.0, 64)
        assert [c["text"] for c in result["candidates"]] == [SOLUTIONS[0]]
        answers.append(result["answer"])
    assert answers == ["12"] * 3


def test_a_question_may_be_a_list_of_chat_messages() -> None:
    policy = ScriptedPolicy()
    graph = create_best_of_n(policy=policy, n=2, selection="majority", seed=0)
    result = graph.invoke({"question": [SystemMessage("Answer briefly."), HumanMessage(QUESTION)]})
    assert result["question_text"] == QUESTION
    assert len(result["candidates"]) == 2
    assert [m.content for m in policy.calls[0].requests[0].messages] == [
        "Answer briefly.",
        QUESTION,
    ]


def test_best_of_n_splits_the_token_budget_between_candidates() -> None:
    policy = ScriptedPolicy()
    graph = create_best_of_n(
        policy=policy,
        n=4,
        selection="majority",
        sampling=SamplingParams(temperature=0.8, max_new_tokens=48),
        seed=2,
        budget=Budget(max_tokens=20),
    )
    result, _ = streamed(graph)
    assert policy.calls[0].params.max_new_tokens == 20 // 4
    assert len(result["candidates"]) == 4, "N is kept; each candidate gets a share"
    assert all(c["completion_tokens"] <= 5 for c in result["candidates"])
    assert all(c["finish_reason"] == "length" for c in result["candidates"])
    assert result["usage"]["completion_tokens"] <= 20
    assert result["budget_limited"] is True


# -- early stopping ----------------------------------------------------------------------


def test_early_stop_ends_the_vote_once_the_answers_agree() -> None:
    agreeing = ScriptedPolicy([SOLUTIONS[0], SOLUTIONS[2]])  # both say 12
    graph = create_best_of_n(
        policy=agreeing,
        n=8,
        selection="majority",
        seed=0,
        early_stop=EarlyStop(round_size=2, agreement=1.0),
    )
    result, events = streamed(graph)
    assert len(result["candidates"]) == 2
    assert len(agreeing.calls) == 1
    tokens = result["usage"]["completion_tokens"]
    stopped = [e for e in events if e["event"] == "early_stopped"]
    assert stopped == [
        {
            "event": "early_stopped",
            "sampled": 2,
            "n": 8,
            "agreement": 1.0,
            "saved_candidates": 6,
            "saved_tokens_estimate": round(tokens / 2 * 6),
        }
    ]
    assert result["budget_limited"] is False


def test_an_open_vote_samples_round_after_round_numbering_its_candidates_on() -> None:
    full = ScriptedPolicy()
    everything, _ = streamed(create_best_of_n(policy=full, n=6, selection="majority", seed=9))
    rounds = ScriptedPolicy()
    graph = create_best_of_n(
        policy=rounds,
        n=6,
        selection="majority",
        seed=9,
        early_stop=EarlyStop(round_size=3, agreement=1.0),
    )
    cut, events = streamed(graph)
    # The four scripted answers never agree: both rounds run, the second numbered on.
    assert [(c.n, c.first_index) for c in rounds.calls] == [(3, 0), (3, 3)]
    assert [c["text"] for c in cut["candidates"]] == [c["text"] for c in everything["candidates"]]
    assert not [e for e in events if e["event"] == "early_stopped"]


@pytest.mark.parametrize(("score", "sampled"), [(0.9, 4), (0.1, 8)])
def test_posterior_early_stop_waits_for_verified_agreement(score: float, sampled: int) -> None:
    """Every row agrees at once; only well-scored agreement settles the vote.

    With scores s the posterior after k agreeing rows is k·s / (k·s + 1): 0.64 after
    the first round of 2 and 0.78 after the second at s = 0.9 (stop at 0.75), while
    at s = 0.1 it never gets there and all 8 rows are sampled. Raw agreement would
    have stopped after the first round in both cases.
    """
    policy = ScriptedPolicy([SOLUTIONS[0]])
    graph = create_best_of_n(
        policy=policy,
        verifier=ScriptedVerifier(scores={"": score}),
        n=8,
        selection="weighted",
        seed=0,
        early_stop=EarlyStop(round_size=2, agreement=0.75),
    )
    result, events = streamed(graph)
    assert result["candidates"][0]["answer"] == "12"
    assert len(result["candidates"]) == sampled
    assert len(policy.calls) == sampled // 2
    stopped = [e for e in events if e["event"] == "early_stopped"]
    if sampled < 8:
        (event,) = stopped
        assert event["agreement"] == pytest.approx(4 * score / (4 * score + 1))
    else:
        assert stopped == []
