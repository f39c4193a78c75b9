"""Units of evaluation work: what one graph invocation is, their order, their context.

An evaluation is split into units (one graph run on one problem, at one N where the
strategy searches per N); :func:`schedule` orders them so that concurrent units can
share a batch, and :func:`unit_context` gives each run its per-run options.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ttc_graph.evaluation.problems import Problem
from ttc_graph.strategies.registry import eval_beam_width


@dataclass(frozen=True)
class Unit:
    """One graph invocation to run: ``name`` at ``n`` on ``problem``."""

    name: str
    n: int
    problem: Problem

    @property
    def weight(self) -> int:
        """Rough relative cost (candidates generated), for a fair progress ETA."""
        return self.n


def schedule(units: Sequence[Unit], concurrency: int) -> list[Unit]:
    """Order units so that those running together are alike and can share a batch.

    Problems are taken in blocks of ``concurrency``; within a block, units of one
    kind (say greedy) come together, so concurrent calls use the same sampling
    settings and the policy merges them. With ``concurrency=1`` this is the
    plain problem-by-problem order.
    """
    problem_index: dict[str, int] = {}
    for u in units:
        problem_index.setdefault(u.problem.id, len(problem_index))
    kinds = list(dict.fromkeys((u.name, u.n) for u in units))
    return sorted(
        units,
        key=lambda u: (
            problem_index[u.problem.id] // concurrency,
            kinds.index((u.name, u.n)),
            problem_index[u.problem.id],
        ),
    )


def unit_context(spec: Any, options: dict[str, Any], n: int) -> dict[str, Any]:
    """The context of one run of ``spec`` at ``n``: the options it takes, its N, and a
    beam no wider than N (:func:`~ttc_graph.strategies.registry.eval_beam_width`)."""
    names = spec.options.names
    context = {k: v for k, v in options.items() if k in names}
    if "n" in names:
        context["n"] = n
    if "beam_width" in context and spec.steps:
        context["beam_width"] = eval_beam_width(context["beam_width"], n)
    return context
