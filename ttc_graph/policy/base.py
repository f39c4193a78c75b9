"""Types shared by every policy: what to generate, how, and what comes back."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol, get_args, runtime_checkable

from ttc_graph.errors import InputError, LimitError
from ttc_graph.limits import check_finite, check_max_new_tokens, check_n_limit

if TYPE_CHECKING:  # annotations only: SamplingParams (the CLI's defaults) loads no LangChain
    from langchain_core.messages import BaseMessage
    from langchain_core.runnables import RunnableConfig

FinishReason = Literal["stop", "eos", "length"]

Engine = Literal["transformers", "vllm", "auto"]
"""What runs a local model: transformers, vLLM in process, or vLLM when it loads."""
ENGINES: tuple[str, ...] = get_args(Engine)

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
        # Checked for type and finiteness, not only range: NaN passes every comparison
        # (``nan < 0`` is False), so a NaN temperature used to become greedy decoding
        # and an infinite one sampled noise; a wrong type failed only deep in generate.
        try:
            check_finite(self.temperature, name="temperature", low=0.0)
        except LimitError as exc:
            raise LimitError(f"{str(exc).rstrip('.')} (0 means greedy).") from None
        if check_finite(self.top_p, name="top_p", low=-math.inf) <= 0 or self.top_p > 1:
            raise LimitError(f"top_p must be in (0, 1], got {self.top_p}.")
        try:
            check_max_new_tokens(self.max_new_tokens)
        except LimitError as exc:
            if isinstance(self.max_new_tokens, int) and self.max_new_tokens < 1:
                raise LimitError(
                    f"max_new_tokens must be >= 1, got {self.max_new_tokens}; "
                    "raise it to let the model write at least one token."
                ) from None
            raise exc from None
        if isinstance(self.stop, str):
            raise InputError("stop must be a sequence of strings, e.g. ('\\n\\n',), not a string.")
        if not isinstance(self.stop, tuple | list):
            raise LimitError(f"stop must be a tuple of strings, got {type(self.stop).__name__}.")
        if any(not isinstance(s, str) for s in self.stop):
            raise LimitError("stop must hold strings only.")
        if any(not s for s in self.stop):
            raise InputError("stop strings must be non-empty.")
        # A list is accepted and frozen, so the params stay hashable and immutable.
        object.__setattr__(self, "stop", tuple(self.stop))
        if self.seed is not None and (
            isinstance(self.seed, bool) or not isinstance(self.seed, int)
        ):
            raise LimitError(f"seed must be an integer or None, got {self.seed!r}.")
        if not isinstance(self.logprobs, bool):
            raise LimitError(f"logprobs must be True or False, got {self.logprobs!r}.")


def check_n(n: int) -> int:
    """Validate a candidate count: an integer in ``[1, MAX_N]`` (:data:`ttc_graph.limits.MAX_N`)."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise InputError(f"n must be an integer >= 1 (candidates per prompt), got {n!r}.")
    return check_n_limit(n)


def check_first_index(first_index: int) -> int:
    """Validate where a call's candidate numbering starts (see :class:`Policy`)."""
    if not isinstance(first_index, int) or isinstance(first_index, bool) or first_index < 0:
        raise InputError(f"first_index must be an integer >= 0, got {first_index!r}.")
    return first_index


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
            raise InputError("A generation request needs at least one message.")


@dataclass(frozen=True)
class Completion:
    """One generated candidate continuation."""

    text: str
    finish_reason: FinishReason
    completion_tokens: int
    prompt_tokens: int = 0
    logprobs: tuple[float, ...] | None = None


@runtime_checkable
class Policy(Protocol):
    """What a strategy needs from a policy: many candidates for many prompts at once.

    A call returns candidates ``first_index .. first_index + n - 1`` of each
    request's sequence of candidates: with a seed, ``n=4, first_index=4`` gives
    exactly the last four of an ``n=8`` call, so a vote sampled in rounds
    (:class:`~ttc_graph.EarlyStop`) sees the same candidates as one sampled at once.
    A policy that cannot reproduce rows (a served model) must still give each
    ``first_index`` fresh draws, never a repeat of an earlier round.

    ``first_index`` is a call argument beside ``n`` rather than a
    :class:`SamplingParams` field because, like ``n``, it says *which* candidates
    to draw, not *how* to draw them: params stay the same for every round of one
    search, and calls that differ only in their rows can share one batch.

    A policy may be called from several threads (or tasks) at once: by ``graph.batch``,
    and by one search step whose requests want different ``n`` (a particle filter's
    resampled particles), which a batching policy can merge into one generation.
    """

    def sample(
        self,
        requests: Sequence[GenerationRequest],
        *,
        n: int = 1,
        params: SamplingParams | None = None,
        config: RunnableConfig | None = None,
        first_index: int = 0,
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
        first_index: int = 0,
    ) -> list[list[Completion]]:
        """Async twin of :meth:`sample`."""
        ...
