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

import torch

from ttc_graph.errors import InputError
from ttc_graph.strategies.selection import Selection, check_selection, select
from ttc_graph.strategies.state import Candidate

__all__ = [
    "ProblemSample",
    "auroc",
    "coverage",
    "grouped_folds",
    "out_of_fold",
    "selection_accuracy",
]


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


def _candidates(sample: ProblemSample, scores: Sequence[float] | None) -> list[Candidate]:
    out = []
    for i, answer in enumerate(sample.answers):
        out.append(
            Candidate(
                id=str(i),
                text="",
                steps=[],
                step_scores=[],
                score=None if scores is None else float(scores[i]),
                answer=answer,
                finish_reason="eos",
                completion_tokens=0,
                group=0,
            )
        )
    return out


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
        picked = select(_candidates(sample, None if scores is None else scores[i]), selection)
        right += picked is not None and sample.correct[picked]
    return right / len(samples)


def coverage(samples: Sequence[ProblemSample]) -> float:
    """Share of problems with at least one right candidate (the ceiling of any selection)."""
    return sum(any(s.correct) for s in samples) / len(samples) if samples else math.nan
