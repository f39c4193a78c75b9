"""``ttc-graph serve``: the OpenAI-compatible server, driven by the real ``openai`` client
and ``langchain_openai.ChatOpenAI`` over loopback, on the real embedded model.

Answers must equal a direct ``graph.invoke`` of the same strategy and seed; every bad
input must be a 4xx OpenAI-style error after which the server still answers. Token
limits and N are tiny to keep the file fast on a shared CPU. (Request handling without
a model: tests/unit/test_serve_requests.py.)
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import openai
import pytest
from langchain_openai import ChatOpenAI
from openai import OpenAI

from ttc_graph.policy import SamplingParams
from ttc_graph.serving import ServeLimits, create_app
from ttc_graph.serving.server import serve_in_thread
from ttc_graph.strategies import build_strategy
from ttc_graph.verifiers import GroundedVerifier

KEY = "test-key"
QUESTION = "What is 17 + 25?"
LIMITS = ServeLimits(max_n=8, max_tokens=32, max_body_bytes=16_384, max_concurrent=8)
WAIT_S = 120.0
"""Guards every polling loop against a hang; far above what any step takes."""


def user(text: str = QUESTION) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


def wait_for(condition: Callable[[], bool], what: str) -> None:
    end = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.05)


# -- the served model ----------------------------------------------------------------


@pytest.fixture(scope="module")
def base_url(policy: Any) -> Iterator[str]:
    app = create_app(policy=policy, verifier="grounded", api_key=KEY, limits=LIMITS)
    with serve_in_thread(app) as url:
        yield url


@pytest.fixture(scope="module")
def client(base_url: str) -> OpenAI:
    return OpenAI(base_url=base_url, api_key=KEY, max_retries=0, timeout=WAIT_S)


def direct(policy: Any, strategy: str, *, n: int, tokens: int, seed: int, **kw: Any) -> Any:
    graph = build_strategy(
        strategy,
        policy=policy,
        verifier=GroundedVerifier(),
        n=n,
        sampling=SamplingParams(temperature=0.8, max_new_tokens=tokens),
        seed=seed,
        **kw,
    )
    return graph.invoke({"question": QUESTION})


def test_models_lists_the_strategies(client: OpenAI) -> None:
    ids = [m.id for m in client.models.list().data]
    assert ids == [
        "greedy",
        "best_of_n",
        "weighted",
        "majority",
        "beam_search",
        "dvts",
        "particle_filter",
        "adaptive",
        "self_refine",
    ]


def test_openai_client_gets_the_answer_of_a_direct_invoke(client: OpenAI, policy: Any) -> None:
    response = client.chat.completions.create(
        model="weighted-4",
        messages=user(),
        max_tokens=12,
        seed=7,
        n=2,  # type: ignore[arg-type]
    )
    expected = direct(policy, "weighted", n=4, tokens=12, seed=7)
    first = response.choices[0]
    assert first.message.content == expected["solution"]
    ttc = response.model_extra["ttc"]  # type: ignore[index]
    assert ttc["answer"] == expected["answer"]
    # Usage is the search's own count: every token generated and read.
    assert response.usage is not None
    assert response.usage.completion_tokens == expected["usage"]["completion_tokens"]
    assert response.usage.prompt_tokens == expected["usage"]["prompt_tokens"]
    assert ttc["usage"]["policy_calls"] == expected["usage"]["policy_calls"]
    assert ttc["usage"]["verifier_calls"] == expected["usage"]["verifier_calls"]
    # n=2: a second choice only with a different answer.
    answers = {c["answer"] for c in expected["candidates"]}
    assert len(response.choices) == min(2, len(answers))


def test_streaming_sends_search_events_then_the_answer(client: OpenAI, policy: Any) -> None:
    options = {"ttc": {"beam_width": 2, "max_steps": 2}}
    stream = client.chat.completions.create(
        model="beam_search-4",
        messages=user(),  # type: ignore[arg-type]
        max_tokens=8,
        seed=1,
        stream=True,
        stream_options={"include_usage": True},
        extra_body=options,
    )
    events, content, usage, finish = [], [], None, None
    for chunk in stream:
        extra = chunk.model_extra or {}
        if "ttc_event" in extra:
            assert not content, "search events come before the answer"
            events.append(extra["ttc_event"]["event"])
            assert extra["ttc_time"] <= time.time()
        for choice in chunk.choices:
            content.append(choice.delta.content or "")
            finish = choice.finish_reason or finish
        usage = chunk.usage or usage
    expected = direct(policy, "beam_search", n=4, tokens=8, seed=1, beam_width=2, max_steps=2)
    assert "".join(content) == expected["solution"]
    assert events[0] == "candidate_generated"
    assert events[-1] == "answer_chosen"
    assert "step_scored" in events
    assert finish in ("stop", "length")
    assert usage is not None
    assert usage.completion_tokens == expected["usage"]["completion_tokens"]


def test_langchain_chat_openai_adopts_search_by_base_url(base_url: str, policy: Any) -> None:
    llm = ChatOpenAI(
        base_url=base_url,
        api_key=KEY,  # type: ignore[arg-type]
        model="majority-2",
        max_tokens=10,  # type: ignore[call-arg]
        seed=4,
        max_retries=0,
        timeout=WAIT_S,
        extra_body={"ttc": {"content": "solution"}},
    )
    expected = build_strategy(
        "majority",
        policy=policy,
        verifier=GroundedVerifier(),  # the server's --verifier goes to every strategy
        n=2,
        sampling=SamplingParams(temperature=0.7, max_new_tokens=10),
        seed=4,
    ).invoke({"question": QUESTION})
    message = llm.invoke(QUESTION, temperature=0.7)
    assert message.content == expected["solution"]
    assert message.usage_metadata is not None
    assert message.usage_metadata["output_tokens"] == expected["usage"]["completion_tokens"]
    streamed = "".join(str(c.content) for c in llm.stream(QUESTION, temperature=0.7))
    assert streamed == expected["solution"]


def test_extension_options_reach_the_search(client: OpenAI) -> None:
    options = {"budget": {"max_tokens": 4}, "content": "answer", "include_candidates": True}
    r = client.chat.completions.create(
        model="majority-2",
        messages=user(),  # type: ignore[arg-type]
        max_tokens=16,
        seed=2,
        extra_body={"ttc": options},
    )
    ttc = r.model_extra["ttc"]  # type: ignore[index]
    assert ttc["budget_limited"] is True
    assert r.usage is not None
    assert r.usage.completion_tokens <= 4 + 1  # a budget overshoots by at most rows - 1
    assert len(ttc["candidates"]) == 2
    chosen = ttc["answer"]
    content = r.choices[0].message.content
    assert content == chosen if chosen is not None else content


def test_concurrent_requests_share_the_policy_batches(
    base_url: str, policy: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = policy.model
    real_generate = model.generate
    calls: list[int] = []

    def generate(*args: Any, **kwargs: Any) -> Any:
        calls.append(int(kwargs["input_ids"].shape[0]))
        return real_generate(*args, **kwargs)

    monkeypatch.setattr(model, "generate", generate)
    seeds = [11, 12, 13, 14]
    answers: dict[int, str | None] = {}

    def ask(seed: int) -> None:
        c = OpenAI(base_url=base_url, api_key=KEY, max_retries=0, timeout=WAIT_S)
        r = c.chat.completions.create(
            model="majority-2",
            messages=user(),
            max_tokens=8,
            seed=seed,  # type: ignore[arg-type]
        )
        answers[seed] = r.choices[0].message.content

    threads = [threading.Thread(target=ask, args=(s,)) for s in seeds]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT_S)
    assert sorted(answers) == seeds
    assert len(calls) < len(seeds), f"each request generated alone: {calls}"
    monkeypatch.setattr(model, "generate", real_generate)
    for seed in seeds:
        graph = build_strategy(
            "majority",
            policy=policy,
            verifier=GroundedVerifier(),
            n=2,
            sampling=SamplingParams(temperature=0.8, max_new_tokens=8),
            seed=seed,
        )
        assert answers[seed] == graph.invoke({"question": QUESTION})["solution"]


def post(base_url: str, body: Any, *, key: str | None = KEY, raw: bytes | None = None) -> Any:
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    content = raw if raw is not None else json.dumps(body).encode()
    return httpx.post(f"{base_url}/chat/completions", content=content, headers=headers, timeout=60)


def test_every_bad_input_is_a_4xx_json_error_and_the_server_goes_on(
    base_url: str, client: OpenAI
) -> None:
    ok = {"model": "greedy", "messages": user(), "max_tokens": 4}
    cases = [
        (post(base_url, {**ok, "model": "nope"}), 404, "model_not_found"),
        (post(base_url, {**ok, "model": "weighted-0"}), 400, None),
        (post(base_url, {**ok, "model": "weighted-9"}), 400, None),
        (post(base_url, None, raw=b'{"model": "greedy", "messages": ['), 400, "invalid_json"),
        (post(base_url, None, raw=b"[" * 100_000 + b"]" * 100_000), 413, "body_too_large"),
        (post(base_url, None, raw=b"[" * 8_000 + b"]" * 8_000), 400, "invalid_json"),
        (post(base_url, {"model": "greedy"}), 400, None),
        (post(base_url, {**ok, "messages": user("")}), 400, None),
        (post(base_url, ok, key="wrong"), 401, "invalid_api_key"),
        (post(base_url, ok, key=None), 401, "invalid_api_key"),
        (post(base_url, {**ok, "pad": "x" * 20_000}), 413, "body_too_large"),
    ]
    for response, status, code in cases:
        assert response.status_code == status, response.text
        error = response.json()["error"]
        assert set(error) == {"message", "type", "param", "code"}
        assert error["message"]
        if code is not None:
            assert error["code"] == code
    with pytest.raises(openai.AuthenticationError):
        OpenAI(base_url=base_url, api_key="wrong", max_retries=0).models.list()
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="gpt-4o", messages=user())  # type: ignore[arg-type]
    assert httpx.get(base_url.removesuffix("/v1") + "/health").json()["status"] == "ok"
    answer = client.chat.completions.create(model="greedy", messages=user(), max_tokens=4)  # type: ignore[arg-type]
    assert answer.choices[0].message.content


def health(base_url: str) -> dict[str, Any]:
    return dict(httpx.get(base_url.removesuffix("/v1") + "/health", timeout=10).json())


LONG_SEARCH = {
    "model": "beam_search-4",
    "messages": user(),
    "max_tokens": 32,
    "ttc": {"beam_width": 2, "max_steps": 16},
}
"""Sixteen steps of 32 tokens: far longer than any test waits before hanging up."""


def test_a_client_that_disconnects_mid_stream_cancels_its_search(
    base_url: str, client: OpenAI
) -> None:
    cancelled = health(base_url)["finished"]["cancelled"]
    headers = {"Authorization": f"Bearer {KEY}"}
    body = {**LONG_SEARCH, "stream": True}
    with httpx.stream(
        "POST", f"{base_url}/chat/completions", json=body, headers=headers, timeout=WAIT_S
    ) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if line.startswith("data: ") and "ttc_event" in line:
                break  # the search is running: hang up now
    wait_for(lambda: health(base_url)["running"] == 0, "the search to be cancelled")
    assert health(base_url)["finished"]["cancelled"] == cancelled + 1
    answer = client.chat.completions.create(model="greedy", messages=user(), max_tokens=4)  # type: ignore[arg-type]
    assert answer.choices[0].message.content


def test_a_client_that_gives_up_waiting_cancels_its_search(base_url: str) -> None:
    cancelled = health(base_url)["finished"]["cancelled"]
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            f"{base_url}/chat/completions",
            json=LONG_SEARCH,
            headers={"Authorization": f"Bearer {KEY}"},
            timeout=httpx.Timeout(10.0, read=1.0),
        )
    wait_for(lambda: health(base_url)["running"] == 0, "the search to be cancelled")
    assert health(base_url)["finished"]["cancelled"] == cancelled + 1


def test_a_full_queue_answers_429_and_a_slow_search_408(policy: Any) -> None:
    tight = ServeLimits(max_concurrent=1, max_queue=0, timeout_s=1.0, max_tokens=64)
    with serve_in_thread(create_app(policy=policy, verifier="grounded", limits=tight)) as url:
        slow = LONG_SEARCH
        results: list[httpx.Response] = []
        first = threading.Thread(target=lambda: results.append(post(url, slow, key=None)))
        first.start()
        wait_for(lambda: health(url)["running"] == 1, "the first search to start")
        busy = post(url, slow, key=None)
        assert busy.status_code == 429
        assert busy.json()["error"]["code"] == "queue_full"
        first.join(WAIT_S)
        assert results[0].status_code == 408, results[0].text
        assert results[0].json()["error"]["code"] == "timeout"
        assert health(url)["running"] == 0
        assert post(url, {"model": "greedy", "messages": user(), "max_tokens": 2}, key=None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.subprocess
def test_the_cli_serves_and_shuts_down_gracefully() -> None:
    """A real ``ttc-graph serve`` process: the key from the environment; SIGTERM lets the
    request in flight finish, then the process exits 0."""
    port = free_port()
    env = {**os.environ, "TTC_GRAPH_API_KEY": KEY, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "ttc_graph", "serve", "--port", str(port), "--device", "cpu"]
    command += ["--verifier", "grounded"]
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:

        def up() -> bool:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            try:
                return httpx.get(f"{url}/health", timeout=5).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(up, "the server to start")
        assert (
            post(f"{url}/v1", {"model": "greedy", "messages": user()}, key=None).status_code == 401
        )
        results: list[httpx.Response] = []
        body = {"model": "majority-2", "messages": user(), "max_tokens": 16}
        asking = threading.Thread(target=lambda: results.append(post(f"{url}/v1", body)))
        asking.start()
        wait_for(lambda: health(f"{url}/v1")["running"] == 1, "the search to start")
        process.send_signal(signal.SIGTERM)
        asking.join(WAIT_S)
        assert results[0].status_code == 200, results[0].text
        assert results[0].json()["choices"][0]["message"]["content"]
        assert process.wait(timeout=WAIT_S) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
