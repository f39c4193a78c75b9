"""A weighted mix of verifiers, e.g. a PRM with the arithmetic checker."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from typing import Any

from ttc_graph.errors import InputError
from ttc_graph.verifiers.base import Verifier, VerifierInput


class CombinedVerifier(Verifier):
    """Step score = weighted mean of its parts' step scores (weights normalised to sum 1).

    ``CombinedVerifier([(load_prm(path), 0.7), (ArithmeticVerifier(), 0.3)])``.
    Each part is invoked as a runnable, so its own checks (and NaN errors naming
    it) apply; in async use the parts run concurrently.
    """

    parts: list[tuple[Verifier, float]]

    def __init__(
        self, parts: Sequence[tuple[Verifier, float]] | None = None, **kwargs: Any
    ) -> None:
        if parts is None:
            parts = kwargs.pop("parts", None)
        # mypy sees only Verifier's fields in this call; pydantic accepts ``parts``.
        super().__init__(parts=_normalised(parts), **kwargs)  # type: ignore[call-arg]

    def score_steps(self, question: str, candidates: Sequence[Sequence[str]]) -> list[list[float]]:
        """Score with every part, then mix."""
        request = _request(question, candidates)
        return self._mix([verifier.invoke(request) for verifier, _ in self.parts])

    async def ascore_steps(
        self, question: str, candidates: Sequence[Sequence[str]]
    ) -> list[list[float]]:
        """Score with every part concurrently, then mix."""
        request = _request(question, candidates)
        results = await asyncio.gather(*(verifier.ainvoke(request) for verifier, _ in self.parts))
        return self._mix(list(results))

    def support(self, question: str, steps: Sequence[str]) -> dict[str, float]:
        """The parts' votes, mixed with the parts' weights like their scores."""
        votes: dict[str, float] = {}
        for verifier, weight in self.parts:
            for answer, vote in verifier.support(question, steps).items():
                votes[answer] = votes.get(answer, 0.0) + weight * vote
        return votes

    def _mix(self, results: list[list[list[float]]]) -> list[list[float]]:
        weights = [w for _, w in self.parts]
        mixed = []
        for per_part in zip(*results, strict=True):
            steps = zip(*per_part, strict=True)
            mixed.append([sum(w * s for w, s in zip(weights, ss, strict=True)) for ss in steps])
        return mixed


def _request(question: str, candidates: Sequence[Sequence[str]]) -> VerifierInput:
    return {"question": question, "candidates": [list(c) for c in candidates]}


def _normalised(parts: Any) -> list[tuple[Verifier, float]]:
    if not parts or isinstance(parts, str | bytes):
        raise InputError(
            "CombinedVerifier needs a list of (verifier, weight) pairs, e.g. "
            "[(prm, 0.7), (ArithmeticVerifier(), 0.3)]."
        )
    checked = []
    for i, part in enumerate(parts):
        if not isinstance(part, tuple | list) or len(part) != 2:
            raise InputError(f"Part {i} of CombinedVerifier must be a (verifier, weight) pair.")
        verifier, weight = part
        if not isinstance(verifier, Verifier):
            raise InputError(
                f"Part {i} of CombinedVerifier is a {type(verifier).__name__}, not a Verifier."
            )
        if isinstance(weight, bool) or not isinstance(weight, int | float):
            raise InputError(f"Weight of part {i} must be a number, got {weight!r}.")
        if not math.isfinite(weight) or weight <= 0:
            raise InputError(
                f"Weight of part {i} must be a finite number > 0, got {weight!r}; drop a part "
                "instead of giving it weight 0."
            )
        checked.append((verifier, float(weight)))
    total = sum(w for _, w in checked)
    return [(v, w / total) for v, w in checked]
