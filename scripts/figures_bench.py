"""Generated blocks of measured speed: docs/performance.md, docs/serving.md, docs/vllm.md.

Raw files: the JSON that ``benchmarks/run.py``, ``cold_start.py``,
``vllm_bench.py`` and ``serve_concurrency.py`` wrote into ``benchmarks/results/``,
and two committed logs (the stopped bfloat16 run, the vLLM set-up and dtype probe).
"""

from __future__ import annotations

import re
from statistics import median
from typing import Any

from figures_eval import claim
from figures_raw import NOT_RECORDED, fixed, load, num, pct, plain, ratio, source_line, table, text

RUN = "benchmarks/results/2026-12-05-cpu2-intel-r-xeon-r-processor.json"
COLD_BEFORE = "benchmarks/results/2026-12-01-cpu2-amd-epyc-cold-start-before.json"
COLD_AFTER = "benchmarks/results/2026-12-01-cpu2-amd-epyc-cold-start.json"
QUIET_BEFORE = "benchmarks/results/2026-12-01-cpu2-amd-epyc-cold-start-quiet-before.json"
QUIET_AFTER = "benchmarks/results/2026-12-01-cpu2-amd-epyc-cold-start-quiet.json"
COLD_XEON = "benchmarks/results/2026-12-05-cpu2-intel-r-xeon-r-processor-cold-start.json"
VLLM = "benchmarks/results/vllm-2026-12-01.json"
VLLM_XEON = "benchmarks/results/vllm-2026-12-05-b.json"
# The first run of that day: one process for all engines, particle-filter steps split.
VLLM_XEON_FIRST = "benchmarks/results/vllm-2026-12-05.json"
ISOLATION = "benchmarks/results/engine-isolation-2026-12-05.json"
SUITE = "docs/data/suite-times.json"
VLLM_N32 = "benchmarks/results/vllm-2026-12-01-n32.json"
VLLM_STOPPED = "benchmarks/results/vllm-2026-12-01-stopped-bf16-run.log"
VLLM_SETUP = "docs/data/vllm-setup-and-dtype-2026-12-01.txt"
SERVE = "benchmarks/results/serve-2026-11-30.json"
STREAMING = "benchmarks/results/serve-streaming-2026-11-30.json"


# --- docs/performance.md: overhead against raw transformers ----------------------------


def _run() -> dict[str, Any]:
    raw: dict[str, Any] = load(RUN)
    return raw


def _variant(section: dict[str, Any], name: str) -> dict[str, Any]:
    row: dict[str, Any] = section["variants"][name]
    return row


def bench_overhead() -> str:
    """The overhead table: every section's variants against their baseline."""
    r = _run()
    rows: list[list[str]] = []

    def add(label: str, section: dict[str, Any], names: list[tuple[str, str]], bold: str) -> None:
        for i, (name, shown) in enumerate(names):
            v = _variant(section, name)
            wall, cpu, tok = (
                v["ratio_to_baseline"],
                v["cpu_ratio_to_baseline"],
                v["per_token_ratio"],
            )
            cells = [fixed(wall), fixed(cpu), fixed(tok)]
            if name == names[0][0]:
                at = {"wall": 0, "token": 2}[bold]
                cells[at] = f"**{cells[at]}**"
            if name in ("raw", "hand_loop"):  # the baseline itself
                cells = ["1", "1", "1"]
            rows.append([label if i == 0 else "", shown, fixed(v["median_seconds"]), *cells])

    ours = [("ttc", "ttc-graph"), ("ttc_no_reuse", "ttc-graph, no prefix reuse")]
    for n, section in r["best_of_n"]["by_n"].items():
        tokens = r["best_of_n"]["max_new_tokens"]
        label = f"best-of-{n}" + (f" ({tokens} tokens, sampled)" if n == "1" else "")
        add(label, section, [*ours, ("raw", "raw `generate`")], "token" if n == "1" else "wall")
    loop = ("hand_loop", "hand loop")
    add(
        "beam search, greedy (same tokens on both sides)",
        r["beam_search_greedy"],
        [*ours, loop],
        "wall",
    )
    temperature = plain(r["beam_search"]["temperature"], 1)
    add(f"beam search, sampled (T = {temperature})", r["beam_search"], [*ours, loop], "token")
    b = r["batch"]
    batch, alone = _variant(b, "batch"), _variant(b, "one_by_one")
    rows.append(
        [
            f"{b['questions']} questions, best-of-{b['n']} ({b['max_new_tokens']} tokens)",
            "`graph.batch`",
            fixed(batch["median_seconds"]),
            f"**{fixed(batch['ratio_to_baseline'])} ({fixed(b['speedup'])}× faster)**",
            fixed(batch["cpu_ratio_to_baseline"]),
            "",
        ]
    )
    rows.append(["", "one by one", fixed(alone["median_seconds"]), "1", "1", ""])
    header = ["benchmark", "variant", "median wall s", "wall ratio", "CPU ratio", "per-token ratio"]
    p = r["prefill"]
    return (
        table(header, rows) + "\n" + "Prefill with prefix KV reuse (sampled beam search): "
        f"**{num(p['encoded_per_iteration_with_reuse'])} prompt tokens encoded per iteration "
        f"instead of {num(p['encoded_per_iteration_without_reuse'])} "
        f"({plain(p['token_reduction'], 1)}× fewer)**; the same searches take "
        f"{ratio(p['time_ratio'])} the wall time ({ratio(p['cpu_time_ratio'])} the CPU time) of "
        "the graph without reuse.\n\n" + source_line(RUN)
    )


def bench_targets() -> str:
    """The issue's targets against the same file."""
    r = _run()
    by_n = r["best_of_n"]["by_n"]
    ours = {n: _variant(s, "ttc") for n, s in by_n.items()}
    plain_graph = {n: _variant(s, "ttc_no_reuse") for n, s in by_n.items()}
    greedy, sampled = r["beam_search_greedy"], r["beam_search"]
    g, g_plain = _variant(greedy, "ttc"), _variant(greedy, "ttc_no_reuse")
    s = _variant(sampled, "ttc")
    b, p = r["batch"], r["prefill"]

    def bon(rows: dict[str, dict[str, Any]]) -> str:
        first, *rest = rows
        parts = [f"N={first}: {ratio(rows[first]['per_token_ratio'])} per token"]
        parts += [f"N={n}: {ratio(rows[n]['ratio_to_baseline'])}" for n in rest]
        return "; ".join(parts)

    bon_met = ours["1"]["per_token_ratio"] <= 1.1 and all(
        ours[n]["ratio_to_baseline"] <= 1.1 for n in list(ours)[1:]
    )
    beam_met = g["ratio_to_baseline"] <= 1.1
    no_reuse = g_plain["ratio_to_baseline"]
    rows = [
        [
            "best-of-N overhead ≤ 1.10× raw (aim 1.05×)",
            f"{bon(ours)}. Without prefix reuse: {bon(plain_graph)}",
            "met" if bon_met else "**not met**",
        ],
        [
            "beam search ≤ 1.10× the hand loop",
            f"{ratio(g['ratio_to_baseline'])} on equal work (greedy, token-identical); "
            f"{ratio(s['per_token_ratio'])} per token sampled. Without prefix reuse "
            f"{ratio(no_reuse)} (greedy)",
            ("met with prefix reuse (the default)" if beam_met else "**not met**")
            + ("; not met without it" if no_reuse > 1.1 else ""),
        ],
        [
            "`graph.batch` of 16 questions ≥ 3× faster than one by one",
            f"{fixed(b['speedup'])}× wall ({fixed(b['cpu_speedup'])}× CPU), "
            + ("identical answers" if b["same_answers"] else "**different answers**"),
            "met" if b["speedup"] >= 3 else "**not met**",
        ],
        [
            "prefix KV reuse: question and kept steps encoded once",
            f"{plain(p['token_reduction'], 1)}× fewer prompt tokens per iteration; "
            f"{ratio(p['time_ratio'])} wall time",
            "met" if p["time_ratio"] < 1 else "**not met**",
        ],
    ]
    return table(["target", "measured", ""], rows) + "\n" + source_line(RUN)


def bench_notes() -> str:
    """How to read the overhead table, with the figures that explain it."""
    r = _run()
    one = r["best_of_n"]["by_n"]["1"]
    ours1, raw1 = _variant(one, "ttc"), _variant(one, "raw")
    sampled = r["beam_search"]
    it_ours = _variant(sampled, "ttc")["median_iterations"]
    it_loop = _variant(sampled, "hand_loop")["median_iterations"]
    # N=1 compares per token (the two sides sample texts of different length), larger N by wall.
    no_reuse = [
        _variant(s, "ttc_no_reuse")["per_token_ratio" if n == "1" else "ratio_to_baseline"]
        for n, s in r["best_of_n"]["by_n"].items()
    ]
    greedy = r["beam_search_greedy"]
    g_plain, g_loop = _variant(greedy, "ttc_no_reuse"), _variant(greedy, "hand_loop")
    last = list(r["best_of_n"]["by_n"])[-1]
    widest = _variant(r["best_of_n"]["by_n"][last], "ttc")
    claim(widest["ratio_to_baseline"] < 1, "best-of-N is faster than raw generate at large N")
    claim(
        abs(g_plain["cpu_ratio_to_baseline"] - 1) < 0.05,
        "beam search without reuse costs about the same CPU time",
    )
    return (
        "- **Sampled runs follow different paths on the two sides.** The policy draws "
        "every candidate from its own seeded generator (so a candidate is the same alone, "
        "batched or at any N), raw `generate` from torch's global generator, so the two "
        "sides sample different text of different length: at N=1 the raw median run "
        f"stopped after {num(raw1['median_completion_tokens'])} tokens, ours after "
        f"{num(ours1['median_completion_tokens'])}, hence the {plain(ours1['ratio_to_baseline'])} "
        f"wall ratio at {plain(ours1['per_token_ratio'])} per token. Sampled beam searches "
        f"even end after different numbers of iterations ({num(it_ours)} against "
        f"{num(it_loop)} at the median). For sampled runs only the per-token ratio "
        "compares. The **greedy beam-search rows do the same work token for token** (the "
        "benchmark checks that both sides generate the same number of tokens on every "
        "question) and give the direct ratio.\n"
        "- **Best-of-N is faster than raw `generate` at large N** because `generate` with "
        f"`num_return_sequences={last}` copies the prompt {last} times and encodes every copy; "
        "the policy encodes each distinct prompt once and shares its keys and values across "
        f"the rows. Without that reuse the graph costs {fixed(min(no_reuse))}–"
        f"{fixed(max(no_reuse))}× raw (per token at N=1): LangGraph nodes, stream events, "
        "answer extraction and candidate bookkeeping.\n"
        f"- **Beam search without prefix reuse: {ratio(g_plain['ratio_to_baseline'])}.** The "
        f"gap comes with equal CPU time (ratio {fixed(g_plain['cpu_ratio_to_baseline'])}) and "
        "sits inside the model's forward passes "
        f"({plain(g_plain['median_model_seconds'], 1)} s against "
        f"{plain(g_loop['median_model_seconds'], 1)} s). A suspected cause is the benchmark's "
        "thread hand-over, not the graph: `run.py` alternates variants, so torch runs on a "
        "different thread from one run to the next, and with this CPU build of torch "
        "(OpenMP) a thread that takes over after another one ran torch can stay slower at "
        "equal CPU time. `python benchmarks/threads.py` runs each side several times in a "
        "row to test that; no run of it is committed yet, so the suspicion is unconfirmed.\n"
        + (
            ""
            if r["batch"]["same_answers"]
            else "- **`graph.batch` gave different answers from one by one** in this run: "
            "it ran in bfloat16 (the default on this CPU), whose logits depend on which "
            "rows share a batch (docs/reliability.md); in float32 (the 2026-11-24 run) "
            "they were identical.\n"
        )
        + "- **Batching across questions** works because concurrent `generate` calls of one "
        "policy are merged into shared batches (`ttc_graph/policy/batching.py`); pass "
        '`{"max_concurrency": len(inputs)}` to `graph.batch`, or LangGraph runs at most as '
        "many questions at once as its default thread pool has workers.\n"
        "- Decoding on this CPU is memory-bound: one row decodes at about "
        f"{num(ours1['tokens_per_second'])} tokens/s, and extra rows in a batch come almost "
        f"free (best-of-{last}: {num(widest['tokens_per_second'])} tokens/s). That is why "
        "the search runs every active beam of an iteration in one "
        "`generate` call.\n"
    )


# --- docs/performance.md: cold start -------------------------------------------------


def _rows(path: str) -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = load(path)["rows"]
    return rows


COLD_LABELS = {
    "python": "`python -c pass` (floor)",
    "help": "`ttc-graph --help`",
    "refused": "refused argument (`solve Q --strategy nope`)",
    "policy": "`load_policy()` to a ready model",
}
"""The rows of ``benchmarks/cold_start.py``, as the cold-start tables name them."""


def _wall_cpu(row: dict[str, Any]) -> str:
    return f"{fixed(row['median_seconds'])} / {fixed(row['median_cpu_seconds'])}"


def cold_start() -> str:
    """Before and after the lazy imports, on the loaded machine."""
    before, after = _rows(COLD_BEFORE), _rows(COLD_AFTER)
    goals = load(COLD_AFTER)["goals_seconds"]
    labels = COLD_LABELS
    rows = []
    for name, label in labels.items():
        goal = goals.get(name)
        verdict = ""
        if goal is not None:
            met = after[name]["median_seconds"] <= goal
            verdict = f"≤ {plain(goal, 1)} s: " + ("met" if met else "**not met** (below)")
        rows.append(
            [
                label,
                _wall_cpu(before[name]),
                _wall_cpu(after[name]),
                verdict,
            ]
        )
    commit = load(COLD_BEFORE)["machine"]["commit"]
    loads = [
        load(p)["machine"][k][0]
        for p in (COLD_BEFORE, COLD_AFTER)
        for k in ("load_average_start", "load_average_end")
    ]
    header = ["row", f"before (commit `{commit}`) wall / CPU s", "after wall / CPU s", "goal"]
    return (
        f"Medians of {len(after['python']['runs'])} fresh processes per row, on a 2-core "
        "machine shared with other jobs (1-minute load average "
        f"{fixed(min(loads), 1)}–{fixed(max(loads), 1)} at the starts and ends of both runs, "
        "so every wall time is inflated; CPU seconds are the child's own user + system "
        "time):\n\n" + table(header, rows) + "\n" + source_line(COLD_BEFORE, COLD_AFTER)
    )


def cold_start_quiet() -> str:
    """The phases of a fresh ``load_policy()`` process on the quieter machine."""
    before, after = _rows(QUIET_BEFORE)["policy"], _rows(QUIET_AFTER)["policy"]
    floor_b, floor_a = _rows(QUIET_BEFORE)["python"], _rows(QUIET_AFTER)["python"]
    labels = {
        "import_torch": "`import torch`",
        "import_transformers": "`import transformers.modeling_utils`",
        "import_langchain": "`import langchain_core` `BaseLLM` (with LangSmith)",
        "load_policy": "`load_policy()`: tokenizer, weights, our modules",
    }
    rows = [
        [
            "interpreter start (`python -c pass`)",
            fixed(floor_b["median_seconds"]),
            fixed(floor_a["median_seconds"]),
        ]
    ]
    rows += [
        [label, fixed(before["median_phases"][k]), fixed(after["median_phases"][k])]
        for k, label in labels.items()
    ]
    rows.append(
        [
            "**ready** (median wall; CPU s for the whole process)",
            f"**{fixed(before['median_ready_seconds'])}** ({fixed(before['median_cpu_seconds'])})",
            f"**{fixed(after['median_ready_seconds'])}** ({fixed(after['median_cpu_seconds'])})",
        ]
    )
    commit = load(QUIET_BEFORE)["machine"]["commit"]
    exiting = after["median_seconds"] - after["median_ready_seconds"]
    imports = after["median_phases"]["import_torch"] + after["median_phases"]["import_transformers"]
    torch_range = sorted(p["median_phases"]["import_torch"] for p in (before, after))
    goal = load(QUIET_AFTER)["goals_seconds"]["policy"]
    claim(after["median_ready_seconds"] > goal, "the 3-second goal is out of reach")
    return (
        table(
            ["phase of a fresh `load_policy()` process", f"before (`{commit}`) s", "after s"], rows
        )
        + "\n"
        + source_line(QUIET_BEFORE, QUIET_AFTER)
        + "\n"
        + "`ready s` runs from starting the process to the ready model, apart from the "
        f"process's whole life: exiting takes another {plain(exiting, 1)} s (median wall "
        f"{plain(after['median_seconds'])} s). The {plain(goal, 0)}-second goal is out of "
        "reach on this CPU before any of our code runs: importing torch alone takes "
        f"{fixed(torch_range[0], 1)}–{fixed(torch_range[1], 1)} s, and torch with "
        f"`transformers.modeling_utils` {fixed(imports, 1)} s inside the process. Loading "
        "the model needs both, and `HuggingFacePolicy` is a LangChain `BaseLLM`, which "
        "needs `langchain_core` and LangSmith "
        f"({fixed(after['median_phases']['import_langchain'], 1)} s). What `load_policy()` "
        f"itself does after the imports is {fixed(after['median_phases']['load_policy'], 1)} s.\n"
    )


def cold_start_xeon() -> str:
    """Today's code on the Intel Xeon (AMX) machine: every row and the ready phases."""
    raw = load(COLD_XEON)
    rows_raw, goals = raw["rows"], raw["goals_seconds"]
    labels = {**COLD_LABELS, "policy": COLD_LABELS["policy"] + " (whole process)"}
    rows = []
    for name, label in labels.items():
        goal = goals.get(name)
        verdict = ""
        if goal is not None:
            seconds = rows_raw[name].get("median_ready_seconds", rows_raw[name]["median_seconds"])
            verdict = f"≤ {plain(goal, 1)} s: " + ("met" if seconds <= goal else "**not met**")
        rows.append([label, _wall_cpu(rows_raw[name]), verdict])
    policy = rows_raw["policy"]
    phases = policy["median_phases"]
    imports = (phases["import_torch"] + phases["import_transformers"]) / policy[
        "median_ready_seconds"
    ]
    split = ", ".join(
        f"{label} {fixed(phases[key])} s"
        for key, label in (
            ("import_torch", "`import torch`"),
            ("import_transformers", "`import transformers.modeling_utils`"),
            ("import_langchain", "`langchain_core`"),
            ("load_policy", "`load_policy()` itself"),
        )
    )
    return (
        f"Medians of {len(rows_raw['python']['runs'])} fresh processes per row:\n\n"
        + table(["row", "wall / CPU s", "goal"], rows)
        + "\n"
        + source_line(COLD_XEON)
        + "\n"
        + f"A fresh process has a ready model after **{fixed(policy['median_ready_seconds'])} s**"
        f" ({split}); the goal of 3 s is not met: {imports:.0%} of that time is importing "
        "torch and transformers, before any of our code runs.\n"
    )


# --- docs/performance.md: engines side by side ---------------------------------------


def _engine_table(path: str, workloads: dict[str, str]) -> str:
    rows_raw = load(path)["phases"]["inprocess"]["rows"]
    engines = ("transformers_fp32", "transformers_bf16", "vllm_inprocess")
    rows = []
    for work, label in workloads.items():
        base = rows_raw[f"transformers_fp32/{work}"]["tokens_per_s"]
        cells = []
        for engine in engines:
            rate = rows_raw[f"{engine}/{work}"]["tokens_per_s"]
            unit = " tok/s" if engine == engines[0] else ""
            shown = "1" if engine == engines[0] else ratio(rate / base)
            cells.append(f"{fixed(rate, 1)}{unit} ({shown})")
        rows.append([label, *cells])
    header = [
        "workload",
        "transformers fp32",
        "transformers bf16",
        "vLLM in process (fp32, prefix caching)",
    ]
    return table(header, rows)


def _loads(path: str, phase: str) -> str:
    p = load(path)["phases"][phase]
    start, end = p["load_average_start"][0], p["load_average_end"][0]
    return f"load {fixed(start, 1)} at the start, {fixed(end, 1)} at the end"


def vllm_inprocess() -> str:
    """Phase 1 of the engine benchmark: in process, N = 8."""
    n = load(VLLM)["settings"]["n"]
    tokens = load(VLLM)["settings"]["tokens"]
    work = {
        "raw": f"raw sampling, {n} × {tokens} tokens",
        "best_of_n": f"best-of-{n}, weighted",
        "beam_search": "beam search, 4 beams, width 2, 3 steps",
    }
    return (
        f"**Phase 1, in process** ({_loads(VLLM, 'inprocess')}):\n\n"
        + _engine_table(VLLM, work)
        + "\n"
        + source_line(VLLM)
    )


def vllm_n32() -> str:
    """The in-process engines at N = 32 on a quieter machine."""
    s = load(VLLM_N32)["settings"]
    rows = load(VLLM_N32)["phases"]["inprocess"]["rows"]
    work = {
        "raw": f"raw sampling, {s['n']} × {s['tokens']} tokens",
        "best_of_n": f"best-of-{s['n']}, weighted",
        "beam_search": "beam search, 4 beams, width 2, 3 steps (the same workload as above)",
    }

    def share(w: str) -> float:
        return float(
            rows[f"transformers_fp32/{w}"]["tokens_per_s"]
            / rows[f"vllm_inprocess/{w}"]["tokens_per_s"]
        )

    return (
        f"**N = {s['n']}, in process, on a quieter machine** ({_loads(VLLM_N32, 'inprocess')}; "
        "the in-process vLLM engine runs without chunked prefill on CPU, docs/vllm.md; the "
        "server phase was left out):\n\n"
        + _engine_table(VLLM_N32, work)
        + "\n"
        + source_line(VLLM_N32)
        + "\n"
        + f"At N = {s['n']} transformers fp32 makes {ratio(share('raw'))} vLLM's raw "
        f"throughput and {ratio(share('best_of_n'))} its best-of-N throughput (goal ≥ 0.67×: "
        + ("met" if min(share("raw"), share("best_of_n")) >= 0.67 else "**not met**")
        + f"); beam search, whose batches stay at 8 rows whatever N is, runs at "
        f"{ratio(share('beam_search'))} of vLLM's"
        + (" (under the goal)" if share("beam_search") < 0.67 else "")
        + ", where vLLM's prefix cache saves re-reading the question and the kept steps at "
        "every step.\n"
    )


def vllm_server() -> str:
    """Phase 2: a vLLM server, ChatModelPolicy against vLLM's own n-sampling."""
    phase = load(VLLM)["phases"]["server"]
    rows_raw, over = phase["rows"], phase["overhead_vs_vllm_n"]
    n = load(VLLM)["settings"]["n"]
    labels = {
        "raw": "raw sampling through `ChatModelPolicy`",
        "best_of_n": f"best-of-{n} graph through `ChatModelPolicy`",
        "beam_search": "beam search through `ChatModelPolicy`",
    }
    own = rows_raw["vllm_server/vllm_n"]["tokens_per_s"]
    rows = [[f"vLLM's own `n = {n}` request", fixed(own, 1), "1"]]
    rows += [
        [label, fixed(rows_raw[f"vllm_server/{w}"]["tokens_per_s"], 1), f"**{ratio(over[w])}**"]
        for w, label in labels.items()
    ]
    header = ["workload", "tok/s", "seconds per token over `vllm_n` (median of the runs)"]
    return (
        "**Phase 2, a vLLM server on loopback** (the same vLLM, started by "
        "`ttc_graph.policy.vllm_server.vllm_server`: float32, `--enforce-eager`; "
        f"{_loads(VLLM, 'server')}). `vllm_n` is one plain OpenAI request with `n = {n}` "
        "(vLLM's own n-sampling); the other rows go through `ChatModelPolicy`:\n\n"
        + table(header, rows)
        + "\n"
        + source_line(VLLM)
    )


def vllm_goals() -> str:
    """The engine benchmark against issue 17's goals."""
    raw = load(VLLM)
    n = raw["settings"]["n"]
    inproc, server = raw["phases"]["inprocess"]["rows"], raw["phases"]["server"]
    over = server["overhead_vs_vllm_n"]
    rate = {k: v["tokens_per_s"] for k, v in inproc.items()}
    vllm_n = server["rows"]["vllm_server/vllm_n"]
    seconds = [r["seconds"] for r in server["rows"]["vllm_server/best_of_n"]["runs"]]
    stopped = _stopped()
    claim(over["beam_search"] > 1.1, "beam search misses the server overhead goal")
    claim(over["best_of_n"] <= 1.1 and over["raw"] <= 1.1, "best-of-N and raw meet it")
    fp32 = {w: rate[f"transformers_fp32/{w}"] for w in ("raw", "best_of_n", "beam_search")}
    vl = {w: rate[f"vllm_inprocess/{w}"] for w in ("raw", "best_of_n", "beam_search")}
    bf16 = rate["transformers_bf16/raw"] / fp32["raw"]
    return (
        f"- **Search overhead over vLLM's own n-sampling ≤ 1.10×: met for best-of-N** "
        f"({ratio(over['best_of_n'])}; the graph's request is the same `n = {n}` request, and "
        f"the difference is noise: the two runs of that row took {num(min(seconds))} and "
        f"{num(max(seconds))} s) **and for raw sampling through the adapter** "
        f"({ratio(over['raw'])}). **Not met for beam search: {ratio(over['beam_search'])} per "
        "token.** Beam search is not one `n`-request: every step sends one short request per "
        "beam (`continue_final_message`, 32 tokens at most), so the server re-reads the "
        "prompt and the HTTP and scheduling costs of a request are spread over few tokens. "
        f"In process beam search makes {ratio(vl['raw'] / vl['beam_search'])} fewer tokens "
        f"per second than raw sampling on vLLM ({plain(vl['beam_search'], 1)} against "
        f"{plain(vl['raw'], 1)} tok/s) and {ratio(fp32['raw'] / fp32['beam_search'])} fewer on "
        "transformers.\n"
        "- **vLLM's throughput beside transformers' (issue 17's 1.5× goal)**: on this CPU "
        f"vLLM in process is {ratio(vl['raw'] / fp32['raw'])} transformers fp32 on raw sampling "
        f"(transformers at {ratio(fp32['raw'] / vl['raw'])} of vLLM, inside the 0.67× the goal "
        f"asks for), {ratio(vl['best_of_n'] / fp32['best_of_n'])} on best-of-{n} and "
        f"{ratio(vl['beam_search'] / fp32['beam_search'])} on beam search. The 3.0× of the "
        "issue was measured on a CPU with native bf16; here **bfloat16 is slower than "
        f"float32 for both engines** (transformers bf16 at {ratio(bf16)} of fp32; for vLLM "
        f"see docs/vllm.md and the stopped run `{VLLM_STOPPED}`, where vLLM in bf16 took "
        f"{plain(stopped['vllm_inprocess/raw'][1], 1)} s for the "
        f"{stopped['vllm_inprocess/raw'][0]} raw tokens that transformers fp32 made in "
        f"{plain(stopped['transformers_fp32/raw'][1], 1)} s), so both in-process engines "
        "default to float32 on CPU.\n"
        f"- **The server is {plain(vl['raw'] / vllm_n['tokens_per_s'], 1)}× slower than vLLM "
        f"in process here** ({plain(vllm_n['tokens_per_s'], 1)} against {plain(vl['raw'], 1)} "
        "tok/s, in different phases of the same run at similar load). The server runs three "
        "processes (API server, engine core, model worker) that wait on each other by "
        "polling; on 2 shared cores they compete with each other and with everyone else, "
        "while the in-process engine runs in one process "
        '(`VLLM_ENABLE_V1_MULTIPROCESSING=0`, set by `load_policy(engine="vllm")` on CPU). '
        "That explanation is likely but not measured separately. On a GPU machine or a CPU "
        "with cores to spare this does not apply; there the server is the way to put policy "
        "replicas behind a load balancer (docs/serving.md).\n\n" + source_line(VLLM, VLLM_STOPPED)
    )


def step_search_speed() -> str:
    """Issue 27's speed goals: step search against raw sampling on each engine."""
    raw = load(VLLM_XEON)
    n, tokens = raw["settings"]["n"], raw["settings"]["tokens"]
    inproc = raw["phases"]["inprocess"]["rows"]
    over = raw["phases"]["server"]["overhead_vs_vllm_n"]
    engines = {
        "transformers_fp32": "transformers, float32",
        "transformers_bf16": "transformers, bfloat16",
        "vllm_inprocess": "vLLM in process",
    }
    searches = ("beam_search", "particle_filter")
    rows, verdicts = [], []
    for engine, label in engines.items():
        rate = {w: inproc[f"{engine}/{w}"]["tokens_per_s"] for w in ("raw", "best_of_n", *searches)}
        cells = [label, plain(rate["raw"], 1), plain(rate["best_of_n"], 1)]
        for work in searches:
            share = rate[work] / rate["raw"]
            cells.append(f"{plain(rate[work], 1)} ({ratio(share)})")
            verdicts.append(share >= 0.7)
        rows.append(cells)
    server_row = [
        "vLLM server: seconds per token over vLLM's own `n`",
        "",
        ratio(over["best_of_n"]),
    ]
    server_row += [ratio(over[w]) for w in searches]
    fp32_share = [
        inproc[f"transformers_fp32/{w}"]["tokens_per_s"]
        / inproc["transformers_fp32/raw"]["tokens_per_s"]
        for w in searches
    ]
    met = sum(verdicts)
    claim(all(verdicts), "every engine x search cell meets 0.7x")
    pf_share = {
        e: inproc[f"{e}/particle_filter"]["tokens_per_s"] / inproc[f"{e}/raw"]["tokens_per_s"]
        for e in engines
    }
    claim(max(pf_share.values()) < 0.75, "the particle filter meets it only just")
    claim(over["beam_search"] <= 1.3 < over["particle_filter"], "server: beam met, PF missed")
    first = load(VLLM_XEON_FIRST)["phases"]["inprocess"]["rows"]
    first_fp32 = [
        first[f"transformers_fp32/{w}"]["tokens_per_s"]
        / first["transformers_fp32/raw"]["tokens_per_s"]
        for w in searches
    ]
    bf16 = (
        inproc["transformers_bf16/raw"]["tokens_per_s"]
        / inproc["transformers_fp32/raw"]["tokens_per_s"]
    )
    iso = load(ISOLATION)["rows"]
    slower, beam_slower = (
        1
        - iso["vllm_loaded"][f"transformers_bf16/{w}"]["tokens_per_s"]
        / iso["alone"][f"transformers_bf16/{w}"]["tokens_per_s"]
        for w in ("raw", "beam_search")
    )
    return (
        table(
            [
                "engine (tokens/s)",
                "raw sampling",
                f"best-of-{n}",
                "beam search (÷ raw)",
                "particle filter (÷ raw)",
            ],
            [*rows, server_row],
        )
        + "\n"
        + source_line(VLLM_XEON)
        + "\n"
        + f"The goal of ≥ 0.70× raw sampling's tokens per second is met in all {met} "
        "engine × search cells, the particle filter only just (float32 "
        f"{ratio(fp32_share[1])}, vLLM "
        f"{ratio(pf_share['vllm_inprocess'])}"
        "). Every step's continuations of all beams or particles go in one batch, "
        "including a particle filter's resampled particles whose copy counts differ "
        "(asked for at once and merged by the policy's batcher); what remains is that a "
        f"step is at most {tokens // 2} tokens, each step is a new `generate` call with "
        "its own prefill and set-up, and rows that end their step early wait for the "
        "longest. **The server goal (≤ 1.30× per token) is met for beam search "
        f"({ratio(over['beam_search'])}) and not for the particle filter "
        f"({ratio(over['particle_filter'])})**: each step sends one short request per "
        "beam or particle. On this AMX CPU bfloat16 raw sampling runs at "
        f"{ratio(bf16)} the speed of float32.\n\n"
        f"The first run of the day (`{VLLM_XEON_FIRST}`) gave "
        f"float32 {ratio(first_fp32[0])} and {ratio(first_fp32[1])}, with raw float32 "
        f"sampling at {plain(first['transformers_fp32/raw']['tokens_per_s'], 1)} tok/s "
        f"against {plain(inproc['transformers_fp32/raw']['tokens_per_s'], 1)} here: it "
        "loaded all three engines in one process and interleaved their rows, and the "
        "particle filter made one `generate` call per copy count (both changed since). "
        "With a vLLM engine merely loaded beside it, raw bfloat16 sampling ran "
        f"{slower * 100:.0f} % slower and beam search {beam_slower * 100:.0f} % "
        f"(`{ISOLATION}`); how much more came from vLLM's threads while "
        "its own rows ran between the others was not measured. The benchmark now measures "
        "each engine in a process of its own.\n\n" + source_line(VLLM_XEON_FIRST, ISOLATION)
    )


def readme_overhead() -> str:
    """README: what the best-of-N graph costs over raw sampling, per engine."""
    raw = load(VLLM_XEON)
    n, tokens = raw["settings"]["n"], raw["settings"]["tokens"]
    inproc = raw["phases"]["inprocess"]["rows"]
    engines = {
        "transformers_fp32": "transformers float32",
        "transformers_bf16": "transformers bfloat16",
        "vllm_inprocess": "vLLM in process",
    }
    shares = [
        f"{ratio(inproc[f'{e}/best_of_n']['tokens_per_s'] / inproc[f'{e}/raw']['tokens_per_s'])}"
        f" ({label})"
        for e, label in engines.items()
    ]
    return (
        f"Weighted best-of-{n} through the graph, grounded checker included, runs at "
        f"{', '.join(shares[:-1])} and {shares[-1]} the tokens per second of raw sampling "
        f"of the same {n} × {tokens} tokens on the same engine "
        "(`benchmarks/vllm_bench.py`, 2 cores, Intel Xeon with AMX).\n\n" + source_line(VLLM_XEON)
    )


def suite_times() -> str:
    """README: the wall times of make test-fast and make test against their goals."""
    rows = load(SUITE)["rows"]
    lines = []
    for target, row in rows.items():
        met = row["returncode"] == 0 and row["wall_seconds"] <= row["goal_seconds"]
        lines.append(
            f"- `make {target}`: **{plain(row['wall_seconds'], 0)} s** wall "
            f"({row['pytest_summary']}; goal {plain(row['goal_seconds'], 0)} s: "
            f"{'met' if met else '**not met**'})"
        )
    return (
        "Measured from the installed environment, one after the other "
        "(`python benchmarks/suite_times.py --json docs/data/suite-times.json`):\n\n"
        + "\n".join(lines)
        + "\n\n"
        + source_line(SUITE)
    )


STRESS = "docs/data/stress.json"
MEMORY_AT_N = "docs/data/memory-at-n.json"


def memory_at_n() -> str:
    """docs/reliability.md: peak memory of `ttc-graph solve` at N = 64, the largest N, refused."""
    raw = load(MEMORY_AT_N)
    rows = []
    for r in raw["rows"]:
        outcome = "answered" if r["returncode"] == 0 else f"refused (exit {r['returncode']})"
        rows.append(
            [num(r["n"]), outcome, f"{plain(r['seconds'], 1)} s", f"{num(r['peak_rss_mib'])} MiB"]
        )
    small, large = raw["rows"][0], raw["rows"][1]
    claim(
        large["peak_rss_mib"] <= small["peak_rss_mib"] * 1.1, "the largest N costs about one chunk"
    )
    return (
        table(["N", "outcome", "wall", "peak resident memory"], rows)
        + "\n"
        + source_line(MEMORY_AT_N)
        + f"\nN = {num(large['n'])} peaks at {num(large['peak_rss_mib'])} MiB against "
        f"{num(small['peak_rss_mib'])} MiB at N = {num(small['n'])}: the candidates beyond one "
        "chunk cost almost nothing next to the model.\n"
    )


def stress() -> str:
    """docs/reliability.md: the stress test's figures, from a run of its file alone."""
    raw = load(STRESS)
    rows = [
        ["questions through `abatch` (max_concurrency)",
         f"{raw['questions']} ({raw['max_concurrency']})"],
        ["wall time", f"{plain(raw['seconds'], 1)} s"],
        ["completion tokens", num(raw["completion_tokens"])],
        ["resident memory at the start", f"{num(raw['rss_start_mib'])} MiB"],
        ["peak during the run", f"{num(raw['rss_peak_during_run_mib'])} MiB"],
        ["growth in the first / second half",
         f"{num(raw['rss_growth_first_half_mib'])} / {num(raw['rss_growth_second_half_mib'])} MiB"],
        ["peak of the whole test process", f"{num(raw['process_peak_rss_mib'])} MiB"],
    ]  # fmt: skip
    return table(["figure", "value"], rows) + "\n" + source_line(STRESS)


def _stopped() -> dict[str, tuple[int, float]]:
    """Row -> (tokens, seconds) of the first round of the stopped bfloat16 run's log."""
    out: dict[str, tuple[int, float]] = {}
    for m in re.finditer(r"^\s+(\S+): (\d+) tokens in ([\d.]+) s$", text(VLLM_STOPPED), re.M):
        out.setdefault(m[1], (int(m[2]), float(m[3])))
    return out


# --- docs/vllm.md: set-up and dtype probe ----------------------------------------------


def _setup_log() -> dict[str, Any]:
    log = text(VLLM_SETUP)
    first = re.search(r"installed in \.venv-vllm in (\d+) s \(([\d.]+)G\)", log)
    again = re.search(r"second run \(cached\).*?\nreal\s+0m([\d.]+)s", log, re.S)
    sections = re.split(r"^## ", log, flags=re.M)
    rates = {
        s.split("\n", 1)[0].strip(): [float(x) for x in re.findall(r"-> ([\d.]+) tok/s", s)]
        for s in sections[1:]
    }
    healthy = re.search(r"healthy after (\d+)", log)
    if not (first and again and healthy):
        raise SystemExit(f"{VLLM_SETUP} lacks a figure the docs show")
    return {
        "seconds": int(first[1]),
        "gigabytes": float(first[2]),
        "again": float(again[1]),
        "rates": rates,
        "healthy": int(healthy[1]),
    }


def vllm_setup() -> str:
    """What `scripts/setup-vllm.sh` cost on its first and second run."""
    s = _setup_log()
    return (
        f"The first run of `scripts/setup-vllm.sh` took {s['seconds']} s "
        f"(about {plain(s['seconds'] / 60, 0)} minutes; 2 cores shared with other jobs, downloads "
        f"included) and the environment is {plain(s['gigabytes'], 1)} GB; a second run returns "
        f"at once ({plain(s['again'])} s).\n\n*Raw data: `{VLLM_SETUP}`: {NOT_RECORDED}.*\n"
    )


def vllm_dtype() -> str:
    """The dtype probe: a vLLM server in bfloat16 against float32 on this CPU."""
    s = _setup_log()
    bf16, fp32 = s["rates"]["bfloat16"], s["rates"]["float32"]
    claim(max(bf16) < min(fp32), "bfloat16 is slower than float32 here")
    return (
        f"A vLLM server in bfloat16 made {plain(min(bf16), 1)}–{plain(max(bf16), 1)} tok/s "
        f"against {plain(min(fp32), 1)}–{plain(max(fp32), 1)} tok/s in float32 (8 × 64 tokens "
        "per request; `benchmarks/vllm_dtype_probe.py`; the bfloat16 run also had "
        "`VLLM_ENABLE_V1_MULTIPROCESSING=0`), and with `--enforce-eager` the float32 server "
        f"was healthy after {s['healthy']} s.\n\n*Raw data: `{VLLM_SETUP}`: {NOT_RECORDED}.*\n"
    )


# --- docs/serving.md -----------------------------------------------------------------


def serve_measured() -> str:
    """The server against direct graph calls."""
    raw = load(SERVE)
    t, lat = raw["throughput"], raw["added_latency"]
    lo, hi = min(t["served_latency_s"]), max(t["served_latency_s"])
    direct, served = lat["direct_invoke_s"], lat["served_s"]

    def spread(xs: list[float]) -> str:
        return f"{fixed(median(xs))} s ({fixed(min(xs))}–{fixed(max(xs))})"

    noise = max(max(direct) - min(direct), max(served) - min(served)) / 2
    rows = [
        [
            f"{t['clients']} questions, `{t['strategy']}`, {t['max_tokens']} tokens, seed 0",
            f"`graph.batch`: {fixed(t['direct_batch_s'], 1)} s",
            f"{t['clients']} concurrent `openai` clients: {fixed(t['served_wall_s'], 1)} s wall "
            f"(each {fixed(lo, 1)}–{fixed(hi, 1)} s)",
        ],
        [
            "throughput, server ÷ direct",
            "",
            f"**{ratio(t['throughput_ratio'])}** (goal ≥ 0.9×)",
        ],
        [
            "answers",
            "",
            f"**{t['identical_count']} of {t['clients']} identical** to `graph.batch`",
        ],
        [
            f"one `greedy` request, 4 tokens, median of {lat['repeats']} alternated pairs",
            spread(direct),
            spread(served),
        ],
        [
            "added latency per request",
            "",
            f"**{plain(lat['median_added_ms'], 0)} ms** median, against a run-to-run spread of "
            f"±{plain(noise, 1)} s; the goal is ≤ 50 ms",
        ],
    ]
    machine = raw["machine"]
    before = machine["uptime_before"].rsplit("load average:", 1)[1].split(",")[0].strip()
    after = machine["uptime_after"].rsplit("load average:", 1)[1].split(",")[0].strip()
    return (
        f"Machine: {machine['cpus']} CPU cores ({machine['processor']}), torch on "
        f"{machine['torch_threads']} thread, **shared and busy**: `uptime` load average "
        f"{before} before and {after} after (other jobs were running), so absolute times are "
        "slow and noisy; the comparisons were run back to back under the same load.\n\n"
        + table(["measurement", "direct", "through the server"], rows)
        + "\n"
        + source_line(SERVE)
    )


def serve_streaming() -> str:
    """When a streamed search's events arrive."""
    raw = load(STREAMING)
    s = raw["streaming"]
    pruned = [round(t, 1) for name, t in s["events"] if name == "beam_pruned"]
    machine = raw["machine"]
    before = machine["uptime_before"].rsplit("load average:", 1)[1].split(",")[0].strip()
    after = machine["uptime_after"].rsplit("load average:", 1)[1].split(",")[0].strip()
    first_delay = 1000 * (s["first_event_s"] - s["first_event_emitted_s"])
    claim(s["max_delivery_delay_s"] < 1, "the first event arrives within 1 s of its step")
    return (
        f"Streaming, measured separately (`--only streaming`; load average {before} before, "
        f"{after} after; `{s['strategy'].replace(' width', '`, width')}, one client): "
        f"{len(s['events'])} search events arrived in {len(pruned)} bursts, one per step (the "
        f"`beam_pruned` events at {', '.join(f'{t} s' for t in pruned)}), as each step "
        f"finished, not at the end; the answer's content followed at "
        f"{plain(s['first_content_s'], 1)} s. The first event was handed to the server "
        f"{plain(s['first_event_emitted_s'])} s after the request — when the first step's "
        f"generation (slow on this loaded machine) finished — and reached the client "
        f"{plain(first_delay, 0)} ms later. Over all {len(s['delivery_delay_s'])} events, the "
        "time from the graph's stream handing an event to the server to the client "
        "receiving it (`ttc_time` against the client's clock, same machine) was at most "
        f"**{plain(1000 * s['max_delivery_delay_s'], 0)} ms** (goal: the first event within "
        "1 s of the first generated step).\n\n" + source_line(STREAMING)
    )


LANGGRAPH_DEV = "docs/data/langgraph-dev-time.json"
LANGGRAPH_TESTS = {
    "test_every_strategy_is_served_with_its_schemas": "list every strategy and its schemas",
    "test_a_search_runs_and_streams_its_events": "best-of-2 with `runs.wait` and `runs.stream`",
    "test_studio_chat_drives_a_graph_on_a_thread": "two chat questions on one thread",
}


def langgraph_dev_time() -> str:
    """docs/serving.md: how long `langgraph dev` takes to be ready and to serve the tests."""
    raw = load(LANGGRAPH_DEV)
    seconds = {(p["test"], p["phase"]): p["seconds"] for p in raw["phases"]}
    ready = max(seconds[(t, "setup")] for t in LANGGRAPH_TESTS)
    stop = max(seconds[(t, "teardown")] for t in LANGGRAPH_TESTS)
    rows = [["start `langgraph dev --no-reload` until `/ok` answers", f"{plain(ready)} s"]]
    rows += [[label, f"{plain(seconds[(t, 'call')])} s"] for t, label in LANGGRAPH_TESTS.items()]
    rows.append(["stop the server's process group", f"{plain(stop)} s"])
    return (
        table(["step (tests/integration/test_langgraph_server.py)", "wall"], rows)
        + "\n"
        + source_line(LANGGRAPH_DEV)
    )


LOAD_PROFILE = "docs/data/load-policy-profile.json"
LOAD_PARTS = {
    "importlib/__init__.py:108(import_module)": "transformers' submodules, imported on first use",
    "auto_factory.py:260(from_pretrained)": "the model (`AutoModelForCausalLM.from_pretrained`)",
    "modeling_utils.py:3902(from_pretrained)": "… of which building it and loading the weights",
    "tokenization_auto.py:675(from_pretrained)": "the tokenizer (`AutoTokenizer.from_pretrained`)",
}


def load_profile() -> str:
    """docs/performance.md: where `load_policy()` spends its time (one profiled run)."""
    raw = load(LOAD_PROFILE)
    found = {
        label: next(r["cumtime"] for r in raw["top_cumulative"] if r["function"].endswith(part))
        for part, label in LOAD_PARTS.items()
    }
    wall = raw["wall_seconds"]
    rows = [['`load_policy(device="cpu")`, in all', f"{plain(wall)} s", "100 %"]]
    rows += [[label, f"{plain(s)} s", pct(s / wall, 0)] for label, s in found.items()]
    rows.append(
        [
            f"garbage collection ({num(raw['gc_collections'])} pauses, inside the rows above)",
            f"{plain(raw['gc_seconds'])} s",
            pct(raw["gc_seconds"] / wall, 0),
        ]
    )
    imports = found[LOAD_PARTS["importlib/__init__.py:108(import_module)"]]
    claim(imports / wall > 0.5, "most of it is imports")
    return (
        table(["part (cumulative; the rows overlap)", "seconds", "share"], rows)
        + "\n"
        + source_line(LOAD_PROFILE)
        + f"\nUnder the profiler, which slows import-heavy code, {pct(imports / wall, 0)} of "
        "`load_policy()` is transformers importing the submodules it loads lazily (the Llama "
        "configuration and model code, and through them parts of `torch.distributed`), "
        "not reading weights.\n"
    )
