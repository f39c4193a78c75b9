"""ChatModelPolicy, the adapter of any LangChain chat model, on scripted chat models: a
model without ``n`` gets concurrent calls, finish reasons and usage, async and sync inside
a running loop, bad input. Faults of a served model over HTTP (fewer choices than asked,
a 503, a dropped connection) are in tests/integration/test_chat_model_policy.py.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models import FakeListChatModel, GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage

from ttc_graph.policy import GenerationRequest, SamplingParams
from ttc_graph.policy.chat_model import ChatModelPolicy

REQUEST = GenerationRequest((HumanMessage("What is 6 + 7? Explain in steps."),))


class _InFlight(BaseCallbackHandler):
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = self.most = self.calls = 0

    def on_chat_model_start(self, *args: Any, **kwargs: Any) -> None:
        with self.lock:
            self.calls += 1
            self.now += 1
            self.most = max(self.most, self.now)

    def on_llm_end(self, *args: Any, **kwargs: Any) -> None:
        with self.lock:
            self.now -= 1


def test_a_model_without_n_gets_concurrent_calls_up_to_the_limit() -> None:
    model = FakeListChatModel(responses=["Step one.", "Step two."], sleep=0.2)
    policy = ChatModelPolicy(model, max_concurrency=2)
    assert not policy.supports_n
    handler = _InFlight()
    params = SamplingParams(max_new_tokens=8, stop=("\n\n",))
    results = policy.sample([REQUEST, REQUEST], n=3, params=params, config={"callbacks": [handler]})
    assert [len(r) for r in results] == [3, 3]
    assert handler.calls == 6
    assert handler.most == 2, "calls run concurrently, never more than max_concurrency"
    texts = sorted(c.text for r in results for c in r)
    assert texts == ["Step one.\n\n"] * 3 + ["Step two.\n\n"] * 3
    assert all(c.finish_reason == "stop" for r in results for c in r)


def test_finish_reasons_and_usage_from_a_scripted_model() -> None:
    usage = {"input_tokens": 11, "output_tokens": 4, "total_tokens": 15}
    model = GenericFakeChatModel(
        messages=iter(
            [
                AIMessage("Add the numbers.", usage_metadata=usage),
                AIMessage("So 6 + 7 = 13.\n\n"),
                AIMessage("   "),
                AIMessage("The answer is 13."),
            ]
        )
    )
    policy = ChatModelPolicy(model)
    step = SamplingParams(max_new_tokens=8, stop=("\n\n",))
    (first,) = policy.sample([REQUEST], params=step)[0]
    assert (first.text, first.finish_reason) == ("Add the numbers.\n\n", "stop")
    assert (first.prompt_tokens, first.completion_tokens) == (11, 4)
    (kept,) = policy.sample([REQUEST], params=step)[0]
    assert kept.text == "So 6 + 7 = 13.\n\n", "a delimiter the server kept is not doubled"
    (empty,) = policy.sample([REQUEST], params=step)[0]
    assert empty.finish_reason == "eos"
    (whole,) = policy.sample([REQUEST], params=SamplingParams(max_new_tokens=8))[0]
    assert (whole.text, whole.finish_reason) == ("The answer is 13.", "eos")


async def test_async_and_sync_inside_a_running_loop() -> None:
    policy = ChatModelPolicy(FakeListChatModel(responses=["4"]))
    (cands,) = await policy.asample([REQUEST], n=2)
    assert [c.text for c in cands] == ["4", "4"]
    # Sync code called from async code (a notebook cell) still works.
    (cands,) = policy.sample([REQUEST], n=1)
    assert cands[0].text == "4"
    assert asyncio.get_running_loop().is_running()


def test_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="chat model"):
        ChatModelPolicy("gpt")  # type: ignore[arg-type]
    model = FakeListChatModel(responses=["x"])
    with pytest.raises(ValueError, match="n must be"):
        ChatModelPolicy(model, max_concurrency=0)
    with pytest.raises(ValueError, match="n must be"):
        ChatModelPolicy(model).sample([REQUEST], n=0)
    with pytest.raises(ValueError, match="log-probabilities"):
        ChatModelPolicy(model).sample([REQUEST], params=SamplingParams(logprobs=True))
    with pytest.raises(ValueError, match="extra_body"):
        ChatModelPolicy(model, continue_final_message=True)
