"""Honest validation of a trained head: folds grouped by problem, AUROC, selection accuracy.

Candidates of one problem share its question and often its mistakes, so a
head validated on a problem it was trained on looks better than it is; every
fold here keeps each problem's candidates together. The out-of-fold scores
then answer the two questions that matter for test-time search: does the
score separate right final answers from wrong ones (AUROC), and does weighted
best-of-N with it pick a right answer more often than a vote?
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from ttc_graph.errors import InputError
from ttc_graph.evaluation.metrics import replay_selection
from ttc_graph.evaluation.problems import Problem
from ttc_graph.strategies.selection import Selection, check_selection
from ttc_graph.training.fit import fit_head
from ttc_graph.training.samples import Sampled, columns_of, examples
from ttc_graph.verifiers.trained.choices import FeatureGroup, HeadKind

TABLE_SETS: tuple[tuple[FeatureGroup, ...], ...] = (
    ("checker",),
    ("confidence",),
    ("hidden",),
    ("checker", "confidence"),
    ("checker", "confidence", "hidden"),
)
"""Feature sets compared in the validation table (the chosen set is added if missing)."""


@dataclass(frozen=True)
class ProblemSample:
    """One problem's N candidates: their final answers and whether each is right."""

    problem_id: str
    answers: list[str | None]
    correct: list[bool]


def grouped_folds(problem_ids: Sequence[str], k: int = 5, seed: int = 0) -> dict[str, int]:
    """Assign each distinct problem to one of ``min(k, problems)`` folds, at random but seeded.

    Example:
        >>> folds = grouped_folds(["a", "b", "c", "a"], k=5)
        >>> sorted(folds), sorted(set(folds.values()))
        (['a', 'b', 'c'], [0, 1, 2])
    """
    unique = sorted(set(problem_ids))
    if len(unique) < 2:
        raise InputError("Grouped validation needs at least 2 problems.")
    if k < 2:
        raise InputError(f"k must be >= 2 folds, got {k}.")
    random.Random(seed).shuffle(unique)
    folds = min(k, len(unique))
    return {pid: i % folds for i, pid in enumerate(unique)}


def auroc(scores: Sequence[float], labels: Sequence[int | bool]) -> float:
    """Area under the ROC curve: P(a random positive outranks a random negative), ties half.

    NaN when either class is absent.

    Example:
        >>> auroc([0.9, 0.8, 0.3, 0.8], [1, 1, 0, 0])
        0.875
    """
    if len(scores) != len(labels):
        raise ValueError("scores and labels differ in length.")
    pos = sum(1 for y in labels if y)
    neg = len(labels) - pos
    if pos == 0 or neg == 0:
        return math.nan
    # Mann-Whitney U with average ranks for ties.
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    ranks = [0.0] * len(scores)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        for t in range(i, j + 1):
            ranks[order[t]] = (i + j) / 2 + 1
        i = j + 1
    rank_sum = sum(r for r, y in zip(ranks, labels, strict=True) if y)
    return (rank_sum - pos * (pos + 1) / 2) / (pos * neg)


def out_of_fold(
    x: torch.Tensor,
    y: torch.Tensor,
    fold_of_row: torch.Tensor,
    fit_predict: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor],
) -> torch.Tensor:
    """Score every row with a model fitted on the other folds.

    ``fit_predict(x_train, y_train, x_valid)`` returns P(correct) for ``x_valid``.
    """
    scores = torch.full((x.shape[0],), math.nan)
    for fold in sorted(set(fold_of_row.tolist())):
        valid = fold_of_row == fold
        scores[valid] = fit_predict(x[~valid], y[~valid], x[valid]).float()
    return scores


def selection_accuracy(
    samples: Sequence[ProblemSample],
    scores: Sequence[Sequence[float]] | None,
    selection: Selection = "weighted",
) -> float:
    """Share of problems where ``selection`` over the candidates picks a right one.

    ``scores`` holds each candidate's (final-step) score per problem; ``None``
    for ``majority``, which needs none.

    Example:
        >>> s = ProblemSample("p", ["4", "5", "5"], [True, False, False])
        >>> selection_accuracy([s], None, "majority"), selection_accuracy([s], [[0.9, 0.2, 0.3]])
        (0.0, 1.0)
    """
    check_selection(selection)
    if not samples:
        return math.nan
    right = 0
    for i, sample in enumerate(samples):
        candidates = [
            {"text": "", "answer": a, "score": None if scores is None else float(scores[i][j])}
            for j, a in enumerate(sample.answers)
        ]
        picked = replay_selection(candidates, selection)
        right += picked is not None and sample.correct[picked]
    return right / len(samples)


def coverage(samples: Sequence[ProblemSample]) -> float:
    """Share of problems with at least one right candidate (the ceiling of any selection)."""
    return sum(any(s.correct) for s in samples) / len(samples) if samples else math.nan


def _set_name(groups: Sequence[str]) -> str:
    return "+".join(groups)


def _finite(value: float) -> float | None:
    # JSON has no NaN; an undefined metric (one class in a fold) is stored as null.
    return None if math.isnan(value) else round(float(value), 4)


POSITIONS: tuple[str, ...] = ("1", "2", "3", "4+")
"""Step positions of the by-position AUROC (step 1 is the plan, before any calculation)."""


def _position(step: int) -> str:
    return POSITIONS[min(step, len(POSITIONS) - 1)]


def auroc_by_position(
    scores: Sequence[float], truth: Sequence[bool], positions: Sequence[str]
) -> dict[str, float | None]:
    """AUROC of step scores against ``truth``, separately at each step position.

    Example:
        >>> auroc_by_position([0.9, 0.1, 0.8, 0.2], [True, False, True, False],
        ...                   ["1", "1", "2", "2"])
        {'1': 1.0, '2': 1.0, '3': None, '4+': None}
    """
    out: dict[str, float | None] = {}
    for at in POSITIONS:
        rows = [i for i, p in enumerate(positions) if p == at]
        out[at] = _finite(auroc([scores[i] for i in rows], [truth[i] for i in rows]))
    return out


def validate(
    candidates: Sequence[Sampled],
    problems: Sequence[Problem],
    names: list[str],
    chosen: tuple[FeatureGroup, ...],
    head: HeadKind,
    l2: float,
    hidden_units: int,
    folds: int,
    seed: int,
    console: Any,
    truth: Sequence[Sequence[bool]] | None = None,
) -> dict[str, Any]:
    """The grouped k-fold table of every feature set, with the baselines.

    ``truth`` (rollout labels: whether any rollout from each step prefix reached the
    reference) adds each row's step AUROC by position against it, the grounded
    checker's, and a row of the chosen features fitted on outcome labels instead, so a
    rollout-trained head is compared with an outcome-trained one on the same question:
    can this prefix still end right?
    """
    fold_of = grouped_folds([problems[c.problem].id for c in candidates], k=folds, seed=seed)
    x, y = examples(candidates)
    row_fold = torch.tensor(
        [fold_of[problems[c.problem].id] for c in candidates for _ in c.steps], dtype=torch.long
    )
    final_rows = []
    at = 0
    for c in candidates:
        at += len(c.steps)
        final_rows.append(at - 1)
    outcome = [int(c.correct) for c in candidates]
    samples = _problem_samples(candidates, problems)

    def fit_predict(x_train: torch.Tensor, y_train: torch.Tensor, x_valid: torch.Tensor) -> Any:
        rate = float(y_train.mean())
        if rate in (0.0, 1.0):
            # A training fold with one class: the best guess is that class.
            return torch.full((x_valid.shape[0],), rate)
        fitted = fit_head(x_train, y_train, kind=head, l2=l2, hidden_units=hidden_units, seed=seed)
        return fitted.predict(x_valid)

    available = {name.split(".", 1)[0] for name in names}
    sets = [g for g in TABLE_SETS if set(g) <= available]
    sets += [chosen] if chosen not in sets else []
    flat_truth = [bool(t) for row in truth or [] for t in row]
    positions = [_position(k) for c in candidates for k in range(len(c.steps))]
    runs: list[tuple[tuple[FeatureGroup, ...], torch.Tensor, str | None]] = [
        (groups, y, None) for groups in sets
    ]
    if truth is not None:
        outcome_y = torch.tensor(
            [float(c.correct) for c in candidates for _ in c.steps], dtype=torch.float32
        )
        runs.append((chosen, outcome_y, "outcome"))
    table = []
    for groups, labels, relabelled in runs:
        console.print(f"validating {_set_name(groups)} ({len(set(fold_of.values()))} folds) …")
        cols = columns_of(names, groups)
        scores = out_of_fold(x[:, cols], labels, row_fold, fit_predict)
        final = scores[final_rows].tolist()
        row: dict[str, Any] = {
            "features": _set_name(groups) + (f" ({relabelled} labels)" if relabelled else ""),
            "n_features": len(cols),
            "auroc": _finite(auroc(final, outcome)),
            "step_auroc": _finite(auroc(scores.tolist(), labels.tolist())),
            "weighted": _finite(
                selection_accuracy(samples, _per_problem(candidates, final, len(problems)))
            ),
        }
        if truth is not None:
            row["step_auroc_by_position"] = auroc_by_position(
                scores.tolist(), flat_truth, positions
            )
        table.append(row)
    fixed = _fixed_checker(candidates, problems)
    by_position = {}
    if truth is not None:
        by_position["step_auroc_by_position"] = auroc_by_position(
            _fixed_checker_steps(candidates, problems), flat_truth, positions
        )
    result = {
        "folds": len(set(fold_of.values())),
        "fold_seed": seed,
        "grouped_by": "problem",
        "problems": len(problems),
        "chosen": _set_name(chosen),
        "coverage": _finite(coverage(samples)),
        "majority": _finite(selection_accuracy(samples, None, "majority")),
        "checker_fixed_weights": {
            "auroc": _finite(auroc(fixed, outcome)),
            "weighted": _finite(
                selection_accuracy(samples, _per_problem(candidates, fixed, len(problems)))
            ),
            **by_position,
        },
        "table": table,
        "metrics": (
            "auroc: out-of-fold final-step score, right vs wrong final answers; step_auroc: "
            "every step prefix vs its step label (a share counts as positive when > 0); "
            "weighted: share of problems where weighted best-of-N with the out-of-fold "
            "scores picks a right answer"
        ),
    }
    if truth is not None:
        result["step_truth"] = (
            "step_auroc_by_position: each step prefix's score against whether any rollout "
            f"from it reached the reference, at step positions {', '.join(POSITIONS)} "
            "(1 = the plan)"
        )
    return result


def _problem_samples(
    candidates: Sequence[Sampled], problems: Sequence[Problem]
) -> list[ProblemSample]:
    samples = [ProblemSample(p.id, [], []) for p in problems]
    for c in candidates:
        samples[c.problem].answers.append(c.answer)
        samples[c.problem].correct.append(c.correct)
    return samples


def _per_problem(
    candidates: Sequence[Sampled], scores: Sequence[float], problems: int
) -> list[list[float]]:
    out: list[list[float]] = [[] for _ in range(problems)]
    for c, s in zip(candidates, scores, strict=True):
        out[c.problem].append(s)
    return out


def _fixed_checker(candidates: Sequence[Sampled], problems: Sequence[Problem]) -> list[float]:
    """The grounded checker's own hand-set score of each candidate: the baseline to beat."""
    from ttc_graph.verifiers.grounded import GroundedVerifier

    checker = GroundedVerifier()
    return [checker.score(problems[c.problem].question, [c.steps])[0] for c in candidates]


def _fixed_checker_steps(candidates: Sequence[Sampled], problems: Sequence[Problem]) -> list[float]:
    """The grounded checker's score of every step prefix, as step search asks for it."""
    from ttc_graph.verifiers.grounded import GroundedVerifier

    checker = GroundedVerifier()
    return [
        score
        for c in candidates
        for score in checker.score_steps(problems[c.problem].question, [c.steps])[0]
    ]
