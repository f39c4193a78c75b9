"""The verifier interface: a runnable that scores every step of every candidate."""

from __future__ import annotations

import asyncio
import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, TypedDict

from langchain_core.runnables import RunnableConfig, RunnableSerializable
from pydantic import ConfigDict

from ttc_graph.errors import InputError
from ttc_graph.verifiers.aggregation import Aggregation, aggregate


class VerifierInput(TypedDict):
    """What a verifier is invoked with."""

    question: str
    candidates: list[list[str]]
    """Each candidate solution as its list of steps (in order)."""


def validate_input(question: str, candidates: Sequence[Sequence[str]]) -> None:
    """Raise a clear ``ValueError`` for input no verifier can score."""
    if not isinstance(question, str) or not question.strip():
        raise InputError("Verifier needs a non-empty question string.")
    if isinstance(candidates, str):
        raise InputError("candidates must be a list of candidates, each a list of step strings.")
    for i, steps in enumerate(candidates):
        if isinstance(steps, str):
            raise InputError(
                f"Candidate {i} is a string; pass it as a list of steps, e.g. [text] or "
                "text.split('\\n\\n')."
            )
        if len(steps) == 0:
            raise InputError(f"Candidate {i} has no steps; every candidate needs at least one.")


def validate_output(
    name: str, candidates: Sequence[Sequence[str]], scores: Sequence[Sequence[float]]
) -> list[list[float]]:
    """Check shape and range of a verifier's scores; name the culprit on failure."""
    if len(scores) != len(candidates):
        raise RuntimeError(
            f"{name} returned {len(scores)} score lists for {len(candidates)} candidates."
        )
    out: list[list[float]] = []
    for i, (steps, row) in enumerate(zip(candidates, scores, strict=True)):
        if len(row) != len(steps):
            raise RuntimeError(
                f"{name} returned {len(row)} scores for candidate {i}, "
                f"which has {len(steps)} steps."
            )
        clean = []
        for j, s in enumerate(row):
            value = float(s)
            if math.isnan(value):
                raise RuntimeError(
                    f"{name} produced NaN for step {j} of candidate {i}; the model's output is "
                    "numerically broken (try float32, or check the weights)."
                )
            clean.append(min(1.0, max(0.0, value)))
        out.append(clean)
    return out


class Verifier(RunnableSerializable[VerifierInput, list[list[float]]], ABC):
    """Base class: subclasses implement :meth:`score_steps` for a whole batch at once.

    Invoke with ``{"question": ..., "candidates": [[step, ...], ...]}``; the result
    is one list of scores in [0, 1] per candidate, one score per step.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    aggregation: Aggregation = "last"
    """How :meth:`score` folds step scores into one candidate score; strategies use
    it too unless given their own ``aggregation``."""

    @abstractmethod
    def score_steps(self, question: str, candidates: Sequence[Sequence[str]]) -> list[list[float]]:
        """Score each step of each candidate (one batched pass where possible)."""

    async def ascore_steps(
        self, question: str, candidates: Sequence[Sequence[str]]
    ) -> list[list[float]]:
        """Async twin of :meth:`score_steps`; by default runs it in a worker thread."""
        return await asyncio.to_thread(self.score_steps, question, candidates)

    def _checked(self, inputs: VerifierInput) -> list[list[float]]:
        question, candidates = _unpack(inputs)
        validate_input(question, candidates)
        if not candidates:
            return []
        return validate_output(self.get_name(), candidates, self.score_steps(question, candidates))

    async def _achecked(self, inputs: VerifierInput) -> list[list[float]]:
        question, candidates = _unpack(inputs)
        validate_input(question, candidates)
        if not candidates:
            return []
        scores = await self.ascore_steps(question, candidates)
        return validate_output(self.get_name(), candidates, scores)

    def invoke(
        self, input: VerifierInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> list[list[float]]:
        return self._call_with_config(self._checked, input, config, run_type="chain")

    async def ainvoke(
        self, input: VerifierInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> list[list[float]]:
        return await self._acall_with_config(self._achecked, input, config, run_type="chain")

    def score(self, question: str, candidates: Sequence[Sequence[str]]) -> list[float]:
        """One aggregated score per candidate (see :attr:`aggregation`)."""
        steps = self.invoke({"question": question, "candidates": [list(c) for c in candidates]})
        return [aggregate(s, self.aggregation) for s in steps]

    def support(self, question: str, steps: Sequence[str]) -> dict[str, float]:
        """Votes a solution's checked work lends to answers, whatever its own final answer.

        A weighted vote (``selection="weighted"``) adds, to each answer, the votes of
        every candidate whose work establishes that value: a solution cut off after
        ``8 + 10 = 18`` still speaks for 18. Keys are answers as text, values the vote
        added per candidate. A verifier that cannot tell (a PRM, a judge) lends none:
        this default returns ``{}``.
        """
        return {}


def _unpack(inputs: VerifierInput) -> tuple[str, list[list[str]]]:
    if not isinstance(inputs, dict) or "question" not in inputs or "candidates" not in inputs:
        raise InputError(
            "Verifier input must be a dict {'question': str, 'candidates': [[step, ...], ...]}."
        )
    candidates = [list(c) if not isinstance(c, str) else c for c in inputs["candidates"]]
    return inputs["question"], candidates
