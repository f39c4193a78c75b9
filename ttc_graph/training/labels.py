"""Step labels from outcomes, alone or with the checker's verdicts.

A candidate's *outcome* is whether its final answer equals the reference. Two
rules turn it into a 0/1 label for every step prefix (:data:`LABEL_MODES`):

``outcome`` (the default): every prefix gets the candidate's outcome — the
prefix's one rollout, the candidate itself, ended right or wrong. The head then
estimates P(right | prefix), a value model, and its score on a whole solution is
what weighted best-of-N sums. On 400 training problems of the embedded model
(arithmetic seed 100) this beat the step rule below at selection.

``steps`` (Math-Shepherd style, no rollouts): whether the solution *up to* each
step is still on a right path:

- a right candidate: every step 1;
- a wrong candidate: the steps before its first *fault* are 1, the faulty step
  and every later one 0. A fault is a step where the checker's cumulative
  signals of a fault rise: a wrong calculation or an ungrounded one (a number
  from nowhere) — every checker feature whose name contains ``wrong`` or
  ``ungrounded``;
- a wrong candidate in which the checker finds no fault: only its last step
  is 0 (the mistake is somewhere, and the final prefix surely holds it).

``rollouts`` (Math-Shepherd): the share of K completions from the prefix that reach
the reference answer (:mod:`ttc_graph.training.rollouts`); ``rollouts_hard``: 1 if any
of them does. It costs K generations per
step prefix, which ``steps`` avoids by letting the checker's verdict stand in for them.
The final step's label is always the outcome.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal, get_args

LabelMode = Literal["outcome", "steps", "rollouts", "rollouts_hard"]
ROLLOUT_MODES: tuple[LabelMode, ...] = ("rollouts", "rollouts_hard")
"""The modes that roll the policy out from every step prefix."""
LABEL_MODES: tuple[LabelMode, ...] = get_args(LabelMode)

FAULT_MARKERS: tuple[str, ...] = ("wrong", "ungrounded")
"""A checker feature whose name contains one of these counts faults so far."""

LABEL_RULES: dict[LabelMode, str] = {
    "outcome": "every step prefix gets its candidate's outcome (final answer equals the reference)",
    "steps": "outcome = final answer equals the reference; right candidate: every step 1; "
    "wrong candidate: steps before the first step where a checker fault count (features "
    "named *wrong*/*ungrounded*) rises are 1, that step and later 0; no fault found: only "
    "the last step 0",
    "rollouts": "each step prefix but the last: the share of K completions by the policy "
    "from it whose answer equals the reference (Math-Shepherd, soft); the last: the outcome",
    "rollouts_hard": "each step prefix but the last: 1 if any of K completions by the policy "
    "from it reaches the reference answer, else 0 (Math-Shepherd, hard); the last: the outcome",
}
"""One-line description of each rule, stored in the card."""


def outcome_labels(correct: bool, steps: int) -> list[int]:
    """The ``outcome`` rule: every prefix labelled with the candidate's outcome.

    Example:
        >>> outcome_labels(True, 3), outcome_labels(False, 2)
        ([1, 1, 1], [0, 0])
    """
    if steps < 1:
        raise ValueError("A candidate has at least one step.")
    return [int(correct)] * steps


def fault_features(names: Sequence[str]) -> list[str]:
    """The checker features that count faults, e.g. ``["wrong", "ungrounded"]``.

    Example:
        >>> fault_features(["claims", "right", "wrong", "ungrounded", "cue_conflict"])
        ['wrong', 'ungrounded']
    """
    return [n for n in names if any(marker in n for marker in FAULT_MARKERS)]


def first_fault(rows: Sequence[Mapping[str, float]], faults: Sequence[str]) -> int | None:
    """Index of the first step whose fault counts rise above the previous step's, if any.

    ``rows`` holds the checker features of each step prefix (cumulative).

    Example:
        >>> first_fault([{"wrong": 0}, {"wrong": 1}, {"wrong": 1}], ["wrong"])
        1
    """
    previous = dict.fromkeys(faults, 0.0)
    for k, row in enumerate(rows):
        if any(float(row[f]) > previous[f] for f in faults):
            return k
        previous = {f: float(row[f]) for f in faults}
    return None


def step_labels(correct: bool, fault: int | None, steps: int) -> list[int]:
    """The 0/1 label of each step prefix of one candidate (see the module rule).

    Example:
        >>> step_labels(True, 1, 3), step_labels(False, 1, 3), step_labels(False, None, 3)
        ([1, 1, 1], [1, 0, 0], [1, 1, 0])
    """
    if steps < 1:
        raise ValueError("A candidate has at least one step.")
    if correct:
        return [1] * steps
    cut = steps - 1 if fault is None else min(fault, steps - 1)
    return [1] * cut + [0] * (steps - cut)


def rollout_labels(shares: Sequence[float], mode: LabelMode) -> list[float]:
    """A candidate's step labels from its rollouts' shares (the last share is its outcome).

    Example:
        >>> shares = [0.25, 0.0, 1.0]
        >>> rollout_labels(shares, "rollouts"), rollout_labels(shares, "rollouts_hard")
        ([0.25, 0.0, 1.0], [1.0, 0.0, 1.0])
    """
    if mode not in ROLLOUT_MODES:
        raise ValueError(f"{mode!r} is not a rollout label mode ({', '.join(ROLLOUT_MODES)}).")
    if mode == "rollouts_hard":
        return [float(s > 0) for s in shares]
    return [float(s) for s in shares]
