"""The benchmark script runs end to end and its baselines do the work they claim.

Timings are not checked here (they belong to the benchmark's own report); what is
checked is that every section runs on the embedded model, writes its JSON, and
that at temperature 0 the hand-written beam-search loop and the graph generate
exactly the same number of tokens, so their time ratio compares equal work.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.subprocess
@pytest.mark.slow
def test_benchmark_runs_every_section_and_writes_json(tmp_path: Path, shared_data: Path) -> None:
    out = tmp_path / "bench.json"
    args = [
        "--repeats=1",
        # The smallest sizes that still exercise each comparison: N > 1 so prefix
        # reuse has rows to share, beam width < N so the search prunes, two
        # questions so graph.batch really batches.
        "--ns=1,2",
        "--max-new-tokens=8",
        "--beam-pairs=1",
        "--beam-n=4",
        "--beam-width=2",
        "--beam-steps=2",
        "--step-tokens=8",
        "--questions=2",
        f"--output={out}",
    ]
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "run.py"), *args],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.read_text())
    assert set(report["best_of_n"]["by_n"]) == {"1", "2"}
    for section in report["best_of_n"]["by_n"].values():
        assert set(section["variants"]) == {"ttc", "ttc_no_reuse", "raw"}
        assert all(v["median_seconds"] > 0 for v in section["variants"].values())
    greedy = report["beam_search_greedy"]
    assert greedy["temperature"] == 0
    assert greedy["same_work"], {k: v["runs"] for k, v in greedy["variants"].items()}
    assert report["batch"]["same_answers"], "batching must not change any answer"
    prefill = report["prefill"]
    assert (
        prefill["encoded_per_iteration_with_reuse"] < prefill["encoded_per_iteration_without_reuse"]
    )
    assert "speed-up of graph.batch" in proc.stdout
    assert "same tokens on both sides: True" in proc.stdout
