"""How a candidate's step scores fold into one score (no model, no LangChain: the
strategies' option table and the CLI read the names)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal, get_args

from ttc_graph.errors import InputError

Aggregation = Literal["last", "min", "prod", "mean"]
AGGREGATIONS: tuple[str, ...] = get_args(Aggregation)


def aggregate(step_scores: Sequence[float], how: Aggregation = "last") -> float:
    """Reduce one candidate's step scores to one score.

    ``last`` (the default, as in search-and-learn) trusts the PRM's judgement of
    the whole prefix at the final step; ``min`` and ``prod`` punish any weak step.
    """
    if how not in AGGREGATIONS:
        raise InputError(f"Unknown aggregation {how!r}; choose one of {', '.join(AGGREGATIONS)}.")
    if not step_scores:
        raise InputError("Cannot aggregate an empty list of step scores.")
    if how == "last":
        return float(step_scores[-1])
    if how == "min":
        return float(min(step_scores))
    if how == "prod":
        return float(math.prod(step_scores))
    return float(sum(step_scores) / len(step_scores))
