"""How long ``langgraph dev`` takes to serve the strategies, timed through its own test.

    python benchmarks/langgraph_dev_time.py --json docs/data/langgraph-dev-time.json

Runs ``tests/integration/test_langgraph_server.py`` once with pytest's per-phase
durations: the setup of the first test that needs the server is the time from
``langgraph dev --no-reload`` to its first ``/ok`` (the module fixture starts it),
the calls are the tests' runs against it, and the last teardown stops it. The
pytest output is kept in the JSON as it was printed.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ttc_graph.evaluation import provenance  # noqa: E402

TEST = "tests/integration/test_langgraph_server.py"
# pytest --durations=0 -vv: "12.34s setup    tests/...::test_name"
DURATION = re.compile(r"^([\d.]+)s (setup|call|teardown)\s+\S+::(\w+)", re.MULTILINE)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", required=True, type=Path)
    args = parser.parse_args()
    record = provenance.begin()
    command = [sys.executable, "-m", "pytest", TEST, "-p", "no:randomly", "-vv"]
    command += ["--durations=0", "--durations-min=0", "-p", "no:cacheprovider"]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-4000:] + done.stderr[-2000:])
        return 1
    phases = [
        {"test": test, "phase": phase, "seconds": float(seconds)}
        for seconds, phase, test in DURATION.findall(done.stdout)
    ]
    payload = {
        "command": " ".join(["pytest", *command[3:]]),
        "phases": phases,
        "pytest_output": done.stdout,
        "provenance": provenance.finish(record),
    }
    args.json.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    for p in phases:
        print(f"{p['seconds']:8.2f}s {p['phase']:8} {p['test']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
