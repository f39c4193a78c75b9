"""A seeded generator of multi-step arithmetic word problems of controllable difficulty.

Difficulty ``d`` is the number of operations applied to a starting quantity:
``1`` is one addition, subtraction or multiplication on small numbers, ``2`` two
chained steps, and so on. Problem ``i`` depends only on (seed, difficulty, i), so
asking for 10 problems gives the first 10 of a 50-problem set.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from ttc_graph.errors import InputError

MAX_DIFFICULTY = 5

_NAMES = (
    "Sam", "Mia", "Leo", "Ava", "Noah", "Emma", "Liam", "Zoe", "Omar", "Lily",
    "Ben", "Nina", "Eli", "Rosa", "Tom", "Ivy",
)  # fmt: skip
_ITEMS = (
    "apples", "pencils", "marbles", "stickers", "cookies", "books", "stamps", "shells",
    "cards", "coins", "balloons", "toy cars",
)  # fmt: skip


@dataclass(frozen=True)
class ArithmeticProblem:
    """One generated problem with its exact integer answer."""

    question: str
    answer: int
    difficulty: int


def check_difficulty(difficulty: int | Sequence[int]) -> tuple[int, ...]:
    """Normalise a difficulty (or a cycle of difficulties) and validate its range."""
    levels = (difficulty,) if isinstance(difficulty, int) else tuple(difficulty)
    if not levels:
        raise InputError("difficulty must name at least one level, e.g. 1 or [1, 2, 3].")
    for level in levels:
        if (
            isinstance(level, bool)
            or not isinstance(level, int)
            or not 1 <= level <= MAX_DIFFICULTY
        ):
            raise InputError(
                f"difficulty must be an integer from 1 to {MAX_DIFFICULTY} (the number of "
                f"operations per problem), got {level!r}."
            )
    return levels


def generate_problem(index: int, *, difficulty: int = 1, seed: int = 0) -> ArithmeticProblem:
    """Problem number ``index`` of the set ``(seed, difficulty)``."""
    (difficulty,) = check_difficulty(difficulty)
    rng = random.Random(f"ttc-graph-arithmetic:{seed}:{difficulty}:{index}")
    name, other = rng.sample(_NAMES, 2)
    items = rng.choice(_ITEMS)
    # Small numbers at difficulty 1, somewhat larger ones as chains get longer.
    high = 10 if difficulty == 1 else 20
    total = rng.randint(2, 2 * high)
    sentences = [f"{name} has {total} {items}."]
    for step in range(difficulty):
        # Multiplication only on small totals keeps answers in a range a small model can reach.
        kinds = (
            ["add", "sub", "mul"] if total <= (10 if difficulty == 1 else 40) else ["add", "sub"]
        )
        if total < 3:
            kinds.remove("sub")
        kind = rng.choice(kinds)
        lead = "Then " if step else ""
        if kind == "add":
            k = rng.randint(2, high)
            total += k
            sentences.append(
                rng.choice(
                    (
                        f"{lead}{name} buys {k} more {items}.",
                        f"{lead}{name} finds {k} more {items}.",
                        f"{lead}{other} gives {name} {k} more {items}.",
                    )
                )
            )
        elif kind == "sub":
            k = rng.randint(2, min(high, total - 1))
            total -= k
            sentences.append(
                rng.choice(
                    (
                        f"{lead}{name} gives {k} {items} to {other}.",
                        f"{lead}{name} loses {k} {items}.",
                        f"{lead}{name} sells {k} {items}.",
                    )
                )
            )
        else:
            k = rng.randint(2, 3)
            total *= k
            word = "twice" if k == 2 else "three times"
            sentences.append(f"{lead}{name} ends up with {word} as many {items} as before.")
    sentences.append(f"How many {items} does {name} have now?")
    return ArithmeticProblem(" ".join(sentences), total, difficulty)


def generate_problems(
    count: int, *, difficulty: int | Sequence[int] = 1, seed: int = 0
) -> list[ArithmeticProblem]:
    """``count`` problems; a list of difficulties is cycled (problem i gets ``levels[i % k]``)."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise InputError(f"count must be an integer >= 1, got {count!r}.")
    levels = check_difficulty(difficulty)
    return [
        generate_problem(i, difficulty=levels[i % len(levels)], seed=seed) for i in range(count)
    ]
