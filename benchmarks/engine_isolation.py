"""Does a vLLM engine in the same process slow the transformers policy? One process:

    OMP_NUM_THREADS=2 .venv-vllm/bin/python benchmarks/engine_isolation.py \
        --json benchmarks/results/engine-isolation-2026-12-05.json

The transformers bfloat16 policy samples the ``raw`` and ``beam_search`` workloads of
``vllm_bench.py`` (8 rows of 64 tokens; beam search in 3 steps of 32) alone, then
again after ``load_policy(engine="vllm")`` has started an engine in this process,
which binds threads for the whole process on CPU. ``vllm_bench.py`` measures each
engine in a process of its own because of what this shows.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from ttc_graph.evaluation import provenance  # noqa: E402

ENGINE = "transformers_bf16"
WORK = ("raw", "beam_search")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", required=True, type=Path)
    parser.add_argument("--reps", type=int, default=4)
    args = parser.parse_args()

    import torch
    from vllm_bench import measure, workloads

    from ttc_graph import load_policy

    record = provenance.begin()
    work = workloads(load_policy(device="cpu", dtype="bfloat16"), 8, 64)
    # vllm_bench's own measurement of these rows (it warms the raw row up first).
    rows = {f"{ENGINE}/{name}": work[name] for name in WORK}
    alone = measure(rows, args.reps)
    threads_alone = torch.get_num_threads()
    workloads(load_policy(engine="vllm", device="cpu"), 8, 64)["raw"](99)  # started, used once
    beside = measure(rows, args.reps)
    payload = {
        "workloads": "vllm_bench.py raw and beam_search, n=8, tokens=64, transformers bfloat16",
        "rows": {"alone": alone, "vllm_loaded": beside},
        "torch_threads": {"alone": threads_alone, "vllm_loaded": torch.get_num_threads()},
        "provenance": provenance.finish(record),
    }
    args.json.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    for when, measured in payload["rows"].items():
        print(when, {name: row["tokens_per_s"] for name, row in measured.items()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
