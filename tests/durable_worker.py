"""A beam search with a SQLite checkpointer, run as its own process by
``test_durable_checkpoints.py`` so that the test can SIGKILL it mid-search.

    python tests/durable_worker.py start  --db D --thread T --status S --hold-on-call K
    python tests/durable_worker.py resume --db D --thread T --status S --out O

``start`` runs the search and, on the K-th policy call, writes ``holding`` to the
status file and waits there (it is killed while waiting; a bounded wait, so a
test that forgot it cannot leave it running). ``resume`` continues the thread
from its last checkpoint with ``invoke(None, config)``, then runs the same search
uninterrupted on a fresh thread, and writes both results and the policy-call
counts to ``--out`` as JSON. The status file holds one line per policy call, so
the test can see how far the first process got.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver

from ttc_graph import ArithmeticVerifier, create_beam_search, load_policy
from ttc_graph.policy.base import Completion, GenerationRequest, Policy, SamplingParams

QUESTION = "A box holds 6 eggs. How many eggs are in 4 boxes?"
STEPS = SamplingParams(temperature=0.8, max_new_tokens=6)
SEED = 12
HOLD_SECONDS = 300.0


class CountingPolicy:
    """Delegates to the real policy; logs each call and can stop on one of them."""

    def __init__(self, inner: Policy, status: Path, hold_on_call: int | None) -> None:
        self.inner = inner
        self.status = status
        self.hold_on_call = hold_on_call
        self.calls = 0

    def _tick(self) -> None:
        self.calls += 1
        with self.status.open("a") as fh:
            fh.write(f"call {self.calls}\n")
        if self.calls == self.hold_on_call:
            with self.status.open("a") as fh:
                fh.write("holding\n")
            # Killed here by the test; the bound only matters if the test never does.
            time.sleep(HOLD_SECONDS)
            sys.exit("durable_worker: held for 300 s and was never killed")

    def sample(
        self,
        requests: Sequence[GenerationRequest],
        *,
        n: int = 1,
        params: SamplingParams | None = None,
        config: RunnableConfig | None = None,
        first_index: int = 0,
    ) -> list[list[Completion]]:
        self._tick()
        inner: Any = self.inner
        return inner.sample(requests, n=n, params=params, config=config, first_index=first_index)


def build(policy: Any, checkpointer: Any) -> Any:
    return create_beam_search(
        policy=policy,
        verifier=ArithmeticVerifier(),
        n=2,
        beam_width=1,
        max_steps=3,
        sampling=STEPS,
        seed=SEED,
        checkpointer=checkpointer,
    )


def summary(result: dict[str, Any]) -> dict[str, Any]:
    """What must match between a resumed and an uninterrupted run (timings aside)."""
    usage = {k: v for k, v in result["usage"].items() if k != "seconds"}
    return {
        "answer": result["answer"],
        "solution": result["solution"],
        "candidates": [c["text"] for c in result["candidates"]],
        "usage": usage,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["start", "resume"])
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--thread", required=True)
    parser.add_argument("--status", type=Path, required=True)
    parser.add_argument("--hold-on-call", type=int, default=None)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    policy = CountingPolicy(load_policy(device="cpu"), args.status, args.hold_on_call)
    config: RunnableConfig = {"configurable": {"thread_id": args.thread}}
    # check_same_thread=False: LangGraph writes checkpoints from a background thread.
    conn = sqlite3.connect(args.db, check_same_thread=False)
    graph = build(policy, SqliteSaver(conn))
    if args.mode == "start":
        graph.invoke({"question": QUESTION}, config)
        sys.exit("durable_worker: the search finished before it was killed")

    saved = graph.get_state(config)
    before = {
        "next": list(saved.next),
        "iteration": saved.values.get("iteration"),
        "policy_calls": saved.values.get("usage", {}).get("policy_calls"),
        "history": sum(1 for _ in graph.get_state_history(config)),
    }
    resumed = graph.invoke(None, config)
    resume_calls = policy.calls
    straight = build(policy, InMemorySaver()).invoke(
        {"question": QUESTION}, {"configurable": {"thread_id": "straight"}}
    )
    report = {
        "before": before,
        "resumed": summary(resumed),
        "resume_calls": resume_calls,
        "straight": summary(straight),
        "straight_calls": policy.calls - resume_calls,
        "pid": os.getpid(),
    }
    assert args.out is not None, "resume needs --out"
    args.out.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
