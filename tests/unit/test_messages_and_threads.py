"""Graphs take ``messages`` (as ``MessagesState``) and answer with an AI message; a new
question on a thread starts from fresh usage and trace, with a real SQLite checkpointer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langgraph.checkpoint.sqlite import SqliteSaver

from scripted import QUESTION, ScriptedPolicy, ScriptedVerifier
from ttc_graph import create_best_of_n
from ttc_graph.errors import InputError
from ttc_graph.strategies import SPECS, build_strategy


def small(name: str) -> dict[str, Any]:
    """A small run of ``name``: two candidates, beams of two."""
    spec = SPECS[name]
    context: dict[str, Any] = {"n": 2} if spec.takes_n else {}
    if spec.steps:
        context["beam_width"] = 2
    return context


@pytest.mark.parametrize("name", list(SPECS))
def test_messages_in_an_ai_message_out(name: str) -> None:
    policy = ScriptedPolicy()
    verifier = ScriptedVerifier() if SPECS[name].needs_verifier else None
    graph = build_strategy(name, policy=policy, verifier=verifier)
    result = graph.invoke(
        {"messages": [{"role": "user", "content": QUESTION}]}, context=small(name)
    )
    human, ai = result["messages"]
    assert (human.type, human.content) == ("human", QUESTION)
    assert isinstance(ai, AIMessage)
    assert ai.content == result["solution"]
    assert ai.response_metadata["answer"] == result["answer"]
    assert result["question_text"] == QUESTION
    # The policy saw the conversation (with the default system prompt ahead of it).
    first = policy.calls[0].requests[0].messages
    assert [m.type for m in first] == ["system", "human"]


def test_a_question_joins_the_messages_too() -> None:
    graph = create_best_of_n(policy=ScriptedPolicy(), n=2, selection="majority")
    result = graph.invoke({"question": QUESTION})
    assert [m.type for m in result["messages"]] == ["human", "ai"]


def test_a_users_system_message_replaces_the_default_prompt() -> None:
    policy = ScriptedPolicy()
    graph = create_best_of_n(policy=policy, n=1, selection="majority")
    graph.invoke({"messages": [SystemMessage("Be brief."), HumanMessage(QUESTION)]})
    assert [m.content for m in policy.calls[0].requests[0].messages] == ["Be brief.", QUESTION]


@pytest.mark.parametrize(
    ("state", "message"),
    [
        ({}, "Invoke the graph with {'question'"),
        ({"messages": []}, "Invoke the graph with"),
        ({"messages": [HumanMessage(QUESTION), AIMessage("12")]}, "not a user message"),
        ({"messages": [{"role": "user", "content": "  "}]}, "no non-empty user message"),
    ],
)
def test_input_without_a_question_is_refused(state: dict[str, Any], message: str) -> None:
    policy = ScriptedPolicy()
    graph = create_best_of_n(policy=policy, n=2, selection="majority")
    with pytest.raises(InputError, match=message):
        graph.invoke(state)
    assert policy.calls == []


@pytest.mark.parametrize("name", list(SPECS))
def test_a_second_question_on_a_thread_starts_fresh(name: str, tmp_path: Path) -> None:
    verifier = ScriptedVerifier() if SPECS[name].needs_verifier else None
    context = {**small(name), **({"seed": 3} if "seed" in SPECS[name].options.names else {})}
    with SqliteSaver.from_conn_string(str(tmp_path / "threads.sqlite")) as saver:
        graph = build_strategy(name, policy=ScriptedPolicy(), verifier=verifier, checkpointer=saver)
        thread = {"configurable": {"thread_id": "t1"}}
        graph.invoke({"question": QUESTION}, thread, context=context)
        second = graph.invoke({"question": QUESTION}, thread, context=context)
        alone = graph.invoke(
            {"question": QUESTION}, {"configurable": {"thread_id": "t2"}}, context=context
        )
    # The same seeded search, so a second question on a thread costs what it costs alone.
    for key in ("completion_tokens", "prompt_tokens", "policy_calls", "verifier_calls"):
        assert second["usage"][key] == alone["usage"][key], key
    assert second["trace"] == alone["trace"]
    assert [m.type for m in second["messages"]] == ["human", "ai", "human", "ai"]


def test_a_thread_usage_is_the_last_questions_own() -> None:
    # The fault in the issue: the second question reported 64 tokens against 32.
    from langgraph.checkpoint.memory import InMemorySaver

    graph = create_best_of_n(
        policy=ScriptedPolicy(), n=2, selection="majority", seed=0, checkpointer=InMemorySaver()
    )
    config = {"configurable": {"thread_id": "t1"}}
    first = graph.invoke({"question": QUESTION}, config)
    second = graph.invoke({"question": QUESTION}, config)
    assert second["usage"]["completion_tokens"] == first["usage"]["completion_tokens"]
    assert second["trace"].keys() == first["trace"].keys()
