"""Benchmark ttc-graph against raw transformers on the embedded model.

    python benchmarks/run.py            # full run (long on a CPU: use nohup)
    python benchmarks/run.py --quick    # a few minutes on a 2-core CPU

In one process, on one model with the same prompts and sampling settings, it times

1. best-of-N (majority vote, so no verifier cost) through ttc-graph against one
   raw ``generate(num_return_sequences=N, do_sample=True)``;
2. beam search through ttc-graph against a hand-written ``generate`` loop that
   does the same steps and scores with the same verifier;
3. 16 questions through ``graph.batch`` against one by one;
4. prefill work per beam-search iteration with and without prefix KV reuse.

Variants alternate order every repeat; medians are reported. The table goes to
stdout, everything measured to ``benchmarks/results/<date>-<machine>.json``.

The questions come from ``../shared/data`` (``gsm8k_train_500.jsonl``,
``math500.jsonl``); without them the script stops with a one-line error instead
of measuring something else.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from baselines import RawRun, chat_prompt, hand_beam_search, raw_best_of_n
from langchain_core.messages import HumanMessage
from measure import (
    REPO,
    in_worker,
    machine,
    machine_slug,
    median,
    model_clock,
    rotated,
    timed,
)

from ttc_graph import create_beam_search, create_best_of_n, load_policy
from ttc_graph.evaluation import provenance
from ttc_graph.policy import GenerationRequest, HuggingFacePolicy, SamplingParams
from ttc_graph.policy.messages import with_system_prompt
from ttc_graph.prompts import DEFAULT_SYSTEM_PROMPT
from ttc_graph.verifiers import ArithmeticVerifier

DATA = REPO.parent / "shared" / "data"
"""GSM8K and MATH-500 beside the repository (see the README, "Test and benchmark data")."""
GSM8K = "gsm8k_train_500.jsonl"
MATH500 = "math500.jsonl"
TEMPERATURE = 0.8


@dataclass
class Run:
    """One timed run of one variant."""

    variant: str
    seconds: float
    cpu_seconds: float
    model_seconds: float
    completion_tokens: int
    prompt_tokens: int
    encoded_prompt_tokens: int
    iterations: int = 1
    decode_steps: int | None = None
    load_1m: float = field(default_factory=lambda: os.getloadavg()[0])
    """Machine load when the run ended: other processes skew wall times."""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Context:
    """The model under test, twice: with prefix KV reuse (default) and without."""

    policy: HuggingFacePolicy
    plain: HuggingFacePolicy
    verifier: ArithmeticVerifier
    questions: list[str]

    def variant(self, reuse: bool) -> HuggingFacePolicy:
        policy = self.policy if reuse else self.plain
        if policy.prefix_cache is not None:
            # Every timed run starts cold: reuse within a search counts, across runs not.
            policy.prefix_cache.clear()
            policy.prefix_cache.reset_stats()
        return policy


class MissingData(SystemExit):
    """The benchmark's questions are not where it reads them: a one-line error, exit 1."""


def data_file(name: str) -> Path:
    """``../shared/data/<name>``; a :class:`MissingData` error naming the path when absent.

    There is no built-in fallback: figures measured on other questions would not be
    the figures the docs report.
    """
    path = DATA / name
    if not path.is_file():
        raise MissingData(
            f"error: benchmark data not found: expected {path} (../shared/data/{name} beside "
            "the repository; see the README, 'Test and benchmark data')"
        )
    return path


def load_questions(count: int) -> list[str]:
    """The first ``count`` GSM8K questions of ``../shared/data``; an error when absent."""
    path = data_file(GSM8K)
    with path.open() as f:
        questions = [json.loads(line)["question"] for _, line in zip(range(count), f, strict=False)]
    if len(questions) < count:
        raise MissingData(f"error: {path} holds {len(questions)} questions; {count} are needed")
    return questions


def math_question() -> str:
    """A MATH-500 problem (long solutions: rows rarely stop before the token limit)."""
    with data_file(MATH500).open() as f:
        return str(json.loads(f.readline())["problem"])


def same_prompt(ctx: Context, question: str) -> None:
    """The baselines must see exactly the text the graph's policy sees."""
    request = GenerationRequest(with_system_prompt([HumanMessage(question)], DEFAULT_SYSTEM_PROMPT))
    ours = ctx.policy.render(request)
    theirs = chat_prompt(ctx.policy.tokenizer, DEFAULT_SYSTEM_PROMPT, question)
    if ours != theirs:
        raise RuntimeError(f"Baseline prompt differs from the policy's:\n{theirs!r}\n{ours!r}")


# -- one timed run per variant -------------------------------------------------


def _ttc(ctx: Context, reuse: bool, name: str, build: Callable[..., Any], question: str) -> Run:
    policy = ctx.variant(reuse)
    graph = build(policy=policy)
    with model_clock(policy.model) as clock:
        result, took = timed(lambda: graph.invoke({"question": question}))
    usage = result["usage"]
    stats = policy.prefix_cache.stats if policy.prefix_cache is not None else None
    iterations = len({n["iteration"] for n in result["trace"].values() if n["status"] != "root"})
    return Run(
        variant=name,
        seconds=took.wall,
        cpu_seconds=took.cpu,
        model_seconds=clock.seconds,
        completion_tokens=usage["completion_tokens"],
        prompt_tokens=usage["prompt_tokens"],
        encoded_prompt_tokens=stats.encoded_tokens if stats else usage["prompt_tokens"],
        iterations=max(iterations, 1),
        decode_steps=max((c["completion_tokens"] for c in result["candidates"]), default=0)
        if iterations <= 1
        else None,
        extra={"answer": result["answer"]},
    )


def _raw(ctx: Context, name: str, fn: Callable[[], RawRun]) -> Run:
    with model_clock(ctx.policy.model) as clock:
        raw, took = timed(lambda: in_worker(fn))
    return Run(
        variant=name,
        seconds=took.wall,
        cpu_seconds=took.cpu,
        model_seconds=clock.seconds,
        completion_tokens=raw.completion_tokens,
        prompt_tokens=raw.prompt_tokens,
        encoded_prompt_tokens=raw.prompt_tokens,
        iterations=raw.iterations,
        decode_steps=raw.decode_steps,
    )


# -- sections --------------------------------------------------------------------


def bench_best_of_n(
    ctx: Context, ns: list[int], repeats: int, max_new_tokens: int
) -> dict[str, Any]:
    """Section 1: best-of-N through the graph vs one raw generate call."""
    question = math_question()
    same_prompt(ctx, question)
    sampling = SamplingParams(temperature=TEMPERATURE, max_new_tokens=max_new_tokens)
    out: dict[str, Any] = {"question": question, "max_new_tokens": max_new_tokens, "by_n": {}}
    for n in ns:
        runs: list[Run] = []
        for r in range(repeats):
            build = partial(create_best_of_n, n=n, selection="majority", sampling=sampling, seed=r)
            raw = partial(
                raw_best_of_n,
                ctx.policy.model,
                ctx.policy.tokenizer,
                system=DEFAULT_SYSTEM_PROMPT,
                question=question,
                n=n,
                temperature=TEMPERATURE,
                max_new_tokens=max_new_tokens,
            )
            variants = [
                partial(_ttc, ctx, True, "ttc", build, question),
                partial(_ttc, ctx, False, "ttc_no_reuse", build, question),
                partial(_raw, ctx, "raw", raw),
            ]
            for variant in rotated(variants, r):
                runs.append(variant())
                _progress(f"best-of-{n}", runs[-1])
        out["by_n"][str(n)] = summarize(runs, baseline="raw")
    return out


def beam_pair(
    ctx: Context,
    question: str,
    *,
    seed: int,
    n: int,
    beam_width: int,
    max_steps: int,
    step_tokens: int,
    temperature: float,
) -> tuple[Callable[..., Any], Callable[[], RawRun]]:
    """The two sides of a beam-search comparison with the same settings: a graph
    factory (takes ``policy=``) and the hand-written loop on the same model."""
    build = partial(
        create_beam_search,
        verifier=ctx.verifier,
        n=n,
        beam_width=beam_width,
        max_steps=max_steps,
        sampling=SamplingParams(temperature=temperature, max_new_tokens=step_tokens),
        seed=seed,
    )
    hand = partial(
        hand_beam_search,
        ctx.policy.model,
        ctx.policy.tokenizer,
        ctx.verifier,
        system=DEFAULT_SYSTEM_PROMPT,
        question=question,
        n=n,
        beam_width=beam_width,
        max_steps=max_steps,
        temperature=temperature,
        step_tokens=step_tokens,
    )
    return build, hand


def bench_beam_search(
    ctx: Context,
    pairs: int,
    n: int,
    beam_width: int,
    max_steps: int,
    step_tokens: int,
    temperature: float = TEMPERATURE,
) -> dict[str, Any]:
    """Sections 2 and 4: beam search through the graph vs a hand loop; prefill work.

    Sampled runs follow different random paths on each side (the policy's seeded
    sampling is not torch's global generator), so only per-token ratios compare.
    At ``temperature=0`` both sides decode greedily and do the same work token for
    token; ``same_work`` says whether every run's token count matched.
    """
    runs: list[Run] = []
    same_work = True
    for r in range(pairs):
        question = ctx.questions[r % len(ctx.questions)]
        build, hand = beam_pair(
            ctx,
            question,
            seed=r,
            n=n,
            beam_width=beam_width,
            max_steps=max_steps,
            step_tokens=step_tokens,
            temperature=temperature,
        )
        variants = [
            partial(_ttc, ctx, True, "ttc", build, question),
            partial(_ttc, ctx, False, "ttc_no_reuse", build, question),
            partial(_raw, ctx, "hand_loop", hand),
        ]
        pair_runs = []
        for run in rotated(variants, r):
            pair_runs.append(run())
            _progress("beam search", pair_runs[-1])
        same_work = same_work and len({x.completion_tokens for x in pair_runs}) == 1
        runs.extend(pair_runs)
    return {
        "n": n,
        "beam_width": beam_width,
        "max_steps": max_steps,
        "step_tokens": step_tokens,
        "temperature": temperature,
        "same_work": same_work,
        **summarize(runs, baseline="hand_loop"),
    }


def bench_batch(
    ctx: Context, count: int, n: int, repeats: int, max_new_tokens: int
) -> dict[str, Any]:
    """Section 3: ``graph.batch`` of many questions vs one by one."""
    sampling = SamplingParams(temperature=TEMPERATURE, max_new_tokens=max_new_tokens)
    inputs = [{"question": q} for q in ctx.questions[:count]]
    runs: list[Run] = []
    answers: dict[str, list[Any]] = {}
    for r in range(repeats):
        graph = create_best_of_n(
            policy=ctx.policy, n=n, selection="majority", sampling=sampling, seed=r
        )

        def one_by_one(graph: Any = graph) -> list[dict[str, Any]]:
            return [graph.invoke(x) for x in inputs]

        def batched(graph: Any = graph) -> list[dict[str, Any]]:
            return list(graph.batch(inputs, config={"max_concurrency": len(inputs)}))

        for name, fn in rotated([("one_by_one", one_by_one), ("batch", batched)], r):
            ctx.variant(True)
            with model_clock(ctx.policy.model) as clock:
                results, took = timed(fn)
            answers.setdefault(name, []).append([x["answer"] for x in results])
            runs.append(
                Run(
                    variant=name,
                    seconds=took.wall,
                    cpu_seconds=took.cpu,
                    model_seconds=clock.seconds,
                    completion_tokens=sum(x["usage"]["completion_tokens"] for x in results),
                    prompt_tokens=sum(x["usage"]["prompt_tokens"] for x in results),
                    encoded_prompt_tokens=ctx.policy.prefix_cache.stats.encoded_tokens
                    if ctx.policy.prefix_cache
                    else 0,
                )
            )
            _progress(f"{count} questions", runs[-1])
    summary = summarize(runs, baseline="one_by_one")
    summary["speedup"] = summary["variants"]["batch"]["ratio_to_baseline"] ** -1
    summary["cpu_speedup"] = summary["variants"]["batch"]["cpu_ratio_to_baseline"] ** -1
    summary["same_answers"] = answers.get("batch") == answers.get("one_by_one")
    return {"questions": count, "n": n, "max_new_tokens": max_new_tokens, **summary}


def warm_up(ctx: Context) -> None:
    """Run every code path once, untimed: first calls pay one-off costs (lazy imports
    such as math-verify, stop-string tables, allocator growth)."""
    tiny = SamplingParams(temperature=TEMPERATURE, max_new_tokens=2)
    question = ctx.questions[0]
    for policy in (ctx.policy, ctx.plain):
        create_best_of_n(policy=policy, n=2, selection="majority", sampling=tiny).invoke(
            {"question": question}
        )
        create_beam_search(
            policy=policy, verifier=ctx.verifier, n=4, beam_width=2, max_steps=1, sampling=tiny
        ).invoke({"question": question})
    model, tokenizer = ctx.policy.model, ctx.policy.tokenizer
    in_worker(
        partial(
            raw_best_of_n,
            model,
            tokenizer,
            system=DEFAULT_SYSTEM_PROMPT,
            question=question,
            n=2,
            temperature=TEMPERATURE,
            max_new_tokens=2,
        )
    )
    in_worker(
        partial(
            hand_beam_search,
            model,
            tokenizer,
            ctx.verifier,
            system=DEFAULT_SYSTEM_PROMPT,
            question=question,
            n=4,
            beam_width=2,
            max_steps=1,
            temperature=TEMPERATURE,
            step_tokens=2,
        )
    )


# -- reporting -------------------------------------------------------------------


def summarize(runs: list[Run], *, baseline: str) -> dict[str, Any]:
    """Medians per variant and ratios of the medians to ``baseline``."""
    names = list(dict.fromkeys(r.variant for r in runs))
    variants: dict[str, Any] = {}
    for name in names:
        mine = [r for r in runs if r.variant == name]
        seconds = sum(r.seconds for r in mine)
        tokens = sum(r.completion_tokens for r in mine)
        variants[name] = {
            "median_seconds": median([r.seconds for r in mine]),
            "median_cpu_seconds": median([r.cpu_seconds for r in mine]),
            "median_model_seconds": median([r.model_seconds for r in mine]),
            "median_other_seconds": median([r.seconds - r.model_seconds for r in mine]),
            "median_completion_tokens": median([r.completion_tokens for r in mine]),
            "tokens_per_second": tokens / seconds if seconds else float("nan"),
            "median_iterations": median([r.iterations for r in mine]),
            "prompt_tokens": sum(r.prompt_tokens for r in mine),
            "encoded_prompt_tokens": sum(r.encoded_prompt_tokens for r in mine),
            "iterations": sum(r.iterations for r in mine),
            "max_load_1m": max(r.load_1m for r in mine),
            "runs": [asdict(r) for r in mine],
        }
    base = variants[baseline]
    for v in variants.values():
        v["ratio_to_baseline"] = v["median_seconds"] / base["median_seconds"]
        v["cpu_ratio_to_baseline"] = v["median_cpu_seconds"] / base["median_cpu_seconds"]
        # Seconds per generated token, relative: fair when the samples differ in length.
        v["per_token_ratio"] = base["tokens_per_second"] / v["tokens_per_second"]
    return {"variants": variants}


def prefill_summary(beam: dict[str, Any]) -> dict[str, Any]:
    """Section 4: prompt tokens encoded per iteration, with and without reuse."""
    v = beam["variants"]
    reuse, plain = v["ttc"], v["ttc_no_reuse"]
    per_iter_reuse = reuse["encoded_prompt_tokens"] / reuse["iterations"]
    per_iter_plain = plain["encoded_prompt_tokens"] / plain["iterations"]
    return {
        "encoded_per_iteration_with_reuse": per_iter_reuse,
        "encoded_per_iteration_without_reuse": per_iter_plain,
        "token_reduction": per_iter_plain / per_iter_reuse if per_iter_reuse else float("nan"),
        "median_seconds_with_reuse": reuse["median_seconds"],
        "median_seconds_without_reuse": plain["median_seconds"],
        "median_model_seconds_with_reuse": reuse["median_model_seconds"],
        "median_model_seconds_without_reuse": plain["median_model_seconds"],
        "time_ratio": reuse["median_seconds"] / plain["median_seconds"],
        "cpu_time_ratio": reuse["median_cpu_seconds"] / plain["median_cpu_seconds"],
    }


def _progress(section: str, run: Run) -> None:
    print(
        f"  {section:<14} {run.variant:<13} {run.seconds:7.2f}s  cpu {run.cpu_seconds:7.2f}s  "
        f"model {run.model_seconds:7.2f}s  tokens {run.completion_tokens:5d}  "
        f"prompt {run.encoded_prompt_tokens:6d}/{run.prompt_tokens:<6d} iters {run.iterations}",
        file=sys.stderr,
        flush=True,
    )


def table(report: dict[str, Any]) -> str:
    """The human-readable summary."""
    lines = [
        f"{'benchmark':<34}{'variant':<14}{'wall s':>8}{'ratio':>7}{'cpu s':>8}{'ratio':>7}"
        f"{'tok/s':>7}{'per-tok':>8}",
        "-" * 93,
    ]

    def rows(label: str, section: dict[str, Any]) -> None:
        for name, v in section["variants"].items():
            lines.append(
                f"{label:<34}{name:<14}{v['median_seconds']:8.2f}{v['ratio_to_baseline']:7.3f}"
                f"{v['median_cpu_seconds']:8.2f}{v['cpu_ratio_to_baseline']:7.3f}"
                f"{v['tokens_per_second']:7.1f}{v['per_token_ratio']:8.3f}"
            )
            label = ""

    if "best_of_n" in report:
        bon = report["best_of_n"]
        for n, section in bon["by_n"].items():
            rows(f"best-of-{n} (majority, {bon['max_new_tokens']} tok)", section)
    for key in ("beam_search", "beam_search_greedy"):
        if key in report:
            b = report[key]
            kind = "sampled" if b["temperature"] > 0 else "greedy"
            rows(f"beam N={b['n']} w={b['beam_width']} {b['max_steps']} steps {kind}", b)
            if b["temperature"] == 0:
                lines.append(f"{'':<34}same tokens on both sides: {b['same_work']}")
    if "batch" in report:
        b = report["batch"]
        rows(f"{b['questions']} questions, best-of-{b['n']}", b)
        lines.append(
            f"{'':<34}speed-up of graph.batch: {b['speedup']:.2f}x wall, "
            f"{b['cpu_speedup']:.2f}x cpu"
        )
    if "prefill" in report:
        p = report["prefill"]
        lines.append(
            f"{'beam prefill tokens / iteration':<34}with reuse "
            f"{p['encoded_per_iteration_with_reuse']:.0f}, without "
            f"{p['encoded_per_iteration_without_reuse']:.0f} "
            f"({p['token_reduction']:.1f}x fewer); wall {p['time_ratio']:.2f}x, "
            f"cpu {p['cpu_time_ratio']:.2f}x"
        )
    return "\n".join(lines)


# -- entry point -----------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small settings: a few minutes")
    parser.add_argument("--sections", default="bon,beam,batch", help="any of bon,beam,batch")
    parser.add_argument("--repeats", type=int, help="repeats per best-of-N / batch setting")
    parser.add_argument("--ns", help="best-of-N sizes, comma-separated (default 1,8,32)")
    parser.add_argument("--max-new-tokens", type=int, help="token limit of a full solution")
    parser.add_argument("--beam-pairs", type=int, help="(question, seed) pairs for beam search")
    parser.add_argument("--beam-steps", type=int, help="beam search iterations (default 8)")
    parser.add_argument("--step-tokens", type=int, help="token limit of one beam-search step")
    parser.add_argument("--beam-n", type=int, default=8, help="beam search N (default 8)")
    parser.add_argument(
        "--beam-width", type=int, default=4, help="beam search beam width (default 4)"
    )
    parser.add_argument("--questions", type=int, default=16, help="questions for graph.batch")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, or auto")
    parser.add_argument("--output", type=Path, help="JSON path (default benchmarks/results/)")
    args = parser.parse_args(argv)
    quick = args.quick
    defaults = {
        "repeats": 1 if quick else 3,
        "ns": "1,8,32",
        "max_new_tokens": 32 if quick else 64,
        "beam_pairs": 1 if quick else 3,
        "beam_steps": 4 if quick else 8,
        "step_tokens": 24 if quick else 32,
    }
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    unknown = set(args.sections.split(",")) - {"bon", "beam", "batch"}
    if unknown:
        parser.error(f"unknown section(s) {sorted(unknown)}; choose from bon,beam,batch")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the selected sections, print the table and write the JSON report."""
    args = parse_args(argv)
    sections = args.sections.split(",")
    # Read the data before loading the model: a missing file fails in a second, not after.
    questions = load_questions(max(args.questions, args.beam_pairs))
    if "bon" in sections:
        math_question()
    command = " ".join(["python", "benchmarks/run.py", *(argv or sys.argv[1:])])
    record = provenance.begin(command)  # before the model loads: the load it starts from
    policy = load_policy(device=args.device)
    ctx = Context(
        policy=policy,
        plain=HuggingFacePolicy(
            model=policy.model,
            tokenizer=policy.tokenizer,
            model_id=policy.model_id,
            prefix_cache_mb=0,
        ),
        verifier=ArithmeticVerifier(),
        questions=questions,
    )
    info = machine(policy.model.device)
    started = dt.datetime.now(dt.UTC)
    report: dict[str, Any] = {
        "date": started.isoformat(timespec="seconds"),
        "command": command,
        "machine": info,
        "model": policy.model_id,
        "temperature": TEMPERATURE,
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
    }
    warm_up(ctx)
    if "bon" in sections:
        ns = [int(x) for x in args.ns.split(",")]
        report["best_of_n"] = bench_best_of_n(ctx, ns, args.repeats, args.max_new_tokens)
    if "beam" in sections:
        report["beam_search"] = bench_beam_search(
            ctx, args.beam_pairs, args.beam_n, args.beam_width, args.beam_steps, args.step_tokens
        )
        report["prefill"] = prefill_summary(report["beam_search"])
        report["beam_search_greedy"] = bench_beam_search(
            ctx,
            args.beam_pairs,
            args.beam_n,
            args.beam_width,
            args.beam_steps,
            args.step_tokens,
            temperature=0.0,
        )
    if "batch" in sections:
        report["batch"] = bench_batch(
            ctx, args.questions, 2, args.repeats, args.max_new_tokens // 2
        )
    info["load_average_end"] = list(os.getloadavg())
    report["seconds_total"] = (dt.datetime.now(dt.UTC) - started).total_seconds()
    report["provenance"] = provenance.finish(record)
    path = args.output or (
        REPO
        / "benchmarks"
        / "results"
        / f"{started:%Y-%m-%d}-{machine_slug(info)}{'-quick' if args.quick else ''}.json"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(table(report))
    print(f"\nmachine: {info['cpu']}, {info['cpu_cores']} cores, {info['device']}")
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
