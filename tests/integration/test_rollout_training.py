"""Rollout step labels with the embedded model: real rollouts, stored, then reused.

The mechanism (shares, resuming, settings) is tested on the scripted policy in
tests/unit/test_rollout_labels.py; this runs it end to end on the real policy.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from no_sampling import NoSampling

from ttc_graph.training import train_verifier
from ttc_graph.training.rollouts import STORE_NAME
from ttc_graph.verifiers.trained.card import read_card

PROBLEMS = [
    ("What is 3 + 4?", "7"),
    ("What is 10 - 6?", "4"),
    ("What is 5 + 5?", "10"),
    ("Sam has 7 apples and buys 5 more. How many apples does Sam have?", "12"),
    ("What is 9 - 2?", "7"),
    ("What is 2 * 6?", "12"),
]


def test_rollout_labels_are_made_stored_and_reused(policy: Any, tmp_path: Path) -> None:
    dataset = tmp_path / "easy.jsonl"
    dataset.write_text(
        "".join(
            json.dumps({"problem": q, "answer": a, "unique_id": f"p{i}"}) + "\n"
            for i, (q, a) in enumerate(PROBLEMS)
        )
    )
    settings: dict[str, Any] = {
        "dataset": dataset, "n": 4, "max_new_tokens": 24, "features": "checker",
        "compare": False, "labels": "rollouts", "rollouts": 2, "rollout_tokens": 16,
        "samples": tmp_path / "samples", "progress": False,
    }  # fmt: skip
    result = train_verifier(out=tmp_path / "v", policy=policy, **settings)
    card = read_card(result.directory)
    assert card.labels.startswith("rollouts:")
    assert card.command is not None
    assert "rollouts" in card.command
    validation = card.validation
    assert "1 = the plan" in validation["step_truth"]
    rows = {r["features"]: r for r in validation["table"]}
    assert set(rows) == {"checker", "checker (outcome labels)"}
    assert set(validation["checker_fixed_weights"]["step_auroc_by_position"]) == {
        "1", "2", "3", "4+",
    }  # fmt: skip
    with sqlite3.connect(tmp_path / "samples" / STORE_NAME) as db:
        stored = db.execute("SELECT right, total FROM rollouts").fetchall()
    assert stored, "every problem's rollouts are stored"
    assert all(0 <= right <= total <= 2 for right, total in stored)
    # A rerun reads the stored samples and rollouts: no generation at all.
    again = train_verifier(
        out=tmp_path / "v2",
        policy=NoSampling(policy, "the stored samples and rollouts"),
        **settings,
    )
    assert read_card(again.directory).validation["table"] == validation["table"]
