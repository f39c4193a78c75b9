"""Faults of ``ttc-graph serve`` found by a hostile probe, on a real server over loopback
(uvicorn on a thread, a scripted policy): retries of failed searches, the API key
compared exactly, a body that never finishes, a shutdown during an upload."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import Any

import httpx
import openai
import pytest
import uvicorn
from openai import OpenAI

from scripted import QUESTION, ScriptedPolicy
from ttc_graph.serving import ServeLimits, create_app, serve_in_thread
from ttc_graph.serving.server import _config

KEY = "test-key"
MESSAGES = [{"role": "user", "content": QUESTION}]


class CountingBrokenPolicy(ScriptedPolicy):
    """Every call fails (not a transient fault); counts the calls."""

    def sample(self, requests: Any, **kwargs: Any) -> Any:
        super().sample(requests, **kwargs)
        raise RuntimeError("the model is broken")


class SlowPolicy(ScriptedPolicy):
    """Takes ``seconds`` per call (cancellable, as a real policy's rows are)."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds

    async def asample(self, requests: Any, **kwargs: Any) -> Any:
        result = self.sample(requests, **kwargs)
        await asyncio.sleep(self.seconds)
        return result


@pytest.mark.parametrize("fault", ["failed", "timed out"])
def test_a_failed_or_timed_out_search_is_not_retried_by_openai_clients(fault: str) -> None:
    if fault == "failed":
        policy: ScriptedPolicy = CountingBrokenPolicy()
        app = create_app(policy=policy, verifier="arithmetic")
        expected: type[Exception] = openai.InternalServerError
    else:
        policy = SlowPolicy(seconds=30.0)
        app = create_app(policy=policy, verifier="arithmetic", limits=ServeLimits(timeout_s=1.0))
        expected = openai.APIStatusError
    with serve_in_thread(app) as url:
        # openai-python's default: 2 retries of a 408 or 5xx, unless the server says no.
        client = OpenAI(base_url=url, api_key="none", timeout=60)
        assert client.max_retries == 2
        with pytest.raises(expected) as info:
            client.chat.completions.create(model="majority-2", messages=MESSAGES)  # type: ignore[arg-type]
        response = info.value.response  # type: ignore[attr-defined]
        assert response.headers["x-should-retry"] == "false"
        assert response.status_code == (500 if fault == "failed" else 408)
    assert len(policy.calls) == 1, "one search, not three"


def test_a_full_queue_may_still_be_retried() -> None:
    # 429 says "later": the header is only on searches that ran and failed.
    app = create_app(policy=SlowPolicy(2.0), limits=ServeLimits(max_concurrent=1, max_queue=0))
    with serve_in_thread(app) as url:
        body = {"model": "majority-2", "messages": MESSAGES}
        first = threading.Thread(
            target=lambda: httpx.post(f"{url}/chat/completions", json=body, timeout=30)
        )
        first.start()
        end = time.monotonic() + 30
        while httpx.get(url.removesuffix("/v1") + "/health").json()["running"] < 1:
            assert time.monotonic() < end
            time.sleep(0.05)
        busy = httpx.post(f"{url}/chat/completions", json=body, timeout=30)
        assert busy.status_code == 429
        assert "x-should-retry" not in busy.headers
        first.join(30)


@pytest.mark.parametrize(
    "header",
    [
        b"Bearer test-key\xa0",  # a trailing no-break space
        b"Bearer  test-key",  # two spaces after Bearer
        b"Bearer test-keyx",
        b"Basic test-key",
        b"Bearertest-key",
    ],
)
def test_the_api_key_is_compared_exactly(header: bytes) -> None:
    with serve_in_thread(create_app(policy=ScriptedPolicy(), api_key=KEY)) as url:
        models = f"{url}/models"
        assert httpx.get(models, headers={"Authorization": f"Bearer {KEY}"}).status_code == 200
        reply = httpx.get(models, headers={"Authorization": header})
        assert reply.status_code == 401, header
        assert reply.json()["error"]["code"] == "invalid_api_key"


def _partial_upload(port: int, sent: bytes = b'{"mo') -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: test\r\nConnection: close\r\n"
        b"Content-Type: application/json\r\n"
        b"Content-Length: 100\r\n\r\n" + sent
    )
    sock.settimeout(60)
    return sock


def _read_all(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def test_a_body_that_never_finishes_gets_a_408_within_the_timeout() -> None:
    app = create_app(policy=ScriptedPolicy(), limits=ServeLimits(timeout_s=1.0))
    with serve_in_thread(app) as url:
        port = int(url.rsplit(":", 1)[1].split("/")[0])
        started = time.monotonic()
        with _partial_upload(port) as sock:
            reply = _read_all(sock)
        assert reply.startswith(b"HTTP/1.1 408"), reply[:200]
        assert b'"code":"body_timeout"' in reply
        assert time.monotonic() - started < 10, "not held for the 60 s of the probe"


def test_a_shutdown_during_an_upload_answers_503() -> None:
    app = create_app(policy=ScriptedPolicy())
    # What SIGTERM does to uvicorn: should_exit, then the grace period (1 s here).
    server = uvicorn.Server(_config(app, "127.0.0.1", 0, 1.0, "warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    end = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < end
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    with _partial_upload(port) as sock:
        time.sleep(0.3)
        server.should_exit = True
        reply = _read_all(sock)
    thread.join(30)
    assert reply.startswith(b"HTTP/1.1 503"), reply[:200]
    assert b"application/json" in reply
    assert b'"code":"shutting_down"' in reply
