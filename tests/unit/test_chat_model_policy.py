"""ChatModelPolicy against faults a real server cannot be made to show on cue.

What vLLM does (``n``, stop strings, continuation, logprobs, seeds, every
strategy, the served-model example) is tested against a real vLLM server in
tests/integration/vllm/test_vllm_server.py. Here a small stdlib HTTP server answers
/v1/chat/completions the way vLLM does, writing with the scripted policy of
tests/scripted.py, and injects faults: fewer choices than asked, a 503, a connection
dropped mid-request. ``langchain_openai.ChatOpenAI`` talks to it over HTTP, so the
adapter's handling of them is tested through a real client stack. The rest are unit
tests of pure logic with scripted chat models.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models import FakeListChatModel, GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from scripted import ScriptedPolicy
from ttc_graph import create_best_of_n
from ttc_graph.policy import GenerationRequest, SamplingParams
from ttc_graph.policy.chat_model import ChatModelPolicy
from ttc_graph.reliability import transient_retry

_ROLES = {"user": HumanMessage, "system": SystemMessage, "assistant": AIMessage}


class _Server(ThreadingHTTPServer):
    policy: Any
    requests_seen: list[dict[str, Any]]
    faults: list[str]
    """Faults for the next requests, one each: "503" or "drop"."""


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    # Keep-alive, as vLLM and every real OpenAI-compatible server: the client pools
    # its connections, which is what a per-call event loop used to break.
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:  # keep pytest output clean
        return

    def do_GET(self) -> None:
        # /v1/models, as vLLM lists the model it serves
        self._send({"object": "list", "data": [{"id": "smollm2", "object": "model"}]})

    def _send(self, body: dict[str, Any]) -> None:
        payload = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests_seen.append(body)
        fault = self.server.faults.pop(0) if self.server.faults else None
        if fault == "drop":  # the connection dies before any response
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if fault == "503":
            payload = b'{"error": {"message": "overloaded", "code": 503}}'
            self.send_response(503)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        messages = [_ROLES[m["role"]](m["content"]) for m in body["messages"]]
        prefix = ""
        if body.get("continue_final_message"):
            # vLLM: the trailing assistant message is continued, not closed.
            assert isinstance(messages[-1], AIMessage)
            assert body.get("add_generation_prompt") is False
            prefix = messages.pop().text
        stop = body.get("stop") or []
        stop = [stop] if isinstance(stop, str) else stop
        params = SamplingParams(
            temperature=body.get("temperature", 1.0),
            max_new_tokens=body.get("max_completion_tokens") or body.get("max_tokens") or 32,
            stop=tuple(stop),
            seed=body.get("seed"),
        )
        params = SamplingParams(
            temperature=params.temperature,
            max_new_tokens=params.max_new_tokens,
            stop=params.stop,
            seed=params.seed,
            logprobs=bool(body.get("logprobs")),
        )
        n = body.get("n", 1)
        if body.get("model") == "at-most-one":
            n = 1  # a server that ignores n, as some OpenAI-compatible servers do
        (completions,) = self.server.policy.sample(
            [GenerationRequest(tuple(messages), prefix)], n=n, params=params
        )
        choices = []
        for i, c in enumerate(completions):
            text, reason = c.text, "length" if c.finish_reason == "length" else "stop"
            matched = next((s for s in stop if text.endswith(s)), None)
            if c.finish_reason == "stop" and matched:
                text = text[: -len(matched)]  # OpenAI-style: the stop string is not returned
            choice: dict[str, Any] = {
                "index": i,
                "message": {"role": "assistant", "content": text},
                "finish_reason": reason,
            }
            if c.logprobs is not None:
                choice["logprobs"] = {
                    "content": [
                        {"token": "", "logprob": lp, "bytes": None, "top_logprobs": []}
                        for lp in c.logprobs
                    ]
                }
            choices.append(choice)
        usage = {
            "prompt_tokens": completions[0].prompt_tokens,
            "completion_tokens": sum(c.completion_tokens for c in completions),
        }
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        self._send(
            {
                "id": "cmpl-test",
                "object": "chat.completion",
                "created": 0,
                "model": "smollm2",
                "choices": choices,
                "usage": usage,
            }
        )


@pytest.fixture(scope="module")
def server() -> Iterator[_Server]:
    srv = _Server(("127.0.0.1", 0), _Handler)
    srv.policy = ScriptedPolicy()
    srv.requests_seen = []
    srv.faults = []
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _chat(server: _Server, model: str = "smollm2") -> ChatOpenAI:
    host, port = server.server_address[:2]
    return ChatOpenAI(
        base_url=f"http://{host!s}:{port}/v1",
        api_key=SecretStr("not-needed"),
        model=model,
        max_retries=0,
        timeout=120,
    )


REQUEST = GenerationRequest((HumanMessage("What is 6 + 7? Explain in steps."),))


@pytest.mark.parametrize("fault", ["503", "drop"])
def test_a_transient_server_fault_is_retried_by_the_graph(server: _Server, fault: str) -> None:
    server.requests_seen.clear()
    server.faults = [fault]
    graph = create_best_of_n(
        policy=ChatModelPolicy(_chat(server)),
        n=2,
        selection="majority",
        seed=5,
        sampling=SamplingParams(temperature=0.7, max_new_tokens=8),
        retry=transient_retry(max_attempts=3, initial_interval=0.01)._replace(jitter=False),
    )
    result = graph.invoke({"question": "What is 2 + 2?"})
    assert len(result["candidates"]) == 2
    assert len(server.requests_seen) == 2, "the failed request, then the retried one"
    assert not server.faults


def test_a_server_that_returns_fewer_than_n_is_topped_up(server: _Server) -> None:
    server.requests_seen.clear()
    policy = ChatModelPolicy(_chat(server, model="at-most-one"))
    (cands,) = policy.sample([REQUEST], n=3, params=SamplingParams(max_new_tokens=6, seed=2))
    assert len(cands) == 3
    assert [body.get("n") for body in server.requests_seen] == [3, None, None]


def test_each_call_of_a_seeded_served_model_gets_its_own_seed(server: _Server) -> None:
    # first_index (the Policy protocol): a server cannot return rows k.. of a larger
    # call, so the call starting at candidate k sends seed + k and never repeats one.
    params = SamplingParams(temperature=0.8, max_new_tokens=4, seed=10)
    server.requests_seen.clear()
    single = ChatModelPolicy(_chat(server), supports_n=False, max_concurrency=2)
    single.sample([REQUEST], n=2, params=params)
    single.sample([REQUEST], n=2, params=params, first_index=2)
    assert sorted(body["seed"] for body in server.requests_seen) == [10, 11, 12, 13]
    server.requests_seen.clear()
    ChatModelPolicy(_chat(server)).sample([REQUEST], n=2, params=params, first_index=4)
    assert [(body["n"], body["seed"]) for body in server.requests_seen] == [(2, 14)]
    with pytest.raises(ValueError, match="first_index must be an integer >= 0"):
        single.sample([REQUEST], n=1, params=params, first_index=-1)


# -- scripted chat models ------------------------------------------------------------


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
