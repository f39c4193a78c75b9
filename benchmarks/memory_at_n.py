"""Peak resident memory of ``ttc-graph solve`` at N = 64, at the largest accepted N and at
a refused absurd N, each in a fresh process.

    python benchmarks/memory_at_n.py --json docs/data/memory-at-n.json

Majority vote with 8 new tokens per candidate, so that the run measures what N itself
costs (candidates, trace, chunked generation) rather than long texts. The peak is the
child's ``ru_maxrss``, read by a small wrapper process around each run.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ttc_graph.evaluation import provenance  # noqa: E402
from ttc_graph.limits import MAX_N  # noqa: E402

QUESTION = "Tom has 12 apples and buys 30 more. How many apples does he have now?"
SIZES = (64, MAX_N, 10**9)


def solve(n: int) -> dict[str, Any]:
    """One fresh ``ttc-graph solve`` at ``n``: wall seconds, exit status, peak memory."""
    command = [
        str(REPO / ".venv" / "bin" / "ttc-graph"), "solve", QUESTION, "--strategy", "majority",
        "--n", str(n), "--max-new-tokens", "8", "--seed", "0",
    ]  # fmt: skip
    # A wrapper process per run reads its only child's peak (ru_maxrss of the children
    # of this process would be the largest of all runs so far).
    wrapper = [
        sys.executable, "-c",
        "import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]).returncode; "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); "
        "sys.exit(r)",
    ]  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run(wrapper + command, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    peak_kib = int(done.stderr.strip().splitlines()[-1])
    return {
        "n": n,
        "returncode": done.returncode,
        "seconds": round(seconds, 1),
        "peak_rss_mib": round(peak_kib / 1024),
        "stderr_tail": done.stderr[-400:],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", required=True, type=Path)
    args = parser.parse_args()
    record = provenance.begin()
    rows = [solve(n) for n in SIZES]
    payload = {"question": QUESTION, "rows": rows, "provenance": provenance.finish(record)}
    args.json.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    for row in rows:
        print(row["n"], row["returncode"], row["seconds"], "s", row["peak_rss_mib"], "MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
