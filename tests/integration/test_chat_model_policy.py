"""ChatModelPolicy against faults a real server cannot be made to show on cue.

What vLLM does (``n``, stop strings, continuation, logprobs, seeds, every
strategy, the served-model example) is tested against a real vLLM server in
tests/integration/vllm/test_vllm_server.py. Here a small stdlib HTTP server answers
/v1/chat/completions with the embedded model the way vLLM does, and injects
faults: fewer choices than asked, a 503, a connection dropped mid-request.
``langchain_openai.ChatOpenAI`` talks to it over HTTP, so the adapter's handling
of them is tested through a real client stack. The pure logic, with scripted chat
models, is in tests/unit/test_chat_model_adapter.py.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

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
def server(policy: Any) -> Iterator[_Server]:
    srv = _Server(("127.0.0.1", 0), _Handler)
    srv.policy = policy
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
        retry=transient_retry(max_attempts=3, initial_interval=0.01),
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
