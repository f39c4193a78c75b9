"""Beam search without prefix reuse against the hand loop, each run back to back.

    python benchmarks/threads.py [--repeats 3] [--output PATH]

`run.py` alternates variants, so torch runs on a different thread from one run to
the next (the policy's generation thread, the baseline's worker thread). On a CPU
build with OpenMP that alone can slow a run down at equal CPU time. This script
runs the graph (prefix reuse off, greedy, so both sides do the same work) several
times in a row, then the hand loop several times in a row, then the graph again,
and prints each run: the first two blocks compare the two without any thread
hand-over, the last one shows the graph after the baseline's thread has run.

Every run goes to ``benchmarks/results/<date>-<machine>-threads.json`` (or
``--output``), with the machine, the commit and the settings, so the figures in
docs/performance.md can be checked against raw data.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from measure import REPO, in_worker, machine, machine_slug
from run import Context, beam_pair, load_questions

from ttc_graph import load_policy
from ttc_graph.evaluation import provenance
from ttc_graph.policy import HuggingFacePolicy
from ttc_graph.verifiers import ArithmeticVerifier


def timed_run(label: str, fn: Callable[[], Any]) -> dict[str, float]:
    """Run once; print and return its wall and CPU seconds."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"{label:<28} wall {wall:6.2f} s   cpu {cpu:6.2f} s", flush=True)
    return {"seconds": wall, "cpu_seconds": cpu, "load_1m": os.getloadavg()[0]}


def main(argv: list[str] | None = None) -> int:
    """Time the blocks, print the back-to-back ratio and write the JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--step-tokens", type=int, default=32)
    parser.add_argument("--output", type=Path, help="JSON path (default benchmarks/results/)")
    args = parser.parse_args(argv)

    question = load_questions(1)[0]  # before the model: missing data fails at once
    command = " ".join(["python", "benchmarks/threads.py", *(argv or sys.argv[1:])])
    record = provenance.begin(command)  # before the model loads: the load it starts from
    policy = load_policy(device="cpu")
    plain = HuggingFacePolicy(
        model=policy.model, tokenizer=policy.tokenizer, model_id=policy.model_id, prefix_cache_mb=0
    )
    ctx = Context(policy=policy, plain=plain, verifier=ArithmeticVerifier(), questions=[])
    settings = {"n": 8, "beam_width": 4, "max_steps": args.steps, "step_tokens": args.step_tokens}
    build, hand = beam_pair(ctx, question, seed=0, temperature=0.0, **settings)
    info = machine(policy.model.device)
    started = dt.datetime.now(dt.UTC)
    graph = build(policy=plain)
    ours = [
        timed_run("graph, no reuse", lambda: graph.invoke({"question": question}))
        for _ in range(args.repeats)
    ]
    theirs = [timed_run("hand loop", lambda: in_worker(hand)) for _ in range(args.repeats)]
    after = [
        timed_run("graph, after the hand loop", lambda: graph.invoke({"question": question}))
        for _ in range(args.repeats)
    ]
    best = min(r["seconds"] for r in theirs)
    back_to_back = min(r["seconds"] for r in ours) / best
    after_ratio = min(r["seconds"] for r in after) / best
    print(
        f"back to back: graph / hand loop = {back_to_back:.3f} (fastest runs); "
        f"graph after the hand loop's thread ran: {after_ratio:.3f}"
    )
    info["load_average_end"] = list(os.getloadavg())
    report = {
        "date": started.isoformat(timespec="seconds"),
        "command": command,
        "machine": info,
        "model": policy.model_id,
        "question": question,
        "settings": {**settings, "temperature": 0.0, "prefix_reuse": False},
        "repeats": args.repeats,
        "runs": {"graph": ours, "hand_loop": theirs, "graph_after_hand_loop": after},
        "back_to_back_ratio": back_to_back,
        "after_hand_loop_ratio": after_ratio,
        "seconds_total": (dt.datetime.now(dt.UTC) - started).total_seconds(),
        "provenance": provenance.finish(record),
    }
    path = args.output or (
        REPO / "benchmarks" / "results" / f"{started:%Y-%m-%d}-{machine_slug(info)}-threads.json"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
