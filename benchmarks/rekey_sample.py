"""Carry a stored eval sample over to the grounded-verifier configuration, then resume it.

The held-out arithmetic sample of docs/evaluation.md was started on a lent H200
with a trained head as ``--verifier`` (its own configuration hash) and finished on
this machine's CPU with ``--verifier grounded``. The verifier only ranks
candidates; it does not change what is sampled. So the stored greedy answers and
shared samples are copied under the grounded configuration's hash, their
candidate scores recomputed with the grounded checker, and ``ttc-graph eval``
with that configuration then samples only the problems still missing:

    git show 7cb8dc5:docs/data/eval-arith-seed0-gpu.sqlite > /tmp/gpu.sqlite
    python benchmarks/rekey_sample.py /tmp/gpu.sqlite runs/arith-seed0
    OMP_NUM_THREADS=1 ttc-graph eval --dataset arithmetic --difficulty 1,2 --data-seed 0 \\
        --limit 200 --strategies greedy,majority,weighted,coverage --n 1,4,16 \\
        --max-new-tokens 64 --verifier grounded --concurrency 2 --out runs/arith-seed0
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys

from verifier_table import questions_of

from ttc_graph.evaluation.options import create_evaluation
from ttc_graph.verifiers.grounded import GroundedVerifier


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", help="results.sqlite holding the earlier sample")
    parser.add_argument("out", help="eval output directory of the grounded configuration")
    args = parser.parse_args()
    evaluation = create_evaluation(
        dataset="arithmetic", difficulty=[1, 2], data_seed=0, limit=200,
        strategies="greedy,majority,weighted,coverage", ns="1,4,16", max_new_tokens=64,
        verifier="grounded", out=args.out,
    )  # fmt: skip
    evaluation.close()
    source = sqlite3.connect(f"file:{args.source}?mode=ro", uri=True)
    rows = source.execute("SELECT strategy, n, problem_id, record, created FROM results").fetchall()
    records = [json.loads(row[3]) for row in rows]
    questions = questions_of(records, None)
    verifier = GroundedVerifier()
    target = sqlite3.connect(f"{args.out}/results.sqlite")
    for (strategy, n, problem_id, _, created), record in zip(rows, records, strict=True):
        if strategy == "samples":
            steps = [c["steps"] for c in record["candidates"]]
            question = questions[problem_id]
            scores = verifier.score(question, steps)
            step_scores = verifier.score_steps(question, steps)
            for c, score, per_step in zip(record["candidates"], scores, step_scores, strict=True):
                c["score"], c["step_scores"] = score, per_step
        target.execute(
            "INSERT INTO results VALUES (?, ?, ?, ?, ?, ?)",
            (evaluation.config_hash, strategy, n, problem_id, json.dumps(record), created),
        )
    target.commit()
    print(f"{len(rows)} records copied under {evaluation.config_hash}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
