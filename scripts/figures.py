"""Generated blocks and plots of README.md and docs/: written from their source, checked for drift.

    python scripts/figures.py           # rewrite every block and plot (what `make figures` runs)
    python scripts/figures.py --check   # change nothing; exit 1 naming each one that differs

A block sits between ``<!-- figures: NAME -->`` and ``<!-- /figures -->``; NAME is a
function of :data:`BLOCKS`, which returns the block's Markdown from the strategy specs
and option table (the only place those facts live) or from committed raw results
(``docs/data/``, ``benchmarks/results/``): every table and inline figure of measured
results is such a block, with the raw files and what made them named under it. The
measured plots of ``docs/images`` are :data:`IMAGES`, drawn from the same files.
Writing the same sources twice gives the same bytes.

The measured blocks live beside this script: ``figures_raw`` (reading raw files,
formatting, the provenance line), ``figures_eval`` (accuracy: README, evaluation,
strategies), ``figures_verifiers``, ``figures_bench`` (speed: performance, serving,
vLLM) and ``figures_plots``.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

# The block modules sit beside this script, which is also loaded by path (the tests).
sys.path.insert(0, str(Path(__file__).resolve().parent))

import figures_bench
import figures_eval
import figures_plots
import figures_raw
import figures_search
import figures_verifiers

REPO = Path(__file__).resolve().parents[1]
DOCS = (REPO / "README.md", *sorted((REPO / "docs").glob("*.md")))
_BLOCK = re.compile(
    r"(?P<open><!-- figures: (?P<name>[\w-]+) -->\n)(?P<body>.*?)(?P<close><!-- /figures -->)",
    re.DOTALL,
)


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _value(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, str):
        shown = value if len(value) <= 24 else value[:21] + "…"
        return "`" + shown.replace("\n", "\\n").replace("\t", "\\t") + "`"
    return f"`{value}`"


def strategies() -> str:
    """The strategy table: one row per spec."""
    from ttc_graph.strategies import SPECS

    rows = [
        "| strategy | what it does | N | verifier | factory |",
        "|---|---|---|---|---|",
    ]
    for name, spec in SPECS.items():
        factory = spec.factory.partition(":")[2]
        args = ", ".join(f"{k}={v!r}" for k, v in spec.factory_args.items())
        n = f"default {spec.default('n')}" if spec.takes_n else "—"
        verifier = "needed" if spec.needs_verifier else "optional"
        rows.append(
            f"| `{name}` | {_cell(spec.summary)} | {n} | {verifier} | `{factory}({args})` |"
        )
    return "\n".join(rows) + "\n"


def run_options() -> str:
    """The run option table: each option, its default per strategy and who takes it."""
    from ttc_graph.strategies import SPECS
    from ttc_graph.strategies.options import OPTIONS

    rows = ["| option | meaning | default | taken by |", "|---|---|---|---|"]
    for name, option in OPTIONS.items():
        takers = [s for s in SPECS.values() if name in s.options.names]
        defaults: dict[str, list[str]] = {}
        for spec in takers:
            defaults.setdefault(_value(spec.default(name)), []).append(spec.name)
        common = max(defaults, key=lambda v: len(defaults[v]))
        shown = [common] + [f"{v} ({', '.join(n)})" for v, n in defaults.items() if v != common]
        everyone = len(takers) == len(SPECS)
        who = "all" if everyone else ", ".join(s.name for s in takers)
        rows.append(f"| `{name}` | {_cell(option.help)} | {'; '.join(shown)} | {who} |")
    return "\n".join(rows) + "\n"


BLOCKS: dict[str, Callable[[], str]] = {
    "strategies": strategies,
    "run-options": run_options,
    # README.md
    "readme-accuracy": figures_eval.readme_accuracy,
    # docs/evaluation.md (and docs/strategies.md)
    "eval-arith-seed0": figures_eval.eval_seed0,
    "eval-arith-seed0-before": figures_eval.eval_seed0_before,
    "eval-arith-seed0-levels": figures_eval.eval_seed0_levels,
    "eval-arith-seed0-findings": figures_eval.eval_seed0_findings,
    "beam-arith-seed0-d2": figures_eval.beam_d2,
    "beam-arith-seed0-d2-findings": figures_eval.beam_d2_findings,
    "gsm8k-dev": figures_eval.gsm8k_dev,
    "gsm8k-dev-findings": figures_eval.gsm8k_dev_findings,
    "gsm8k-dev-timing": figures_eval.gsm8k_dev_timing,
    "adaptive-setup": figures_eval.adaptive_setup,
    "adaptive-arith-seed0": figures_eval.adaptive_table,
    "adaptive-arith-seed0-levels": figures_eval.adaptive_levels,
    "adaptive-findings": figures_eval.adaptive_findings,
    "adaptive-summary": figures_eval.adaptive_summary,
    # docs/evaluation.md: issue 27
    "prompt-study": figures_search.prompt_study,
    "step-verifier-positions": figures_search.step_verifier_positions,
    "i27-arith": figures_search.i27_arith,
    "i27-arith-findings": figures_search.i27_arith_findings,
    "i27-arith-all": figures_search.i27_arith_all,
    "readme-step-search": figures_search.readme_step_search,
    "i27-gsm8k": figures_search.i27_gsm8k,
    "i27-gsm8k-all": figures_search.i27_gsm8k_all,
    # docs/verifiers.md
    "verifier-speed": figures_verifiers.verifier_speed,
    "votes-seed100": figures_verifiers.votes_seed100,
    "claim-counts": figures_verifiers.claim_counts,
    "trained-steps": figures_verifiers.trained_steps,
    "verifiers-seed0-ranking": figures_verifiers.seed0_ranking,
    "verifiers-arith-seed0": figures_verifiers.verifiers_seed0,
    "verifier-ships": figures_verifiers.verifier_ships,
    "trained-outcome": figures_verifiers.trained_outcome,
    "head-weights": figures_verifiers.head_weights,
    "trained-vs-grounded": figures_verifiers.trained_vs_grounded,
    # docs/performance.md
    "bench-overhead": figures_bench.bench_overhead,
    "bench-targets": figures_bench.bench_targets,
    "bench-notes": figures_bench.bench_notes,
    "cold-start": figures_bench.cold_start,
    "cold-start-quiet": figures_bench.cold_start_quiet,
    "cold-start-xeon": figures_bench.cold_start_xeon,
    "load-profile": figures_bench.load_profile,
    "step-search-speed": figures_bench.step_search_speed,
    "readme-overhead": figures_bench.readme_overhead,
    "suite-times": figures_bench.suite_times,
    "stress": figures_bench.stress,
    "memory-at-n": figures_bench.memory_at_n,
    "vllm-inprocess": figures_bench.vllm_inprocess,
    "vllm-n32": figures_bench.vllm_n32,
    "vllm-server": figures_bench.vllm_server,
    "vllm-goals": figures_bench.vllm_goals,
    # docs/vllm.md (and README.md)
    "vllm-setup": figures_bench.vllm_setup,
    "vllm-dtype": figures_bench.vllm_dtype,
    # docs/serving.md
    "serve-measured": figures_bench.serve_measured,
    "serve-streaming": figures_bench.serve_streaming,
    "langgraph-dev-time": figures_bench.langgraph_dev_time,
}

IMAGES: dict[str, Callable[[], bytes]] = figures_plots.IMAGES
"""Measured plots by repository path; each is rewritten, or compared, byte for byte."""


def blocks(text: str) -> Iterator[re.Match[str]]:
    """Every generated block of a document."""
    return _BLOCK.finditer(text)


def render(text: str, *, where: str) -> str:
    """``text`` with every block written anew (each block computed once per process)."""

    def fill(match: re.Match[str]) -> str:
        name = match["name"]
        if name not in BLOCKS:
            raise SystemExit(f"{where}: unknown figures block {name!r}; known: {', '.join(BLOCKS)}")
        if name not in _rendered:
            _rendered[name] = figures_raw.wrapped(BLOCKS[name]())
        return match["open"] + _rendered[name] + match["close"]

    return _BLOCK.sub(fill, text)


_rendered: dict[str, str] = {}


def stale_images(*, write: bool) -> list[str]:
    """The plots whose file differs from what their data gives; rewritten when ``write``."""
    stale = []
    for path, draw in IMAGES.items():
        target = REPO / path
        data = draw()
        if target.exists() and target.read_bytes() == data:
            continue
        stale.append(path)
        if write:
            target.write_bytes(data)
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; fail on drift")
    args = parser.parse_args(argv)
    stale: list[str] = []
    used: set[str] = set()
    for path in DOCS:
        text = path.read_text()
        used |= {m["name"] for m in blocks(text)}
        new = render(text, where=str(path.relative_to(REPO)))
        if new == text:
            continue
        names = [m["name"] for m, n in zip(blocks(text), blocks(new), strict=True) if m[0] != n[0]]
        stale += [f"{path.relative_to(REPO)}: {name}" for name in names]
        if not args.check:
            path.write_text(new)
    stale += [f"{path} (plot)" for path in stale_images(write=not args.check)]
    unused = sorted(set(BLOCKS) - used)
    if unused:
        # A measured block no document shows is a figure that was dropped by accident.
        print(f"Blocks no document uses: {', '.join(unused)}", file=sys.stderr)
        return 1
    if stale and args.check:
        print("Generated blocks differ from their sources (run `make figures`):", file=sys.stderr)
        print("\n".join(f"  {s}" for s in stale), file=sys.stderr)
        return 1
    for s in stale:
        print(f"rewrote {s}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
