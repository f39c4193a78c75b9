"""Per-run options in LangGraph's runtime context, on every strategy's real graph.

A scripted policy and verifier drive the compiled graphs: one graph, many option sets,
and every bad option refused before the policy is called once.
"""

from __future__ import annotations

from typing import Any

import pytest

from scripted import QUESTION, ScriptedPolicy, ScriptedVerifier
from ttc_graph import Budget, EarlyStop, create_best_of_n
from ttc_graph.errors import InputError, LimitError
from ttc_graph.strategies import SPECS, build_strategy
from ttc_graph.strategies.options import OPTIONS


def graph_of(name: str, policy: ScriptedPolicy, **arguments: Any) -> Any:
    verifier = ScriptedVerifier() if SPECS[name].needs_verifier else None
    return build_strategy(name, policy=policy, verifier=verifier, **arguments)


def test_one_graph_runs_with_the_options_of_each_run() -> None:
    policy = ScriptedPolicy()
    graph = create_best_of_n(policy=policy, verifier=ScriptedVerifier(), n=3, seed=0)
    two = graph.invoke({"question": QUESTION}, context={"n": 2})
    four = graph.invoke({"question": QUESTION}, context={"n": 4, "max_new_tokens": 5})
    default = graph.invoke({"question": QUESTION})
    assert [len(r["candidates"]) for r in (two, four, default)] == [2, 4, 3]
    assert all(c["completion_tokens"] <= 5 for c in four["candidates"])
    assert (four["options"]["n"], default["options"]["n"]) == (4, 3)
    assert [c.params.max_new_tokens for c in policy.calls] == [256, 5, 256]


@pytest.mark.parametrize("name", list(SPECS))
def test_every_strategy_takes_its_options_per_run(name: str) -> None:
    policy = ScriptedPolicy()
    spec = SPECS[name]
    graph = graph_of(name, policy)
    context: dict[str, Any] = {"max_new_tokens": 7}
    if spec.takes_n:
        context["n"] = 2
    if spec.steps:
        context["beam_width"] = 2
    result = graph.invoke({"question": QUESTION}, context=context)
    assert result["options"]["max_new_tokens"] == 7
    assert {c.params.max_new_tokens for c in policy.calls} == {7}
    if spec.takes_n:
        assert result["options"]["n"] == 2


def test_a_context_object_works_as_well_as_a_dict() -> None:
    graph = graph_of("majority", ScriptedPolicy(), n=4)
    options = graph.context_schema(n=2, seed=1)
    assert len(graph.invoke({"question": QUESTION}, context=options)["candidates"]) == 2
    assert options.replace(n=3).n == 3


@pytest.mark.parametrize(
    ("name", "context", "message"),
    [
        ("majority", {"beam_width": 2}, "majority takes no option 'beam_width'; its options: n,"),
        ("weighted", {"nn": 2}, "takes no option 'nn' \\(did you mean 'n'\\?\\)"),
        ("weighted", {"n": "4"}, "weighted: option 'n' must be an integer, got '4'"),
        ("weighted", {"n": True}, "option 'n' must be an integer, got True"),
        ("weighted", {"n": 0}, "option 'n' must be >= 1"),
        ("weighted", {"temperature": float("nan")}, "option 'temperature' must be a finite"),
        ("weighted", {"top_p": 0.0}, "option 'top_p' must be > 0"),
        ("weighted", {"selection": "best"}, "option 'selection' must be one of vanilla"),
        ("weighted", {"early_stop_round": 8}, "early_stop_round \\(8\\) must be smaller than n"),
        ("beam_search", {"n": 6}, "n \\(6\\) must be a multiple of beam_width \\(4\\)"),
        ("beam_search", {"n": 4, "beam_width": 8}, "beam_width \\(8\\) cannot exceed n \\(4\\)"),
        ("greedy", {"n": 4}, "greedy takes no option 'n'"),
        ("adaptive", {"budget_tokens": 10}, "smaller than one first round"),
        ("self_refine", {"threshold": 2.0}, "option 'threshold' must be <= 1"),
        ("majority", {"selection": "weighted"}, "needs a verifier"),
    ],
)
def test_a_bad_option_is_refused_before_any_generation(
    name: str, context: dict[str, Any], message: str
) -> None:
    policy = ScriptedPolicy()
    graph = build_strategy(
        name,
        policy=policy,
        verifier=ScriptedVerifier() if name != "majority" else None,
    )
    with pytest.raises(InputError, match=message):
        graph.invoke({"question": QUESTION}, context=context)
    assert policy.calls == [], "refused before the policy was asked for anything"


def test_factory_arguments_are_the_context_defaults() -> None:
    graph = create_best_of_n(
        policy=ScriptedPolicy(),
        verifier=ScriptedVerifier(),
        n=16,
        selection="weighted",
        budget=Budget(max_tokens=500),
        early_stop=EarlyStop(round_size=4),
    )
    defaults = graph.context_schema().values()
    assert (defaults["n"], defaults["selection"], defaults["budget_tokens"]) == (
        16,
        "weighted",
        500,
    )
    assert defaults["early_stop_round"] == 4
    schema = graph.get_context_jsonschema()["properties"]
    assert schema["n"]["default"] == 16
    assert schema["n"]["description"] == OPTIONS["n"].help
    assert schema["n"]["maximum"] == OPTIONS["n"].high
    with pytest.raises(LimitError, match="option 'n' must be an integer"):
        create_best_of_n(policy=ScriptedPolicy(), n="16")  # type: ignore[arg-type]


def test_a_resumed_run_keeps_the_options_it_started_with() -> None:
    from langgraph.checkpoint.memory import InMemorySaver

    policy = ScriptedPolicy()
    graph = graph_of("weighted", policy, n=3, checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "t"}}
    graph.invoke({"question": QUESTION}, config, context={"n": 2}, interrupt_before=["select"])
    # Resumed without a context: the run goes on with n=2, not the graph's default 3.
    result = graph.invoke(None, config)
    assert (result["options"]["n"], len(result["candidates"])) == (2, 2)
