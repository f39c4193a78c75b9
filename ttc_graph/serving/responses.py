"""OpenAI response bodies and stream chunks built from a strategy's result.

A choice's message is the chosen solution (or, with ``ttc.content="answer"``, only
its final answer). ``n`` choices are the top ``n`` *distinct* answers: the
strategy's own choice first, then, answer by answer, what the strategy's selection
rule picks among the candidates whose answer differs from every one already given.

``usage`` counts every token the search generated (``completion_tokens``) and read
(``prompt_tokens``, summed over all policy calls); policy and verifier calls and
search seconds are in the ``ttc`` extension field.
"""

from __future__ import annotations

import json
import math
import time
import uuid
from typing import Any, cast

from ttc_graph.answers import answers_equal
from ttc_graph.serving.options import ParsedRequest
from ttc_graph.strategies.registry import get_spec
from ttc_graph.strategies.selection import Selection, select
from ttc_graph.strategies.state import Candidate


def new_id() -> str:
    """A response id in OpenAI's form."""
    return f"chatcmpl-{uuid.uuid4().hex[:24]}"


def ranked_choices(result: dict[str, Any], strategy: str, count: int) -> list[Candidate]:
    """The chosen candidate, then the best one of each further distinct answer, ``count`` at most.

    Example:
        >>> ranked_choices({"solution": "x", "answer": "1", "candidates": []}, "majority", 2)[0][
        ...     "answer"]
        '1'
    """
    pool: list[Candidate] = list(result.get("candidates") or [])
    solution, answer = result.get("solution") or "", result.get("answer")
    first = next((c for c in pool if c["text"] == solution), None)
    if first is None:
        first = Candidate(
            id="",
            text=solution,
            steps=[solution],
            step_scores=[],
            score=None,
            answer=answer,
            finish_reason="stop",
            completion_tokens=0,
            group=0,
        )
    picked = [first]
    # Best-of-N strategies rank the rest as they picked the first; the others by score.
    selection = cast(Selection, get_spec(strategy).selection or "vanilla")
    while len(picked) < count:
        pool = [c for c in pool if not any(_same(c["answer"], p["answer"]) for p in picked)]
        if not pool:
            break
        index = select(pool, selection)
        if index is None:
            break
        picked.append(pool[index])
    return picked


def _same(a: str | None, b: str | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return answers_equal(a, b)


def content_of(candidate: Candidate, request: ParsedRequest) -> str:
    """A choice's message text: the solution, or only the answer (``ttc.content``)."""
    if request.content == "answer" and candidate["answer"] is not None:
        return candidate["answer"]
    return candidate["text"]


def finish_reason(candidate: Candidate) -> str:
    """OpenAI's finish reason: ``length`` when the chosen solution was cut at the token limit."""
    return "length" if candidate["finish_reason"] == "length" else "stop"


def usage_of(result: dict[str, Any]) -> dict[str, int]:
    """OpenAI ``usage``: every token the search generated and read."""
    usage = result.get("usage") or {}
    prompt = int(usage.get("prompt_tokens", 0))
    completion = int(usage.get("completion_tokens", 0))
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def ttc_summary(result: dict[str, Any], request: ParsedRequest) -> dict[str, Any]:
    """The ``ttc`` extension field of a response: what the search did and what it cost."""
    usage = result.get("usage") or {}
    options = result.get("options") or {}
    summary: dict[str, Any] = {
        "strategy": request.strategy,
        "n": options.get("n", 1),
        "seed": options.get("seed"),
        "answer": result.get("answer"),
        "budget_limited": bool(result.get("budget_limited")),
        "usage": {
            "policy_calls": int(usage.get("policy_calls", 0)),
            "verifier_calls": int(usage.get("verifier_calls", 0)),
            "search_seconds": round(float(usage.get("seconds", 0.0)), 4),
        },
    }
    if request.include_candidates:
        summary["candidates"] = jsonable(result.get("candidates") or [])
    return summary


def completion_body(result: dict[str, Any], request: ParsedRequest) -> dict[str, Any]:
    """The ``chat.completion`` body of a finished search."""
    choices = ranked_choices(result, request.strategy, request.choices)
    return {
        "id": new_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.model,
        "choices": [
            {
                "index": i,
                "message": {"role": "assistant", "content": content_of(c, request)},
                "logprobs": None,
                "finish_reason": finish_reason(c),
            }
            for i, c in enumerate(choices)
        ],
        "usage": usage_of(result),
        "ttc": ttc_summary(result, request),
    }


class ChunkWriter:
    """Server-sent events of one streamed response (``data: {json}`` lines, then ``[DONE]``)."""

    def __init__(self, request: ParsedRequest) -> None:
        self.request = request
        self.id = new_id()
        self.created = int(time.time())

    def _chunk(self, choices: list[dict[str, Any]], **extra: Any) -> str:
        body = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.request.model,
            "choices": choices,
            **extra,
        }
        return sse(body)

    def event(self, event: dict[str, Any], at: float) -> str:
        """A search event: a chunk with no choices, a ``ttc_event`` field, and ``ttc_time``,
        the server's Unix time when the graph emitted it (to measure delivery delay)."""
        return self._chunk([], ttc_event=jsonable(event), ttc_time=round(at, 6))

    def answer(self, result: dict[str, Any]) -> list[str]:
        """The final answer as content deltas (one per step), a finish chunk per choice,
        the usage chunk when asked for (``stream_options.include_usage``)."""
        out: list[str] = []
        choices = ranked_choices(result, self.request.strategy, self.request.choices)
        for i, candidate in enumerate(choices):
            role = {"index": i, "delta": {"role": "assistant", "content": ""}}
            out.append(self._chunk([{**role, "logprobs": None, "finish_reason": None}]))
            if self.request.content == "answer" and candidate["answer"] is not None:
                pieces = [candidate["answer"]]
            else:
                pieces = [s for s in candidate["steps"] if s] or [candidate["text"]]
            for piece in pieces:
                delta = {"index": i, "delta": {"content": piece}}
                out.append(self._chunk([{**delta, "logprobs": None, "finish_reason": None}]))
        for i, candidate in enumerate(choices):
            last = {"index": i, "delta": {}, "logprobs": None}
            out.append(
                self._chunk(
                    [{**last, "finish_reason": finish_reason(candidate)}],
                    ttc=ttc_summary(result, self.request),
                )
            )
        if self.request.include_usage:
            out.append(self._chunk([], usage=usage_of(result)))
        return out

    @staticmethod
    def error(body: dict[str, Any]) -> str:
        """An error after the stream began: OpenAI clients raise it as an ``APIError``."""
        return sse(body)

    @staticmethod
    def done() -> str:
        """The end of the stream."""
        return "data: [DONE]\n\n"


def sse(body: dict[str, Any]) -> str:
    """One server-sent event carrying ``body`` as JSON."""
    return f"data: {json.dumps(body, ensure_ascii=False, allow_nan=False)}\n\n"


def jsonable(value: Any) -> Any:
    """``value`` with non-finite floats as ``None`` and unknown objects as strings (strict JSON)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if value is None or isinstance(value, str | int | bool):
        return value
    return str(value)
