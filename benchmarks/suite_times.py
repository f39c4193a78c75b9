"""Wall times of the README's test commands, with their pytest summaries.

    python benchmarks/suite_times.py --json docs/data/suite-times.json

Runs ``make test-fast`` and then ``make test`` from this checkout's installed
environment (the set-up steps find everything in place), one after the other, and
records each command's wall time, exit status, the pytest summary line and the
slowest tests, with the provenance of the run. Measure on a quiet machine: the
suite uses both cores.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ttc_graph.evaluation import provenance  # noqa: E402

TARGETS = {"test-fast": 60.0, "test": 300.0}
"""Goals in seconds (issue 25)."""
SUMMARY = re.compile(r"^=*\s*(\d+ (?:passed|failed).*) in ([\d.]+)s", re.M)


def run(target: str) -> dict[str, Any]:
    """One ``make`` target: wall seconds, exit status, pytest's summary and slowest tests."""
    started = time.perf_counter()
    done = subprocess.run(["make", target], cwd=REPO, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    output = done.stdout + done.stderr
    found = SUMMARY.findall(output)
    slowest = re.findall(r"^([\d.]+)s (call|setup|teardown)\s+(\S+)$", output, re.M)
    return {
        "command": f"make {target}",
        "returncode": done.returncode,
        "wall_seconds": round(seconds, 1),
        "goal_seconds": TARGETS[target],
        "pytest_summary": found[-1][0] if found else None,
        "pytest_seconds": float(found[-1][1]) if found else None,
        "slowest": [{"seconds": float(s), "phase": p, "test": t} for s, p, t in slowest[:10]],
        "output_tail": output[-3000:],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", required=True, type=Path, help="where to write the figures")
    args = parser.parse_args()
    record = provenance.begin()
    rows = {target: run(target) for target in TARGETS}
    payload = {"rows": rows, "provenance": provenance.finish(record)}
    args.json.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    for target, row in rows.items():
        print(f"make {target}: {row['wall_seconds']} s, {row['pytest_summary']}")
    return 0 if all(r["returncode"] == 0 for r in rows.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
