"""Accuracy against N per level, re-selecting one stored best-of-N sample with each verifier.

Reads a ``ttc-graph eval`` results database that holds ``greedy`` and the shared
sample (``samples``), keeps the problems that have both, and for N = 1, 4, 16
reports coverage (any of the first N right), majority vote and weighted best-of-N
with each verifier of ``--verifiers`` (re-scored here, offline; default the
arithmetic and the grounded checker), per level and overall. Writes the JSON (with
its provenance) and, with ``--png``, a quick plot:

    python benchmarks/eval_summary.py docs/data/eval-arith-seed0.sqlite \\
        --json docs/data/eval-arith-seed0-summary.json

The docs' tables and plot of that JSON are drawn by ``make figures``
(``scripts/figures.py``), not by ``--png``.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from pathlib import Path
from typing import Any

from verifier_table import questions_of, reread, rescored

from ttc_graph.evaluation import provenance
from ttc_graph.evaluation.grading import grade
from ttc_graph.strategies.selection import select
from ttc_graph.verifiers import load_verifier

NS = (1, 4, 16)
VERIFIERS = ("arithmetic", "grounded")


def short_name(spec: str) -> str:
    """A verifier's name in the table: the spec, or a directory's base name."""
    return Path(spec).name if ("/" in spec or spec.startswith(".")) else spec


def ids_in(dataset: Path) -> set[str]:
    """The problem ids of a JSONL dataset, as the eval named them (``unique_id``, ``id``,
    else ``line-K``)."""
    from ttc_graph.evaluation.problems import load_problems

    return {p.id for p in load_problems(str(dataset)).problems}


def summarise(
    db_path: Path, specs: tuple[str, ...] = VERIFIERS, dataset: Path | None = None
) -> dict[str, Any]:
    """Per level and overall: greedy, coverage, majority and each verifier's weighted vote
    (with and without votes from the work) at N = 1, 4, 16. ``dataset``: keep only its
    problems, and read their questions from it (generated arithmetic ids need none)."""
    only = ids_in(dataset) if dataset is not None else None
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    rows = db.execute("SELECT strategy, record FROM results").fetchall()
    greedy = {r["problem_id"]: r for s, r in ((s, reread(json.loads(t))) for s, t in rows)
              if s == "greedy"}  # fmt: skip
    samples = [reread(json.loads(t)) for s, t in rows if s == "samples"]
    samples = [s for s in samples if s["problem_id"] in greedy]
    if only is not None:
        missing = only - {s["problem_id"] for s in samples}
        if missing:
            raise SystemExit(
                f"{len(missing)} problems of --dataset are not in {db_path}, "
                f"e.g. {sorted(missing)[0]}"
            )
        samples = [s for s in samples if s["problem_id"] in only]
    questions = questions_of(samples, dataset)
    (model,) = {json.loads(c)["model"] for (c,) in db.execute("SELECT config FROM configs")}
    # The policy's id is enough: these verifiers read text, not the policy's states.
    verifiers = {short_name(spec): load_verifier(spec, policy=model) for spec in specs}
    out: dict[str, Any] = {
        "db": str(db_path),
        "verifiers": {short_name(spec): spec for spec in specs},
        "problems": len(samples),
        "levels": {},
    }
    for level in [*sorted({s["level"] for s in samples}), "all"]:
        chosen = [s for s in samples if level == "all" or s["level"] == level]
        right = {s["problem_id"]: [grade(c["answer"], s["reference"]) for c in s["candidates"]]
                 for s in chosen}  # fmt: skip
        k = len(chosen)
        row: dict[str, Any] = {
            "problems": k,
            "greedy": sum(greedy[s["problem_id"]]["correct"] for s in chosen) / k,
            "greedy_tokens": sum(
                greedy[s["problem_id"]]["usage"]["completion_tokens"] for s in chosen
            )
            / k,
        }
        for n in NS:
            row[f"coverage@{n}"] = sum(any(right[s["problem_id"]][:n]) for s in chosen) / k
            row[f"majority@{n}"] = (
                sum(right[s["problem_id"]][select(s["candidates"][:n], "majority")] for s in chosen)
                / k
            )
            row[f"tokens@{n}"] = (
                sum(sum(c["completion_tokens"] for c in s["candidates"][:n]) for s in chosen) / k
            )
            for name, verifier in verifiers.items():
                hits = plain = 0
                for s in chosen:
                    scored = rescored(verifier, questions[s["problem_id"]], s["candidates"][:n])
                    hits += right[s["problem_id"]][select(scored, "weighted")]
                    # The same vote on the scores alone, as before votes from the work.
                    unvoted = [{**c, "support": {}} for c in scored]
                    plain += right[s["problem_id"]][select(unvoted, "weighted")]
                row[f"weighted[{name}]@{n}"] = hits / k
                row[f"weighted[{name}, no votes]@{n}"] = plain / k
        out["levels"][level] = row
    return out


def plot(summary: dict[str, Any], png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    levels = list(summary["levels"])
    fig, axes = plt.subplots(1, len(levels), figsize=(4.2 * len(levels), 3.6), sharey=True)
    for ax, level in zip(axes, levels, strict=True):
        row = summary["levels"][level]
        lines = [("coverage", "coverage (pass@N)", ":")]
        lines += [(f"weighted[{v}]", f"weighted, {v}", "-") for v in summary["verifiers"]]
        lines += [("majority", "majority vote", "-.")]
        for key, label, style in lines:
            ax.plot(NS, [row[f"{key}@{n}"] for n in NS], style, marker="o", label=label)
        ax.axhline(row["greedy"], color="grey", lw=1, label="greedy")
        ax.set_xscale("log", base=2)
        ax.set_xticks(NS, [str(n) for n in NS])
        ax.set_title(f"level {level} ({row['problems']} problems)")
        ax.set_xlabel("N (samples)")
    axes[0].set_ylabel("accuracy")
    axes[-1].legend(fontsize=7)
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=110, metadata={"Software": None})  # same summary, same bytes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("db", type=Path)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--png", type=Path)
    parser.add_argument(
        "--verifiers",
        default=",".join(VERIFIERS),
        help="comma-separated verifier specs (names or trained-verifier directories)",
    )
    parser.add_argument(
        "--dataset", type=Path, help="only the problems this JSONL lists (and their questions)"
    )
    args = parser.parse_args()
    record = provenance.begin()
    summary = summarise(args.db, tuple(v for v in args.verifiers.split(",") if v), args.dataset)
    for level, row in summary["levels"].items():
        print(level, {k: round(v, 3) for k, v in row.items()})
    summary["provenance"] = provenance.finish(record)
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1) + "\n")
    if args.png:
        plot(summary, args.png)
    return 0


if __name__ == "__main__":
    sys.exit(main())
