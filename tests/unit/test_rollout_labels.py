"""Step labels by rollouts (Math-Shepherd), driven by the scripted policy.

The scripted policy continues a prefix with the rest of solution ``(i + seed) % 4``,
so the share of right rollouts from a prefix is known in advance: two of the four
scripted solutions end in 12.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from tests.scripted import QUESTION, SOLUTIONS, ScriptedPolicy, _steps
from ttc_graph.errors import VerifierTrainingError
from ttc_graph.evaluation.problems import Problem
from ttc_graph.training.fit import fit_head
from ttc_graph.training.labels import rollout_labels
from ttc_graph.training.rollouts import STORE_NAME, check_rollouts, rollout_shares
from ttc_graph.training.samples import Sampled
from ttc_graph.training.validation import POSITIONS, validate

PROBLEMS = [
    Problem("p0", QUESTION, "12"),
    Problem("p1", "Ann has 3 cats and gets 9 more. How many cats?", "12"),
]


def candidate(problem: int, solution: int, correct: bool) -> Sampled:
    steps = _steps(SOLUTIONS[solution])
    return Sampled(problem, steps, None, correct, torch.zeros(len(steps), 1))


def shares_of(policy: Any, candidates: list[Sampled], tmp_path: Path, **kw: Any) -> Any:
    settings: dict[str, Any] = {
        "store_dir": tmp_path, "samples_config": "abc", "k": 4, "max_new_tokens": 64,
        "temperature": 0.8, "seed": 0, "system_prompt": "Solve it.", "console": None,
        "progress": False,
    }  # fmt: skip
    return rollout_shares(policy, PROBLEMS, candidates, **{**settings, **kw})


def test_shares_count_right_rollouts_and_end_with_the_outcome(tmp_path: Path) -> None:
    candidates = [candidate(0, 0, True), candidate(0, 1, False), candidate(1, 3, False)]
    policy = ScriptedPolicy()
    shares = shares_of(policy, candidates, tmp_path)
    # Every prefix but the full solution is rolled out K = 4 times; two of the four
    # scripted continuations end in 12 whatever the prefix, so each share is 2 / 4.
    assert shares == [[0.5, 0.5, 1.0], [0.5, 0.5, 0.0], [0.5, 0.5, 0.0]]
    # One call per problem, K rows per prefix, each prefix sent as the answer so far.
    assert [len(c.requests) for c in policy.calls] == [4, 2]
    assert all(c.n == 4 for c in policy.calls)
    assert policy.calls[0].requests[1].prefix == "".join(_steps(SOLUTIONS[0])[:2])
    assert policy.calls[0].requests[0].messages[0].content == "Solve it."
    # Seeded per problem: the data seed of problem i is seed + i.
    assert [c.params.seed for c in policy.calls] == [0, 1]


def test_rollouts_are_stored_and_a_rerun_makes_none(tmp_path: Path) -> None:
    candidates = [candidate(0, 0, True), candidate(1, 1, False)]
    first = shares_of(ScriptedPolicy(), candidates, tmp_path)
    assert (tmp_path / STORE_NAME).is_file()
    again = ScriptedPolicy()
    assert shares_of(again, candidates, tmp_path) == first
    assert again.calls == []
    # Other settings are another configuration: rolled out anew.
    other = ScriptedPolicy()
    shares_of(other, candidates, tmp_path, k=2)
    assert [c.n for c in other.calls] == [2, 2]


def test_an_interrupted_run_resumes_at_the_next_problem(tmp_path: Path) -> None:
    candidates = [candidate(0, 0, True), candidate(1, 1, False)]

    class Interrupted(ScriptedPolicy):
        def sample(self, requests: Any, **kw: Any) -> Any:
            if self.calls:
                raise KeyboardInterrupt
            return super().sample(requests, **kw)

    with pytest.raises(KeyboardInterrupt):
        shares_of(Interrupted(), candidates, tmp_path)
    resumed = ScriptedPolicy()
    shares = shares_of(resumed, candidates, tmp_path)
    assert len(resumed.calls) == 1
    assert resumed.calls[0].params.seed == 1
    assert shares == [[0.5, 0.5, 1.0], [0.5, 0.5, 0.0]]


def test_one_step_candidates_need_no_rollout(tmp_path: Path) -> None:
    one = Sampled(0, ["The final answer is $\\boxed{12}$."], "12", True, torch.zeros(1, 1))
    policy = ScriptedPolicy()
    assert shares_of(policy, [one], tmp_path) == [[1.0]]
    assert policy.calls == []
    assert shares_of(policy, [one], tmp_path) == [[1.0]]


@pytest.mark.parametrize("k", [0, -1, True, 2.5, "4"])
def test_rollouts_k_must_be_a_positive_integer(k: Any) -> None:
    with pytest.raises(VerifierTrainingError, match="rollouts must be an integer >= 1"):
        check_rollouts(k, 64)
    with pytest.raises(VerifierTrainingError, match="rollout_tokens"):
        check_rollouts(4, k)


def test_hard_labels_are_whether_any_rollout_reached() -> None:
    assert rollout_labels([0.25, 0.0, 1.0], "rollouts_hard") == [1.0, 0.0, 1.0]
    with pytest.raises(ValueError, match="not a rollout label mode"):
        rollout_labels([1.0], "outcome")


def test_bad_rollout_settings_are_refused_before_anything_is_made(tmp_path: Path) -> None:
    from ttc_graph.training import train_verifier

    out = tmp_path / "v"
    with pytest.raises(VerifierTrainingError, match="rollouts must be an integer >= 1"):
        train_verifier(dataset="arithmetic", out=out, labels="rollouts", rollouts=0)
    with pytest.raises(VerifierTrainingError, match="labels 'outcome' makes no rollouts"):
        train_verifier(dataset="arithmetic", out=out, rollouts=8)
    assert list(tmp_path.iterdir()) == []


def test_soft_labels_fit_a_head_between_the_classes() -> None:
    x = torch.tensor([[0.0], [1.0], [2.0], [3.0]])
    head = fit_head(x, torch.tensor([0.0, 0.25, 0.75, 1.0]), kind="logistic", l2=0.0)
    p = head.predict(x).tolist()
    assert p == sorted(p)
    assert 0.0 < p[1] < 0.5 < p[2] < 1.0
    with pytest.raises(ValueError, match=r"Labels must be in \[0, 1\]"):
        fit_head(x, torch.tensor([0.0, 1.5, 0.0, 1.0]), kind="logistic")


def test_validation_reports_step_auroc_by_position_against_the_rollouts() -> None:
    # The feature is the rollout truth itself, so a head on it ranks every position
    # perfectly; the outcome-trained row is fitted on the candidates' outcomes instead.
    rows = []
    for problem in range(4):
        for solution, correct in ((0, True), (1, False), (2, True), (3, False)):
            c = candidate(problem, solution, correct)
            truth = [True, correct or solution == 1, correct]
            c.features = torch.tensor([[float(t)] for t in truth])
            c.labels = [float(t) for t in truth]
            rows.append((c, truth))
    problems = [Problem(f"p{i}", QUESTION, "12") for i in range(4)]
    candidates = [c for c, _ in rows]
    validation = validate(
        candidates, problems, ["checker.f"], ("checker",), "logistic", 1e-2, 8, 2, 0,
        _Quiet(), truth=[t for _, t in rows],
    )  # fmt: skip
    by_name = {r["features"]: r for r in validation["table"]}
    assert set(by_name) == {"checker", "checker (outcome labels)"}
    assert list(by_name["checker"]["step_auroc_by_position"]) == list(POSITIONS)
    assert by_name["checker"]["step_auroc_by_position"]["2"] == 1.0
    assert by_name["checker"]["step_auroc_by_position"]["1"] is None  # one class only
    assert "step_auroc_by_position" in validation["checker_fixed_weights"]
    assert "1 = the plan" in validation["step_truth"]
    # The CLI prints the table by position after the validation table.
    from rich.console import Console

    from ttc_graph.cli.train_verifier import print_validation

    console = Console(record=True, width=200)
    print_validation(validation, console)
    text = console.export_text()
    assert "step AUROC by position" in text
    assert "grounded checker" in text
    assert "checker (outcome labels)" in text


def test_validation_without_rollouts_has_no_position_table() -> None:
    candidates = []
    for problem in range(2):
        for solution, correct in ((0, True), (1, False)):
            c = candidate(problem, solution, correct)
            c.features = torch.full((3, 1), float(correct))
            c.labels = [float(correct)] * 3
            candidates.append(c)
    problems = [Problem(f"p{i}", QUESTION, "12") for i in range(2)]
    validation = validate(
        candidates, problems, ["checker.f"], ("checker",), "logistic", 1e-2, 8, 2, 0, _Quiet()
    )
    assert "step_truth" not in validation
    assert [r["features"] for r in validation["table"]] == ["checker"]


class _Quiet:
    def print(self, *args: Any, **kwargs: Any) -> None:
        pass
