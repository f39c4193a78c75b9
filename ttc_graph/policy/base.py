"""Types shared by every policy: what to generate, how, and what comes back."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from langchain_core.messages import BaseMessage
from langchain_core.runnables import RunnableConfig

FinishReason = Literal["stop", "eos", "length"]

DEFAULT_STEP_DELIMITER = "\n\n"


@dataclass(frozen=True)
class SamplingParams:
    """How to sample. Validated on construction so bad values fail early and clearly.

    ``stop`` holds the step delimiters: generation of a candidate ends at the first
    one, which is kept in the returned text. An empty tuple runs to EOS or the
    token limit. ``temperature=0`` is greedy decoding.
    """

    temperature: float = 0.8
    top_p: float = 1.0
    max_new_tokens: int = 256
    stop: tuple[str, ...] = ()
    seed: int | None = None
    logprobs: bool = False

    def __post_init__(self) -> None:
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0 (0 means greedy), got {self.temperature}.")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}.")
        if self.max_new_tokens < 1:
            raise ValueError(
                f"max_new_tokens must be >= 1, got {self.max_new_tokens}; "
                "raise it to let the model write at least one token."
            )
        if isinstance(self.stop, str):
            raise ValueError("stop must be a sequence of strings, e.g. ('\\n\\n',), not a string.")
        if any(not s for s in self.stop):
            raise ValueError("stop strings must be non-empty.")


def check_n(n: int) -> int:
    """Validate a candidate count."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be an integer >= 1 (candidates per prompt), got {n!r}.")
    return n


@dataclass(frozen=True)
class GenerationRequest:
    """One prompt: a chat conversation, plus the start of the assistant's answer.

    ``prefix`` is the part of the answer written so far (earlier steps of a beam);
    the policy continues it rather than starting a new turn.
    """

    messages: tuple[BaseMessage, ...]
    prefix: str = ""

    def __post_init__(self) -> None:
        if not self.messages:
            raise ValueError("A generation request needs at least one message.")


@dataclass(frozen=True)
class Completion:
    """One generated candidate continuation."""

    text: str
    finish_reason: FinishReason
    completion_tokens: int
    prompt_tokens: int = 0
    logprobs: tuple[float, ...] | None = None
    info: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def finished(self) -> bool:
        """True when the model ended the answer itself (EOS), not at a step delimiter."""
        return self.finish_reason == "eos"


@runtime_checkable
class Policy(Protocol):
    """What a strategy needs from a policy: many candidates for many prompts at once."""

    def sample(
        self,
        requests: Sequence[GenerationRequest],
        *,
        n: int = 1,
        params: SamplingParams | None = None,
        config: RunnableConfig | None = None,
    ) -> list[list[Completion]]:
        """Return ``n`` completions for each request, in request order."""
        ...

    async def asample(
        self,
        requests: Sequence[GenerationRequest],
        *,
        n: int = 1,
        params: SamplingParams | None = None,
        config: RunnableConfig | None = None,
    ) -> list[list[Completion]]:
        """Async twin of :meth:`sample`."""
        ...
