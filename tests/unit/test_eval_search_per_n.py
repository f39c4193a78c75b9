"""The evaluation harness on the scripted policy: a search strategy runs once per problem
and N, each stored result is what a direct run of the strategy gives, and the report's
CSV, JSON and plot agree. (Subset curves from one shared sample and a killed run resumed,
on the embedded model: tests/integration/test_eval_run.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scripted import ScriptedPolicy
from ttc_graph.evaluation import create_evaluation, write_report
from ttc_graph.evaluation.plot import plot_curve
from ttc_graph.policy import SamplingParams
from ttc_graph.strategies import build_strategy
from ttc_graph.verifiers import ArithmeticVerifier

SEED = 5


@pytest.fixture(scope="module")
def verifier() -> ArithmeticVerifier:
    return ArithmeticVerifier()


def test_search_runs_per_n_and_report_files_match_the_plot(
    verifier: ArithmeticVerifier, tmp_path: Path
) -> None:
    policy = ScriptedPolicy()
    ev = create_evaluation(
        dataset="arithmetic",
        strategies="greedy,beam_search",
        ns=(1, 2),
        limit=2,
        max_new_tokens=8,
        beam_width=2,
        max_steps=2,
        seed=SEED,
        verifier=verifier,
        out=tmp_path,
    )
    report = ev.run(policy=policy, verifier=verifier, progress=False)
    keys = sorted((r.strategy, r.n, r.problem_id) for r in ev.store.results(ev.config_hash))
    ids = [p.id for p in ev.problems.problems]
    assert keys == sorted(
        [("beam_search", n, pid) for n in (1, 2) for pid in ids]
        + [("greedy", 1, pid) for pid in ids]
    )
    # The stored N=2 result is what a direct beam search at N=2 gives.
    problem = ev.problems.problems[0]
    direct = build_strategy(
        "beam_search",
        policy=policy,
        verifier=verifier,
        n=2,
        beam_width=2,
        max_steps=2,
        sampling=SamplingParams(temperature=0.8, max_new_tokens=8),
        seed=SEED,
    ).invoke({"question": problem.question})
    record = next(
        r.record
        for r in ev.store.results(ev.config_hash)
        if (r.strategy, r.n, r.problem_id) == ("beam_search", 2, problem.id)
    )
    assert record["answer"] == direct["answer"]
    assert record["usage"]["completion_tokens"] == direct["usage"]["completion_tokens"]
    assert record["usage"]["verifier_calls"] == direct["usage"]["verifier_calls"] >= 1

    paths = write_report(report, tmp_path, title="per-N search")
    saved = json.loads(paths["json"].read_text())
    assert saved["config_hash"] == ev.config_hash
    csv_lines = paths["csv"].read_text().splitlines()
    assert csv_lines[0].startswith("strategy,n,level,problems,correct,accuracy,ci_low,ci_high")
    assert len(csv_lines) == 1 + len(saved["points"]) == 1 + 3
    fig = plot_curve(report.points)
    lines = {line.get_gid(): line for line in fig.axes[0].get_lines()}
    beam = [p for p in saved["points"] if p["strategy"] == "beam_search"]
    assert list(lines["beam_search"].get_xdata()) == [p["n"] for p in beam]
    assert list(lines["beam_search"].get_ydata()) == pytest.approx(
        [100 * p["accuracy"] for p in beam]
    )
    (greedy,) = [p for p in saved["points"] if p["strategy"] == "greedy"]
    assert lines["greedy"].get_linestyle() == "--"
    assert lines["greedy"].get_ydata()[0] == pytest.approx(100 * greedy["accuracy"])
    assert paths["plot"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ev.close()
