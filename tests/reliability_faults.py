"""Fault injection for the reliability tests: real components that fail on cue.

A wrapper delegates every call to the real policy or verifier and raises a real
exception (built fresh each time) on the calls whose 1-based numbers are in
``fail_on``. Clearing ``fail_on`` is how a test "fixes the fault".
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import httpx
import torch
from langchain_core.runnables import RunnableConfig
from pydantic import Field, PrivateAttr

from ttc_graph.policy.base import Completion, GenerationRequest, Policy, SamplingParams
from ttc_graph.verifiers.base import Verifier

ErrorFactory = Callable[[], BaseException]


def http_500() -> httpx.HTTPStatusError:
    """What an OpenAI-compatible server returns when its model crashed."""
    request = httpx.Request("POST", "http://127.0.0.1:8000/v1/completions")
    response = httpx.Response(500, request=request, text="Internal Server Error")
    return httpx.HTTPStatusError(
        "Server error '500 Internal Server Error'", request=request, response=response
    )


def http_400() -> httpx.HTTPStatusError:
    """A request the server rejects: retrying cannot help."""
    request = httpx.Request("POST", "http://127.0.0.1:8000/v1/completions")
    response = httpx.Response(400, request=request, text="Bad Request")
    return httpx.HTTPStatusError(
        "Client error '400 Bad Request'", request=request, response=response
    )


def out_of_memory() -> BaseException:
    """The error torch raises when the accelerator runs out of memory."""
    return torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")


class _Counter:
    def __init__(self, fail_on: Sequence[int], error: ErrorFactory) -> None:
        self.fail_on = set(fail_on)
        self.error = error
        self.calls = 0
        self._lock = threading.Lock()

    def tick(self) -> None:
        with self._lock:
            self.calls += 1
            number = self.calls
        if number in self.fail_on:
            raise self.error()


class FlakyPolicy:
    """A policy that raises ``error()`` on the listed calls and otherwise delegates."""

    def __init__(
        self,
        inner: Policy,
        *,
        fail_on: Sequence[int] = (),
        error: ErrorFactory = lambda: TimeoutError("policy timed out"),
    ) -> None:
        self.inner = inner
        self.counter = _Counter(fail_on, error)

    @property
    def calls(self) -> int:
        """Calls made so far, failed ones included."""
        return self.counter.calls

    def fix(self) -> None:
        """Stop failing."""
        self.counter.fail_on.clear()

    def sample(
        self,
        requests: Sequence[GenerationRequest],
        *,
        n: int = 1,
        params: SamplingParams | None = None,
        config: RunnableConfig | None = None,
        first_index: int = 0,
    ) -> list[list[Completion]]:
        self.counter.tick()
        inner: Any = self.inner
        return inner.sample(requests, n=n, params=params, config=config, first_index=first_index)

    async def asample(
        self,
        requests: Sequence[GenerationRequest],
        *,
        n: int = 1,
        params: SamplingParams | None = None,
        config: RunnableConfig | None = None,
        first_index: int = 0,
    ) -> list[list[Completion]]:
        self.counter.tick()
        inner: Any = self.inner
        return await inner.asample(
            requests, n=n, params=params, config=config, first_index=first_index
        )


class FlakyVerifier(Verifier):
    """A verifier that raises ``error()`` on the listed calls and otherwise delegates."""

    inner: Verifier
    fail_on: set[int] = Field(default_factory=set)
    error: Callable[[], BaseException] = lambda: RuntimeError("verifier failed")
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _calls: int = PrivateAttr(default=0)

    @property
    def calls(self) -> int:
        """Calls made so far, failed ones included."""
        return self._calls

    def fix(self) -> None:
        """Stop failing."""
        self.fail_on = set()

    def score_steps(self, question: str, candidates: Sequence[Sequence[str]]) -> list[list[float]]:
        with self._lock:
            self._calls += 1
            number = self._calls
        if number in self.fail_on:
            raise self.error()
        return self.inner.score_steps(question, candidates)
