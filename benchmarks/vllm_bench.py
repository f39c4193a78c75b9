"""Engines side by side: transformers fp32/bf16, vLLM in process, vLLM server over HTTP.

Run in the vLLM environment (it has vLLM, ttc-graph and a transformers both accept):

    scripts/setup-vllm.sh
    OMP_NUM_THREADS=2 .venv-vllm/bin/python benchmarks/vllm_bench.py   # -> benchmarks/results/

Same prompts, seeds and token limits for every engine; three workloads:

- ``raw``: ``policy.sample`` of N candidates for one prompt (no graph);
- ``best_of_n``: the weighted best-of-N graph with the grounded checker;
- ``beam_search``: beam search over N rows (N/2 beams kept, width 2), 3 steps of
  half the tokens each;
- ``particle_filter``: N particles, 3 steps of half the tokens each.

Two phases, each with its rows interleaved over ``--reps`` rounds so that a change
in machine load hits every row alike: (1) the in-process engines, each in a process
of its own (vLLM's CPU backend binds threads for its whole process: transformers
rows sharing a process with it ran slower, ``engine_isolation.py``); (2) a vLLM
server on loopback, where ``vllm_n`` is one plain OpenAI request with ``n`` (vLLM's
own n-sampling, the baseline of the search-overhead goal) and the other rows go
through ``ChatModelPolicy``. The search overhead is read within phase 2:
seconds per generated token of a search over that of ``vllm_n``.
Throughput is generated tokens (as each engine reports them) per wall second.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from measure import git_commit  # noqa: E402

QUESTIONS = (
    "A shop sells pens at 3 dollars each. Tom buys 4 pens and pays with 20 dollars. "
    "How much change does he get?",
    "Sam has 7 pencils and buys 5 more. Then he gives 3 to Ann. How many are left?",
)
Workload = Callable[[int], int]
"""Runs one repetition (its index picks the question and seed); returns tokens made."""


def workloads(policy: Any, n: int, tokens: int) -> dict[str, Workload]:
    from langchain_core.messages import HumanMessage

    from ttc_graph.policy import GenerationRequest, SamplingParams
    from ttc_graph.strategies.registry import build_strategy
    from ttc_graph.verifiers import GroundedVerifier

    sampling = SamplingParams(temperature=0.8, max_new_tokens=tokens)
    best = build_strategy(
        "weighted", policy=policy, verifier=GroundedVerifier(), n=n, sampling=sampling, seed=0
    )
    # The same N rows per step as the raw sample, so a step's batch is as wide.
    step = SamplingParams(temperature=0.8, max_new_tokens=tokens // 2)
    beam = build_strategy(
        "beam_search", policy=policy, verifier=GroundedVerifier(), n=n, beam_width=2,
        max_steps=3, sampling=step, seed=0,
    )  # fmt: skip
    particles = build_strategy(
        "particle_filter", policy=policy, verifier=GroundedVerifier(), n=n, max_steps=3,
        sampling=step, seed=0,
    )  # fmt: skip

    def raw(rep: int) -> int:
        request = GenerationRequest((HumanMessage(QUESTIONS[rep % 2]),))
        params = SamplingParams(temperature=0.8, max_new_tokens=tokens, seed=rep)
        (cands,) = policy.sample([request], n=n, params=params)
        return sum(c.completion_tokens for c in cands)

    def graph(g: Any) -> Workload:
        def run(rep: int) -> int:
            result = g.invoke({"question": QUESTIONS[rep % 2]})
            return int(result["usage"]["completion_tokens"])

        return run

    return {
        "raw": raw,
        "best_of_n": graph(best),
        "beam_search": graph(beam),
        "particle_filter": graph(particles),
    }


def vllm_n(url: str, n: int, tokens: int) -> Workload:
    """vLLM's own n-sampling: one chat request with ``n``, through the openai client."""
    from openai import OpenAI

    from ttc_graph.policy.vllm_server import SERVED_NAME

    client = OpenAI(base_url=url, api_key="none", max_retries=0, timeout=600)

    def run(rep: int) -> int:
        response = client.chat.completions.create(
            model=SERVED_NAME,
            messages=[{"role": "user", "content": QUESTIONS[rep % 2]}],
            n=n,
            max_tokens=tokens,
            temperature=0.8,
            seed=rep,
        )
        assert response.usage is not None
        return int(response.usage.completion_tokens)

    return run


def measure(rows: dict[str, Workload], reps: int) -> dict[str, dict[str, Any]]:
    """Every row once per round, rounds in turn; the sampling rows are warmed up first."""
    for name, fn in rows.items():
        if name.endswith(("/raw", "/vllm_n")):
            fn(99)
    runs: dict[str, list[tuple[float, int]]] = {name: [] for name in rows}
    for rep in range(reps):
        for name, fn in rows.items():
            start = time.perf_counter()
            made = fn(rep)
            runs[name].append((time.perf_counter() - start, made))
            print(f"  {name}: {made} tokens in {runs[name][-1][0]:.1f} s", flush=True)
    out: dict[str, dict[str, Any]] = {}
    for name, pairs in runs.items():
        seconds = sum(s for s, _ in pairs)
        made = sum(t for _, t in pairs)
        out[name] = {
            "runs": [{"seconds": round(s, 3), "tokens": t} for s, t in pairs],
            "tokens_per_s": round(made / seconds, 2),
            "median_s_per_token": round(statistics.median(s / max(t, 1) for s, t in pairs), 5),
        }
    return out


ENGINES: dict[str, dict[str, str]] = {
    "transformers_fp32": {"device": "cpu", "dtype": "float32"},
    "transformers_bf16": {"device": "cpu", "dtype": "bfloat16"},
    "vllm_inprocess": {"engine": "vllm", "device": "cpu"},
}
"""Phase 1's engines: :func:`ttc_graph.load_policy` arguments, one process each."""
_ROWS_MARK = "ROWS-JSON "


def engine_rows(name: str, n: int, tokens: int, reps: int) -> dict[str, Any]:
    """Measure one in-process engine in a fresh child process; return its rows."""
    child = [sys.executable, __file__, "--engine", name]
    child += ["--n", str(n), "--tokens", str(tokens), "--reps", str(reps)]
    done = subprocess.run(child, capture_output=True, text=True, check=False)
    sys.stdout.write("".join(f"  {line}\n" for line in done.stdout.splitlines()
                             if line.startswith("  ")))  # fmt: skip
    marked = [line for line in done.stdout.splitlines() if line.startswith(_ROWS_MARK)]
    if done.returncode != 0 or not marked:
        raise SystemExit(f"engine {name} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return dict(json.loads(marked[-1].removeprefix(_ROWS_MARK)))


def run_engine(name: str, n: int, tokens: int, reps: int) -> int:
    """The child of :func:`engine_rows`: load one engine, measure, print the rows."""
    import torch

    from ttc_graph import load_policy

    policy = load_policy(**ENGINES[name])  # type: ignore[call-overload]
    rows = {f"{name}/{work}": fn for work, fn in workloads(policy, n, tokens).items()}
    measured = measure(rows, reps)
    print(_ROWS_MARK + json.dumps({"rows": measured, "torch_threads": torch.get_num_threads()}))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--skip", default="", help="comma list of phases to leave out: inprocess,server"
    )
    parser.add_argument("--engine", choices=list(ENGINES), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.engine:
        return run_engine(args.engine, args.n, args.tokens, args.reps)
    skip = set(filter(None, args.skip.split(",")))

    import torch
    import transformers
    import vllm

    from ttc_graph.evaluation import provenance
    from ttc_graph.policy import ChatModelPolicy
    from ttc_graph.policy.vllm_server import SERVED_NAME, vllm_server

    record = provenance.begin()
    result: dict[str, Any] = {
        "command": " ".join(["python", *sys.argv]),
        "settings": {"n": args.n, "tokens": args.tokens, "reps": args.reps},
        "versions": {
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "vllm": vllm.__version__,
        },
        "commit": git_commit(),
        "cpu_cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "phases": {},
    }
    if "inprocess" not in skip:
        load_start = os.getloadavg()
        print("phase 1: in-process engines, one process each", flush=True)
        rows, threads = {}, {}
        for name in ENGINES:
            measured = engine_rows(name, args.n, args.tokens, args.reps)
            rows.update(measured["rows"])
            # vLLM sets torch's thread count unless OMP_NUM_THREADS is set: recorded
            # so each engine's rows can be judged.
            threads[name] = measured["torch_threads"]
        result["phases"]["inprocess"] = {
            "load_average_start": list(load_start),
            "rows": rows,
            "load_average_end": list(os.getloadavg()),
            "torch_threads": threads,
        }
    if "server" not in skip:
        print("phase 2: vLLM server on loopback", flush=True)
        from langchain_openai import ChatOpenAI
        from pydantic import SecretStr

        with vllm_server(python=sys.executable) as url:
            load_start = os.getloadavg()
            chat = ChatOpenAI(
                base_url=url, api_key=SecretStr("none"), model=SERVED_NAME, timeout=600
            )
            policy = ChatModelPolicy(chat, max_concurrency=16, continue_final_message=True)
            rows = {"vllm_server/vllm_n": vllm_n(url, args.n, args.tokens)}
            rows.update(
                {
                    f"vllm_server/{work}": fn
                    for work, fn in workloads(policy, args.n, args.tokens).items()
                }
            )
            measured = measure(rows, args.reps)
        base = measured["vllm_server/vllm_n"]["median_s_per_token"]
        result["phases"]["server"] = {
            "load_average_start": list(load_start),
            "rows": measured,
            "load_average_end": list(os.getloadavg()),
            "overhead_vs_vllm_n": {
                name.split("/")[1]: round(row["median_s_per_token"] / base, 3)
                for name, row in measured.items()
                if name != "vllm_server/vllm_n"
            },
        }
    result["provenance"] = provenance.finish(record)
    out = args.out or REPO / "benchmarks" / "results" / f"vllm-{date.today().isoformat()}.json"
    out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=1))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
