"""``ttc-graph train-verifier``: fit a verifier on the policy's own samples of a dataset."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path
from typing import Any

from ttc_graph.cli.options import add_dtype_option, difficulty_list

EXAMPLE = (
    "example: ttc-graph train-verifier --dataset arithmetic --difficulty 1,2 --limit 100 "
    "--n 16 --out runs/smol-verifier"
)


def register(sub: Any) -> None:
    """Add the ``train-verifier`` subcommand."""
    from ttc_graph.training.labels import LABEL_MODES
    from ttc_graph.verifiers.trained.choices import DEFAULT_FEATURES, FEATURE_GROUPS, HEAD_KINDS

    p = sub.add_parser(
        "train-verifier",
        help="train a verifier on your policy's own samples (use it with --verifier DIR)",
        description="Sample N solutions per problem with the policy (stored and resumable, "
        "shared with `ttc-graph eval --strategies coverage`), label every step, validate "
        "with folds grouped by problem, fit a head and write DIR (verifier.json + "
        "head.safetensors).",
        epilog=EXAMPLE,
    )
    p.add_argument(
        "--dataset", required=True, help="arithmetic | PATH.jsonl (with reference answers)"
    )
    p.add_argument(
        "--difficulty",
        type=difficulty_list,
        default=[1],
        help="arithmetic set: operations per problem, 1-5, or a list like 1,2 (default 1)",
    )
    p.add_argument("--data-seed", type=int, default=0, help="arithmetic generator seed")
    p.add_argument("--limit", type=int, default=None, help="first K problems only")
    p.add_argument("--split", default="test", help="hub dataset split (default test)")
    p.add_argument("--model", default=None, help="hub id, local dir or .gguf (default: embedded)")
    p.add_argument("--device", default=None, help="cpu | cuda | cuda:N (default: auto)")
    add_dtype_option(p, default="float32, as ttc-graph eval")
    p.add_argument("--n", type=int, default=16, help="samples per problem, >= 2 (default 16)")
    p.add_argument("--max-new-tokens", type=int, default=64, help="per solution (default 64)")
    p.add_argument("--temperature", type=float, default=0.8)
    p.add_argument("--top-p", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0, help="sampling, fold and head seed (default 0)")
    p.add_argument(
        "--features",
        default=",".join(DEFAULT_FEATURES),
        help=f"feature groups the head reads, from {','.join(FEATURE_GROUPS)} "
        f"(default {','.join(DEFAULT_FEATURES)})",
    )
    p.add_argument("--head", choices=HEAD_KINDS, default="logistic", help="default logistic")
    p.add_argument(
        "--labels",
        choices=LABEL_MODES,
        default=LABEL_MODES[0],
        help="outcome: every step prefix gets its sample's outcome (default); steps: "
        "steps before the checker's first fault are good; rollouts / rollouts_hard: "
        "Math-Shepherd, the share of --rollouts completions from each step that reach the "
        "reference / whether any does (stored and resumable)",
    )
    p.add_argument(
        "--rollouts",
        type=int,
        default=None,
        help="rollout labels: completions per step prefix (default 4)",
    )
    p.add_argument(
        "--rollout-tokens",
        type=int,
        default=None,
        help="rollout labels: tokens per completion (default 64)",
    )
    p.add_argument("--l2", type=float, default=1e-2, help="L2 penalty (default 0.01)")
    p.add_argument(
        "--no-compare",
        action="store_true",
        help="validate only the chosen features, not every group (a checker-only head "
        "then needs no forward pass of the policy)",
    )
    p.add_argument("--folds", type=int, default=5, help="grouped validation folds (default 5)")
    p.add_argument(
        "--samples",
        type=Path,
        default=None,
        help="sample store directory (default DIR.samples beside --out); point it at an "
        "earlier `ttc-graph eval --strategies coverage --n N` run to reuse its samples",
    )
    p.add_argument(
        "--export-trl", type=Path, default=None, help="also write TRL PRMTrainer JSONL here"
    )
    p.add_argument(
        "--concurrency", type=int, default=1, help="problems sampled at once (default 1)"
    )
    p.add_argument("--no-progress", action="store_true", help="hide progress on stderr")
    p.add_argument("--out", type=Path, required=True, help="verifier directory to write")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Train, write the directory, print the validation table."""
    from rich.console import Console

    from ttc_graph.limits import (
        MAX_CONCURRENCY,
        check_count,
        check_finite,
        check_max_new_tokens,
        check_n_limit,
    )
    from ttc_graph.training import train_verifier

    # The shared limits, checked before any model loads (see ttc_graph.limits).
    check_count(
        args.concurrency,
        name="--concurrency",
        limit=MAX_CONCURRENCY,
        why="each problem in flight holds a thread and its samples in memory",
    )
    check_n_limit(args.n, name="--n")
    check_max_new_tokens(args.max_new_tokens, name="--max-new-tokens")
    check_finite(args.temperature, name="--temperature", low=0.0)
    argv = getattr(args, "argv", None)
    command = shlex.join(["ttc-graph", *argv]) if argv is not None else None
    result = train_verifier(
        dataset=args.dataset,
        out=args.out,
        model=args.model,
        n=args.n,
        limit=args.limit,
        difficulty=args.difficulty,
        data_seed=args.data_seed,
        split=args.split,
        max_new_tokens=args.max_new_tokens,
        temperature=args.temperature,
        top_p=args.top_p,
        seed=args.seed,
        features=args.features,
        head=args.head,
        labels=args.labels,
        rollouts=args.rollouts,
        rollout_tokens=args.rollout_tokens,
        l2=args.l2,
        folds=args.folds,
        compare=not args.no_compare,
        samples=args.samples,
        export_trl=args.export_trl,
        device=args.device,
        dtype=args.dtype,
        concurrency=args.concurrency,
        progress=not args.no_progress,
        console=Console(stderr=True, quiet=args.no_progress),
        command=command,
    )
    print_validation(result.card.validation, Console())
    print(f"verifier: {result.directory}")
    print(f"use it:   ttc-graph eval ... --verifier {result.directory}")
    return 0


def print_validation(validation: dict[str, Any], console: Any) -> None:
    """The validation table of a card: one row per feature set, then the baselines."""
    from rich.table import Table

    def pct(value: float | None) -> str:
        return "–" if value is None else f"{100 * value:.0f} %"

    def num(value: float | None) -> str:
        return "–" if value is None else f"{value:.3f}"

    table = Table(
        title=f"grouped {validation['folds']}-fold validation, "
        f"{validation['problems']} problems (chosen: {validation['chosen']})",
        caption="AUROC (final): right vs wrong final answers; AUROC (steps): every step vs "
        "its label; weighted: weighted best-of-N picks a right answer (out-of-fold scores)",
    )
    for name in ("features", "#", "AUROC (final)", "AUROC (steps)", "weighted"):
        table.add_column(name, justify="left" if name == "features" else "right")
    for row in validation["table"]:
        table.add_row(
            row["features"],
            str(row["n_features"]),
            num(row["auroc"]),
            num(row["step_auroc"]),
            pct(row["weighted"]),
        )
    fixed = validation["checker_fixed_weights"]
    table.add_row("checker, hand-set weights", "", num(fixed["auroc"]), "", pct(fixed["weighted"]))
    table.add_row("majority vote", "", "", "", pct(validation["majority"]))
    table.add_row("coverage (any right)", "", "", "", pct(validation["coverage"]))
    console.print(table)
    if "step_truth" in validation:
        by_position = Table(title="step AUROC by position", caption=validation["step_truth"])
        by_position.add_column("scorer")
        positions = list(fixed["step_auroc_by_position"])
        for at in positions:
            by_position.add_column(f"step {at}", justify="right")
        scorers = [(r["features"], r["step_auroc_by_position"]) for r in validation["table"]]
        scorers.append(("grounded checker", fixed["step_auroc_by_position"]))
        for name, row in scorers:
            by_position.add_row(name, *(num(row[at]) for at in positions))
        console.print(by_position)
