"""Self-refinement's real graph driven by the scripted policy and verifier: draft, critique,
refine until a version reaches the threshold or ``max_rounds`` refinements were made; the
best-scored version wins, never a worse one; without a verifier the loop stops when the
critique finds no mistakes and the latest version is the answer.

The seed picks the draft: with seed 1 it is the scripted solution that says 35 (scored
0.2), with seed 0 one that says 12 (0.9).
"""

from __future__ import annotations

from typing import Any

import pytest

from scripted import ScriptedPolicy, ScriptedVerifier, streamed
from ttc_graph import create_self_refine
from ttc_graph.policy import Completion, GenerationRequest, SamplingParams
from ttc_graph.prompts import CRITIQUE_PROMPT


def asked(call: Any) -> str:
    """The last message of a one-request policy call."""
    (request,) = call.requests
    return str(request.messages[-1].content)


CRITIQUE_OPENING = CRITIQUE_PROMPT.split("{solution}")[0]


def test_a_draft_that_reaches_the_threshold_is_the_answer_at_once() -> None:
    policy = ScriptedPolicy()
    graph = create_self_refine(policy=policy, verifier=ScriptedVerifier(), threshold=0.9)
    result, events = streamed(graph, context={"seed": 0})
    assert len(policy.calls) == 1, "no critique: the draft scores 0.9"
    (draft,) = result["candidates"]
    assert (draft["answer"], draft["score"]) == ("12", 0.9)
    assert not [e for e in events if e["event"] == "critique"]


def test_a_weak_draft_is_critiqued_and_refined_until_the_threshold() -> None:
    policy = ScriptedPolicy()
    graph = create_self_refine(policy=policy, verifier=ScriptedVerifier(), threshold=0.9)
    result, events = streamed(graph, context={"seed": 1})
    draft, refined = result["candidates"]
    assert (draft["answer"], draft["score"]) == ("35", 0.2)
    assert (refined["answer"], refined["score"]) == ("12", 0.9)
    assert result["answer"] == "12"
    # draft, critique, refine: then the refined version passes the threshold.
    assert len(policy.calls) == 3
    critique_call, refine_call = policy.calls[1:]
    assert asked(critique_call).startswith(CRITIQUE_OPENING)
    assert draft["text"] in asked(critique_call)
    (critique,) = [e for e in events if e["event"] == "critique"]
    assert critique["target"] == draft["id"]
    # The rewrite is asked with the version it rewrites and what the critique said.
    assert draft["text"] in asked(refine_call)
    assert critique["text"] in asked(refine_call)
    assert refine_call.requests[0].messages[-2].content == draft["text"]


def test_the_loop_stops_after_max_rounds_and_never_returns_a_worse_version() -> None:
    policy = ScriptedPolicy()
    graph = create_self_refine(
        policy=policy, verifier=ScriptedVerifier(), max_rounds=2, threshold=1.0
    )
    result, events = streamed(graph, context={"seed": 1})
    versions = result["candidates"]
    assert len(versions) == 1 + 2, "the draft and two refinements; 1.0 is never reached"
    assert len(policy.calls) == 1 + 2 * 2, "each round is a critique and a rewrite"
    assert result["usage"]["policy_calls"] == 1 + 2 * (len(versions) - 1)
    assert [e["event"] for e in events].count("critique") == 2
    chosen = next(c for c in versions if c["text"] == result["solution"])
    assert chosen["score"] == max(c["score"] for c in versions)
    assert chosen["score"] >= versions[0]["score"], "never worse than the draft"
    best = max(range(len(versions)), key=lambda i: (versions[i]["score"], -i))
    assert chosen["id"] == versions[best]["id"], "the earliest of the best"
    # The second critique reviews the best version so far, not the latest.
    second = [e for e in events if e["event"] == "critique"][1]
    assert second["target"] == versions[best]["id"]
    assert [c["group"] for c in versions] == [0, 1, 2], "each version its round"


def test_the_critique_is_pointed_at_the_weakest_step() -> None:
    policy = ScriptedPolicy()
    graph = create_self_refine(policy=policy, verifier=ScriptedVerifier(), max_rounds=1)
    result, _ = streamed(graph, context={"seed": 1})
    draft = result["candidates"][0]
    weakest = min(range(len(draft["step_scores"])), key=lambda k: draft["step_scores"][k])
    hint = f"rates step {weakest + 1} as the weakest (score {draft['step_scores'][weakest]:.2f})"
    assert hint in asked(policy.calls[1])


class Critic(ScriptedPolicy):
    """Writes the scripted solutions; as a critic, finds mistakes ``mistakes`` times."""

    def __init__(self, mistakes: int) -> None:
        super().__init__()
        self.mistakes = mistakes

    def _complete(
        self, request: GenerationRequest, index: int, params: SamplingParams, late: bool = False
    ) -> Completion:
        if str(request.messages[-1].content).startswith(CRITIQUE_OPENING):
            if self.mistakes:
                self.mistakes -= 1
                return Completion("Step 2 is wrong: 7 - 5 is not what he has.", "eos", 10, 10)
            return Completion("No mistakes.", "eos", 2, 10)
        return super()._complete(request, index, params, late)


@pytest.mark.parametrize(("mistakes", "versions"), [(0, 1), (1, 2), (5, 3)])
def test_without_a_verifier_the_critique_decides_and_the_latest_version_wins(
    mistakes: int, versions: int
) -> None:
    policy = Critic(mistakes)
    graph = create_self_refine(policy=policy, max_rounds=2)
    result, events = streamed(graph, context={"seed": 1})
    assert len(result["candidates"]) == versions
    assert all(c["score"] is None for c in result["candidates"])
    assert result["usage"]["verifier_calls"] == 0
    assert result["solution"] == result["candidates"][-1]["text"], "the latest version"
    critiques = [e["text"] for e in events if e["event"] == "critique"]
    # It stops at "No mistakes." or after max_rounds refinements.
    assert len(critiques) == min(mistakes + 1, 2)
