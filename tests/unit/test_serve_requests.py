"""``ttc-graph serve`` without a model: model names, request options (``ttc`` over the
model name), refusals naming the field, OpenAI error statuses, the limits, the ranked
choices, and a search that fails (a broken policy behind a server on a thread) answered
as a 500 or an error chunk while the server goes on. (The server on the real embedded
model: tests/integration/test_serve.py.)
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pytest
from openai import OpenAI

from ttc_graph.errors import InputError, InputTooLongError, LimitError, StrategyError
from ttc_graph.serving import ServeLimits, create_app
from ttc_graph.serving.errors import APIError, from_exception
from ttc_graph.serving.options import checked_options, parse_model, parse_request, served_verifiers
from ttc_graph.serving.responses import ranked_choices
from ttc_graph.serving.server import serve_in_thread
from ttc_graph.strategies import SPECS
from ttc_graph.strategies.context import context_schema

QUESTION = "What is 17 + 25?"
WAIT_S = 120.0
"""Guards every polling loop against a hang; far above what any step takes."""


def user(text: str = QUESTION) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


# -- pure logic: no model ----------------------------------------------------------


def parse(body: dict[str, Any], **limits: Any) -> Any:
    """The request parsed, and its options checked as the strategy's graph checks them."""
    parsed = parse_request(
        body,
        limits=ServeLimits(**{"max_n": 8, "max_tokens": 32, **limits}),
        verifiers=served_verifiers("grounded"),
    )
    spec = SPECS[parsed.strategy]
    schema = context_schema(spec.name, spec.options, spec.option_defaults(), verifier=True)
    return parsed, checked_options(parsed, schema).config()


def test_model_names_a_strategy_and_an_optional_n() -> None:
    assert parse_model("beam_search-16") == ("beam_search", 16)
    assert parse_model("weighted") == ("weighted", None)
    for bad in ("gpt-4o", "weighted-", "weighted-x", "Weighted-4", ""):
        with pytest.raises(APIError) as info:
            parse_model(bad)
        assert (info.value.status, info.value.code) == (404, "model_not_found")


def test_request_options_resolve_with_ttc_overriding_the_model_name() -> None:
    parsed, cfg = parse(
        {
            "model": "weighted-8",
            "messages": user(),
            "max_tokens": 12,
            "seed": 3,
            "n": 2,
            "ttc": {"strategy": "beam_search", "n": 4, "beam_width": 2, "seed": 5},
        }
    )
    assert (cfg.strategy, cfg.n, cfg.beam_width, cfg.max_new_tokens, cfg.seed) == (
        "beam_search",
        4,
        2,
        12,
        5,
    )
    assert parsed.choices == 2
    # What a request leaves out is the strategy's own default, as everywhere.
    assert parse({"model": "majority", "messages": user()})[1].n == SPECS["majority"].default("n")


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        ({"model": "weighted-0", "messages": user()}, 400, "model"),
        ({"model": "weighted-9", "messages": user()}, 400, "model"),
        ({"model": "weighted", "messages": user(), "ttc": {"n": 0}}, 400, "ttc.n"),
        ({"model": "nope-4", "messages": user()}, 404, "model"),
        ({"model": "weighted-4"}, 400, "messages"),
        ({"model": "weighted-4", "messages": user("   ")}, 400, "messages"),
        ({"model": "weighted-4", "messages": []}, 400, "messages"),
        ({"model": "weighted-4", "messages": user(), "max_tokens": 33}, 400, "max_tokens"),
        ({"model": "weighted-4", "messages": user(), "n": 5}, 400, "n"),
        ({"model": "weighted-4", "messages": user(), "temperature": -1}, 400, "temperature"),
        ({"model": "greedy-4", "messages": user()}, 400, "model"),
        ({"model": "beam_search-4", "messages": user(), "ttc": {"beam_width": 3}}, 400, None),
        ({"model": "weighted-4", "messages": user(), "ttc": {"verifier": "x"}}, 400, None),
        ({"model": "weighted-4", "messages": user(), "ttc": {"bogus": 1}}, 400, "ttc.bogus"),
        (
            {"model": "majority", "messages": user(), "ttc": {"beam_width": 2}},
            400,
            "ttc.beam_width",
        ),
        ({"model": "weighted-4", "messages": user(), "max_tokens": True}, 400, "max_tokens"),
        ({"model": "weighted-4", "messages": user(), "ttc": {"seed": True}}, 400, "ttc.seed"),
        ({"model": "weighted-4", "messages": user(), "ttc": {"seed": "1"}}, 400, "ttc.seed"),
        ({"model": "greedy", "messages": user(), "temperature": 0.5}, 400, "temperature"),
        ({"model": "weighted-4", "messages": user(), "tools": [{}]}, 400, "tools"),
        (
            {"model": "weighted-4", "messages": user(), "ttc": {"budget": {"max_tokens": 0}}},
            400,
            "ttc.budget",
        ),
        ([1, 2], 400, None),
    ],
)
def test_bad_requests_are_refused_naming_the_field(body: Any, status: int, param: Any) -> None:
    with pytest.raises(APIError) as info:
        parse(body)
    assert info.value.status == status
    if param is not None:
        assert info.value.param == param
    assert set(info.value.body()["error"]) == {"message", "type", "param", "code"}


def test_errors_map_to_openai_statuses() -> None:
    assert from_exception(LimitError("n is too big")).status == 400
    too_long = from_exception(InputTooLongError("too long"))
    assert (too_long.status, too_long.code) == (400, "context_length_exceeded")
    assert from_exception(StrategyError("boom", strategy="weighted")).status == 500
    assert from_exception(TimeoutError()).status == 408
    assert from_exception(RuntimeError("x")).body()["error"]["type"] == "server_error"


def test_limits_are_checked_against_the_project_limits() -> None:
    with pytest.raises(LimitError):
        ServeLimits(max_n=10**9)
    with pytest.raises(LimitError):
        ServeLimits(max_queue=-1)
    # Bad settings are the project's input errors (and still ValueErrors).
    with pytest.raises(InputError, match="timeout_s must be > 0"):
        ServeLimits(timeout_s=0.0)


def test_an_empty_api_key_is_refused_before_the_app_is_built() -> None:
    # Checked before the policy is touched, so no model is needed.
    with pytest.raises(InputError, match="api_key must be a non-empty string"):
        create_app(policy=None, api_key="  ")  # type: ignore[arg-type]


def candidate(answer: str | None, score: float, text: str) -> dict[str, Any]:
    return {
        "id": text,
        "text": text,
        "steps": [text],
        "step_scores": [score],
        "score": score,
        "answer": answer,
        "finish_reason": "eos",
        "completion_tokens": 1,
        "group": 0,
    }


def test_choices_are_distinct_answers_best_first() -> None:
    pool = [
        candidate("42", 0.9, "a"),
        candidate("42.0", 0.8, "b"),
        candidate("41", 0.5, "c"),
        candidate(None, 0.1, "d"),
        candidate("40", 0.7, "e"),
    ]
    result = {"solution": "a", "answer": "42", "candidates": pool}
    picked = ranked_choices(result, "best_of_n", 5)
    assert [c["text"] for c in picked] == ["a", "e", "c", "d"]  # 42.0 equals 42


def health(base_url: str) -> dict[str, Any]:
    return dict(httpx.get(base_url.removesuffix("/v1") + "/health", timeout=10).json())


class BrokenPolicy:
    """A policy whose every call fails (not a transient fault: no retry)."""

    model_id = "broken"

    def sample(self, requests: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the model is broken")

    async def asample(self, requests: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the model is broken")


def test_a_failing_search_is_a_500_or_an_error_chunk_and_the_server_goes_on() -> None:
    with serve_in_thread(create_app(policy=BrokenPolicy(), verifier="grounded")) as url:
        client = OpenAI(base_url=url, api_key="none", max_retries=0, timeout=WAIT_S)
        for _ in range(2):
            with pytest.raises(openai.InternalServerError) as info:
                client.chat.completions.create(model="majority-2", messages=user())  # type: ignore[arg-type]
            assert "the model is broken" in str(info.value)
        stream = client.chat.completions.create(
            model="majority-2",
            messages=user(),  # type: ignore[arg-type]
            stream=True,
        )
        with pytest.raises(openai.APIError, match="the model is broken"):
            list(stream)
        lines = (
            httpx.post(
                f"{url}/chat/completions",
                json={"model": "majority-2", "messages": user(), "stream": True},
                timeout=WAIT_S,
            )
            .text.strip()
            .split("\n\n")
        )
        assert json.loads(lines[-2].removeprefix("data: "))["error"]["code"] == "search_failed"
        assert lines[-1] == "data: [DONE]"
        assert health(url)["finished"]["failed"] == 4
