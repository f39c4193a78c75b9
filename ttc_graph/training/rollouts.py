"""Step labels by rollouts (Math-Shepherd): can this prefix still reach the right answer?

From every step prefix of the policy's own samples (all but the full solution), the
policy writes ``k`` completions; the prefix's label is the share of them whose answer
equals the reference (soft) or whether any does (hard). A plan that leads nowhere
scores low before any calculation is written — what a checker of calculations cannot
see. The full solution's label is its own outcome.

All prefixes of one problem go to the policy in one call (``k`` rows each), seeded
per problem, and each problem's results are stored the moment they are made in
``rollouts.sqlite`` beside the samples, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ttc_graph.answers import extract_answer
from ttc_graph.errors import VerifierTrainingError
from ttc_graph.evaluation.grading import grade
from ttc_graph.evaluation.problems import Problem
from ttc_graph.outputs import write_failure
from ttc_graph.policy.base import GenerationRequest, SamplingParams
from ttc_graph.policy.messages import to_messages, with_system_prompt
from ttc_graph.training.samples import Sampled

STORE_NAME = "rollouts.sqlite"
ROLLOUTS = 4
"""Default completions per step prefix (K)."""
ROLLOUT_TOKENS = 64
"""Default length of each completion."""
_SCHEMA = """
CREATE TABLE IF NOT EXISTS rollouts (
    config TEXT NOT NULL, problem_id TEXT NOT NULL, candidate INTEGER NOT NULL,
    step INTEGER NOT NULL, right INTEGER NOT NULL, total INTEGER NOT NULL,
    PRIMARY KEY (config, problem_id, candidate, step)
);
"""


def check_rollouts(k: Any, max_new_tokens: Any) -> None:
    """``k`` completions of at most ``max_new_tokens`` each: both integers >= 1."""
    for name, value in (("rollouts", k), ("rollout_tokens", max_new_tokens)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise VerifierTrainingError(
                f"{name} must be an integer >= 1, got {value!r}: a step label by rollouts "
                "is the share of at least one completion from the step that ends right."
            )


class RolloutStore:
    """Rollout results stored as they are made, keyed by the rollout settings."""

    def __init__(self, path: Path, settings: dict[str, Any]) -> None:
        self.path = path
        self.config = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, timeout=30.0)
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise write_failure(path, OSError(getattr(exc, "errno", None), str(exc))) from exc

    def done(self) -> set[str]:
        """Problems whose rollouts are stored."""
        rows = self._db.execute(
            "SELECT DISTINCT problem_id FROM rollouts WHERE config = ?", (self.config,)
        )
        return {r[0] for r in rows}

    def put(self, problem_id: str, rows: Sequence[tuple[int, int, int, int]]) -> None:
        """One problem's ``(candidate, step, right, total)`` rows, in one transaction."""
        try:
            with self._db:
                self._db.executemany(
                    "INSERT OR REPLACE INTO rollouts VALUES (?, ?, ?, ?, ?, ?)",
                    [(self.config, problem_id, *row) for row in rows],
                )
        except sqlite3.Error as exc:
            raise write_failure(self.path, OSError(None, str(exc))) from exc

    def shares(self, problem_id: str) -> dict[tuple[int, int], float]:
        """``(candidate, step) -> share right`` of one problem."""
        rows = self._db.execute(
            "SELECT candidate, step, right, total FROM rollouts WHERE config = ? AND "
            "problem_id = ?",
            (self.config, problem_id),
        )
        return {(c, s): right / total for c, s, right, total in rows}

    def close(self) -> None:
        """Close the database (every problem is already committed)."""
        self._db.close()


def roll_out(
    policy: Any,
    problem: Problem,
    group: Sequence[Sampled],
    *,
    k: int,
    params: SamplingParams,
    system_prompt: str | None,
) -> list[tuple[int, int, int, int]]:
    """``(candidate, step, right, total)`` for every prefix of one problem's candidates."""
    base = with_system_prompt(to_messages(problem.question), system_prompt)
    prefixes = [
        (i, step, "".join(c.steps[: step + 1]))
        for i, c in enumerate(group)
        for step in range(len(c.steps) - 1)
    ]
    if not prefixes:
        return []
    requests = [GenerationRequest(tuple(base), prefix) for _, _, prefix in prefixes]
    results = policy.sample(requests, n=k, params=params)
    rows = []
    for (i, step, prefix), completions in zip(prefixes, results, strict=True):
        right = sum(grade(extract_answer(prefix + c.text), problem.answer) for c in completions)
        rows.append((i, step, right, len(completions)))
    return rows


def rollout_shares(
    policy: Any,
    problems: Sequence[Problem],
    candidates: Sequence[Sampled],
    *,
    store_dir: Path,
    samples_config: str,
    k: int,
    max_new_tokens: int,
    temperature: float,
    seed: int,
    system_prompt: str | None,
    console: Any,
    progress: bool,
) -> list[list[float]]:
    """Every candidate's per-step share of rollouts that end right (stored, resumable).

    The last step of each candidate is its own outcome (1.0 or 0.0).
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    check_rollouts(k, max_new_tokens)
    settings = {
        "samples": samples_config, "k": k, "max_new_tokens": max_new_tokens,
        "temperature": temperature, "seed": seed,
        "system_prompt": hashlib.sha256(str(system_prompt).encode()).hexdigest()[:12],
    }  # fmt: skip
    store = RolloutStore(store_dir / STORE_NAME, settings)
    groups: dict[int, list[Sampled]] = {}
    for c in candidates:
        groups.setdefault(c.problem, []).append(c)
    bar = Progress(
        TextColumn("[bold]rollouts"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} problems"),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        disable=not progress,
    )
    try:
        done = store.done()
        with bar:
            task = bar.add_task("rollouts", total=len(groups))
            bar.update(task, completed=sum(problems[i].id in done for i in groups))
            for index, group in groups.items():
                if problems[index].id in done:
                    continue
                params = SamplingParams(
                    temperature=temperature, max_new_tokens=max_new_tokens, seed=seed + index
                )
                rows = roll_out(
                    policy, problems[index], group, k=k, params=params,
                    system_prompt=system_prompt,
                )  # fmt: skip
                # A placeholder row marks a problem whose candidates are all one step long.
                store.put(problems[index].id, rows or [(-1, -1, 0, 1)])
                bar.advance(task)
        shares = {index: store.shares(problems[index].id) for index in groups}
    finally:
        store.close()
    position = {id(c): i for group in groups.values() for i, c in enumerate(group)}
    return [
        [shares[c.problem][(position[id(c)], s)] for s in range(len(c.steps) - 1)]
        + [float(c.correct)]
        for c in candidates
    ]
