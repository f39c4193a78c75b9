"""Upper limits on what one call may ask for, defined once for the CLI and the Python API.

Every limit here exists so that a mistyped or hostile value (``--n 1000000000``)
is refused at once with a message that states the limit and why, instead of
filling memory for minutes and then failing. The limits are far above any
useful setting; each is checked before a model is loaded.
"""

from __future__ import annotations

import math
from typing import Any

from ttc_graph.errors import LimitError

MAX_N = 4096
"""Most candidates (best-of-N samples, beams) one search may ask for.

Every candidate is kept until the search ends — its text, steps, scores and
trace nodes are part of the result, the saved trace and the eval store — so
memory grows with N however the generation is chunked. Published test-time
scaling curves stop at N = 256; 4096 leaves 16× headroom and still fits in a
few hundred MiB (measured in docs/reliability.md)."""

MAX_NEW_TOKENS = 131_072
"""Most tokens one solution (or one step) may ask for: the longest context of
common open models. The loaded model's own context is checked as well."""

MAX_CONCURRENCY = 256
"""Most problems an evaluation solves at once: each holds a thread and its
candidates in memory, and batches stop getting faster long before this."""

MAX_ARITHMETIC_PROBLEMS = 100_000
"""Most problems the built-in arithmetic generator makes for one run (they are
generated in memory before anything runs)."""

MAX_QUESTION_BYTES = 8 * 2**20
"""Largest question read from a file or stdin: far more than any model's context
(1M tokens is about 4 MiB of text); a longer input is almost surely the wrong file."""


def check_count(value: Any, *, name: str, limit: int, why: str, minimum: int = 1) -> int:
    """``value`` as an integer in ``[minimum, limit]``, or a :class:`LimitError` saying why.

    Booleans are refused (``True`` is an ``int`` but never meant as 1).
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise LimitError(f"{name} must be an integer, got {value!r} ({type(value).__name__}).")
    if value < minimum:
        raise LimitError(f"{name} must be >= {minimum}, got {value}.")
    if value > limit:
        raise LimitError(f"{name} is {value:,}, above the limit of {limit:,}: {why}.")
    return value


N_WHY = (
    "every candidate is kept in memory until the search ends (and in the trace and the "
    "eval store); published scaling curves stop at N=256"
)
TOKENS_WHY = "no model's context holds that many tokens"


def check_n_limit(n: Any, *, name: str = "n") -> int:
    """Validate a candidate count against :data:`MAX_N`."""
    return check_count(n, name=name, limit=MAX_N, why=N_WHY)


def check_max_new_tokens(value: Any, *, name: str = "max_new_tokens") -> int:
    """Validate a per-solution token limit against :data:`MAX_NEW_TOKENS`."""
    return check_count(value, name=name, limit=MAX_NEW_TOKENS, why=TOKENS_WHY)


def check_finite(value: Any, *, name: str, low: float, high: float = math.inf) -> float:
    """``value`` as a finite real number in ``[low, high]`` (NaN, inf and bools refused)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise LimitError(f"{name} must be a number, got {value!r} ({type(value).__name__}).")
    if not math.isfinite(value):
        raise LimitError(f"{name} must be a finite number, got {value!r}.")
    if not low <= value <= high:
        bounds = f">= {low:g}" if high == math.inf else f"in [{low:g}, {high:g}]"
        raise LimitError(f"{name} must be {bounds}, got {value!r}.")
    return float(value)
