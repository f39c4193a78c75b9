"""``ttc-graph solve``: answer one question with a strategy, print answer and usage."""

from __future__ import annotations

import argparse
import codecs
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from ttc_graph.cli.options import (
    add_engine_option,
    add_run_options,
    add_trust_remote_code,
    add_verifier_options,
    given_options,
    run_options,
    strategy_help,
    verifier_choice,
)
from ttc_graph.errors import InputError
from ttc_graph.strategies.registry import SPECS, get_spec

if TYPE_CHECKING:
    from ttc_graph.strategies.options import SearchConfig

SAMPLE_QUESTION = "Tom has 12 apples and buys 30 more. How many apples does he have now?"


def register(sub: Any) -> None:
    """Add the ``solve`` subcommand."""
    p = sub.add_parser("solve", help="answer a question with a test-time compute strategy")
    p.add_argument(
        "question",
        nargs="?",
        default=None,
        help="the problem (default: a sample); '-' reads it from stdin",
    )
    p.add_argument(
        "--file",
        type=Path,
        default=None,
        help="read the problem from this UTF-8 text file (for questions too long for the "
        "command line)",
    )
    p.add_argument(
        "--on-long-input",
        choices=("error", "truncate"),
        default="error",
        help="a question longer than the model's context: refuse it (default), or cut its "
        "middle to fit",
    )
    p.add_argument(
        "--strategy",
        choices=tuple(SPECS),
        default="greedy",
        help=strategy_help() + " (default greedy)",
    )
    p.add_argument("--model", default=None, help="hub id, local dir or .gguf (default: embedded)")
    add_verifier_options(p, what="scores the candidates")
    add_trust_remote_code(p)
    p.add_argument("--device", default=None, help="cpu | cuda | cuda:N (default: auto)")
    add_engine_option(p)
    p.add_argument("--trace", type=Path, default=None, help="save the search trace as JSON")
    p.add_argument("--html", type=Path, default=None, help="write the search-tree viewer HTML")
    p.add_argument("--json", action="store_true", help="print the full result as JSON")
    p.add_argument("--stream", action="store_true", help="print search events as they happen")
    p.add_argument(
        "--compare",
        action="store_true",
        help="also answer greedily (one sample) and print both side by side with their cost",
    )
    add_run_options(p)
    p.set_defaults(func=run)


def _check(args: argparse.Namespace) -> SearchConfig:
    """Reject bad input before the model is loaded (every check that needs no model);
    returns the run's options, resolved."""
    from ttc_graph.outputs import check_distinct, check_output_path

    if args.question is not None and args.file is not None:
        raise InputError("Give the question as an argument, '-' (stdin) or --file, not two.")
    if args.question is not None and args.question != "-" and not args.question.strip():
        raise InputError("The question is empty; pass the problem text in quotes.")
    # Checked exactly as the graph will check them: types, limits, how they combine.
    options = run_options(args.strategy, given_options(args))
    cfg = get_spec(args.strategy).check(
        options, verifier=verifier_choice(args, args.strategy) is not None
    )
    # Outputs are checked now: a search is never run only to fail at the end.
    check_distinct([("--trace", args.trace), ("--html", args.html)])
    if args.trace is not None:
        check_output_path(args.trace, example="trace.json")
    if args.html is not None:
        check_output_path(args.html, example="tree.html")
    return cfg


def read_question(args: argparse.Namespace) -> str:
    """The question from the argument, stdin (``-``) or ``--file`` (the sample if none)."""
    from ttc_graph.limits import MAX_QUESTION_BYTES

    if args.file is not None:
        source, name = args.file, str(args.file)
        if not source.is_file():
            raise InputError(f"--file {source} does not exist or is not a regular file.")
        try:
            with source.open("rb") as fh:
                data = fh.read(MAX_QUESTION_BYTES + 1)
        except OSError as exc:
            raise InputError(f"Cannot read --file {source}: {exc.strerror or exc}.") from exc
    elif args.question == "-":
        name = "stdin"
        data = sys.stdin.buffer.read(MAX_QUESTION_BYTES + 1)
    else:
        return args.question or SAMPLE_QUESTION
    if len(data) > MAX_QUESTION_BYTES:
        raise InputError(
            f"The question from {name} is over {MAX_QUESTION_BYTES // 2**20} MiB, far more than "
            "any model's context; is it the right input?"
        )
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError(
            f"The question from {name} is not UTF-8 text (byte 0x{data[exc.start]:02x} on "
            f"line {line}); save it as UTF-8."
        ) from exc
    if not text.strip():
        raise InputError(f"The question from {name} is empty.")
    return text


def run(args: argparse.Namespace) -> int:
    """Run one strategy on one question."""
    cfg = _check(args)
    context = run_options(args.strategy, given_options(args))
    question = read_question(args)
    from ttc_graph.policy import load_policy
    from ttc_graph.strategies import build_strategy

    started = time.perf_counter()
    policy = load_policy(
        args.model,
        engine=args.engine,
        device=args.device,
        dtype=args.dtype,
        on_long_input=args.on_long_input,
    )
    load_seconds = time.perf_counter() - started
    verifier_spec = verifier_choice(args, args.strategy)
    verifier = None
    if verifier_spec:
        from ttc_graph.verifiers import load_verifier

        options = {"trust_remote_code": True} if args.trust_remote_code else {}
        verifier = load_verifier(verifier_spec, policy=policy, **options)
    graph = build_strategy(args.strategy, policy=policy, verifier=verifier)
    baseline = None
    if args.compare:
        # The same model, prompt and token limit, one greedy sample: what search adds.
        greedy = build_strategy("greedy", policy=policy)
        baseline = dict(
            greedy.invoke({"question": question}, context={"max_new_tokens": cfg.max_new_tokens})
        )
    result = _invoke(graph, question, context, stream=args.stream)
    # The answer is printed before any file is written: a failed write must never
    # cost the result of a finished search.
    if args.json:
        # JSON escapes every control character, so the raw text is safe to print.
        json.dump(
            {**result, "greedy": baseline} if baseline else result,
            sys.stdout,
            indent=2,
            default=str,
        )
        print()
    else:
        _print_result(args, cfg, question, result, baseline, policy.model_id, load_seconds)
    sys.stdout.flush()
    if args.trace is not None or args.html is not None:
        # With --json, stdout holds only the JSON document.
        _write_views(result, args.trace, args.html, notes=sys.stderr if args.json else sys.stdout)
    return 0


def _print_result(
    args: argparse.Namespace,
    cfg: SearchConfig,
    question: str,
    result: dict[str, Any],
    baseline: dict[str, Any] | None,
    model_id: str | None,
    load_seconds: float,
) -> None:
    from ttc_graph.escape import terminal_safe as safe

    usage = result["usage"]
    print(f"Question: {safe(question)}")
    print(f"Strategy: {args.strategy} (model: {safe(model_id)})")
    print(f"Solution:\n{safe((result.get('solution') or '').strip())}\n")
    print(f"Answer: {safe(result.get('answer'), newlines=False)}")
    print(
        f"Usage: {usage['completion_tokens']} tokens generated, {usage['prompt_tokens']} prompt "
        f"tokens, {usage['policy_calls']} policy calls, {usage['verifier_calls']} verifier calls, "
        f"{usage['seconds']:.1f} s search (+{load_seconds:.1f} s model load)"
    )
    if baseline is not None:
        print()
        print(_side_by_side([("greedy", baseline), (_label(cfg), result)]))


def _label(cfg: SearchConfig) -> str:
    spec = get_spec(cfg.strategy)
    if spec.steps:
        return f"{cfg.strategy} N={cfg.n} width={cfg.beam_width}"
    return f"{cfg.strategy} N={cfg.n}" if spec.takes_n else cfg.strategy


def _side_by_side(rows: list[tuple[str, dict[str, Any]]]) -> str:
    """A small table: each run's answer, tokens generated and search seconds."""
    lines = [f"{'':<28} {'answer':>12} {'tokens':>8} {'seconds':>8}"]
    from ttc_graph.escape import terminal_safe

    for name, res in rows:
        answer = terminal_safe(res.get("answer"), newlines=False)
        answer = answer if len(answer) <= 12 else answer[:11] + "…"
        u = res["usage"]
        lines.append(f"{name:<28} {answer:>12} {u['completion_tokens']:>8} {u['seconds']:>8.1f}")
    return "\n".join(lines)


def _invoke(graph: Any, question: str, context: dict[str, Any], *, stream: bool) -> dict[str, Any]:
    from ttc_graph.escape import terminal_safe

    if not stream:
        return dict(graph.invoke({"question": question}, context=context))
    result: dict[str, Any] = {}
    events = graph.stream({"question": question}, stream_mode=["custom", "values"], context=context)
    for mode, chunk in events:
        if mode == "custom":
            detail = {k: v for k, v in chunk.items() if k != "event"}
            # json.dumps escapes control characters (ensure_ascii), so model text in an
            # event cannot reach the terminal raw.
            event = terminal_safe(chunk["event"], newlines=False)
            print(f"[{event}] {json.dumps(detail, default=str)[:160]}", file=sys.stderr)
        else:
            result = dict(chunk)
    return result


def _write_views(
    result: dict[str, Any], trace: Path | None, html: Path | None, *, notes: TextIO
) -> None:
    """Write the trace and the viewer; each failure is reported after the other is tried."""
    from ttc_graph.errors import OutputWriteError
    from ttc_graph.visualization import render_html, save_trace

    failed: list[str] = []
    for path, write, what in (
        (trace, save_trace, "Trace"),
        (html, render_html, "Search tree"),
    ):
        if path is None:
            continue
        try:
            write(result, path)
        except (OSError, ValueError) as exc:
            failed.append(str(exc))
            continue
        print(f"{what} written to {path}", file=notes)
    if failed:
        raise OutputWriteError(
            " ".join(failed) + " The answer above is complete; only the file was not written."
        )
