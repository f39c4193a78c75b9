"""Beam search without prefix reuse against the hand loop, each run back to back.

    python benchmarks/threads.py [--repeats 3]

`run.py` alternates variants, so torch runs on a different thread from one run to
the next (the policy's generation thread, the baseline's worker thread). On a CPU
build with OpenMP that alone can slow a run down at equal CPU time. This script
runs the graph (prefix reuse off, greedy, so both sides do the same work) several
times in a row, then the hand loop several times in a row, then the graph again,
and prints each run: the first two blocks compare the two without any thread
hand-over, the last one shows the graph after the baseline's thread has run.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from measure import in_worker
from run import Context, beam_pair, load_questions

from ttc_graph import load_policy
from ttc_graph.policy import HuggingFacePolicy
from ttc_graph.verifiers import ArithmeticVerifier


def timed_run(label: str, fn: Callable[[], Any]) -> tuple[float, float]:
    """Run once; print and return (wall, cpu) seconds."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"{label:<28} wall {wall:6.2f} s   cpu {cpu:6.2f} s", flush=True)
    return wall, cpu


def main() -> int:
    """Time the blocks and print the back-to-back ratio."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--step-tokens", type=int, default=32)
    args = parser.parse_args()

    policy = load_policy(device="cpu")
    plain = HuggingFacePolicy(pipeline=policy.pipeline, model_id=policy.model_id, prefix_cache_mb=0)
    ctx = Context(policy=policy, plain=plain, verifier=ArithmeticVerifier(), questions=[])
    question = load_questions(1)[0]
    build, hand = beam_pair(
        ctx,
        question,
        seed=0,
        n=8,
        beam_width=4,
        max_steps=args.steps,
        step_tokens=args.step_tokens,
        temperature=0.0,
    )
    graph = build(policy=plain)
    ours = [
        timed_run("graph, no reuse", lambda: graph.invoke({"question": question}))[0]
        for _ in range(args.repeats)
    ]
    theirs = [timed_run("hand loop", lambda: in_worker(hand))[0] for _ in range(args.repeats)]
    after = [
        timed_run("graph, after the hand loop", lambda: graph.invoke({"question": question}))[0]
        for _ in range(args.repeats)
    ]
    best = min(theirs)
    print(
        f"back to back: graph / hand loop = {min(ours) / best:.3f} (fastest runs); "
        f"graph after the hand loop's thread ran: {min(after) / best:.3f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
