"""``ttc-graph eval``: accuracy-vs-N curves of strategies on a dataset, resumable."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ttc_graph.cli.options import (
    AUTO_VERIFIER,
    VERIFIER_FORMS,
    add_engine_option,
    add_run_options,
    add_trust_remote_code,
    difficulty_list,
    given_options,
)
from ttc_graph.evaluation.metrics import COVERAGE
from ttc_graph.strategies.registry import SPECS

SHARED = ("seed", "temperature", "top_p", "max_new_tokens", "beam_width", "max_steps")
"""Run options that are arguments of :func:`~ttc_graph.evaluation.create_evaluation` (and
keys of its configuration hash); the others go in its ``options``."""

EXAMPLE = (
    "example: ttc-graph eval --dataset arithmetic --strategies greedy,majority,weighted "
    "--n 1,2,4,8 --limit 20 --max-new-tokens 96 --out runs/arith"
)


def register(sub: Any) -> None:
    """Add the ``eval`` subcommand."""
    p = sub.add_parser(
        "eval",
        help="accuracy vs N for strategies on a dataset (resumable)",
        description="Run strategies over a dataset at several N and report accuracy (Wilson "
        "95%% CI), tokens, calls and time; every finished problem is saved at once, so "
        "rerunning the same command resumes.",
        epilog=EXAMPLE,
    )
    p.add_argument(
        "--dataset",
        required=True,
        help="PATH.jsonl (MATH-500 or GSM8K form) | arithmetic | hub id org/name[:config]",
    )
    p.add_argument(
        "--strategies",
        default="greedy,majority",
        help=f"comma-separated, from {','.join(SPECS)}, and {COVERAGE} (pass@N: any "
        "of the first N samples right, the ceiling of every selection; default greedy,majority)",
    )
    p.add_argument("--n", default="1,2,4,8,16", help="increasing N list (default 1,2,4,8,16)")
    p.add_argument(
        "--budget-tokens-per-problem",
        default=None,
        metavar="K[,K...]",
        help="adaptive: mean completion-token budgets per problem, one curve point each "
        "(one pool of K x problems shared by the set; replayed from the shared sample)",
    )
    p.add_argument("--limit", type=int, default=None, help="first K problems only")
    p.add_argument(
        "--out", type=Path, default=Path("runs/eval"), help="output dir (default runs/eval)"
    )
    p.add_argument("--model", default=None, help="hub id, local dir or .gguf (default: embedded)")
    p.add_argument(
        "--verifier",
        default="auto",
        metavar="SPEC",
        help=f"{VERIFIER_FORMS}, for "
        f"{','.join(sorted(n for n, s in SPECS.items() if s.needs_verifier))} "
        f"(default {AUTO_VERIFIER})",
    )
    add_trust_remote_code(p)
    p.add_argument(
        "--difficulty",
        type=difficulty_list,
        default=[1],
        help="arithmetic set: operations per problem, 1-5, or a list like 1,2,3 (default 1)",
    )
    p.add_argument("--data-seed", type=int, default=0, help="arithmetic generator seed")
    p.add_argument("--split", default="test", help="hub dataset split (default test)")
    p.add_argument("--device", default=None, help="cpu | cuda | cuda:N (default: auto)")
    add_engine_option(
        p, dtype_default="float32, so that a stored run reproduces at any --concurrency"
    )
    p.add_argument(
        "--concurrency",
        type=int,
        default=1,
        help="problems solved at once; their generations share batches (same results, "
        "more throughput; default 1)",
    )
    p.add_argument(
        "--on-long-input",
        choices=("error", "truncate"),
        default="error",
        help="a problem longer than the model's context: record it as failed and go on "
        "(default), or cut its middle to fit",
    )
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    # --n is the N list above; an evaluation's seed is 0 unless given (reproducible).
    add_run_options(p, exclude=("n",))
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Validate everything, then run (or resume) the evaluation and write the report."""
    from rich.console import Console
    from rich.text import Text

    from ttc_graph.errors import TTCGraphError
    from ttc_graph.escape import terminal_safe
    from ttc_graph.evaluation import create_evaluation, print_report, write_report
    from ttc_graph.limits import MAX_CONCURRENCY, check_count

    # Every input check happens here, before a model is loaded.
    check_count(
        args.concurrency,
        name="--concurrency",
        limit=MAX_CONCURRENCY,
        why="each problem in flight holds a thread and its candidates in memory",
    )
    given = given_options(args, exclude=("n",))
    shared: dict[str, Any] = {name: given.pop(name) for name in SHARED if name in given}
    evaluation = create_evaluation(
        dataset=args.dataset,
        strategies=args.strategies,
        ns=args.n,
        out=args.out,
        limit=args.limit,
        model=args.model,
        verifier=args.verifier,
        difficulty=args.difficulty,
        data_seed=args.data_seed,
        split=args.split,
        device=args.device,
        engine=args.engine,
        dtype=args.dtype,
        on_long_input=args.on_long_input,
        trust_remote_code=args.trust_remote_code,
        budgets=args.budget_tokens_per_problem,
        options=given,
        **shared,
    )
    console = Console(stderr=True)
    interrupted = False
    try:
        pending, total = len(evaluation.pending()), len(evaluation.units())
        # Names come from the user's files: printed as plain, terminal-safe text.
        console.print(
            Text(
                terminal_safe(
                    f"{evaluation.problems.name}: {len(evaluation.problems.problems)} "
                    f"problems, {total} units, {total - pending} already done (config "
                    f"{evaluation.config_hash}, {evaluation.store.path})"
                )
            )
        )
        try:
            report = evaluation.run(
                concurrency=args.concurrency, progress=not args.no_progress, console=console
            )
        except KeyboardInterrupt:
            # Report what is stored so far; the rerun resumes from there.
            interrupted = True
            report = evaluation.report()
        title = (
            f"{evaluation.problems.name}, {evaluation.config['model']}, "
            f"{report.total_problems} problems"
        )
        paths = write_report(report, evaluation.out, title=title)
    finally:
        evaluation.close()
    print_report(report, Console())
    for kind, path in paths.items():
        print(terminal_safe(f"{kind}: {path}"))
    if interrupted:
        raise KeyboardInterrupt
    if report.stopped:
        raise TTCGraphError(
            f"Stopped early: {report.stopped}. Finished problems are saved; fix the cause "
            "and rerun the same command to resume."
        )
    if report.failed:
        raise TTCGraphError(
            f"{len(report.failed)} unit(s) failed (listed above, with reasons in "
            f"{paths['json'].name}); every other unit is saved. Rerun the same command to try "
            "the failed ones again."
        )
    return 0
