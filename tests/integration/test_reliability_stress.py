"""Stress: 64 questions through ``abatch`` with concurrency 8 on one policy.

Every result must belong to its question, no exception may escape, and memory
must stay bounded: the process's resident memory is sampled during the run, and
serving the second half of the questions may grow it by no more than the prompt
prefix cache is allowed to hold, plus a small margin. Figures go to
test-artifacts/stress.json (and, from a clean run, docs/reliability.md).
"""

from __future__ import annotations

import json
import resource
import threading
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from ttc_graph import create_best_of_n
from ttc_graph.evaluation import provenance
from ttc_graph.policy import SamplingParams

QUESTIONS = [f"What is {a} + {b}?" for a in range(8) for b in range(10, 18)]
MIB = 1024 * 1024


class RssSampler:
    """Samples this process's resident memory every few milliseconds in a thread."""

    def __init__(self, every_s: float = 0.02) -> None:
        self.every_s = every_s
        self.peak = 0
        self._process = psutil.Process()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._process.memory_info().rss)
            time.sleep(self.every_s)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._process.memory_info().rss)


@pytest.mark.stress
async def test_64_questions_through_abatch_with_concurrency_8(
    policy: Any, artifacts_dir: Path
) -> None:
    graph = create_best_of_n(
        policy=policy,
        n=2,
        selection="majority",
        sampling=SamplingParams(temperature=0.8, max_new_tokens=8),
        seed=0,
    )
    config = {"max_concurrency": 8}
    half = len(QUESTIONS) // 2
    process = psutil.Process()
    rss_start = process.memory_info().rss
    record = provenance.begin("python -m pytest tests/integration/test_reliability_stress.py")
    started = time.perf_counter()
    with RssSampler() as first:
        results = await graph.abatch([{"question": q} for q in QUESTIONS[:half]], config)
    rss_half = process.memory_info().rss
    with RssSampler() as second:
        results += await graph.abatch([{"question": q} for q in QUESTIONS[half:]], config)
    seconds = time.perf_counter() - started
    rss_end = process.memory_info().rss

    assert len(results) == len(QUESTIONS)
    for question, result in zip(QUESTIONS, results, strict=True):
        assert result["question_text"] == question, "a result came back for the wrong question"
        assert result["trace"]["root"]["text"] == question
        assert len(result["candidates"]) == 2
        assert result["solution"] in [c["text"] for c in result["candidates"]]
    # Spot-check that concurrency changed nothing: a question alone gives the same result.
    for i in (0, 37, 63):
        alone = await graph.ainvoke({"question": QUESTIONS[i]})
        assert [c["text"] for c in alone["candidates"]] == [
            c["text"] for c in results[i]["candidates"]
        ]

    growth_first = max(0, rss_half - rss_start)
    growth_second = max(0, rss_end - rss_half)
    figures = {
        "questions": len(QUESTIONS),
        "max_concurrency": 8,
        "n": 2,
        "max_new_tokens": 8,
        "seconds": round(seconds, 1),
        "completion_tokens": sum(r["usage"]["completion_tokens"] for r in results),
        "rss_start_mib": round(rss_start / MIB),
        "rss_peak_during_run_mib": round(max(first.peak, second.peak) / MIB),
        "rss_end_mib": round(rss_end / MIB),
        "rss_growth_first_half_mib": round(growth_first / MIB),
        "rss_growth_second_half_mib": round(growth_second / MIB),
        # ru_maxrss is in KiB on Linux: the peak of the whole test process.
        "process_peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        # In a full suite other tests share the process and the cores: docs/reliability.md
        # reports a run of this file alone.
        "provenance": provenance.finish(record),
    }
    (artifacts_dir / "stress.json").write_text(json.dumps(figures, indent=2) + "\n")
    print("stress figures:", json.dumps(figures))
    # Bounded: 32 more questions may only fill caches that have a size limit.
    cache = int(getattr(policy, "prefix_cache_mb", 0) * MIB)
    assert growth_second <= cache + 128 * MIB, figures
    # The first half also pages in the weights (about 540 MiB) if no test ran the model yet.
    assert max(first.peak, second.peak) - rss_start <= cache + 1024 * MIB, figures
