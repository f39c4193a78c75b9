"""Accuracy against tokens of adaptive and the fixed strategies, replayed from stored samples.

The adaptive graph samples candidate k with best-of-N's seed for candidate k, so
its candidates are a prefix of a stored 16-sample pool
(``tests/integration/test_adaptive_live.py`` checks a live run against this replay).
Reads ``ttc-graph eval`` databases that hold the shared sample (``samples``) and
``greedy``, keeps the first ``--per-level`` problems of each difficulty, and writes
greedy, majority, weighted best-of-N (N = 1, 2, 4, 8, 16), coverage and adaptive at each
``--budgets`` value (one pool of budget x problems shared by the set), overall
and per level, as JSON and an accuracy-vs-tokens plot:

    python benchmarks/adaptive_replay.py ../docs/data/eval-arith-seed0.sqlite \\
        ../docs/data/eval-arith-seed0-d3.sqlite --per-level 50 \\
        --json ../docs/data/adaptive-arith-seed0.json

(the docs' tables and plot of that JSON are drawn by ``make figures``; ``--png``
writes a quick plot elsewhere)

``--fit`` instead grid-searches :class:`PosteriorRouting` (``stop_at``, ``prior``)
for the best mean accuracy over the budgets, on a *training* seed only
(``--rescore grounded`` scores a sample that was stored unscored):

    python benchmarks/adaptive_replay.py ../docs/data/train-arith-seed100-gpu.sqlite \\
        --rescore grounded --fit --by-level --json ../docs/data/adaptive-fit-seed100.json
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ttc_graph.evaluation import provenance
from ttc_graph.evaluation.arithmetic import generate_problem
from ttc_graph.evaluation.metrics import curve, outcomes
from ttc_graph.evaluation.plot import plot_compute
from ttc_graph.evaluation.problems import Problem
from ttc_graph.evaluation.store import StoredResult
from ttc_graph.strategies import selection
from ttc_graph.strategies.routing import PosteriorRouting

NS = (1, 2, 4, 8, 16)
BUDGETS = (256, 384, 512, 768, 1024)
STRATEGIES = ("greedy", "majority", "weighted", "coverage", "adaptive")

# Replaying many policies regroups the same answers again and again; math-verify is
# pure, so its verdicts are cached here (the benchmark only: the library stays as is).
selection.answers_equal = functools.lru_cache(maxsize=None)(selection.answers_equal)  # type: ignore[assignment]


def load(paths: Sequence[str]) -> dict[tuple[str, str], dict[str, Any]]:
    """(unit, problem id) -> record, for ``samples`` at N=16 and ``greedy``."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for path in paths:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        rows = db.execute(
            "SELECT strategy, problem_id, record FROM results "
            "WHERE (strategy = 'samples' AND n = 16) OR strategy = 'greedy'"
        )
        for strategy, pid, record in rows:
            out[(strategy, pid)] = json.loads(record)
    return out


def problem_of(pid: str) -> Problem:
    """A generated arithmetic problem from its id (``arith-d2-s0-17``)."""
    _, d, s, i = pid.split("-")
    p = generate_problem(int(i), difficulty=int(d[1:]), seed=int(s[1:]))
    return Problem(pid, p.question, str(p.answer), level=str(p.difficulty))


def pick(
    records: dict[tuple[str, str], dict[str, Any]], per_level: int | None, *, by_level: bool
) -> list[Problem]:
    """The first ``per_level`` problems (by index) of each difficulty with a stored sample.

    Their order matters to a shared pool, which serves open problems round-robin
    in order (the last tokens go to the earliest): ``by_level`` puts every
    difficulty-1 problem first (how the seed-100 fit was run), otherwise levels
    are interleaved (1, 2, 3, 1, 2, 3, ...), as in a mixed ``--difficulty 1,2,3`` set.
    """
    ids = sorted(
        {pid for unit, pid in records if unit == "samples"},
        key=lambda pid: (int(pid.split("-")[1][1:]), int(pid.split("-")[3])),
    )
    chosen: list[tuple[int, int, Problem]] = []
    for level, group in itertools.groupby(ids, key=lambda pid: int(pid.split("-")[1][1:])):
        for rank, pid in enumerate(list(group)[:per_level]):
            chosen.append((rank, level, problem_of(pid)))
    chosen.sort(key=lambda t: (t[1], t[0]) if by_level else (t[0], t[1]))
    return [p for _, _, p in chosen]


def rescore(records: dict[tuple[str, str], dict[str, Any]], spec: str) -> None:
    """Score stored candidates with a verifier (for a sample stored without scores)."""
    from ttc_graph.verifiers import load_verifier

    verifier = load_verifier(spec)
    for (unit, pid), record in records.items():
        if unit == "samples":
            steps = [c["steps"] for c in record["candidates"]]
            scores = verifier.invoke({"question": problem_of(pid).question, "candidates": steps})
            for c, s in zip(record["candidates"], scores, strict=True):
                c["score"] = s[-1]


def points(
    records: dict[tuple[str, str], dict[str, Any]],
    problems: list[Problem],
    budgets: Sequence[int],
    routing: PosteriorRouting,
    strategies: Sequence[str] = STRATEGIES,
) -> list[Any]:
    results = [
        StoredResult(unit, 16 if unit == "samples" else 1, pid, r)
        for (unit, pid), r in records.items()
    ]
    by_unit = outcomes(
        results, problems, strategies, NS, budgets=budgets, row_tokens=64, routing=routing
    )
    return curve(by_unit, problems)


def fit(
    records: dict[tuple[str, str], dict[str, Any]], problems: list[Problem], budgets: Sequence[int]
) -> dict[str, Any]:
    """Grid search of (stop_at, prior): best mean adaptive accuracy over the budgets."""
    grid = []
    for stop_at, prior in itertools.product(
        (0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0), (0.1, 0.25, 0.5, 1.0)
    ):
        routing = PosteriorRouting(stop_at=stop_at, prior=prior)
        pts = [
            p
            for p in points(records, problems, budgets, routing, ("adaptive",))
            if p.level == "all"
        ]
        mean = sum(p.accuracy for p in pts) / len(pts)
        grid.append(
            {
                "stop_at": stop_at,
                "prior": prior,
                "mean_accuracy": mean,
                "points": [(p.n, p.accuracy, p.mean_completion_tokens) for p in pts],
            }
        )
        print(f"stop_at={stop_at} prior={prior}: mean accuracy {100 * mean:.2f} %", flush=True)
    # Ties go to the cheaper policy (lower stop_at stops sooner).
    best = max(grid, key=lambda g: (round(g["mean_accuracy"], 6), -g["stop_at"]))
    return {"best": {"stop_at": best["stop_at"], "prior": best["prior"]}, "grid": grid}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("databases", nargs="+")
    parser.add_argument("--per-level", type=int, default=None)
    parser.add_argument("--budgets", default=",".join(map(str, BUDGETS)))
    parser.add_argument("--rescore", default=None, help="verifier spec to score candidates with")
    parser.add_argument("--fit", action="store_true")
    parser.add_argument(
        "--by-level", action="store_true", help="all difficulty-1 problems first (default: mixed)"
    )
    parser.add_argument("--stop-at", type=float, default=None)
    parser.add_argument("--prior", type=float, default=None)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--png", type=Path, default=None)
    args = parser.parse_args()
    record = provenance.begin()
    budgets = tuple(int(b) for b in args.budgets.split(","))
    records = load(args.databases)
    if args.rescore:
        rescore(records, args.rescore)
    problems = pick(records, args.per_level, by_level=args.by_level)
    levels = {p.level: sum(q.level == p.level for q in problems) for p in problems}
    print(f"{len(problems)} problems {levels}", flush=True)
    if args.fit:
        result: dict[str, Any] = {
            "problems": len(problems),
            "levels": levels,
            "budgets": budgets,
            "order": "by level" if args.by_level else "mixed",
        }
        result.update(fit(records, problems, budgets))
        print("best:", result["best"])
    else:
        routing = PosteriorRouting(
            **{k: v for k, v in (("stop_at", args.stop_at), ("prior", args.prior)) if v is not None}
        )
        pts = points(records, problems, budgets, routing)
        result = {
            "problems": len(problems),
            "levels": levels,
            "budgets": budgets,
            "routing": {"stop_at": routing.stop_at, "prior": routing.prior},
            "order": "by level" if args.by_level else "mixed",
            "points": [p.as_dict() for p in pts],
        }
        for p in sorted(pts, key=lambda p: (p.level, p.strategy, p.n)):
            print(
                f"{p.level:>3} {p.strategy:>9} {p.n:>5}  {100 * p.accuracy:5.1f} %  "
                f"({p.correct}/{p.problems})  {p.mean_completion_tokens:6.0f} tokens"
            )
        if args.png:
            figure = plot_compute(pts, title=f"Accuracy vs compute ({len(problems)} problems)")
            figure.savefig(args.png, format="png", metadata={"Software": None})
    result["provenance"] = provenance.finish(record)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
