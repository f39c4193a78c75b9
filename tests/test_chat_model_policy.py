"""ChatModelPolicy against a real OpenAI-compatible server on loopback.

The server is a small stdlib HTTP server that answers /v1/chat/completions with
the embedded model, the way vLLM does: ``n`` choices per request, stop strings
removed from the text with ``finish_reason="stop"``. ``langchain_openai.ChatOpenAI``
talks to it over HTTP, so the adapter is tested through a real client stack.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langchain_openai import ChatOpenAI

from ttc_graph import create_best_of_n
from ttc_graph.policy import GenerationRequest, SamplingParams
from ttc_graph.policy.chat_model import ChatModelPolicy

_ROLES = {"user": HumanMessage, "system": SystemMessage, "assistant": AIMessage}


class _Server(ThreadingHTTPServer):
    policy: Any
    requests_seen: list[dict[str, Any]]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, *args: Any) -> None:  # keep pytest output clean
        return

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests_seen.append(body)
        messages = [_ROLES[m["role"]](m["content"]) for m in body["messages"]]
        prefix = ""
        if isinstance(messages[-1], AIMessage):
            prefix = messages.pop().text
        stop = body.get("stop") or []
        stop = [stop] if isinstance(stop, str) else stop
        params = SamplingParams(
            temperature=body.get("temperature", 1.0),
            max_new_tokens=body.get("max_completion_tokens") or body.get("max_tokens") or 32,
            stop=tuple(stop),
            seed=body.get("seed"),
        )
        (completions,) = self.server.policy.sample(
            [GenerationRequest(tuple(messages), prefix)], n=body.get("n", 1), params=params
        )
        choices = []
        for i, c in enumerate(completions):
            text, reason = c.text, "length" if c.finish_reason == "length" else "stop"
            matched = next((s for s in stop if text.endswith(s)), None)
            if c.finish_reason == "stop" and matched:
                text = text[: -len(matched)]  # OpenAI-style: the stop string is not returned
            choices.append(
                {
                    "index": i,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": reason,
                }
            )
        usage = {
            "prompt_tokens": completions[0].prompt_tokens,
            "completion_tokens": sum(c.completion_tokens for c in completions),
        }
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        payload = json.dumps(
            {
                "id": "cmpl-test",
                "object": "chat.completion",
                "created": 0,
                "model": "smollm2",
                "choices": choices,
                "usage": usage,
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@pytest.fixture(scope="module")
def server(policy: Any) -> Iterator[_Server]:
    srv = _Server(("127.0.0.1", 0), _Handler)
    srv.policy = policy
    srv.requests_seen = []
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _chat(server: _Server) -> ChatOpenAI:
    host, port = server.server_address[:2]
    return ChatOpenAI(
        base_url=f"http://{host!s}:{port}/v1",
        api_key="not-needed",
        model="smollm2",
        max_retries=0,
        timeout=120,
    )


REQUEST = GenerationRequest((HumanMessage("What is 6 + 7? Explain in steps."),))


def test_n_candidates_come_from_one_request(server: _Server) -> None:
    server.requests_seen.clear()
    policy = ChatModelPolicy(_chat(server))
    assert policy.supports_n
    params = SamplingParams(temperature=0.8, max_new_tokens=24, stop=("\n\n",), seed=3)
    (cands,) = policy.sample([REQUEST], n=3, params=params)
    assert len(cands) == 3
    assert len(server.requests_seen) == 1
    sent = server.requests_seen[0]
    assert sent["n"] == 3
    assert sent["stop"] == ["\n\n"]
    assert sent["temperature"] == 0.8
    assert sent["seed"] == 3
    for c in cands:
        if c.finish_reason == "stop":
            assert c.text.endswith("\n\n"), "the stripped delimiter is restored"
        assert c.finish_reason in ("stop", "eos", "length")


def test_without_n_support_it_falls_back_to_concurrent_calls(server: _Server) -> None:
    server.requests_seen.clear()
    policy = ChatModelPolicy(_chat(server), supports_n=False, max_concurrency=2)
    params = SamplingParams(temperature=0.8, max_new_tokens=12, seed=1)
    results = policy.sample([REQUEST, REQUEST], n=2, params=params)
    assert [len(r) for r in results] == [2, 2]
    assert len(server.requests_seen) == 4
    assert all("n" not in body for body in server.requests_seen)


def test_prefix_is_sent_as_a_trailing_assistant_message(server: _Server) -> None:
    server.requests_seen.clear()
    policy = ChatModelPolicy(_chat(server))
    request = GenerationRequest(REQUEST.messages, prefix="Step 1: 6 + 7 = 13.\n\n")
    policy.sample([request], n=1, params=SamplingParams(max_new_tokens=8))
    last = server.requests_seen[0]["messages"][-1]
    assert last == {"role": "assistant", "content": "Step 1: 6 + 7 = 13.\n\n"}


def test_served_model_drives_a_strategy_graph(server: _Server) -> None:
    graph = create_best_of_n(
        policy=ChatModelPolicy(_chat(server)),
        n=2,
        selection="majority",
        seed=5,
        sampling=SamplingParams(temperature=0.7, max_new_tokens=24),
    )
    result = graph.invoke({"question": "What is 2 + 2?"})
    assert len(result["candidates"]) == 2
    assert result["usage"]["policy_calls"] == 1


def test_rejects_non_chat_models() -> None:
    with pytest.raises(ValueError, match="chat model"):
        ChatModelPolicy("gpt")  # type: ignore[arg-type]
