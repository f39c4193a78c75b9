"""Evaluation harness on the real embedded model: subset curves from one shared sample
(batched) equal direct runs, and a killed run resumes. (Per-N search and the report files,
on the scripted policy: tests/unit/test_eval_search_per_n.py.)"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from ttc_graph.evaluation import create_evaluation
from ttc_graph.evaluation.metrics import SAMPLES_UNIT, outcomes
from ttc_graph.policy import SamplingParams
from ttc_graph.strategies import build_strategy
from ttc_graph.verifiers import ArithmeticVerifier

SEED = 5


@pytest.fixture(scope="module")
def verifier() -> ArithmeticVerifier:
    return ArithmeticVerifier()


def test_subset_curves_equal_direct_runs_at_smaller_n(
    policy_fp32: Any, verifier: ArithmeticVerifier, tmp_path: Path
) -> None:
    # float32: a candidate sampled beside another problem's equals it sampled alone.
    policy = policy_fp32
    ev = create_evaluation(
        dataset="arithmetic",
        strategies="majority,weighted,best_of_n",
        ns=(1, 2, 4),
        limit=2,
        max_new_tokens=8,
        seed=SEED,
        verifier=verifier,
        out=tmp_path,
    )
    # Both problems at once: their samples share one batch, and must still equal the
    # serial direct runs below.
    report = ev.run(policy=policy, concurrency=2, progress=False)
    assert report.pending_units == 0
    stored = {r.problem_id: r for r in ev.store.results(ev.config_hash)}
    assert {r.strategy for r in stored.values()} == {SAMPLES_UNIT}, "one shared sample"
    assert all(len(r.record["candidates"]) == 4 for r in stored.values())
    by_unit = outcomes(ev.store.results(ev.config_hash), ev.problems.problems, ev.strategies, ev.ns)
    sampling = SamplingParams(temperature=0.8, max_new_tokens=8)
    for name, n in [("majority", 2), ("weighted", 2), ("best_of_n", 1)]:
        for problem, derived in zip(ev.problems.problems, by_unit[(name, n)], strict=True):
            graph = build_strategy(
                name,
                policy=policy,
                verifier=None if name == "majority" else verifier,
                n=n,
                sampling=sampling,
                seed=SEED,
            )
            direct = graph.invoke({"question": problem.question})
            sample = stored[problem.id].record["candidates"]
            assert [c["text"] for c in direct["candidates"]] == [c["text"] for c in sample[:n]]
            assert derived.answer == direct["answer"], (name, n, problem.id)
            assert derived.completion_tokens == direct["usage"]["completion_tokens"]
            assert derived.policy_calls == direct["usage"]["policy_calls"]
            assert derived.verifier_calls == direct["usage"]["verifier_calls"]
            assert derived.seconds_estimated
    # At the largest N the subset is the whole sample the best-of-N graph chose from.
    for problem, derived in zip(ev.problems.problems, by_unit[("best_of_n", 4)], strict=True):
        assert derived.answer == stored[problem.id].record["answer"]
        assert not derived.seconds_estimated
    points = {(p.strategy, p.n): p for p in report.overall()}
    assert set(points) == {(s, n) for s in ev.strategies for n in ev.ns}
    for key, p in points.items():
        rows = by_unit[key]
        assert p.problems == 2
        assert p.correct == sum(o.correct for o in rows)
        assert p.ci_low <= p.accuracy <= p.ci_high
    assert (
        points[("majority", 4)].mean_completion_tokens
        > points[("majority", 1)].mean_completion_tokens
    )
    ev.close()


def _cli() -> list[str]:
    script = Path(sys.executable).with_name("ttc-graph")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from ttc_graph.cli import main; sys.exit(main())"]


def _rows(db: Path) -> dict[tuple[str, int, str], tuple[str, float]]:
    with sqlite3.connect(db) as con:
        rows = con.execute("SELECT strategy, n, problem_id, record, created FROM results")
        return {(s, int(n), p): (rec, created) for s, n, p, rec, created in rows}


_RAN = re.compile(r"evaluation\.runner:(\w+) N=(\d+) (\S+): answer")


@pytest.mark.subprocess
def test_killed_run_resumes_without_losing_or_redoing_problems(tmp_path: Path) -> None:
    out = tmp_path / "run"
    db = out / "results.sqlite"
    cmd = [
        *_cli(),
        "-v",
        "eval",
        "--dataset",
        "arithmetic",
        "--strategies",
        "greedy,majority",
        "--n",
        "1,2",
        "--limit",
        "3",
        # Short answers: what is tested is the bookkeeping across a kill, and six
        # units of 16 tokens still leave the run mid-way when the first row lands.
        "--max-new-tokens",
        "16",
        "--out",
        str(out),
        "--no-progress",
    ]
    all_units = {
        (u, n, f"arith-d1-s0-{i}") for i in range(3) for u, n in [("greedy", 1), ("samples", 2)]
    }
    with (tmp_path / "first.log").open("w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            if db.exists() and _rows(db):
                break
            time.sleep(0.2)
        assert proc.poll() is None, (
            "the run ended before it could be killed: "
            + (tmp_path / "first.log").read_text()[-2000:]
        )
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    before = _rows(db)
    assert 1 <= len(before) < len(all_units), "killed mid-run, after >= 1 problem was stored"
    with sqlite3.connect(db) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    second = subprocess.run(cmd, capture_output=True, text=True, timeout=500, check=False)
    assert second.returncode == 0, second.stderr[-3000:]
    assert f"{len(before)} already done" in second.stderr
    ran = {(u, int(n), pid) for u, n, pid in _RAN.findall(second.stderr)}
    assert not ran & set(before), "finished problems were run again"
    after = _rows(db)
    assert set(after) == all_units
    assert ran == all_units - set(before)
    assert {k: after[k] for k in before} == before, "stored problems are untouched"
    curve = json.loads((out / "curve.json").read_text())
    assert {(p["strategy"], p["n"], p["problems"]) for p in curve["points"]} == {
        ("greedy", 1, 3),
        ("majority", 1, 3),
        ("majority", 2, 3),
    }
    assert "Accuracy vs N" in second.stdout
    # The killed call could not log itself; its units are counted as unlogged, the
    # resumed call's with its provenance.
    assert [r["units"] for r in curve["runs"]] == [len(all_units) - len(before)]
    assert "eval --dataset arithmetic" in curve["runs"][0]["provenance"]["command"]
    assert curve["unlogged_units"] == len(before)

    # Everything is done: a third run only reports, without loading the model.
    third = subprocess.run(cmd, capture_output=True, text=True, timeout=200, check=False)
    assert third.returncode == 0, third.stderr[-3000:]
    assert "6 already done" in third.stderr
    assert not _RAN.findall(third.stderr)
    assert "Loading weights" not in third.stderr
    assert _rows(db) == after


class _FailsOn:
    """The real policy, except that it raises for one question (a crash mid-run)."""

    def __init__(self, policy: Any, marker: str) -> None:
        self.policy, self.marker = policy, marker
        self.model_id = policy.model_id

    def sample(self, requests: Any, **kwargs: Any) -> Any:
        if any(self.marker in m.text for r in requests for m in r.messages):
            raise RuntimeError("device lost")
        return self.policy.sample(requests, **kwargs)

    async def asample(self, requests: Any, **kwargs: Any) -> Any:
        return self.sample(requests, **kwargs)


def test_a_failing_problem_is_named_and_the_others_are_kept(policy: Any, tmp_path: Path) -> None:
    ev = create_evaluation(
        dataset="arithmetic", strategies="greedy", limit=2, max_new_tokens=8, out=tmp_path
    )
    first, second = ev.problems.problems
    broken = _FailsOn(policy, second.question)
    # The failure is recorded with its reason and the run goes on (issue 13).
    report = ev.run(policy=broken, concurrency=2, progress=False)
    (failed,) = report.failed
    assert (failed.strategy, failed.n, failed.problem_id) == ("greedy", 1, second.id)
    assert "RuntimeError: device lost" in failed.error
    assert ev.store.done(ev.config_hash) == {("greedy", 1, first.id)}
    assert [u.problem.id for u in ev.pending()] == [second.id]
    ev.close()
