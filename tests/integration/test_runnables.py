"""as_chain on the embedded model: the policy's own calls show to callbacks and in
``astream_events`` inside a chain. (The chain's answer, message, batch, async, refusals
and as_tool in a real agent loop, on the scripted policy: tests/unit/test_chain_and_tool.py.)"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import HumanMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate

from ttc_graph import as_chain, create_best_of_n
from ttc_graph.policy import SamplingParams

QUESTION = "What is 9 + 6?"


@pytest.fixture(scope="module")
def graph(policy: Any) -> Any:
    return create_best_of_n(
        policy=policy,
        n=2,
        selection="majority",
        seed=13,
        sampling=SamplingParams(temperature=0.7, max_new_tokens=12),
    )


class _CountingHandler(BaseCallbackHandler):
    def __init__(self) -> None:
        self.llm_runs = 0

    def on_llm_start(self, *args: Any, **kwargs: Any) -> None:
        self.llm_runs += 1


def test_lcel_chain_returns_the_answer(graph: Any) -> None:
    prompt = ChatPromptTemplate.from_messages([("human", "{problem}")])
    chain = prompt | as_chain(graph) | StrOutputParser()
    handler = _CountingHandler()
    text = chain.invoke({"problem": QUESTION}, {"callbacks": [handler]})
    direct = graph.invoke({"question": QUESTION})
    assert text == (direct["answer"] if direct["answer"] is not None else direct["solution"])
    assert handler.llm_runs == 1, "the policy call is visible to callbacks inside the chain"


async def test_chain_ainvoke_and_astream_events(graph: Any) -> None:
    chain = as_chain(graph) | StrOutputParser()
    answer = await chain.ainvoke([HumanMessage(QUESTION)])
    assert answer == chain.invoke(QUESTION)
    kinds = [e["event"] async for e in chain.astream_events(QUESTION, version="v2")]
    assert "on_llm_start" in kinds
    assert "on_chain_end" in kinds
