"""Which system prompt should be the default: candidates measured on training data only.

    python benchmarks/prompt_study.py --out runs/prompts --json docs/data/prompt-study.json

For each candidate prompt and difficulty it runs ``ttc-graph eval``'s harness on the
arithmetic *training* seed (data seed 100, never a reported seed) with the shared
best-of-N sample at N=16, and reports per-sample accuracy (the share of all samples
whose answer is right), coverage@16 (any of the 16 right), majority@16, weighted@16
with the grounded checker, mean completion tokens and the share of samples cut off at
the token limit. Samples are stored as they are made (a rerun resumes). The few-shot
examples below use numbers and wording from no evaluation set, README, demo or test
(checked with grep against ../shared/data and the repository when they were written).

The rule that picks the default: the highest coverage@16 averaged over the
difficulties (what any selection or search can reach), ties broken by per-sample
accuracy. (Written down while the study ran, after the difficulty-1 rows of the
first two candidates were in; all of it is training data.)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ttc_graph.evaluation import provenance
from ttc_graph.evaluation.grading import grade
from ttc_graph.evaluation.metrics import SAMPLES_UNIT
from ttc_graph.evaluation.options import create_evaluation
from ttc_graph.prompts import DEFAULT_SYSTEM_PROMPT

INSTRUCTIONS = (
    "Solve the math problem step by step. Put a blank line between steps. Write each "
    "calculation as an equation with the numbers from the problem and its result. "
    "Finish with the sentence: The final answer is $\\boxed{ANSWER}$."
)
TWO_STEP_EXAMPLE = (
    "Problem: A greenhouse has 14 seedlings. The gardener plants 9 more, then gives 6 "
    "away. How many seedlings are in the greenhouse?\n"
    "Solution:\n14 + 9 = 23 seedlings after planting.\n\n"
    "23 - 6 = 17 seedlings are left.\n\n"
    "The final answer is $\\boxed{17}$."
)
ONE_STEP_EXAMPLE = (
    "Problem: A ferry makes 8 trips a day with 12 kites on each trip. How many kites does "
    "it carry in a day?\n"
    "Solution:\n8 × 12 = 96 kites.\n\n"
    "The final answer is $\\boxed{96}$."
)
CANDIDATES = {
    "neutral": INSTRUCTIONS,
    "one-example": f"{INSTRUCTIONS}\n\nExample.\n{TWO_STEP_EXAMPLE}",
    "two-examples": (
        f"{INSTRUCTIONS}\n\nExample 1.\n{ONE_STEP_EXAMPLE}\n\nExample 2.\n{TWO_STEP_EXAMPLE}"
    ),
}
"""The candidate prompts, by name. ``neutral`` was the default before this study."""

TRAINING_SEED = 100
"""The arithmetic training seed: every rule, prompt and fit of the project is chosen on it."""


def measure(name: str, prompt: str, difficulty: int, args: argparse.Namespace) -> dict[str, Any]:
    """One candidate on one difficulty: run (or resume) the sample, then summarise it."""
    evaluation = create_evaluation(
        dataset="arithmetic",
        strategies="coverage,majority,weighted",
        ns=(1, 4, 16),
        out=Path(args.out) / f"{name}-d{difficulty}",
        limit=args.limit,
        difficulty=difficulty,
        data_seed=TRAINING_SEED,
        max_new_tokens=args.max_new_tokens,
        dtype=args.dtype,
        verifier="grounded",
        options={"system_prompt": prompt},
    )
    try:
        evaluation.run(concurrency=args.concurrency, progress=not args.quiet)
        report = evaluation.report()
        problems = {p.id: p for p in evaluation.problems.problems}
        samples = [
            (c, problems[r.problem_id])
            for r in evaluation.store.results(evaluation.config_hash)
            if r.strategy == SAMPLES_UNIT
            for c in r.record["candidates"]
        ]
    finally:
        evaluation.close()
    at = {(p.strategy, p.n): p.accuracy for p in report.overall()}
    return {
        "prompt": name,
        "difficulty": difficulty,
        "problems": report.total_problems,
        "samples": len(samples),
        "per_sample_accuracy": sum(grade(c["answer"], p.answer) for c, p in samples)
        / max(1, len(samples)),
        "coverage@16": at.get(("coverage", 16)),
        "coverage@4": at.get(("coverage", 4)),
        "majority@16": at.get(("majority", 16)),
        "weighted@16": at.get(("weighted", 16)),
        "mean_completion_tokens": sum(c["completion_tokens"] for c, _ in samples)
        / max(1, len(samples)),
        "cut_off_share": sum(c["finish_reason"] == "length" for c, _ in samples)
        / max(1, len(samples)),
        "config_hash": report.config_hash,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/prompts", help="where the samples are stored")
    parser.add_argument("--json", type=Path, default=None, help="write the table here")
    parser.add_argument("--limit", type=int, default=30, help="problems per difficulty")
    parser.add_argument("--difficulty", default="1,2", help="levels, e.g. 1,2")
    parser.add_argument("--max-new-tokens", type=int, default=192)
    parser.add_argument("--dtype", default="bfloat16", help="policy precision (speed only)")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--only", default=None, help="comma-separated candidate names")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    started = provenance.begin()
    names = args.only.split(",") if args.only else list(CANDIDATES)
    rows = [
        measure(name, CANDIDATES[name], int(level), args)
        for level in args.difficulty.split(",")
        for name in names
    ]
    for row in rows:
        print(
            f"{row['prompt']:<14} d{row['difficulty']}  per-sample "
            f"{row['per_sample_accuracy']:.3f}  coverage@16 {row['coverage@16']:.3f}  "
            f"weighted@16 {row['weighted@16']:.3f}  majority@16 {row['majority@16']:.3f}  "
            f"tokens {row['mean_completion_tokens']:.0f}  cut off {row['cut_off_share']:.2f}"
        )
    if args.json is not None:
        data = {
            "rows": rows,
            "candidates": CANDIDATES,
            "default_before": DEFAULT_SYSTEM_PROMPT,
            "settings": {
                "data_seed": TRAINING_SEED,
                "limit": args.limit,
                "max_new_tokens": args.max_new_tokens,
                "dtype": args.dtype,
                "n": 16,
            },
            "provenance": provenance.finish(started),
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(data, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
