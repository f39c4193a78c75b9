"""``ttc-graph solve``: answer one question with a strategy, print answer and usage."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from ttc_graph.strategies import NEEDS_VERIFIER, STRATEGIES

SAMPLE_QUESTION = "Tom has 12 apples and buys 30 more. How many apples does he have now?"


def register(sub: Any) -> None:
    """Add the ``solve`` subcommand."""
    p = sub.add_parser("solve", help="answer a question with a test-time compute strategy")
    p.add_argument("question", nargs="?", default=None, help="the problem (default: a sample)")
    p.add_argument("--strategy", choices=STRATEGIES, default="greedy")
    p.add_argument("--model", default=None, help="hub id, local dir or .gguf (default: embedded)")
    p.add_argument(
        "--verifier",
        default=None,
        help="auto | grounded | arithmetic | judge | <trained verifier dir> | <PRM dir or hub "
        "id> (default: auto where one is needed: the head trained for the embedded model, "
        "else grounded)",
    )
    p.add_argument(
        "--trust-remote-code",
        action="store_true",
        help="allow a PRM's own modelling code (Qwen2.5-Math-PRM needs it)",
    )
    p.add_argument("--n", type=int, default=4, help="candidates / beams (default 4)")
    p.add_argument("--beam-width", type=int, default=2)
    p.add_argument("--max-steps", type=int, default=6)
    p.add_argument("--max-new-tokens", type=int, default=192, help="per solution, or per step")
    p.add_argument("--temperature", type=float, default=0.8)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--device", default=None, help="cpu | cuda | cuda:N (default: auto)")
    p.add_argument("--trace", type=Path, default=None, help="save the search trace as JSON")
    p.add_argument("--html", type=Path, default=None, help="write the search-tree viewer HTML")
    p.add_argument("--json", action="store_true", help="print the full result as JSON")
    p.add_argument("--stream", action="store_true", help="print search events as they happen")
    p.add_argument(
        "--compare",
        action="store_true",
        help="also answer greedily (one sample) and print both side by side with their cost",
    )
    p.set_defaults(func=run)


def _check(args: argparse.Namespace) -> None:
    """Reject bad input before the model is loaded."""
    if args.question is not None and not args.question.strip():
        raise ValueError("The question is empty; pass the problem text in quotes.")
    for name in ("n", "beam_width", "max_steps", "max_new_tokens"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1.")
    if args.temperature < 0:
        raise ValueError("--temperature must be >= 0 (0 is greedy).")
    if args.strategy in ("beam_search", "dvts") and args.n % min(args.beam_width, args.n):
        raise ValueError("--n must be a multiple of --beam-width for beam_search and dvts.")
    for path in (args.trace, args.html):
        if path is not None and not path.parent.resolve().is_dir():
            raise ValueError(f"Directory {path.parent} does not exist (for {path}).")


def run(args: argparse.Namespace) -> int:
    """Run one strategy on one question."""
    _check(args)
    from ttc_graph import load_policy
    from ttc_graph.policy import SamplingParams
    from ttc_graph.strategies import build_strategy

    question = args.question or SAMPLE_QUESTION
    started = time.perf_counter()
    policy = load_policy(args.model, device=args.device)
    load_seconds = time.perf_counter() - started
    verifier_spec = args.verifier or ("auto" if args.strategy in NEEDS_VERIFIER else None)
    verifier = None
    if verifier_spec:
        from ttc_graph.verifiers import load_verifier

        options = {"trust_remote_code": True} if args.trust_remote_code else {}
        verifier = load_verifier(verifier_spec, policy=policy, **options)
    graph = build_strategy(
        args.strategy,
        policy=policy,
        verifier=verifier,
        n=args.n,
        beam_width=args.beam_width,
        max_steps=args.max_steps,
        sampling=SamplingParams(temperature=args.temperature, max_new_tokens=args.max_new_tokens),
        seed=args.seed,
    )
    baseline = None
    if args.compare:
        # The same model, prompt and token limit, one greedy sample: what search adds.
        greedy = build_strategy(
            "greedy",
            policy=policy,
            sampling=SamplingParams(temperature=0.0, max_new_tokens=args.max_new_tokens),
            seed=args.seed,
        )
        baseline = dict(greedy.invoke({"question": question}))
    result = _invoke(graph, question, stream=args.stream)
    if args.trace is not None or args.html is not None:
        _write_views(result, args.trace, args.html)
    if args.json:
        json.dump(
            {**result, "greedy": baseline} if baseline else result,
            sys.stdout,
            indent=2,
            default=str,
        )
        print()
        return 0
    usage = result["usage"]
    print(f"Question: {question}")
    print(f"Strategy: {args.strategy} (model: {policy.model_id})")
    print(f"Solution:\n{(result.get('solution') or '').strip()}\n")
    print(f"Answer: {result.get('answer')}")
    print(
        f"Usage: {usage['completion_tokens']} tokens generated, {usage['prompt_tokens']} prompt "
        f"tokens, {usage['policy_calls']} policy calls, {usage['verifier_calls']} verifier calls, "
        f"{usage['seconds']:.1f} s search (+{load_seconds:.1f} s model load)"
    )
    if baseline is not None:
        print()
        print(_side_by_side([("greedy", baseline), (_label(args), result)]))
    return 0


def _label(args: argparse.Namespace) -> str:
    if args.strategy in ("beam_search", "dvts"):
        return f"{args.strategy} N={args.n} width={min(args.beam_width, args.n)}"
    return args.strategy if args.strategy == "greedy" else f"{args.strategy} N={args.n}"


def _side_by_side(rows: list[tuple[str, dict[str, Any]]]) -> str:
    """A small table: each run's answer, tokens generated and search seconds."""
    lines = [f"{'':<28} {'answer':>12} {'tokens':>8} {'seconds':>8}"]
    for name, res in rows:
        answer = str(res.get("answer"))
        answer = answer if len(answer) <= 12 else answer[:11] + "…"
        u = res["usage"]
        lines.append(f"{name:<28} {answer:>12} {u['completion_tokens']:>8} {u['seconds']:>8.1f}")
    return "\n".join(lines)


def _invoke(graph: Any, question: str, *, stream: bool) -> dict[str, Any]:
    if not stream:
        return dict(graph.invoke({"question": question}))
    result: dict[str, Any] = {}
    for mode, chunk in graph.stream({"question": question}, stream_mode=["custom", "values"]):
        if mode == "custom":
            detail = {k: v for k, v in chunk.items() if k != "event"}
            print(f"[{chunk['event']}] {json.dumps(detail, default=str)[:160]}", file=sys.stderr)
        else:
            result = dict(chunk)
    return result


def _write_views(result: dict[str, Any], trace: Path | None, html: Path | None) -> None:
    from ttc_graph.visualization import render_html, save_trace

    if trace is not None:
        save_trace(result, trace)
        print(f"Trace written to {trace}")
    if html is not None:
        render_html(result, html)
        print(f"Search tree written to {html}")
