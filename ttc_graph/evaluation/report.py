"""Write an evaluation report: terminal table, CSV, JSON and the accuracy plot."""

from __future__ import annotations

import csv
import json
from dataclasses import fields
from pathlib import Path
from typing import Any

from ttc_graph.evaluation.metrics import CurvePoint
from ttc_graph.evaluation.plot import plot_curve
from ttc_graph.evaluation.runner import EvalReport

CSV_NAME = "curve.csv"
JSON_NAME = "curve.json"
PLOT_NAME = "accuracy.png"
COLUMNS = ("strategy", "N", "level", "acc", "95% CI", "solved", "tokens", "calls P/V", "s/problem")


def write_report(report: EvalReport, out: str | Path, *, title: str = "") -> dict[str, Path]:
    """Write ``curve.csv``, ``curve.json`` and ``accuracy.png`` into ``out``; return the paths.

    The CSV has one row per strategy, N and level (``all`` first); the JSON adds the
    configuration and its hash, so every figure can be traced to its run.
    """
    out_dir = Path(out)
    points = report.overall() + report.by_level()
    paths = {"csv": out_dir / CSV_NAME, "json": out_dir / JSON_NAME}
    with paths["csv"].open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=[f.name for f in fields(CurvePoint)])
        writer.writeheader()
        writer.writerows(p.as_dict() for p in points)
    payload: dict[str, Any] = {
        "config_hash": report.config_hash,
        "config": report.config,
        "strategies": list(report.strategies),
        "ns": list(report.ns),
        "problems": report.total_problems,
        "pending_units": report.pending_units,
        "points": [p.as_dict() for p in points],
    }
    paths["json"].write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    if report.overall():
        paths["plot"] = out_dir / PLOT_NAME
        plot_curve(report.points, path=paths["plot"], title=title)
    return paths


def print_report(report: EvalReport, console: Any = None) -> None:
    """Print the curve as a rich table (and a per-level table when there are levels)."""
    from rich.console import Console
    from rich.table import Table

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
                str(p.n),
                p.level,
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
    if report.pending_units:
        console.print(
            f"[yellow]{report.pending_units} units not run yet; rerun the same command to resume."
        )
