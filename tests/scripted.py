"""A scripted policy and verifier: the real graphs driven in milliseconds, no model.

:class:`ScriptedPolicy` writes fixed solutions, step by step as a model would: candidate
``i`` of a request writes ``solutions[(i + seed) % len(solutions)]``, continued after the
steps the request's prefix already holds, cut at the first stop string (kept, as the
real policies keep it) or at ``max_new_tokens`` words (one word, one token). Every
call is recorded, so a test can say what was asked of the policy and when.

A policy made with ``seconds_per_call`` takes that long over every call, and honours a
time budget as the real policies do: a call that ends past the deadline
(:func:`ttc_graph.reliability.current_deadline`) returns one word per row, cut
(``finish_reason="length"``).

:class:`ScriptedVerifier` scores a step 0.9 when it contains ``right``, else 0.2; a step
holding a key of ``scores`` gets that key's value instead (the first that matches).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import Field

from ttc_graph.policy import Completion, GenerationRequest, SamplingParams
from ttc_graph.reliability import current_deadline
from ttc_graph.verifiers import Verifier

RIGHT = "$\\boxed{12}$"
SOLUTIONS = (
    "Sam has 7 pencils.\n\nHe buys 5 more: 7 + 5 = 12.\n\nThe final answer is $\\boxed{12}$.",
    "Sam has 7 pencils.\n\nHe buys 5 more: 7 - 5 = 2.\n\nThe final answer is $\\boxed{2}$.",
    "Sam has 7 pencils.\n\n7 + 5 = 12.\n\nThe final answer is $\\boxed{12}$.",
    "He has 7 and buys 5.\n\n7 * 5 = 35.\n\nThe final answer is $\\boxed{35}$.",
)
"""Two of four right (12): a vote and a verifier both have something to pick from."""
QUESTION = "Sam has 7 pencils and buys 5 more. How many pencils does Sam have?"


@dataclass(frozen=True)
class Call:
    """One recorded policy call."""

    requests: list[GenerationRequest]
    n: int
    params: SamplingParams
    first_index: int


def _steps(text: str) -> list[str]:
    parts = text.split("\n\n")
    return [p + "\n\n" for p in parts[:-1]] + [parts[-1]]


class ScriptedPolicy:
    """Writes :data:`SOLUTIONS` (or ``solutions``) as described in the module docs."""

    model_id = "scripted"

    def __init__(
        self,
        solutions: Sequence[str] = SOLUTIONS,
        *,
        prompt_tokens: int = 10,
        seconds_per_call: float = 0.0,
    ) -> None:
        self.solutions = list(solutions)
        self.prompt_tokens = prompt_tokens
        self.seconds_per_call = seconds_per_call
        self.calls: list[Call] = []
        self._lock = threading.Lock()

    @property
    def rows(self) -> int:
        """Candidates written so far, over every call."""
        return sum(len(c.requests) * c.n for c in self.calls)

    def sample(
        self,
        requests: Sequence[GenerationRequest],
        *,
        n: int = 1,
        params: SamplingParams | None = None,
        config: Any = None,
        first_index: int = 0,
    ) -> list[list[Completion]]:
        params = params or SamplingParams()
        with self._lock:
            self.calls.append(Call(list(requests), n, params, first_index))
        if self.seconds_per_call:
            time.sleep(self.seconds_per_call)
        deadline = current_deadline()
        late = deadline is not None and time.monotonic() >= deadline
        return [
            [self._complete(r, i, params, late) for i in range(first_index, first_index + n)]
            for r in requests
        ]

    async def asample(
        self, requests: Sequence[GenerationRequest], **kwargs: Any
    ) -> list[list[Completion]]:
        return self.sample(requests, **kwargs)

    def _complete(
        self, request: GenerationRequest, index: int, params: SamplingParams, late: bool = False
    ) -> Completion:
        # Greedy decoding does not depend on the seed; sampling does.
        seed = (params.seed or 0) if params.temperature > 0 else 0
        solution = self.solutions[(index + seed) % len(self.solutions)]
        written = len([step for step in _steps(request.prefix) if step])
        text = "".join(_steps(solution)[written:]) or "The final answer is $\\boxed{0}$."
        finish = "eos"
        cuts = [text.index(s) + len(s) for s in params.stop if s in text]
        if cuts and min(cuts) < len(text):
            text, finish = text[: min(cuts)], "stop"
        words = text.split(" ")
        limit = 1 if late else params.max_new_tokens
        if len(words) > limit:
            text, finish = " ".join(words[:limit]), "length"
        return Completion(text, finish, len(text.split(" ")), self.prompt_tokens)  # type: ignore[arg-type]


class ScriptedVerifier(Verifier):
    """Scores a step 0.9 when it contains ``right``, else 0.2; or by ``scores``."""

    right: str = "12"
    scores: dict[str, float] = Field(default_factory=dict)
    """Step text -> score: a step that contains a key gets its value (the first match)."""

    def score_steps(self, question: str, candidates: Sequence[Sequence[str]]) -> list[list[float]]:
        return [[self._score(step) for step in steps] for steps in candidates]

    def _score(self, step: str) -> float:
        for key, value in self.scores.items():
            if key in step:
                return value
        return 0.9 if self.right in step else 0.2


def streamed(
    graph: Any, *args: Any, question: Any = QUESTION, **kwargs: Any
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One run of ``graph`` on ``question``, streamed: its final state and its custom
    events, in order (``args`` and ``kwargs``, e.g. ``context=``, go to ``graph.stream``)."""
    events: list[dict[str, Any]] = []
    result: dict[str, Any] = {}
    for mode, chunk in graph.stream(
        {"question": question}, *args, stream_mode=["custom", "values"], **kwargs
    ):
        if mode == "custom":
            events.append(chunk)
        else:
            result = chunk
    return result, events


def options_for(name: str, **values: Any) -> dict[str, Any]:
    """``values`` that strategy ``name`` takes (a loop over every strategy passes each its own)."""
    from ttc_graph.strategies import SPECS

    return {k: v for k, v in values.items() if k in SPECS[name].options.names}


def without_ids(result: dict[str, Any]) -> dict[str, Any]:
    """A result with its messages as (type, content): message ids are fresh per run."""
    messages = [(m.type, m.content) for m in result.get("messages", [])]
    return {**result, "messages": messages}
