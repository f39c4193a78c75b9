"""Every raw result says what made it: ttc_graph.evaluation.provenance and curve.json."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from scripted import ScriptedPolicy
from ttc_graph.evaluation import create_evaluation, provenance
from ttc_graph.evaluation.metrics import CurvePoint
from ttc_graph.evaluation.report import write_report
from ttc_graph.evaluation.runner import EvalReport

REPO = Path(__file__).resolve().parents[2]


def head() -> str:
    return subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_a_record_holds_command_commit_machine_load_and_dates(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("TTC_GRAPH_MAX_BATCH", "8")
    monkeypatch.setenv("UNRELATED_VARIABLE", "x")
    started = provenance.begin("python benchmarks/run.py --quick")
    record = provenance.finish(started)
    assert record["command"] == "python benchmarks/run.py --quick"
    assert record["environment"] == {"OMP_NUM_THREADS": "1", "TTC_GRAPH_MAX_BATCH": "8"}
    assert record["commit"] == head()
    assert isinstance(record["dirty"], bool)
    assert record["machine"]["cores"] >= 1
    assert record["machine"]["cpu"]
    assert len(record["load_before"]) == len(record["load_after"]) == 3
    assert record["started"] <= record["finished"]
    assert record["started"].endswith("+00:00")
    json.dumps(record)  # JSON-ready as it is
    assert "load_after" not in started, "finish() returns a new record"


def test_the_command_is_shown_as_typed() -> None:
    assert provenance.command_line(["benchmarks/run.py", "--n", "a b"]) == (
        "python benchmarks/run.py --n 'a b'"
    )
    assert provenance.command_line(["/x/.venv/bin/ttc-graph", "eval", "--n", "1,2"]) == (
        "ttc-graph eval --n 1,2"
    )
    assert provenance.command_line(["-c", "x"]) == "python -c ... x"


def test_outside_a_checkout_the_commit_is_unknown_not_guessed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(provenance, "_REPO", tmp_path)
    record = provenance.begin("x")
    assert (record["commit"], record["dirty"]) == (None, None)


def test_curve_json_carries_the_provenance_of_its_run(tmp_path: Path) -> None:
    point = CurvePoint("greedy", 1, "all", 2, 1, 0.5, 0.1, 0.9, 10.0, 1.0, 0.0, 0.5, False)
    report = EvalReport(
        config={"model": "m"},
        config_hash="abc",
        strategies=("greedy",),
        ns=(1,),
        total_problems=2,
        points=[point],
        pending_units=0,
    )
    started = provenance.begin("ttc-graph eval --dataset arithmetic")
    paths = write_report(report, tmp_path, started=started)
    written = json.loads(paths["json"].read_text())["provenance"]
    assert written["command"] == "ttc-graph eval --dataset arithmetic"
    assert written["commit"] == head()
    assert written["started"] == started["started"]
    assert "load_after" in written
    assert "finished" in written
    # The plot carries no software name or date: the same points, the same bytes.
    (tmp_path / "again").mkdir()
    again = write_report(report, tmp_path / "again", started=started)
    assert paths["plot"].read_bytes() == again["plot"].read_bytes()
    assert b"Software" not in paths["plot"].read_bytes()


class _InterruptedAt(ScriptedPolicy):
    """A scripted policy whose user presses Ctrl-C when the given question comes up."""

    def __init__(self, marker: str) -> None:
        super().__init__()
        self.marker = marker

    def sample(self, requests: Any, **kwargs: Any) -> Any:
        if any(self.marker in m.text for r in requests for m in r.messages):
            raise KeyboardInterrupt
        return super().sample(requests, **kwargs)


def test_a_resumed_evaluation_logs_every_call_that_stored_units(tmp_path: Path) -> None:
    def evaluation(limit: int) -> Any:
        return create_evaluation(
            dataset="arithmetic", strategies="majority", ns="2", limit=limit, out=tmp_path
        )

    first = evaluation(3)
    third_question = first.problems.problems[2].question
    try:
        with pytest.raises(KeyboardInterrupt):
            first.run(policy=_InterruptedAt(third_question), progress=False, concurrency=1)
    finally:
        first.close()
    second = evaluation(3)
    try:
        report = second.run(policy=ScriptedPolicy(), progress=False)
    finally:
        second.close()
    # The interrupted call logged the two problems it stored; the resumed one, the third.
    assert [r["units"] for r in report.runs] == [2, 1]
    assert report.stored_units == 3
    assert all(r["provenance"]["commit"] == head() for r in report.runs)
    assert report.runs[0]["provenance"]["finished"] <= report.runs[1]["provenance"]["started"]
    written = json.loads(write_report(report, tmp_path)["json"].read_text())
    assert [r["units"] for r in written["runs"]] == [2, 1]
    assert written["unlogged_units"] == 0
    # A call with nothing left to do logs nothing.
    again = evaluation(3)
    try:
        assert len(again.run(policy=ScriptedPolicy(), progress=False).runs) == 2
    finally:
        again.close()
