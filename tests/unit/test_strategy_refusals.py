"""What every strategy factory refuses, on the scripted policy: bad arguments when the graph
is built, a search without the verifier it needs, no policy, an empty question (before
anything is generated)."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import SystemMessage

from scripted import ScriptedPolicy
from ttc_graph import create_beam_search, create_best_of_n, create_dvts, create_self_refine
from ttc_graph.policy import SamplingParams
from ttc_graph.verifiers import ArithmeticVerifier

SMALL = SamplingParams(temperature=0.8, max_new_tokens=12)


@pytest.fixture(scope="module")
def verifier() -> ArithmeticVerifier:
    return ArithmeticVerifier()


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
    factory: Any, kwargs: dict[str, Any], match: str, verifier: ArithmeticVerifier
) -> None:
    with pytest.raises(ValueError, match=match):
        factory(policy=ScriptedPolicy(), verifier=verifier, **kwargs)


@pytest.mark.parametrize("factory", [create_beam_search, create_dvts])
def test_search_without_verifier_is_refused(factory: Any) -> None:
    with pytest.raises(ValueError, match="needs a verifier"):
        factory(policy=ScriptedPolicy(), verifier=None)
    with pytest.raises(ValueError, match="needs a verifier"):
        create_best_of_n(policy=ScriptedPolicy(), selection="weighted")


@pytest.mark.parametrize("question", ["", "   ", [], [SystemMessage("only a system prompt")]])
def test_empty_questions_are_refused(question: Any) -> None:
    policy = ScriptedPolicy()
    graph = create_best_of_n(policy=policy, n=1, selection="majority", sampling=SMALL)
    with pytest.raises(ValueError, match=r"question|user message"):
        graph.invoke({"question": question})
    assert policy.calls == [], "refused before anything is generated"


def test_missing_policy_is_refused(verifier: ArithmeticVerifier) -> None:
    with pytest.raises(ValueError, match="load_policy"):
        create_best_of_n(policy=None, verifier=verifier)  # type: ignore[arg-type]
