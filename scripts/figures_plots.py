"""The measured plots of docs/images, drawn from committed raw files, byte for byte reproducible.

A PNG is reproducible when nothing but the data reaches it: matplotlib's default
style (not the user's ``matplotlibrc``), the Agg renderer, a fixed size and dpi,
and no text chunks (matplotlib writes its version as ``Software``). The same
files then give the same bytes with the same matplotlib; a different matplotlib
may draw differently, and ``make figures`` writes the new images.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from figures_raw import load

DPI = 110


def png(figure: Any) -> bytes:
    """The figure as PNG bytes without metadata."""
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=DPI, metadata={"Software": None})
    return out.getvalue()


def drawn(draw: Callable[[], Any]) -> bytes:
    """Run ``draw`` (which returns a figure) under matplotlib's default style and the Agg
    renderer, and return the PNG."""
    import matplotlib

    matplotlib.use("Agg")  # files only: never a display
    from matplotlib import style

    with style.context("default"):
        return png(draw())


def eval_seed0() -> bytes:
    """Accuracy against N per level and overall, from the seed-0 summary."""
    summary = load("docs/data/eval-arith-seed0-summary.json")
    ns = (1, 4, 16)

    def draw() -> Any:
        from matplotlib.figure import Figure

        levels = list(summary["levels"])
        fig = Figure(figsize=(4.2 * len(levels), 3.6))
        axes = fig.subplots(1, len(levels), sharey=True)
        for ax, level in zip(axes, levels, strict=True):
            row = summary["levels"][level]
            lines = [("coverage", "coverage (pass@N)", ":")]
            lines += [(f"weighted[{v}]", f"weighted, {v}", "-") for v in summary["verifiers"]]
            lines += [("majority", "majority vote", "-.")]
            for key, label, line_style in lines:
                ys = [100 * row[f"{key}@{n}"] for n in ns]
                ax.plot(ns, ys, line_style, marker="o", label=label)
            ax.axhline(100 * row["greedy"], color="grey", lw=1, label="greedy")
            ax.set_xscale("log", base=2)
            ax.set_xticks(ns, [str(n) for n in ns])
            name = "all" if level == "all" else f"difficulty {level}"
            ax.set_title(f"{name} ({row['problems']} problems)", fontsize=10)
            ax.set_xlabel("N (samples)")
        axes[0].set_ylabel("accuracy (%)")
        axes[-1].legend(fontsize=7)
        fig.tight_layout()
        return fig

    return drawn(draw)


def adaptive_seed0() -> bytes:
    """Accuracy against mean tokens per problem, adaptive and the fixed strategies."""
    from ttc_graph.evaluation.metrics import CurvePoint
    from ttc_graph.evaluation.plot import plot_compute

    raw = load("docs/data/adaptive-arith-seed0.json")
    points = [CurvePoint(**p) for p in raw["points"]]
    title = f"Accuracy vs compute ({raw['problems']} problems)"
    return drawn(lambda: plot_compute(points, title=title))


IMAGES: dict[str, Callable[[], bytes]] = {
    "docs/images/eval-arith-seed0.png": eval_seed0,
    "docs/images/adaptive-arith-seed0.png": adaptive_seed0,
}
"""Every measured plot of the docs, by its path in the repository."""
