"""A trained verifier's examples: the policy's stored samples, graded, featurised, labelled.

The samples come from the evaluation harness (strategy ``coverage``), so an interrupted
run resumes and a sample made by ``ttc-graph eval --strategies coverage --n N`` with
the same settings is reused as it is.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from ttc_graph.errors import VerifierTrainingError
from ttc_graph.evaluation.grading import grade
from ttc_graph.evaluation.metrics import SAMPLES_UNIT
from ttc_graph.evaluation.problems import Problem
from ttc_graph.evaluation.runner import Evaluation
from ttc_graph.training.labels import (
    ROLLOUT_MODES,
    LabelMode,
    fault_features,
    first_fault,
    outcome_labels,
    rollout_labels,
    step_labels,
)
from ttc_graph.verifiers.trained.features import FeatureExtractor

logger = logging.getLogger(__name__)


@dataclass
class Sampled:
    """One stored candidate of one problem, graded, with its features and step labels."""

    problem: int
    steps: list[str]
    answer: str | None
    correct: bool
    features: torch.Tensor
    labels: Sequence[float] = field(default_factory=list)
    """One per step: 0/1, or a share in [0, 1] (rollouts)."""


def read_samples(evaluation: Evaluation, problems: Sequence[Problem], n: int) -> list[Sampled]:
    records = {
        r.problem_id: r.record
        for r in evaluation.store.results(evaluation.config_hash)
        if r.strategy == SAMPLES_UNIT and r.n == n
    }
    out = []
    for index, problem in enumerate(problems):
        record = records.get(problem.id)
        if record is None:
            raise VerifierTrainingError(
                f"No stored sample for problem {problem.id} in {evaluation.store.path}; rerun "
                "the same command to finish sampling."
            )
        for c in record["candidates"]:
            steps = [str(s) for s in c.get("steps") or []] or [str(c.get("text", ""))]
            answer = c.get("answer")
            out.append(
                Sampled(
                    problem=index,
                    steps=steps,
                    answer=answer,
                    # Graded here rather than trusted from the record: the grader is
                    # the single source of truth for every candidate.
                    correct=grade(answer, problem.answer),
                    features=torch.empty(0),
                )
            )
    return out


def check_classes(candidates: Sequence[Sampled], problems: int) -> None:
    right = sum(c.correct for c in candidates)
    if right == 0:
        raise VerifierTrainingError(
            f"All {len(candidates)} samples of the {problems} problems are wrong, so there is "
            "nothing to tell right from wrong with. Use easier problems (e.g. --difficulty 1), "
            "more problems (--limit), a larger --n or more --max-new-tokens, so that some "
            "samples are right."
        )
    if right == len(candidates):
        raise VerifierTrainingError(
            f"All {len(candidates)} samples of the {problems} problems are right, so there is "
            "nothing to tell right from wrong with. Use harder problems (e.g. --difficulty "
            "2,3) or more of them (--limit), or a larger --n, so that some samples are wrong."
        )


def featurise(
    extractor: FeatureExtractor,
    problems: Sequence[Problem],
    candidates: list[Sampled],
    console: Any,
    progress: bool,
) -> None:
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    by_problem: dict[int, list[Sampled]] = {}
    for c in candidates:
        by_problem.setdefault(c.problem, []).append(c)
    bar = Progress(
        TextColumn("[bold]features"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} problems"),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        disable=not progress,
    )
    with bar:
        task = bar.add_task("features", total=len(by_problem))
        for index, group in by_problem.items():
            matrices = extractor.extract(problems[index].question, [c.steps for c in group])
            for c, m in zip(group, matrices, strict=True):
                c.features = m
            bar.advance(task)


def label(
    candidates: Sequence[Sampled],
    names: list[str],
    checker_names: Sequence[str],
    mode: LabelMode,
    shares: Sequence[Sequence[float]] | None = None,
) -> None:
    """Label every step of every candidate by ``mode`` (``shares``: each candidate's
    rollout shares per step, for the rollout modes)."""
    if mode in ROLLOUT_MODES:
        if shares is None:
            raise ValueError(f"{mode} labels need the rollouts' shares.")
        for c, share in zip(candidates, shares, strict=True):
            c.labels = rollout_labels(share, mode)
        return
    if mode == "outcome":
        for c in candidates:
            c.labels = outcome_labels(c.correct, len(c.steps))
        return
    faults = fault_features(checker_names)
    if not faults:
        logger.warning(
            "The checker has no fault feature (none named *wrong*/*ungrounded*); every wrong "
            "candidate is labelled wrong at its last step only."
        )
    index = {name: i for i, name in enumerate(names)}
    cols = [index[f"checker.{f}"] for f in faults]
    for c in candidates:
        rows = [dict(zip(faults, row, strict=True)) for row in c.features[:, cols].tolist()]
        c.labels = step_labels(c.correct, first_fault(rows, faults), len(c.steps))


def examples(
    candidates: Sequence[Sampled], subset: Sequence[int] | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    picked = candidates if subset is None else [candidates[i] for i in subset]
    x = torch.cat([c.features for c in picked])
    y = torch.tensor([label for c in picked for label in c.labels], dtype=torch.float32)
    return x, y


def columns_of(names: Sequence[str], groups: Sequence[str]) -> list[int]:
    return [i for i, name in enumerate(names) if name.split(".", 1)[0] in groups]
