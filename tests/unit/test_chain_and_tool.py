"""as_chain / as_tool: strategy graphs inside LCEL chains and a real agent loop, on the
scripted policy. (That the policy's own calls show to callbacks inside a chain, with the
embedded model: tests/integration/test_runnables.py.)"""

from __future__ import annotations

from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.prompts import ChatPromptTemplate

from scripted import ScriptedPolicy
from ttc_graph import as_chain, as_tool, create_best_of_n
from ttc_graph.policy import SamplingParams

QUESTION = "What is 9 + 6?"


@pytest.fixture(scope="module")
def graph() -> Any:
    return create_best_of_n(
        policy=ScriptedPolicy(),
        n=2,
        selection="majority",
        seed=13,
        sampling=SamplingParams(temperature=0.7, max_new_tokens=24),
    )


def test_lcel_chain_returns_the_answer(graph: Any) -> None:
    prompt = ChatPromptTemplate.from_messages([("human", "{problem}")])
    chain = prompt | as_chain(graph) | StrOutputParser()
    text = chain.invoke({"problem": QUESTION})
    direct = graph.invoke({"question": QUESTION})
    assert text == (direct["answer"] if direct["answer"] is not None else direct["solution"])


def test_chain_message_carries_details(graph: Any) -> None:
    message = as_chain(graph).invoke(QUESTION)
    assert isinstance(message, AIMessage)
    meta = message.response_metadata
    assert meta["strategy"] == "best_of_n"
    assert len(meta["candidates"]) == 2
    assert message.usage_metadata is not None
    assert message.usage_metadata["output_tokens"] == meta["usage"]["completion_tokens"]


def test_chain_batch_and_async(graph: Any) -> None:
    chain = as_chain(graph) | StrOutputParser()
    batched = chain.batch([QUESTION, "What is 2 + 2?"])
    assert len(batched) == 2
    assert batched[0] == chain.invoke(QUESTION), "fixed seed: same answer batched or alone"


async def test_chain_ainvoke_gives_the_invoke_answer(graph: Any) -> None:
    chain = as_chain(graph) | StrOutputParser()
    answer = await chain.ainvoke([HumanMessage(QUESTION)])
    assert answer == chain.invoke(QUESTION)
    kinds = [e["event"] async for e in chain.astream_events(QUESTION, version="v2")]
    assert "on_chain_end" in kinds


def test_chain_rejects_unusable_input(graph: Any) -> None:
    with pytest.raises(ValueError, match="question"):
        as_chain(graph).invoke({"problem": QUESTION})
    with pytest.raises(ValueError, match="strategy graph"):
        as_chain("not a graph")  # type: ignore[arg-type]


class ScriptedToolCaller(BaseChatModel):
    """An agent model that calls the tool once, then reports the tool's answer."""

    tool_name: str = "solve_math"

    @property
    def _llm_type(self) -> str:
        return "scripted-tool-caller"

    def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
        names = {getattr(t, "name", None) for t in tools}
        assert self.tool_name in names, f"agent was not given the tool: {names}"
        return self

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        last = messages[-1]
        if isinstance(last, ToolMessage):
            reply = AIMessage(f"The reasoning tool says: {last.content}")
        else:
            question = next(m for m in messages if isinstance(m, HumanMessage)).text
            reply = AIMessage(
                "",
                tool_calls=[
                    {"name": self.tool_name, "args": {"question": question}, "id": "call-1"}
                ],
            )
        return ChatResult(generations=[ChatGeneration(message=reply)])


def test_agent_calls_the_strategy_as_a_tool(graph: Any) -> None:
    tool = as_tool(graph, name="solve_math", description="Solve a maths problem carefully.")
    agent = create_agent(ScriptedToolCaller(), tools=[tool])
    state = agent.invoke({"messages": [HumanMessage(QUESTION)]})
    tool_messages = [m for m in state["messages"] if isinstance(m, ToolMessage)]
    assert len(tool_messages) == 1
    artifact = tool_messages[0].artifact
    assert artifact["question_text"] == QUESTION
    assert tool_messages[0].content == f"Final answer: {artifact['answer']}" or (
        artifact["answer"] is None and "No final answer" in tool_messages[0].content
    )
    assert state["messages"][-1].text.endswith(tool_messages[0].text)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"name": "solve math", "description": "x"}, "invalid"),
        ({"name": "ok", "description": " "}, "description"),
    ],
)
def test_tool_arguments_are_validated(graph: Any, kwargs: dict[str, str], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        as_tool(graph, **kwargs)
