"""``ChatTTC``, a chat model that searches, driven by a scripted policy: in an LCEL chain,
per call through ``configurable``, streamed, batched, traced, and refusing what it
cannot do. The same against the embedded model is in tests/integration."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import ConfigurableField
from langchain_core.tracers.base import BaseTracer
from pydantic import BaseModel

from scripted import QUESTION, ScriptedPolicy, ScriptedVerifier
from ttc_graph import ChatTTC
from ttc_graph.chat_model import UnsupportedError
from ttc_graph.errors import InputError


def chat(**fields: Any) -> tuple[ChatTTC, ScriptedPolicy]:
    policy = ScriptedPolicy()
    return ChatTTC(policy=policy, verifier=ScriptedVerifier(), **fields), policy


def test_invoke_returns_the_chosen_solution_with_its_metadata() -> None:
    model, _ = chat(n=4, seed=0)
    message = model.invoke(QUESTION)
    assert isinstance(message, AIMessage)
    meta = message.response_metadata
    assert (meta["answer"], meta["strategy"], meta["n"], meta["score"]) == (
        "12",
        "weighted",
        4,
        0.9,
    )
    assert meta["budget_limited"] is False
    assert message.content.endswith("$\\boxed{12}$.")
    # Every candidate's tokens, not only the chosen one's.
    assert message.usage_metadata is not None
    assert message.usage_metadata["output_tokens"] == meta["usage"]["completion_tokens"]
    assert message.usage_metadata["input_tokens"] == 4 * 10


def test_swapping_the_chat_model_is_the_only_change_in_a_chain() -> None:
    prompt = ChatPromptTemplate.from_messages(
        [("system", "Answer the question."), ("human", "{problem}")]
    )
    model, policy = chat(n=2, seed=1)
    chain = prompt | model | StrOutputParser()
    text = chain.invoke({"problem": QUESTION})
    assert text.endswith("}$.")
    sent = policy.calls[0].requests[0].messages
    assert [m.content for m in sent] == ["Answer the question.", QUESTION]


def test_configurable_changes_the_search_per_call() -> None:
    model, policy = chat(n=4, seed=0)
    quick = model.with_config(configurable={"n": 2, "strategy": "majority", "thread_id": "x"})
    message = quick.invoke(QUESTION)
    assert (message.response_metadata["n"], message.response_metadata["strategy"]) == (
        2,
        "majority",
    )
    assert model.invoke(QUESTION, n=3).response_metadata["n"] == 3, "call keywords too"
    fields = model.configurable_fields(n=ConfigurableField(id="candidates"))
    assert (
        fields.with_config(configurable={"candidates": 1}).invoke(QUESTION).response_metadata["n"]
        == 1
    )
    assert [c.n for c in policy.calls] == [2, 3, 1]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"beam_width": 2}, "weighted takes no option 'beam_width'; its options: n,"),
        ({"n": "4"}, "option 'n' must be an integer"),
        ({"strategy": "best_of_eight"}, "Unknown strategy 'best_of_eight'"),
        ({"max_tokens": 0}, "option 'max_new_tokens' must be >= 1"),
    ],
)
def test_a_bad_setting_is_refused_before_any_generation(
    settings: dict[str, Any], message: str
) -> None:
    model, policy = chat()
    with pytest.raises(InputError, match=message):
        model.with_config(configurable=settings).invoke(QUESTION)
    with pytest.raises(InputError, match=message):
        ChatTTC(policy=policy, **settings)
    assert policy.calls == []


def test_stream_yields_the_solution_and_events_reach_astream_events() -> None:
    model, _ = chat(n=2, seed=0)
    chunks = list(model.stream(QUESTION))
    assert all(isinstance(c, AIMessageChunk) for c in chunks)
    whole = chunks[0]
    for c in chunks[1:]:
        whole = whole + c
    assert whole.content == model.invoke(QUESTION).content
    assert whole.response_metadata["answer"] == "12"

    async def events() -> list[tuple[str, str]]:
        return [(e["event"], e["name"]) async for e in model.astream_events(QUESTION)]

    seen = asyncio.run(events())
    custom = [name for kind, name in seen if kind == "on_custom_event"]
    assert custom[:2] == ["candidate_generated", "candidate_generated"]
    assert custom[-1] == "answer_chosen"
    stream = [i for i, (kind, _) in enumerate(seen) if kind == "on_chat_model_stream"]
    assert seen.index(("on_custom_event", "answer_chosen")) < stream[0], "events while it runs"


def test_batch_runs_every_input() -> None:
    model, policy = chat(n=2, seed=0)
    answers = model.batch([QUESTION, QUESTION])
    assert [m.response_metadata["answer"] for m in answers] == ["12", "12"]
    assert len(policy.calls) == 2


def test_tracing_shows_the_search_as_child_runs() -> None:
    class Collect(BaseTracer):
        def __init__(self) -> None:
            super().__init__()
            self.roots: list[Any] = []

        def _persist_run(self, run: Any) -> None:
            self.roots.append(run)

    tracer = Collect()
    model, _ = chat(n=2, seed=0)
    model.invoke(QUESTION, config={"callbacks": [tracer]})
    (root,) = tracer.roots

    def names(run: Any) -> list[str]:
        return [run.name, *(n for child in run.child_runs for n in names(child))]

    assert root.name == "ChatTTC"
    assert names(root)[1] == "weighted", "the graph runs under the chat model"
    assert "ScriptedVerifier" in names(root), "the verifier call is traced"


def test_tools_and_structured_output_say_what_to_use_instead() -> None:
    model, _ = chat()
    with pytest.raises(UnsupportedError, match="as_tool"):
        model.bind_tools([])

    class Answer(BaseModel):
        value: int

    with pytest.raises(UnsupportedError, match="response_metadata\\['answer'\\]"):
        model.with_structured_output(Answer)
    with pytest.raises(InputError, match="stop sequences"):
        model.invoke(QUESTION, stop=["\n"])


def test_any_chat_model_can_be_the_policy() -> None:
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel

    # A LangChain chat model (here a fake that says the same thing each time) is
    # wrapped in ChatModelPolicy: "make any chat model think longer" is one line.
    fake = GenericFakeChatModel(messages=iter([AIMessage("7 + 5 = 12. $\\boxed{12}$")] * 4))
    model = ChatTTC(policy=fake, strategy="majority", n=2)
    assert model.invoke(QUESTION).response_metadata["answer"] == "12"
