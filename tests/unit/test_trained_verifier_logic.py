"""Verifier training without a model: bad input refused before any model (the CLI, an
``--out`` that is not a verifier, an unknown label rule), and the pure logic (labels,
folds, AUROC, the head, the export format). (A real training run on the embedded
policy's own samples: tests/integration/test_trained_verifier.py.)
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

import pytest
import torch

from ttc_graph.cli import main
from ttc_graph.errors import VerifierTrainingError
from ttc_graph.training import train_verifier
from ttc_graph.training.export import LabelledCandidate, trl_rows
from ttc_graph.training.fit import fit_head
from ttc_graph.training.labels import fault_features, first_fault, step_labels
from ttc_graph.training.validation import (
    ProblemSample,
    auroc,
    grouped_folds,
    out_of_fold,
    selection_accuracy,
)
from ttc_graph.verifiers.trained.features import feature_names, parse_feature_groups


def test_cli_bad_input_is_one_line_before_any_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    no_reference = tmp_path / "noref.jsonl"
    no_reference.write_text(json.dumps({"problem": "What is 2 + 2?"}) + "\n")
    cases = [
        (["--dataset", str(no_reference)], "line 1: no reference answer"),
        (["--dataset", "arithmetic", "--n", "1"], "N must be an integer >= 2"),
        (["--dataset", "arithmetic", "--features", "checker,vibes"], "feature group 'vibes'"),
    ]
    for extra, message in cases:
        rc = main(["train-verifier", *extra, "--out", str(tmp_path / "v")])
        err = capsys.readouterr().err.strip()
        assert rc == 2, err
        assert message in err, err
        assert len(err.splitlines()) == 1, err
    assert not (tmp_path / "v").exists()
    assert not (tmp_path / "v.samples").exists()


def test_out_that_is_not_a_verifier_is_not_overwritten(tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(VerifierTrainingError, match="is not a trained verifier"):
        train_verifier(dataset="arithmetic", out=tmp_path / "mine", n=4)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


# -- pure logic -----------------------------------------------------------------------------


def test_step_labels_follow_the_math_shepherd_rule() -> None:
    faults = ["wrong", "ungrounded"]
    rows = [
        {"wrong": 0, "ungrounded": 0},
        {"wrong": 0, "ungrounded": 1},
        {"wrong": 1, "ungrounded": 1},
    ]
    assert first_fault(rows, faults) == 1
    assert first_fault(rows[:1], faults) is None
    assert first_fault([{"wrong": 2, "ungrounded": 0}], faults) == 0
    assert step_labels(True, 1, 3) == [1, 1, 1]
    assert step_labels(False, 1, 3) == [1, 0, 0]
    assert step_labels(False, 0, 3) == [0, 0, 0]
    assert step_labels(False, None, 3) == [1, 1, 0]
    assert step_labels(False, None, 1) == [0]
    with pytest.raises(ValueError, match="at least one step"):
        step_labels(True, None, 0)


def test_fault_features_are_read_from_the_checker() -> None:
    from ttc_graph.verifiers.grounded import CHECKER_FEATURES

    faults = fault_features(CHECKER_FEATURES)
    assert "wrong" in faults
    assert "ungrounded" in faults
    assert "right" not in faults
    assert "grounded" not in faults


def test_feature_names_follow_the_checker_at_run_time(monkeypatch: pytest.MonkeyPatch) -> None:
    import ttc_graph.verifiers.grounded as grounded

    monkeypatch.setattr(grounded, "CHECKER_FEATURES", ("alpha", "beta"))
    assert feature_names(["confidence", "checker"], hidden_size=None) == [
        "checker.alpha",
        "checker.beta",
        "confidence.mean_logprob",
        "confidence.min_logprob",
        "confidence.tokens",
    ]
    assert feature_names(["hidden"], hidden_size=2) == [
        "hidden.last.0",
        "hidden.last.1",
        "hidden.mean.0",
        "hidden.mean.1",
    ]
    assert parse_feature_groups("hidden, checker") == ("checker", "hidden")
    with pytest.raises(VerifierTrainingError, match="Unknown feature group 'vibes'"):
        parse_feature_groups("checker,vibes")
    with pytest.raises(VerifierTrainingError, match="at least one"):
        parse_feature_groups(" , ")


def test_grouped_folds_keep_each_problem_in_one_fold() -> None:
    ids = [f"p{i}" for i in range(23)]
    rows = [pid for pid in ids for _ in range(4)]  # four candidates per problem
    folds = grouped_folds(rows, k=5, seed=0)
    assert set(folds) == set(ids)
    sizes = [list(folds.values()).count(f) for f in range(5)]
    assert sorted(sizes) == [4, 5, 5, 5, 4] or max(sizes) - min(sizes) <= 1
    assert grouped_folds(rows, k=5, seed=0) == folds
    assert grouped_folds(rows, k=5, seed=1) != folds
    assert set(grouped_folds(["a", "b", "c"], k=5).values()) == {0, 1, 2}
    with pytest.raises(ValueError, match="at least 2 problems"):
        grouped_folds(["a", "a"])

    # out_of_fold never shows a problem's rows to the model that scores them.
    problem = torch.tensor([int(p[1:]) for p in rows], dtype=torch.float32)[:, None]
    fold_of_row = torch.tensor([folds[p] for p in rows])

    def fit_predict(x_train: torch.Tensor, y: torch.Tensor, x_valid: torch.Tensor) -> Any:
        assert not set(x_train[:, 0].tolist()) & set(x_valid[:, 0].tolist())
        return torch.full((x_valid.shape[0],), float(fold_of_row[0]))

    scores = out_of_fold(problem, torch.zeros(len(rows)), fold_of_row, fit_predict)
    assert not torch.isnan(scores).any()


def test_auroc_against_pairwise_counting() -> None:
    assert auroc([0.9, 0.8, 0.3, 0.8], [1, 1, 0, 0]) == 0.875
    assert auroc([1, 2, 3], [0, 1, 1]) == 1.0
    assert auroc([3, 2, 1], [0, 1, 1]) == 0.0
    assert auroc([0.5] * 4, [0, 1, 0, 1]) == 0.5
    assert math.isnan(auroc([0.1, 0.2], [1, 1]))
    rng = random.Random(0)
    scores = [rng.choice([0.1, 0.2, 0.3, 0.4]) for _ in range(60)]
    labels = [rng.random() < 0.4 for _ in range(60)]
    pos = [s for s, y in zip(scores, labels, strict=True) if y]
    neg = [s for s, y in zip(scores, labels, strict=True) if not y]
    pairs = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg)
    assert auroc(scores, labels) == pytest.approx(pairs / (len(pos) * len(neg)))


def test_weighted_selection_accuracy_uses_the_scores() -> None:
    samples = [
        ProblemSample("a", ["4", "5", "5"], [True, False, False]),
        ProblemSample("b", ["7", "7", None], [True, True, False]),
    ]
    assert selection_accuracy(samples, None, "majority") == 0.5
    assert selection_accuracy(samples, [[0.9, 0.1, 0.2], [0.5, 0.5, 0.9]]) == 1.0
    assert selection_accuracy(samples, [[0.1, 0.9, 0.9], [0.5, 0.5, 0.9]]) == 0.5


def separable(seed: int, rows: int = 200, features: int = 6) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(rows, features, generator=g)
    x[:, -1] = 3.0  # a constant feature must not break the standardisation
    y = (x[:, 0] - 0.5 * x[:, 1] > 0).float()
    return x * 10 + 5, y


@pytest.mark.parametrize("kind", ["logistic", pytest.param("mlp", marks=pytest.mark.slow)])
def test_head_fits_separable_data_and_is_deterministic(kind: Any) -> None:
    x, y = separable(0)
    x_test, y_test = separable(1)
    head = fit_head(x, y, kind=kind, l2=1e-3, seed=7)
    assert auroc(head.predict(x_test).tolist(), y_test.tolist()) > 0.98
    assert ((head.predict(x) > 0.5).float() == y).float().mean() > 0.95
    assert head.standardizer.scale[-1] == 1.0
    again = fit_head(x, y, kind=kind, l2=1e-3, seed=7)
    for key, value in head.weights().items():
        assert torch.equal(value, again.weights()[key])
    if kind == "mlp":
        other = fit_head(x, y, kind=kind, l2=1e-3, seed=8)
        assert not torch.equal(other.weights()["0.weight"], head.weights()["0.weight"])


def test_head_refuses_one_class_and_bad_input() -> None:
    x, _ = separable(0, rows=10)
    with pytest.raises(VerifierTrainingError, match="one class"):
        fit_head(x, torch.ones(10))
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        fit_head(x, torch.full((10,), 1.5))
    with pytest.raises(VerifierTrainingError, match="Unknown head"):
        fit_head(x, torch.tensor([0.0, 1.0] * 5), kind="forest")  # type: ignore[arg-type]


def test_trl_rows_strip_steps_and_keep_labels_aligned() -> None:
    rows = trl_rows(
        [
            LabelledCandidate("Q1", ["12 + 30 = 42.\n\n", "\n\n", " So 42. "], [1, 1, 0]),
            LabelledCandidate("Q2", ["  \n"], [0]),
        ]
    )
    assert rows == [{"prompt": "Q1", "completions": ["12 + 30 = 42.", "So 42."],
                     "labels": [True, False]}]  # fmt: skip
    with pytest.raises(ValueError, match="2 steps but 1 labels"):
        trl_rows([LabelledCandidate("Q", ["a", "b"], [1])])


def test_unknown_label_rule_is_refused_before_anything_is_made(tmp_path: Path) -> None:
    with pytest.raises(
        VerifierTrainingError, match="Unknown labels 'vibes'; choose outcome or steps"
    ):
        train_verifier(dataset="arithmetic", out=tmp_path / "v", labels="vibes", progress=False)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []
