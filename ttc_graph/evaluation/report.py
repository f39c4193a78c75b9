"""Write an evaluation report: terminal table, CSV, JSON and the accuracy plot."""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import fields
from pathlib import Path
from typing import Any

from ttc_graph.escape import terminal_safe
from ttc_graph.evaluation import provenance
from ttc_graph.evaluation.metrics import CurvePoint, eval_mode
from ttc_graph.evaluation.plot import plot_compute, plot_curve
from ttc_graph.evaluation.runner import EvalReport
from ttc_graph.outputs import write_atomic

CSV_NAME = "curve.csv"
JSON_NAME = "curve.json"
PLOT_NAME = "accuracy.png"
TOKENS_PLOT_NAME = "accuracy-tokens.png"
# The command line hands this module to an evaluation before it runs (``ttc-graph eval``
# imports write_report first), so the load and time taken at import are the run's "before".
_STARTED = provenance.begin()

COLUMNS = ("strategy", "N", "level", "acc", "95% CI", "solved", "tokens", "calls P/V", "s/problem")


def report_names(config_hash: str) -> dict[str, str]:
    """File names of one configuration's report: ``curve-<hash>.csv`` and so on."""
    return {
        "csv": f"curve-{config_hash}.csv",
        "json": f"curve-{config_hash}.json",
        "plot": f"accuracy-{config_hash}.png",
        "tokens_plot": f"accuracy-tokens-{config_hash}.png",
    }


LATEST_NAMES = {
    "csv": CSV_NAME,
    "json": JSON_NAME,
    "plot": PLOT_NAME,
    "tokens_plot": TOKENS_PLOT_NAME,
}
"""The unsuffixed names: a copy of the report written last into the directory."""


def write_report(
    report: EvalReport,
    out: str | Path,
    *,
    title: str = "",
    started: dict[str, Any] | None = None,
) -> dict[str, Path]:
    """Write the report into ``out``; return the paths of this configuration's files.

    Files are named by configuration (``curve-<hash>.csv``, ``curve-<hash>.json``,
    ``accuracy-<hash>.png``), so evaluations of different configurations in one
    directory never overwrite each other's reports. ``curve.csv``, ``curve.json``
    and ``accuracy.png`` are copies of the report written last. Every file is
    written atomically (complete or not at all).

    The CSV has one row per strategy, N and level (``all`` first); the JSON adds the
    configuration and its hash, the failed units with their reasons, and the
    provenance (command, commit and whether the tree was dirty, machine, load
    average before and after, dates; :mod:`ttc_graph.evaluation.provenance`), so
    every figure can be traced to its run. ``provenance`` is the call that wrote the
    report; ``runs`` lists every call that stored units of this configuration (with
    its provenance and unit count), so a resumed evaluation shows who made what.
    ``started`` is a :func:`provenance.begin`
    record taken before the run; by default, the one taken when this module was
    first imported.
    """
    out_dir = Path(out)
    points = report.overall() + report.by_level()
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=[f.name for f in fields(CurvePoint)])
    writer.writeheader()
    writer.writerows(p.as_dict() for p in points)
    payload: dict[str, Any] = {
        "config_hash": report.config_hash,
        "config": report.config,
        "strategies": list(report.strategies),
        "ns": list(report.ns),
        "budgets_tokens_per_problem": list(report.budgets),
        "problems": report.total_problems,
        "pending_units": report.pending_units,
        "failed_units": [
            {"strategy": f.strategy, "n": f.n, "problem_id": f.problem_id, "error": f.error}
            for f in report.failed
        ],
        "stopped": report.stopped,
        "points": [p.as_dict() for p in points],
        "provenance": provenance.finish(started or _STARTED),
        # A resumed evaluation is the work of several calls: each one's provenance. Units
        # stored by a call that was killed, or by a version without the log, are unlogged.
        "runs": list(report.runs),
        "unlogged_units": report.stored_units - sum(r["units"] for r in report.runs),
    }
    contents: dict[str, bytes] = {
        "csv": buffer.getvalue().encode("utf-8"),
        # NaN is not JSON: written as null, so strict JSON readers can load the file.
        "json": (json.dumps(_json_safe(payload), indent=2) + "\n").encode("utf-8"),
    }
    if report.overall():
        if any(eval_mode(p.strategy) != "budgeted" for p in report.overall()):
            contents["plot"] = _png(plot_curve(report.points, title=title))
        contents["tokens_plot"] = _png(plot_compute(report.points, title=title))
    names = report_names(report.config_hash)
    paths: dict[str, Path] = {}
    for kind, data in contents.items():
        paths[kind] = write_atomic(out_dir / names[kind], data)
    for kind, data in contents.items():
        write_atomic(out_dir / LATEST_NAMES[kind], data)
    return paths


def _png(figure: Any) -> bytes:
    png = io.BytesIO()
    # No "Software" text chunk: the same points give the same bytes.
    figure.savefig(png, format="png", metadata={"Software": None})
    return png.getvalue()


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def print_report(report: EvalReport, console: Any = None) -> None:
    """Print the curve as a rich table (and a per-level table when there are levels)."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = console or Console()
    for heading, rows in (("Accuracy vs N", report.overall()), ("By level", report.by_level())):
        if not rows:
            continue
        table = Table(title=f"{heading} (config {report.config_hash})", title_justify="left")
        for col in COLUMNS:
            table.add_column(col, justify="left" if col in ("strategy", "level") else "right")
        for p in rows:
            table.add_row(
                p.strategy,
                # A budgeted strategy's "N" is its token budget per problem.
                f"≤{p.n} tok" if eval_mode(p.strategy) == "budgeted" else str(p.n),
                # Levels come from the dataset: plain text, never markup or control codes.
                Text(terminal_safe(p.level, newlines=False)),
                f"{100 * p.accuracy:.1f}%",
                f"{100 * p.ci_low:.0f}–{100 * p.ci_high:.0f}%",
                f"{p.correct}/{p.problems}",
                f"{p.mean_completion_tokens:.0f}",
                f"{p.mean_policy_calls:.1f}/{p.mean_verifier_calls:.1f}",
                f"{p.mean_seconds:.1f}" + ("*" if p.seconds_estimated else ""),
            )
        console.print(table)
    if any(p.seconds_estimated for p in report.points):
        console.print(
            "* time apportioned by tokens from the shared sample at the largest N "
            "(smaller N are subsets of it)."
        )
    if report.failed:
        console.print(
            Text(
                f"{len(report.failed)} unit(s) failed; rerun the same command to try them "
                "again (reasons are in the report's JSON):",
                style="yellow",
            )
        )
        for f in report.failed[:5]:
            line = f"  {f.strategy} N={f.n} {f.problem_id}: {f.error[:300]}"
            console.print(Text(terminal_safe(line), style="yellow"))
        if len(report.failed) > 5:
            console.print(Text(f"  … and {len(report.failed) - 5} more", style="yellow"))
    not_run = report.pending_units - len(report.failed)
    if not_run > 0:
        console.print(
            Text(
                f"{not_run} units not run yet; rerun the same command to resume.",
                style="yellow",
            )
        )
