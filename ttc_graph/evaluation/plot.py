"""Accuracy plots: against N (one line per strategy, baselines as horizontal lines) and
against mean tokens per problem (every strategy at equal compute, adaptive at each budget)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ttc_graph.errors import InputError
from ttc_graph.evaluation.metrics import COVERAGE, CurvePoint, eval_mode

_BASELINE_STYLE = {"greedy": "--", "self_refine": ":"}


def plot_curve(
    points: Sequence[CurvePoint], *, path: str | Path | None = None, title: str = ""
) -> Any:
    """Draw accuracy against N (log2 axis) with Wilson 95 % bands; save a PNG if ``path``.

    Strategies with an N are lines with markers; ``greedy`` (and ``self_refine``)
    are horizontal baselines; ``coverage`` (pass@N) is a dotted ceiling. Only
    points over all problems are drawn. Returns the matplotlib figure, whose lines
    carry the strategy names as labels.
    """
    import matplotlib

    matplotlib.use("Agg")  # files only: never needs a display
    from matplotlib.figure import Figure

    # Budgeted strategies (adaptive) have no N: they are drawn against tokens only.
    rows = [p for p in points if p.level == "all" and eval_mode(p.strategy) != "budgeted"]
    if not rows:
        raise InputError("Nothing to plot: no strategy has a finished problem yet.")
    fig = Figure(figsize=(7, 4.5), dpi=120)
    ax = fig.add_subplot()
    strategies = list(dict.fromkeys(p.strategy for p in rows))
    xs_all = sorted({p.n for p in rows if eval_mode(p.strategy) != "single"}) or [1]
    for name in strategies:
        mine = sorted((p for p in rows if p.strategy == name), key=lambda p: p.n)
        if eval_mode(name) == "single":
            (p,) = mine
            line = ax.axhline(
                100 * p.accuracy,
                linestyle=_BASELINE_STYLE.get(name, "-."),
                color="0.35" if name == "greedy" else "0.55",
                label=f"{name} ({100 * p.accuracy:.0f}%)",
            )
            line.set_gid(name)
            continue
        xs = [p.n for p in mine]
        ys = [100 * p.accuracy for p in mine]
        if name == COVERAGE:
            # A ceiling, not a strategy: drawn apart from the strategies' lines.
            style: dict[str, Any] = {"linestyle": ":", "color": "0.2", "label": "coverage (pass@N)"}
        else:
            style = {"linestyle": "-", "label": name}
        (line,) = ax.plot(xs, ys, marker="o", **style)
        line.set_gid(name)
        ax.fill_between(
            xs,
            [100 * p.ci_low for p in mine],
            [100 * p.ci_high for p in mine],
            color=line.get_color(),
            alpha=0.12,
            linewidth=0,
        )
    ax.set_xscale("log", base=2)
    ax.set_xticks(xs_all, [str(x) for x in xs_all])
    ax.set_xlabel("N (candidates / beams per problem, log scale)")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    problems = max(p.problems for p in rows)
    # parse_math=False: a title holds file and model names, and a "$" in one must not
    # be read as (possibly invalid) TeX.
    ax.set_title(title or f"Accuracy vs N ({problems} problems)", fontsize=10, parse_math=False)
    ax.legend(fontsize=8)
    fig.tight_layout()
    if path is not None:
        fig.savefig(Path(path), format="png")
    return fig


def plot_compute(
    points: Sequence[CurvePoint], *, path: str | Path | None = None, title: str = ""
) -> Any:
    """Draw accuracy against mean completion tokens per problem (log2 axis); save if ``path``.

    Strategies are compared at equal compute: each strategy with an N is a line
    through its N points, ``adaptive`` a line through its budgets, ``greedy`` and
    ``self_refine`` single points, ``coverage`` a dotted ceiling. Error bars are the
    Wilson 95 % intervals. Returns the matplotlib figure; lines carry the strategy
    names as ``gid``.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    rows = [p for p in points if p.level == "all" and p.mean_completion_tokens > 0]
    if not rows:
        raise InputError("Nothing to plot: no strategy has a finished problem yet.")
    fig = Figure(figsize=(7, 4.5), dpi=120)
    ax = fig.add_subplot()
    for name in dict.fromkeys(p.strategy for p in rows):
        mine = sorted((p for p in rows if p.strategy == name), key=lambda p: p.n)
        xs = [p.mean_completion_tokens for p in mine]
        ys = [100 * p.accuracy for p in mine]
        errors = [
            [100 * (p.accuracy - p.ci_low) for p in mine],
            [100 * (p.ci_high - p.accuracy) for p in mine],
        ]
        style: dict[str, Any] = {"marker": "o", "linestyle": "-", "label": name}
        if name == COVERAGE:
            style = {"marker": ".", "linestyle": ":", "color": "0.2", "label": "coverage (pass@N)"}
        elif eval_mode(name) == "single":
            style = {"marker": "s", "linestyle": "none", "color": "0.35", "label": name}
        elif eval_mode(name) == "budgeted":
            style = {
                "marker": "D",
                "linestyle": "-",
                "linewidth": 2.2,
                "label": f"{name} (budgets)",
            }
        container = ax.errorbar(xs, ys, yerr=errors, capsize=2, elinewidth=0.8, **style)
        container.lines[0].set_gid(name)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("mean completion tokens per problem (log scale)")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    problems = max(p.problems for p in rows)
    ax.set_title(
        title or f"Accuracy vs compute ({problems} problems)", fontsize=10, parse_math=False
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    if path is not None:
        fig.savefig(Path(path), format="png")
    return fig
