"""Export labelled samples in the stepwise-supervision format TRL's ``PRMTrainer`` reads.

One JSON object per line and candidate::

    {"prompt": "<question>", "completions": ["<step 1>", ...], "labels": [true, ...]}

Steps are stripped of the surrounding whitespace that delimits them (TRL puts
its own ``step_separator`` between them); a step that is only whitespace is
dropped with its label, and a candidate left without steps is skipped.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ttc_graph.outputs import write_failure


@dataclass(frozen=True)
class LabelledCandidate:
    """A candidate with its question and one label per step: 0/1, or a rollout share in
    [0, 1], exported as true when > 0 (Math-Shepherd's hard label: PRMTrainer reads
    booleans)."""

    question: str
    steps: Sequence[str]
    labels: Sequence[float]


def trl_rows(candidates: Iterable[LabelledCandidate]) -> list[dict[str, object]]:
    """The rows of the export (see the module docstring).

    Example:
        >>> trl_rows([LabelledCandidate("What is 2+3?", ["2+3=5.\\n\\n", "So 5."], [1, 1])])
        [{'prompt': 'What is 2+3?', 'completions': ['2+3=5.', 'So 5.'], 'labels': [True, True]}]
    """
    rows: list[dict[str, object]] = []
    for c in candidates:
        if len(c.steps) != len(c.labels):
            raise ValueError(f"{len(c.steps)} steps but {len(c.labels)} labels.")
        kept = [(s.strip(), bool(y)) for s, y in zip(c.steps, c.labels, strict=True) if s.strip()]
        if kept:
            rows.append(
                {
                    "prompt": c.question,
                    "completions": [s for s, _ in kept],
                    "labels": [y for _, y in kept],
                }
            )
    return rows


def write_trl_jsonl(path: str | Path, candidates: Iterable[LabelledCandidate]) -> int:
    """Write the export to ``path`` atomically (complete or absent); return the row count."""
    target = Path(path).expanduser()
    rows = trl_rows(candidates)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    except OSError as exc:
        raise write_failure(target, exc) from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise write_failure(target, exc) from exc
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return len(rows)
