"""Accuracy curves from stored results: subsets for sampling strategies, Wilson intervals.

Sampling strategies (``best_of_n``, ``weighted``, ``majority``) are run once at
the largest N. Because candidate ``i`` of a seeded run is the same whatever N
is, the first ``k`` candidates *are* a run at N=k, and re-selecting among them
gives its answer without generating anything again (as in search-and-learn).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from ttc_graph.errors import InputError
from ttc_graph.evaluation.problems import Problem, levels_of
from ttc_graph.evaluation.store import StoredResult
from ttc_graph.strategies import defaults
from ttc_graph.strategies.registry import SPECS

# Grading (math-verify) and the graph state (LangChain) load when first used: the
# CLI reads this module's names for its help text.
if TYPE_CHECKING:
    from ttc_graph.strategies.routing import RoutingPolicy
    from ttc_graph.strategies.state import Candidate

COVERAGE = "coverage"
"""Not a strategy but its ceiling: a problem counts as solved at N when any of the
first N sampled candidates is right (pass@N). No verifier or vote picks better."""


def eval_mode(strategy: str) -> str:
    """How the evaluation runs ``strategy`` (:data:`~ttc_graph.strategies.registry.EvalMode`;
    :data:`COVERAGE` is read off the shared sample)."""
    return "sample" if strategy == COVERAGE else SPECS[strategy].eval_mode


def from_sample(strategy: str) -> bool:
    """Whether ``strategy`` is read off the shared best-of-N sample (no run of its own)."""
    return eval_mode(strategy) in ("sample", "budgeted")


SAMPLES_UNIT = "samples"
"""Store name of the shared best-of-N sample at the largest N."""


@dataclass(frozen=True)
class Outcome:
    """One strategy's result on one problem at one N."""

    problem_id: str
    level: str | None
    answer: str | None
    correct: bool
    completion_tokens: int
    policy_calls: int
    verifier_calls: int
    seconds: float
    seconds_estimated: bool = False


@dataclass(frozen=True)
class CurvePoint:
    """Accuracy (with a Wilson 95 % interval) and cost of one strategy at one N."""

    strategy: str
    n: int
    level: str
    """``"all"``, or one level of the dataset."""
    problems: int
    correct: int
    accuracy: float
    ci_low: float
    ci_high: float
    mean_completion_tokens: float
    mean_policy_calls: float
    mean_verifier_calls: float
    mean_seconds: float
    seconds_estimated: bool
    """True where time is apportioned from the shared sample by tokens, not measured alone."""

    def as_dict(self) -> dict[str, Any]:
        """Plain-dict form for CSV / JSON."""
        return asdict(self)


def wilson_interval(correct: int, total: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (95 % for ``z=1.96``).

    Unlike the normal approximation it stays inside [0, 1] and is sensible at
    0 % or 100 % accuracy on a few problems.
    """
    if total <= 0:
        return (0.0, 1.0)
    if not 0 <= correct <= total:
        raise InputError(f"correct ({correct}) must be between 0 and total ({total}).")
    p = correct / total
    denom = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denom
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def to_candidates(raw: Sequence[Mapping[str, Any]]) -> list[Candidate]:
    """Stored candidate dicts back as :class:`Candidate` (``steps`` may be omitted)."""
    from ttc_graph.strategies.state import Candidate

    out = []
    for i, c in enumerate(raw):
        candidate = Candidate(
            id=str(c.get("id", i)),
            text=c["text"],
            steps=list(c.get("steps", [c["text"]])),
            step_scores=list(c.get("step_scores", [])),
            score=c.get("score"),
            answer=c.get("answer"),
            finish_reason=c.get("finish_reason", ""),
            completion_tokens=int(c.get("completion_tokens", 0)),
            group=int(c.get("group", 0)),
        )
        if c.get("support"):
            # Each candidate's own votes: a replay at N uses the first N candidates' only.
            candidate["support"] = {str(k): float(v) for k, v in c["support"].items()}
        out.append(candidate)
    return out


def replay_selection(candidates: Sequence[Mapping[str, Any]], selection: str) -> int | None:
    """The candidate ``selection`` picks among stored candidate dicts: the one replay of a
    selection over stored candidates (curves at each N, a trained head's validation)."""
    from ttc_graph.strategies.selection import select

    return select(to_candidates(candidates), selection)  # type: ignore[arg-type]


def subset_outcome(record: Mapping[str, Any], problem: Problem, strategy: str, n: int) -> Outcome:
    """The result a direct run of ``strategy`` at ``n`` would give, from a larger sample.

    For :data:`COVERAGE` the answer is the first right one among the first ``n``
    candidates (or the first answer when none is right).
    """
    from ttc_graph.evaluation.grading import grade

    candidates = to_candidates(record["candidates"])
    if n > len(candidates):
        raise InputError(
            f"Problem {problem.id}: the stored sample has {len(candidates)} candidates, "
            f"fewer than N={n}."
        )
    subset = candidates[:n]
    if strategy == COVERAGE:
        answers = [c["answer"] for c in subset]
        answer = next((a for a in answers if grade(a, problem.answer)), answers[0])
        scored = False
    else:
        selection = SPECS[strategy].selection
        index = replay_selection(record["candidates"][:n], str(selection))
        answer = subset[index]["answer"] if index is not None else None
        scored = selection != "majority"
    tokens = sum(c["completion_tokens"] for c in subset)
    all_tokens = sum(c["completion_tokens"] for c in candidates) or 1
    usage = record["usage"]
    seconds = float(record.get("wall_seconds", usage["seconds"]))
    return Outcome(
        problem_id=problem.id,
        level=problem.level,
        answer=answer,
        correct=grade(answer, problem.answer),
        completion_tokens=tokens,
        policy_calls=int(usage["policy_calls"]),
        verifier_calls=int(usage["verifier_calls"]) if scored else 0,
        # Generation dominates the time, and it grows with the tokens generated.
        seconds=seconds * tokens / all_tokens,
        seconds_estimated=n < len(candidates),
    )


def run_outcome(record: Mapping[str, Any], problem: Problem) -> Outcome:
    """The result of a unit that was run as such (greedy, beam search, DVTS...)."""
    from ttc_graph.evaluation.grading import grade

    usage = record["usage"]
    answer = record.get("answer")
    return Outcome(
        problem_id=problem.id,
        level=problem.level,
        answer=answer,
        correct=grade(answer, problem.answer),
        completion_tokens=int(usage["completion_tokens"]),
        policy_calls=int(usage["policy_calls"]),
        verifier_calls=int(usage["verifier_calls"]),
        seconds=float(record.get("wall_seconds", usage["seconds"])),
    )


def outcomes(
    results: Iterable[StoredResult],
    problems: Sequence[Problem],
    strategies: Sequence[str],
    ns: Sequence[int],
    *,
    budgets: Sequence[int] = (),
    row_tokens: int = 0,
    routing: RoutingPolicy | None = None,
) -> dict[tuple[str, int], list[Outcome]]:
    """Per (strategy, N): the outcome on every problem that has a stored result.

    A budgeted strategy (adaptive) gets one entry per token budget of ``budgets``
    (``n`` is the budget per problem), replayed from the shared sample with
    ``routing`` (default :class:`PosteriorRouting`) and ``row_tokens`` (the
    sampling's ``max_new_tokens``): one pool of ``budget × problems`` tokens over
    the problems that have a stored sample.
    """
    by_id = {p.id: p for p in problems}
    stored: dict[tuple[str, int], dict[str, Mapping[str, Any]]] = {}
    for r in results:
        if r.problem_id in by_id:
            stored.setdefault((r.strategy, r.n), {})[r.problem_id] = r.record
    out: dict[tuple[str, int], list[Outcome]] = {}
    for strategy in strategies:
        if eval_mode(strategy) == "budgeted":
            rows = stored.get((SAMPLES_UNIT, max(ns)), {})
            sampled = [p for p in problems if p.id in rows]
            for budget in budgets:
                out[(strategy, budget)] = budgeted_outcomes(
                    [rows[p.id] for p in sampled],
                    sampled,
                    budget=budget,
                    row_tokens=row_tokens,
                    max_samples=max(ns),
                    routing=routing,
                )
            continue
        for n in [1] if eval_mode(strategy) == "single" else ns:
            unit = (SAMPLES_UNIT, max(ns)) if from_sample(strategy) else (strategy, n)
            rows = stored.get(unit, {})
            found: list[Outcome] = []
            for p in problems:  # dataset order, whatever order the rows were stored in
                if p.id not in rows:
                    continue
                if from_sample(strategy):
                    found.append(subset_outcome(rows[p.id], p, strategy, n))
                else:
                    found.append(run_outcome(rows[p.id], p))
            out[(strategy, n)] = found
    return out


def budgeted_outcomes(
    records: Sequence[Mapping[str, Any]],
    problems: Sequence[Problem],
    *,
    budget: int,
    row_tokens: int,
    max_samples: int,
    routing: RoutingPolicy | None = None,
    round_size: int = defaults.ADAPTIVE_ROUND,
) -> list[Outcome]:
    """The adaptive strategy on each problem under one shared budget, from stored samples.

    The adaptive graph samples candidate k with best-of-N's seed for candidate k,
    so its candidates are the first ones of the stored sample: replaying the
    routing (:func:`~ttc_graph.strategies.routing.replay`) on them gives what a
    live run gives, and the answer is the weighted vote over those taken.
    """
    from ttc_graph.evaluation.grading import grade
    from ttc_graph.evaluation.replay import Sample, replay
    from ttc_graph.strategies.routing import PosteriorRouting
    from ttc_graph.strategies.selection import select

    if not records:
        return []
    pools = [
        [
            Sample(c.get("answer"), c.get("score"), int(c.get("completion_tokens", 0)))
            for c in r["candidates"]
        ]
        for r in records
    ]
    runs = replay(
        pools,
        routing=routing or PosteriorRouting(),
        round_size=round_size,
        row_tokens=row_tokens,
        tokens_per_question=budget,
        max_samples=max_samples,
    )
    found = []
    for record, problem, run in zip(records, problems, runs, strict=True):
        candidates = to_candidates(record["candidates"])[: run.samples]
        index = select(candidates, "weighted")
        answer = candidates[index]["answer"] if index is not None else None
        all_tokens = sum(c["completion_tokens"] for c in to_candidates(record["candidates"])) or 1
        seconds = float(record.get("wall_seconds", record["usage"]["seconds"]))
        found.append(
            Outcome(
                problem_id=problem.id,
                level=problem.level,
                answer=answer,
                correct=grade(answer, problem.answer),
                completion_tokens=run.tokens,
                policy_calls=len(run.decisions),
                verifier_calls=len(run.decisions),
                seconds=seconds * run.tokens / all_tokens,
                seconds_estimated=True,
            )
        )
    return found


def summarise(strategy: str, n: int, level: str, rows: Sequence[Outcome]) -> CurvePoint:
    """Aggregate outcomes into one curve point."""
    total = len(rows)
    correct = sum(o.correct for o in rows)
    low, high = wilson_interval(correct, total)

    def mean(values: Iterable[float]) -> float:
        return sum(values) / total if total else 0.0

    return CurvePoint(
        strategy=strategy,
        n=n,
        level=level,
        problems=total,
        correct=correct,
        accuracy=correct / total if total else 0.0,
        ci_low=low,
        ci_high=high,
        mean_completion_tokens=mean(o.completion_tokens for o in rows),
        mean_policy_calls=mean(o.policy_calls for o in rows),
        mean_verifier_calls=mean(o.verifier_calls for o in rows),
        mean_seconds=mean(o.seconds for o in rows),
        seconds_estimated=any(o.seconds_estimated for o in rows),
    )


def curve(
    by_unit: Mapping[tuple[str, int], Sequence[Outcome]],
    problems: Sequence[Problem],
) -> list[CurvePoint]:
    """Curve points over all problems, then per level when the dataset has levels."""
    levels = levels_of(problems)
    points: list[CurvePoint] = []
    for (strategy, n), rows in by_unit.items():
        if not rows:
            continue
        points.append(summarise(strategy, n, "all", rows))
        if len(levels) > 1:
            for level in levels:
                subset = [o for o in rows if o.level == level]
                if subset:
                    points.append(summarise(strategy, n, level, subset))
    return points
