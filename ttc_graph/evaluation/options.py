"""What an evaluation is asked for, checked before any model loads: strategies, the
N list, token budgets and the output directory. Each bad value is one
:class:`~ttc_graph.errors.InputError` that says what to pass instead."""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Sequence
from pathlib import Path

from ttc_graph.errors import InputError
from ttc_graph.evaluation.metrics import COVERAGE
from ttc_graph.limits import check_n_limit
from ttc_graph.strategies.registry import SPECS


def eval_strategies() -> tuple[str, ...]:
    """What ``--strategies`` accepts: every registered strategy, and the pass@N ceiling."""
    return (*SPECS, COVERAGE)


def parse_strategies(strategies: str | Sequence[str]) -> tuple[str, ...]:
    """Validate strategy names (a comma-separated string or a list)."""
    names = strategies.split(",") if isinstance(strategies, str) else list(strategies)
    names = [s.strip() for s in names if s.strip()]
    accepted = eval_strategies()
    choices = ", ".join(accepted)
    if not names:
        raise InputError(f"Name at least one strategy, e.g. greedy,majority ({choices}).")
    for name in names:
        if name not in accepted:
            raise InputError(f"Unknown strategy {name!r}; choose from {choices}.")
    if len(set(names)) != len(names):
        raise InputError(f"A strategy is listed twice in {','.join(names)}; list each once.")
    return tuple(names)


def parse_ns(ns: str | Sequence[int]) -> tuple[int, ...]:
    """Validate the N list: integers >= 1, strictly increasing (e.g. ``1,2,4,8,16``)."""
    values = _increasing_ints(ns, flag="--n", what="N", example="1,2,4,8,16")
    for v in values:
        check_n_limit(v, name="N")
    return values


def parse_budgets(budgets: str | int | Sequence[int] | None) -> tuple[int, ...]:
    """Validate token budgets per problem (``500`` or ``250,500,1000``), strictly increasing."""
    if budgets is None:
        return ()
    return _increasing_ints(
        budgets,
        flag="--budget-tokens-per-problem",
        what="token budget per problem",
        example="250,500,1000",
    )


def _increasing_ints(
    value: str | int | Sequence[int], *, flag: str, what: str, example: str
) -> tuple[int, ...]:
    """A comma list, a sequence or one value: integers >= 1 in strictly increasing order
    (a bool is refused like any other non-integer)."""
    if isinstance(value, str):
        try:
            values: list[object] = [int(v) for v in value.split(",") if v.strip()]
        except ValueError as exc:
            raise InputError(
                f"{flag} must be comma-separated integers like {example}, got {value!r}."
            ) from exc
    elif isinstance(value, Sequence):
        values = list(value)
    else:
        values = [value]
    if not values:
        raise InputError(f"The {what} list is empty; pass e.g. {example}.")
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise InputError(f"Every {what} must be an integer >= 1, got {v!r}.")
    ints = tuple(v for v in values if isinstance(v, int))
    if any(b <= a for a, b in itertools.pairwise(ints)):
        raise InputError(
            f"The {what} list must be strictly increasing (e.g. {example}), got "
            f"{','.join(map(str, ints))}."
        )
    return ints


def check_out_dir(out: str | Path, *, create: bool = True) -> Path:
    """Prove ``out`` can be written (before any model is loaded); create it if ``create``.

    With ``create=False`` nothing is made: the nearest existing ancestor is
    checked instead, so validation that fails later leaves no empty directory.
    """
    path = Path(out).expanduser()
    if path.exists() and not path.is_dir():
        raise InputError(f"--out {path} is a file; pass a directory.")
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if existing.exists() and not existing.is_dir():
        raise InputError(f"Cannot write to output directory {path}: {existing} is a file.")
    target = path if create else existing
    try:
        if create:
            path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=target, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise InputError(
            f"Cannot write to output directory {path}: {exc.strerror or exc}. "
            "Pick a directory you can write to with --out."
        ) from exc
    return path
