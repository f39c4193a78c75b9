"""Beam search's and DVTS's real graphs driven by the scripted policy and verifier: which
beams each keeps and prunes, one policy and one verifier call per iteration, the step
limit, look-ahead, and no recursion limit on a long search.

The scripted solutions share their first step ("Sam has 7 pencils.", scored 0.2 as it
holds no 12); their second steps differ, and the verifier scores those that compute 12
at 0.9 (or as a test's table says): what survives is decided there.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import pytest

from scripted import ScriptedPolicy, ScriptedVerifier, streamed
from ttc_graph import create_beam_search, create_dvts
from ttc_graph.strategies.beam_search import keep_top
from ttc_graph.strategies.dvts import keep_best_per_subtree
from ttc_graph.strategies.options import SearchConfig
from ttc_graph.strategies.state import Beam, SearchState
from ttc_graph.verifiers.aggregation import aggregate


def of(events: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [e for e in events if e["event"] == name]


def beam(id_: str, score: float | None, *, finished: bool = False, group: int = 0) -> Beam:
    return Beam(
        id=id_,
        node_ids=[id_],
        steps=[id_],
        step_scores=[],
        score=score,
        finished=finished,
        finish_reason="eos" if finished else "stop",
        completion_tokens=1,
        group=group,
        lookahead="",
    )


# -- the keep rules --------------------------------------------------------------------------


def test_beam_search_keeps_the_best_open_beams_and_lets_finished_ones_leave() -> None:
    cfg = SearchConfig(strategy="beam_search", n=4, beam_width=2)
    pending = [
        beam("a", 0.3),
        beam("b", 0.9),
        beam("c", None),  # unscored counts as 0
        beam("d", 0.95, finished=True),
        beam("e", 0.5),
    ]
    kept, done, pruned = keep_top(pending, cfg, SearchState())
    assert [b["id"] for b in kept] == ["b", "e"], "n / beam_width = 2 open beams, best first"
    assert [b["id"] for b in done] == ["d"], "a finished beam leaves, whatever its score"
    assert [b["id"] for b in pruned] == ["a", "c"]


def test_each_dvts_subtree_keeps_its_own_best_and_never_competes_with_another() -> None:
    cfg = SearchConfig(strategy="dvts", n=6, beam_width=2)
    pending = [
        beam("0a", 0.9, group=0),
        beam("0b", 0.8, group=0),  # better than subtree 1's best, and still pruned
        beam("1a", 0.1, group=1),
        beam("1b", 0.3, group=1),
        beam("2a", 0.7, group=2, finished=True),
        beam("2b", 0.6, group=2),
    ]
    kept, done, pruned = keep_best_per_subtree(pending, cfg, SearchState())
    assert [b["id"] for b in kept] == ["0a", "1b"]
    assert [b["id"] for b in done] == ["2a"], "a subtree whose best finished ends"
    assert [b["id"] for b in pruned] == ["0b", "1a", "2b"]


# -- beam search on its real graph -------------------------------------------------------------


def test_beam_search_expands_n_a_step_and_keeps_n_over_beam_width() -> None:
    policy = ScriptedPolicy()
    graph = create_beam_search(
        policy=policy, verifier=ScriptedVerifier(), n=4, beam_width=2, max_steps=5, seed=0
    )
    result, events = streamed(graph)
    scored = {e["id"]: e["score"] for e in of(events, "step_scored")}
    generated = of(events, "candidate_generated")
    prunes = of(events, "beam_pruned")
    assert len(prunes) == 3, "three steps: the scripted solutions end at the third"
    for iteration, prune in enumerate(prunes):
        # Every iteration samples N next steps in total, from the beams kept before.
        made = [e for e in generated if e["iteration"] == iteration]
        assert len(made) == 4
        parents = {"root"} if iteration == 0 else set(prunes[iteration - 1]["kept"])
        assert {e["parent"] for e in made} <= parents
        assert sorted(prune["kept"] + prune["finished"] + prune["pruned"]) == sorted(
            e["id"] for e in made
        )
        if not prune["finished"]:
            assert len(prune["kept"]) == 4 // 2
            assert min(scored[i] for i in prune["kept"]) >= max(scored[i] for i in prune["pruned"])
    # At the second step only the two that compute 12 survive; the third step ends all.
    second = [e for e in generated if e["iteration"] == 1]
    assert prunes[1]["kept"] == [e["id"] for e in second if "= 12" in e["text"]]
    assert prunes[2]["kept"] == []
    assert sorted(prunes[2]["finished"]) == sorted(c["id"] for c in result["candidates"])
    # One policy call and one verifier call per iteration: the kept beams expand together.
    assert len(policy.calls) == 3
    assert (result["usage"]["policy_calls"], result["usage"]["verifier_calls"]) == (3, 3)
    assert result["answer"] == "12"
    trace = result["trace"]
    statuses = {e["id"]: trace[e["id"]]["status"] for e in generated}
    assert {statuses[i] for i in prunes[0]["pruned"] + prunes[1]["pruned"]} == {"pruned"}
    assert {statuses[i] for i in prunes[1]["kept"]} == {"kept"}
    assert {statuses[i] for i in prunes[2]["finished"]} == {"finished"}
    chosen = [n["id"] for n in trace.values() if n["chosen"]]
    assert len(chosen) == 4, "root and three steps"
    for parent, child in pairwise(chosen):
        assert trace[child]["parent"] == parent, "one path from the root to the answer"


# Second steps scored by a table: the 35 looks best, then "He buys ...: 12", then "7 + 5".
TABLE = {"He buys 5 more: 7 + 5": 0.9, "7 * 5": 0.95, "7 - 5": 0.1, "7 + 5": 0.5}


def test_dvts_subtrees_only_extend_themselves() -> None:
    policy = ScriptedPolicy()
    graph = create_dvts(
        policy=policy, verifier=ScriptedVerifier(scores=TABLE), n=4, beam_width=2, seed=0
    )
    result, events = streamed(graph)
    trace = result["trace"]
    generated = of(events, "candidate_generated")
    # n / beam_width = 2 subtrees, each sampling beam_width = 2 children of its one beam.
    assert {e["group"] for e in generated} == {0, 1}
    for e in generated:
        if e["parent"] != "root":
            assert trace[e["parent"]]["group"] == e["group"], "a subtree only extends itself"
    children: dict[str, int] = {}
    for e in generated:
        children[e["parent"]] = children.get(e["parent"], 0) + 1
    assert children.pop("root") == 4, "both subtrees start from the question"
    assert set(children.values()) == {2}
    scored = {e["id"]: e["score"] for e in of(events, "step_scored")}
    second = of(events, "beam_pruned")[1]
    by_group = {e["id"]: e["group"] for e in generated}
    # Each subtree keeps its best, even where the other subtree's loser scores higher.
    assert sorted(by_group[i] for i in second["kept"]) == [0, 1]
    for kept_id in second["kept"]:
        rivals = [i for i in second["pruned"] if by_group[i] == by_group[kept_id]]
        assert all(scored[kept_id] >= scored[i] for i in rivals)
    assert max(scored[i] for i in second["pruned"]) > min(scored[i] for i in second["kept"])
    kept = [n for n in trace.values() if n["status"] == "kept"]
    assert len({(n["iteration"], n["group"]) for n in kept}) == len(kept)
    assert {c["group"] for c in result["candidates"]} == {0, 1}
    # The same steps, scores and budget in a beam search keep the two best overall.
    beams = create_beam_search(
        policy=ScriptedPolicy(), verifier=ScriptedVerifier(scores=TABLE), n=4, beam_width=2, seed=0
    )
    _, beam_events = streamed(beams)
    beam_second = of(beam_events, "beam_pruned")[1]
    beam_scores = {e["id"]: e["score"] for e in of(beam_events, "step_scored")}
    assert sorted(beam_scores[i] for i in beam_second["kept"]) == [0.9, 0.95]


def test_the_step_limit_ends_every_open_beam_with_what_it_has() -> None:
    policy = ScriptedPolicy()
    graph = create_beam_search(
        policy=policy, verifier=ScriptedVerifier(), n=4, beam_width=2, max_steps=1, seed=0
    )
    result, events = streamed(graph)
    (prune,) = of(events, "beam_pruned")
    assert prune["kept"] == []
    assert len(prune["finished"]) == 2, "the step limit ends the kept beams: they compete"
    assert len(prune["pruned"]) == 2
    assert len(policy.calls) == 1
    assert [len(c["steps"]) for c in result["candidates"]] == [1, 1]
    assert result["solution"] == "Sam has 7 pencils.\n\n", "one step in: the best text it has"
    assert result["budget_limited"] is False


def test_lookahead_scores_a_greedy_roll_out_but_keeps_only_the_step() -> None:
    policy = ScriptedPolicy()
    graph = create_beam_search(
        policy=policy,
        verifier=ScriptedVerifier(),
        n=2,
        beam_width=1,
        max_steps=1,
        lookahead=1,
        seed=0,
    )
    result, events = streamed(graph)
    sample, roll_out = policy.calls
    assert sample.n == 2
    # One greedy step past each candidate, from its own text.
    assert (roll_out.n, roll_out.params.temperature, roll_out.params.seed) == (1, 0.0, None)
    assert [r.prefix for r in roll_out.requests] == ["Sam has 7 pencils.\n\n"] * 2
    for c in result["candidates"]:
        assert c["steps"] == ["Sam has 7 pencils.\n\n"], "the roll-out is not kept"
        assert c["step_scores"] == [0.2]
        assert c["score"] == 0.9, "scored through the roll-out's 7 + 5 = 12"
    assert [e["score"] for e in of(events, "step_scored")] == [0.9, 0.9]


def test_lookahead_costs_extra_calls_and_tokens_that_no_solution_keeps() -> None:
    settings: dict[str, Any] = {
        "verifier": ScriptedVerifier(),
        "n": 2,
        "beam_width": 1,
        "max_steps": 2,
        "seed": 7,
    }
    plain, _ = streamed(create_beam_search(policy=ScriptedPolicy(), **settings))
    ahead, _ = streamed(create_beam_search(policy=ScriptedPolicy(), lookahead=1, **settings))
    # The roll-outs are extra policy calls and tokens ...
    assert ahead["usage"]["policy_calls"] > plain["usage"]["policy_calls"]
    assert ahead["usage"]["completion_tokens"] > plain["usage"]["completion_tokens"]
    # ... that never become part of a returned solution.
    for c in ahead["candidates"]:
        assert c["text"] == "".join(c["steps"])
    searched = sum(c["completion_tokens"] for c in ahead["candidates"])
    assert searched < ahead["usage"]["completion_tokens"]
    assert [c["text"] for c in ahead["candidates"]] == [c["text"] for c in plain["candidates"]]


@pytest.mark.parametrize("how", ["min", "prod", "mean"])
def test_beam_search_scores_candidates_by_the_aggregation_asked_for(how: str) -> None:
    graph = create_beam_search(
        policy=ScriptedPolicy(),
        verifier=ScriptedVerifier(),
        n=2,
        beam_width=1,
        max_steps=3,
        aggregation=how,  # type: ignore[arg-type]
        seed=7,
    )
    result, events = streamed(graph)
    candidates = result["candidates"]
    multi_step = [c for c in candidates if len(c["step_scores"]) > 1]
    assert multi_step, "the search ran more than one step"
    for c in candidates:
        assert c["score"] == pytest.approx(aggregate(c["step_scores"], how)), c  # type: ignore[arg-type]
    scored = {e["id"]: e["score"] for e in of(events, "step_scored")}
    assert all(scored[c["id"]] == c["score"] for c in candidates), "as the search saw them"


def test_a_long_search_never_hits_the_recursion_limit() -> None:
    # A policy that never finishes: every step is one more line.
    endless = ScriptedPolicy(["Counting.\n\n" * 200])
    graph = create_beam_search(
        policy=endless, verifier=ScriptedVerifier(), n=1, beam_width=1, max_steps=60, seed=0
    )
    result, events = streamed(graph)
    assert len(of(events, "beam_pruned")) == 60, "3 nodes an iteration: far past LangGraph's 25"
    assert max(n["iteration"] for n in result["trace"].values()) == 59
    assert [len(c["steps"]) for c in result["candidates"]] == [60]


@pytest.mark.parametrize("factory", [create_beam_search, create_dvts])
def test_identical_requests_are_merged_into_one_call(factory: Any) -> None:
    policy = ScriptedPolicy()
    streamed(factory(policy=policy, verifier=ScriptedVerifier(), n=4, beam_width=2, seed=0))
    # The first step comes from the question for every beam: one request, N rows.
    first = policy.calls[0]
    assert (len(first.requests), first.n) == (1, 4)
    assert all(len(c.requests) * c.n == 4 for c in policy.calls), "N rows an iteration"
