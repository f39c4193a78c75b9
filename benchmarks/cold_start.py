"""Cold start: how long a new process takes to answer the CLI and to load the policy.

    python benchmarks/cold_start.py              # 5 fresh processes per row
    python benchmarks/cold_start.py --repeats 1  # a quick look

Every row starts a new Python process, as a user's command does, with the model
cache already filled (the first conversion of the GGUF is not what is measured;
the script loads the policy once, untimed, before the rows). Rows:

- ``python``: the interpreter alone (``python -c pass``), the floor every row pays;
- ``help``: ``ttc-graph --help`` (as ``python -m ttc_graph --help``);
- ``refused``: a refused argument (``ttc-graph solve Q --strategy nope``), exit 2;
- ``policy``: ``from ttc_graph import load_policy; load_policy(device=...)`` until the
  model is ready, with the time to import torch, transformers and LangChain and to
  load the tokenizer and weights measured inside the process. Its goal is judged on
  ``ready_seconds``, from starting the process to the ready model; ``seconds`` also
  counts the process's exit (about 1.2 s on a 2-core machine, mostly the interpreter's
  final garbage collection of the half-million objects those libraries leave).

Goals (issue #15): ``help`` and ``refused`` <= 0.5 s, ``policy`` ready <= 3 s. Medians of
wall and CPU seconds (the child's user + system time: less sensitive to a busy
machine than wall time) go to stdout and, with the machine's load average, to
``benchmarks/results/<date>-<machine>-cold-start.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from measure import REPO, machine, machine_slug, median

from ttc_graph.evaluation import provenance

GOALS = {"help": 0.5, "refused": 0.5, "policy": 3.0}
"""Wall-second goals of issue #15, item 9."""

POLICY_SCRIPT = """
import json, sys, time
start = time.perf_counter()
import torch
torch_done = time.perf_counter()
import transformers.modeling_utils
transformers_done = time.perf_counter()
import langchain_core.language_models.llms
langchain_done = time.perf_counter()
from ttc_graph import load_policy
policy = load_policy(device=sys.argv[1])
ready = time.perf_counter()
print(json.dumps({
    "ready_at": time.time(),
    "import_torch": torch_done - start,
    "import_transformers": transformers_done - torch_done,
    "import_langchain": langchain_done - transformers_done,
    "load_policy": ready - langchain_done,
}))
"""
"""Phases inside the ``policy`` process, from its first statement to a ready model.

``import_langchain`` is LangChain's ``BaseLLM`` (with LangSmith), the base class of
:class:`~ttc_graph.policy.HuggingFacePolicy`; result files written before it was a
phase of its own count it in ``load_policy``.
"""


def rows(device: str) -> dict[str, list[str]]:
    """Each row's command line."""
    python = sys.executable
    return {
        "python": [python, "-c", "pass"],
        "help": [python, "-m", "ttc_graph", "--help"],
        "refused": [python, "-m", "ttc_graph", "solve", "What is 2 + 3?", "--strategy", "nope"],
        "policy": [python, "-c", POLICY_SCRIPT, device],
    }


def run_once(name: str, command: list[str]) -> dict[str, Any]:
    """One fresh process: wall seconds, its CPU seconds, and its own phase timings."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started_at = time.time()  # the clock the child reads when its model is ready
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    expected = 2 if name == "refused" else 0
    if done.returncode != expected:
        raise SystemExit(
            f"error: the {name} row exited {done.returncode}, expected {expected}: "
            f"{done.stderr.strip()[-500:]}"
        )
    run: dict[str, Any] = {
        "seconds": wall,
        "cpu_seconds": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        "load_1m": os.getloadavg()[0],
    }
    if name == "policy":
        phases = json.loads(done.stdout.strip().splitlines()[-1])
        run["ready_seconds"] = phases.pop("ready_at") - started_at
        run["phases"] = phases
    return run


def summarize(runs: list[dict[str, Any]], baseline: float) -> dict[str, Any]:
    """Medians of one row, and its ratio to the interpreter's own start."""
    wall = median([r["seconds"] for r in runs])
    out: dict[str, Any] = {
        "median_seconds": wall,
        "median_cpu_seconds": median([r["cpu_seconds"] for r in runs]),
        "ratio_to_python": wall / baseline if baseline else float("nan"),
        "max_load_1m": max(r["load_1m"] for r in runs),
        "runs": runs,
    }
    ready = [r["ready_seconds"] for r in runs if "ready_seconds" in r]
    if ready:
        out["median_ready_seconds"] = median(ready)
    phases = [r["phases"] for r in runs if "phases" in r]
    if phases:
        out["median_phases"] = {k: median([p[k] for p in phases]) for k in phases[0]}
    return out


def main(argv: list[str] | None = None) -> int:
    """Time every row ``--repeats`` times, interleaved; print the table, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="fresh processes per row")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, or auto")
    parser.add_argument("--output", type=Path, help="JSON path (default benchmarks/results/)")
    args = parser.parse_args(argv)
    commands = rows(args.device)
    # Fill the model cache (a first conversion of the GGUF takes much longer) and
    # the OS file cache, untimed.
    run_once("policy", commands["policy"])
    import torch

    info = machine(torch.device(args.device if args.device != "auto" else "cpu"))
    command = " ".join(["python", "benchmarks/cold_start.py", *(argv or sys.argv[1:])])
    record = provenance.begin(command)
    started = dt.datetime.now(dt.UTC)
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in commands}
    for _ in range(args.repeats):
        # Interleaved, so a change in the machine's load hits every row alike.
        for name, command in commands.items():
            runs[name].append(run_once(name, command))
    baseline = median([r["seconds"] for r in runs["python"]])
    report: dict[str, Any] = {
        "date": started.isoformat(timespec="seconds"),
        "command": command,
        "machine": {**info, "load_average_end": list(os.getloadavg())},
        "goals_seconds": GOALS,
        "rows": {name: summarize(r, baseline) for name, r in runs.items()},
        "provenance": provenance.finish(record),
    }
    path = args.output or (
        REPO / "benchmarks" / "results" / f"{started:%Y-%m-%d}-{machine_slug(info)}-cold-start.json"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"{'row':<10}{'wall s':>8}{'ready s':>9}{'cpu s':>8}{'x python':>10}{'goal s':>8}  met")
    for name, row in report["rows"].items():
        goal = GOALS.get(name)
        judged = row.get("median_ready_seconds", row["median_seconds"])
        met = "" if goal is None else ("yes" if judged <= goal else "no")
        ready = f"{row['median_ready_seconds']:9.2f}" if "median_ready_seconds" in row else " " * 9
        print(
            f"{name:<10}{row['median_seconds']:8.2f}{ready}{row['median_cpu_seconds']:8.2f}"
            f"{row['ratio_to_python']:10.1f}{'' if goal is None else goal:>8}  {met}"
        )
    phases = report["rows"]["policy"].get("median_phases", {})
    print("policy phases (median s): " + ", ".join(f"{k} {v:.2f}" for k, v in phases.items()))
    print(f"load average: {info['load_average_start']} -> {report['machine']['load_average_end']}")
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
