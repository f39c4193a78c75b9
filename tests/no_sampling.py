"""A policy wrapper for tests of stored work: it reads features like the real policy, and
any sampling through it fails the test (what was stored should have been reused)."""

from __future__ import annotations

from typing import Any


class NoSampling:
    """The session policy for reading features; sampling raises ``AssertionError``."""

    def __init__(self, policy: Any, reused: str = "the stored sample") -> None:
        self._policy = policy
        self._reused = reused
        self.model = policy.model
        self.tokenizer = policy.tokenizer
        self.model_id = policy.model_id

    def render(self, request: Any) -> str:
        return str(self._policy.render(request))

    def sample(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"{self._reused} should have been reused")

    asample = sample
