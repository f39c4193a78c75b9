"""`ttc-graph serve` against direct graph calls: 16 concurrent openai clients vs graph.batch.

    OMP_NUM_THREADS=1 python benchmarks/serve_concurrency.py [--clients 16] [--out FILE]

Three measurements, on the embedded model, the grounded verifier and loopback HTTP:

1. Throughput: the same questions answered by one direct ``graph.batch`` and by
   ``--clients`` concurrent real ``openai`` clients (one thread each) against an
   in-process server; the answers must be identical (same seed).
2. Added latency of one request: a short greedy request through the server against
   the same ``graph.invoke``, alternated, median of ``--repeats``.
3. Streaming: when each search event of a beam search reaches a streaming client,
   against the time the whole answer arrives.

Writes the raw figures as JSON (``--out``, default ``benchmarks/results/``) with the
machine's load (``uptime``) before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import threading
import time
from datetime import date
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch
from openai import OpenAI

from ttc_graph import load_policy
from ttc_graph.evaluation import provenance
from ttc_graph.policy import SamplingParams
from ttc_graph.serving import ServeLimits, create_app, serve_in_thread
from ttc_graph.strategies import build_strategy
from ttc_graph.verifiers import GroundedVerifier

RESULTS = Path(__file__).resolve().parent / "results"


def uptime() -> str:
    """The machine's load, as ``uptime`` prints it."""
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def questions(count: int) -> list[str]:
    """Small two-number problems, all different."""
    return [f"Sam has {7 + i} pencils and buys {5 + 2 * i} more. How many?" for i in range(count)]


def throughput(policy: Any, url: str, args: argparse.Namespace) -> dict[str, Any]:
    """graph.batch of the questions vs one openai client per question, all at once."""
    qs = questions(args.clients)
    graph = build_strategy(
        args.strategy,
        policy=policy,
        verifier=GroundedVerifier(),
        n=args.n,
        sampling=SamplingParams(temperature=0.8, max_new_tokens=args.max_tokens),
        seed=0,
    )
    inputs = [{"question": q} for q in qs]
    graph.batch(inputs[:2])  # warm-up
    started = time.perf_counter()
    direct = graph.batch(inputs, config={"max_concurrency": args.clients})
    direct_s = time.perf_counter() - started

    latencies: list[float] = [0.0] * len(qs)
    served: list[str | None] = [None] * len(qs)
    gate = threading.Barrier(len(qs) + 1)

    def ask(i: int) -> None:
        client = OpenAI(base_url=url, api_key="none", max_retries=0, timeout=600)
        gate.wait()
        t = time.perf_counter()
        r = client.chat.completions.create(
            model=f"{args.strategy}-{args.n}",
            messages=[{"role": "user", "content": qs[i]}],
            max_tokens=args.max_tokens,
            seed=0,
        )
        latencies[i] = time.perf_counter() - t
        served[i] = r.choices[0].message.content

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(qs))]
    for t in threads:
        t.start()
    gate.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    served_s = time.perf_counter() - started
    identical = [s == d["solution"] for s, d in zip(served, direct, strict=True)]
    return {
        "strategy": f"{args.strategy}-{args.n}",
        "max_tokens": args.max_tokens,
        "clients": len(qs),
        "direct_batch_s": round(direct_s, 3),
        "served_wall_s": round(served_s, 3),
        "throughput_ratio": round(direct_s / served_s, 3),
        "served_latency_s": [round(x, 3) for x in latencies],
        "answers_identical": all(identical),
        "identical_count": sum(identical),
        "completion_tokens": sum(d["usage"]["completion_tokens"] for d in direct),
    }


def added_latency(policy: Any, url: str, repeats: int) -> dict[str, Any]:
    """One short greedy request through the server vs the same graph.invoke, alternated."""
    question = questions(1)[0]
    graph = build_strategy(
        "greedy", policy=policy, sampling=SamplingParams(temperature=0.0, max_new_tokens=4)
    )
    client = OpenAI(base_url=url, api_key="none", max_retries=0, timeout=600)
    direct: list[float] = []
    served: list[float] = []
    for _ in range(repeats + 1):  # the first pair warms up
        t = time.perf_counter()
        graph.invoke({"question": question})
        direct.append(time.perf_counter() - t)
        t = time.perf_counter()
        client.chat.completions.create(
            model="greedy",
            messages=[{"role": "user", "content": question}],
            max_tokens=4,
            temperature=0.0,
        )
        served.append(time.perf_counter() - t)
    direct, served = direct[1:], served[1:]
    return {
        "repeats": repeats,
        "direct_invoke_s": [round(x, 4) for x in direct],
        "served_s": [round(x, 4) for x in served],
        "median_added_ms": round(1000 * (statistics.median(served) - statistics.median(direct)), 1),
    }


def streaming(url: str) -> dict[str, Any]:
    """Arrival time of every search event of a streamed beam search, and of the answer."""
    client = OpenAI(base_url=url, api_key="none", max_retries=0, timeout=600)
    started = time.perf_counter()
    started_unix = time.time()
    events: list[tuple[str, float]] = []
    delays: list[float] = []
    first_content = None
    stream = client.chat.completions.create(
        model="beam_search-4",
        messages=[{"role": "user", "content": questions(1)[0]}],
        max_tokens=24,
        seed=0,
        stream=True,
        extra_body={"ttc": {"beam_width": 2, "max_steps": 4}},
    )
    first_emitted = 0.0
    for chunk in stream:
        now = round(time.perf_counter() - started, 3)
        extra = chunk.model_extra or {}
        if "ttc_event" in extra:
            events.append((extra["ttc_event"]["event"], now))
            first_emitted = first_emitted or extra["ttc_time"]
            # Same machine, same clock: when the client got it minus when the graph emitted it.
            delays.append(round(time.time() - extra["ttc_time"], 4))
        elif chunk.choices and chunk.choices[0].delta.content and first_content is None:
            first_content = now
    return {
        "strategy": "beam_search-4 width 2, 4 steps of 24 tokens",
        "events": events,
        "first_event_s": events[0][1] if events else None,
        "first_event_emitted_s": round(first_emitted - started_unix, 3) if events else None,
        "delivery_delay_s": delays,
        "max_delivery_delay_s": max(delays) if delays else None,
        "first_content_s": first_content,
        "total_s": round(time.perf_counter() - started, 3),
    }


def main() -> int:
    """Run the three measurements and write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--strategy", default="weighted")
    parser.add_argument("--n", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--only",
        choices=("throughput", "latency", "streaming"),
        default=None,
        help="run one measurement only",
    )
    args = parser.parse_args()

    load_before = uptime()
    record = provenance.begin()
    policy = load_policy(device="cpu")
    limits = ServeLimits(max_concurrent=max(16, args.clients), max_tokens=256)
    app = create_app(policy=policy, verifier="grounded", limits=limits)
    with serve_in_thread(app) as url:
        report = {
            "command": "OMP_NUM_THREADS="
            + os.environ.get("OMP_NUM_THREADS", "")
            + " python benchmarks/serve_concurrency.py "
            + f"--clients {args.clients} --strategy {args.strategy} --n {args.n} "
            + f"--max-tokens {args.max_tokens} --repeats {args.repeats}"
            + (f" --only {args.only}" if args.only else ""),
            "machine": {
                "processor": platform.processor() or platform.machine(),
                "cpus": os.cpu_count(),
                "torch_threads": torch.get_num_threads(),
                "uptime_before": load_before,
            },
        }
        if args.only in (None, "throughput"):
            report["throughput"] = throughput(policy, url, args)
        if args.only in (None, "latency"):
            report["added_latency"] = added_latency(policy, url, args.repeats)
        if args.only in (None, "streaming"):
            report["streaming"] = streaming(url)
    report["machine"]["uptime_after"] = uptime()
    report["provenance"] = provenance.finish(record)
    out = args.out or RESULTS / f"serve-{date.today().isoformat()}.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
