"""A strategy graph as the reasoning tool of a LangChain agent.

    python examples/agent_tool.py

The agent model decides when to call `solve_math`; the tool runs weighted
best-of-N with the arithmetic verifier on the local policy. Any tool-calling
chat model works as the agent (ChatOpenAI, ChatAnthropic, ...). To keep this
example offline it uses a small scripted agent model (`OneToolCallAgentModel`)
that calls the tool once and then reports its answer; to use a real one, pass it
to `create_agent` in `main()` instead, e.g. `create_agent(ChatOpenAI(model=...),
tools=[tool])`. ``TTC_GRAPH_MAX_TOKENS`` sets the tokens per solution (default 96;
the test suite runs it shorter).
"""

from __future__ import annotations

import os
from typing import Any

from langchain.agents import create_agent
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from ttc_graph import as_tool, create_best_of_n, load_policy
from ttc_graph.policy import SamplingParams
from ttc_graph.verifiers import ArithmeticVerifier


class OneToolCallAgentModel(BaseChatModel):
    """Stand-in agent model: delegates the user's question to the tool, then answers."""

    @property
    def _llm_type(self) -> str:
        return "one-tool-call"

    def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
        return self

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> ChatResult:
        last = messages[-1]
        if isinstance(last, ToolMessage):
            reply = AIMessage(f"I checked with my reasoning tool. {last.content}")
        else:
            question = next(m for m in messages if isinstance(m, HumanMessage)).text
            reply = AIMessage(
                "", tool_calls=[{"name": "solve_math", "args": {"question": question}, "id": "c1"}]
            )
        return ChatResult(generations=[ChatGeneration(message=reply)])


def main() -> None:
    policy = load_policy()
    graph = create_best_of_n(
        policy=policy,
        verifier=ArithmeticVerifier(),
        n=4,
        selection="weighted",
        sampling=SamplingParams(
            temperature=0.7, max_new_tokens=int(os.environ.get("TTC_GRAPH_MAX_TOKENS", "96"))
        ),
        seed=0,
    )
    tool = as_tool(
        graph,
        name="solve_math",
        description="Solve an arithmetic word problem carefully; returns the final answer.",
    )
    agent = create_agent(OneToolCallAgentModel(), tools=[tool])
    state = agent.invoke(
        {"messages": [HumanMessage("Ann has 14 stickers and gets 9 more. How many?")]}
    )
    for message in state["messages"]:
        print(f"{message.type:>5}: {message.text or message.tool_calls}")


if __name__ == "__main__":
    main()
